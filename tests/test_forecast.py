"""Re-forecasting from actuals: answers derived by hand on small plans.

The base plan (tests/conftest.py): 1,000 mailboxes, 100 every weekday from Monday
2024-01-08, nothing at weekends, no holidays, an ample throttle, no failures and no
tickets: it finishes on the tenth weekday, Friday 2024-01-19.
"""

from __future__ import annotations

import datetime as dt
import json

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.experiments.forecast import forecast
from sim.model.simulation import Model
from sim.model.world import World
from sim.outputs.forecast_plot import forecast_figure

START = dt.date(2024, 1, 8)  # a Monday


def weekdays(first: dt.date, count: int) -> list[str]:
    return [d.strftime("%Y-%m-%d") for d in pd.bdate_range(first, periods=count)]


def actuals_from(daily: pd.DataFrame, first: str, as_of: str, *, failed=True, tickets=True):
    """A replication's daily table as the migration team would export it."""
    rows = daily[(daily["date"] >= first) & (daily["date"] <= as_of)]
    frame = {"date": rows["date"].dt.strftime("%Y-%m-%d"), "migrated": rows["cutover_ok"]}
    if failed:
        frame["failed"] = rows["cutover_failed"]
    if tickets:
        frame["tickets_opened"] = rows["tickets_opened"]
    return pd.DataFrame(frame)


def test_actuals_at_70_percent_of_the_plan_finish_when_that_pace_implies(make_scenario):
    # Five weekdays at 70 instead of 100: 350 migrated by Friday 12 January, 650 left.
    # The model expected 100 a day (ample throttle), so the pace is 0.7 and the remaining
    # weekdays take 70 each: ceil(650 / 70) = 10 more weekdays, 15-19 and 22-26 January.
    sc = make_scenario()
    actuals = pd.DataFrame({"date": weekdays(START, 5), "migrated": [70] * 5})
    res = forecast(sc, actuals, replications=4, seed=1, workers=1)
    assert res.summary["as_of"] == "2024-01-12"
    assert res.summary["observed"]["pace"]["posterior_mean"] == pytest.approx(0.7, abs=1e-4)
    assert res.summary["observed"]["remaining"] == 650
    assert res.summary["completion"] == {
        "p10": "2024-01-26",
        "p50": "2024-01-26",
        "p90": "2024-01-26",
    }
    assert res.summary["migrated"]["p50"] == 1000
    # The plan itself finishes a week earlier.
    assert sim.run(sc, replications=1, workers=1).summary["completion"]["p50"] == "2024-01-19"


def test_cumulative_migrated_continues_from_the_actuals(make_scenario):
    sc = make_scenario()
    actuals = pd.DataFrame({"date": weekdays(START, 5), "migrated": [70] * 5})
    res = forecast(sc, actuals, replications=2, seed=1, workers=1)
    first = res.daily.sort_values("date").groupby("replication").first()
    assert (first["date"] == pd.Timestamp("2024-01-13")).all()
    assert (first["cumulative_migrated"] == 350).all()
    assert res.daily.groupby("replication")["cumulative_migrated"].max().eq(1000).all()


@pytest.mark.parametrize(
    ("gb_per_hour", "why"),
    [(1e6, "the plan sets the pace"), (3.0, "the throttle sets the pace: 72 of 150 a day sync")],
)
def test_actuals_taken_from_the_plan_itself_land_where_the_plan_lands(
    make_scenario, gb_per_hour, why
):
    # Ten moves share the window: with thousands active at once (processor sharing), the
    # data synced by as-of is spread thinly over every waiting mailbox, a state that the
    # remaining plan's head start (data, not mailboxes) does not carry (docs/forecast.md).
    sc = make_scenario(
        population={"mailboxes": 3000, "organisations": 30},
        batches={"weekday": 150},
        failures={"rate": 0.02, "retry_after_days": 2},
        support={"ticket_rate": 0.02, "agents": 2},
        throttle={
            "concurrent_moves": 10,
            "windows": [
                {"days": "all", "from": "00:00", "to": "24:00", "gb_per_hour": gb_per_hour}
            ],
        },
    )
    plan = sim.run(sc, replications=8, seed=3, workers=1)
    truth = sim.simulate(sc, 123, keep_mailboxes=False).daily
    actuals = actuals_from(truth, "2024-01-08", "2024-01-26")
    res = forecast(sc, actuals, replications=8, seed=3, workers=1)
    plan_p50 = dt.date.fromisoformat(plan.summary["completion"]["p50"])
    forecast_p50 = dt.date.fromisoformat(res.summary["completion"]["p50"])
    assert abs((forecast_p50 - plan_p50).days) <= 2, (why, plan_p50, forecast_p50)
    assert res.summary["observed"]["pace"]["posterior_mean"] == pytest.approx(1.0, abs=0.02)


def test_a_failure_count_three_times_the_prior_moves_the_posterior_toward_it(make_scenario):
    # A fixed rate of 1% is a Beta(10, 990) prior (worth 1,000 attempts). Ten days of 97
    # migrated and 3 failed: 30 failed of 1,000 attempts (3%). Posterior Beta(40, 1960):
    # mean 40 / 2000 = 2%, between the prior and what was seen.
    sc = make_scenario(failures={"rate": 0.01})
    actuals = pd.DataFrame({"date": weekdays(START, 10), "migrated": [97] * 10, "failed": [3] * 10})
    res = forecast(sc, actuals, replications=8, seed=2, workers=1)
    rate = res.summary["observed"]["failures.rate"]
    assert rate["prior_mean"] == pytest.approx(0.01)
    assert rate["observed"] == pytest.approx(0.03)
    assert rate["posterior_mean"] == pytest.approx(0.02, rel=1e-5)
    assert rate["p10"] < 0.02 < rate["p90"]
    # Each replication draws its own rate from that posterior (sd 0.0031).
    draws = res.runs["param.failures.rate"]
    assert draws.nunique() == len(draws)
    assert abs(draws.mean() - 0.02) < 3 * 0.0031 / np.sqrt(len(draws))


def test_tickets_update_the_ticket_rate_by_gamma_poisson(make_scenario):
    # 1% tickets per migrated user, fixed: a Gamma(10, 10) prior on the factor k (worth
    # 1,000 users). Five weekdays of 100 migrated; the tickets of the users moved on
    # 8-11 January (400) are due by Friday 12, when those of Friday's users are not: 4
    # expected, 12 seen. Posterior k ~ Gamma(10 + 12, rate 10 + 4): the rate is
    # 1% x 22/14 = 1.5714%.
    sc = make_scenario(
        population={"legacy_client_share": 0.0}, support={"ticket_rate": 0.01, "agents": 2}
    )
    actuals = pd.DataFrame(
        {"date": weekdays(START, 5), "migrated": [100] * 5, "tickets_opened": [0, 3, 3, 3, 3]}
    )
    res = forecast(sc, actuals, replications=4, seed=2, workers=1)
    tickets = res.summary["observed"]["tickets_per_migrated_user"]
    assert tickets["observed"] == pytest.approx(12 / 400)
    assert tickets["prior_mean"] == pytest.approx(0.01)
    assert tickets["posterior_mean"] == pytest.approx(0.01 * 22 / 14, rel=1e-5)


def test_an_as_of_day_after_completion_reports_the_observed_completion(make_scenario):
    sc = make_scenario()
    dates = weekdays(START, 12)  # to Tuesday 23 January, the last two days quiet
    actuals = pd.DataFrame({"date": dates, "migrated": [100] * 10 + [0, 0]})
    res = forecast(sc, actuals, replications=3, seed=1, workers=1)
    assert res.summary["as_of"] == "2024-01-23"
    assert res.summary["completion"] == {
        "p10": "2024-01-19",
        "p50": "2024-01-19",
        "p90": "2024-01-19",
    }
    assert res.summary["completed_share"] == 1.0
    assert res.summary["observed"]["remaining"] == 0
    assert res.daily.empty


def test_forecast_is_the_same_on_one_or_two_workers(make_scenario):
    sc = make_scenario(failures={"rate": 0.02})
    actuals = pd.DataFrame(
        {"date": weekdays(START, 5), "migrated": [80, 90, 95, 99, 98], "failed": [2, 1, 3, 2, 2]}
    )
    one = forecast(sc, actuals, replications=4, seed=9, workers=1)
    two = forecast(sc, actuals, replications=4, seed=9, workers=2)
    pd.testing.assert_frame_equal(one.runs, two.runs)


def test_an_initial_ticket_backlog_is_worked_by_the_desk_but_not_counted_as_new(make_scenario):
    # 30 tickets open at the start, one agent, 30 minutes each, desk open 08:00-18:00:
    # Monday 8 January closes 20 (10 hours), Tuesday the last 10.
    sc = make_scenario(
        support={
            "agents": 1,
            "handle_minutes": {"median": 30, "sigma": 0},
            "hours": {"weekdays": ["08:00", "18:00"], "weekend": []},
        }
    )
    seed = np.random.SeedSequence(4)
    rep = Model(sc).replicate(seed, world=World(initial_ticket_backlog=30))
    backlog = rep.daily.set_index("date")["ticket_backlog"]
    assert backlog[pd.Timestamp("2024-01-07")] == 30
    assert backlog[pd.Timestamp("2024-01-08")] == 10
    assert backlog[pd.Timestamp("2024-01-09")] == 0
    assert rep.metrics["peak_backlog"] == 30
    assert rep.metrics["tickets"] == 0
    plain = Model(sc).replicate(seed)
    assert plain.metrics == Model(sc).replicate(seed, world=World()).metrics


def test_the_picture_shows_actuals_forecast_plan_and_deadline(make_scenario):
    sc = make_scenario(scenario={"deadline": dt.date(2024, 2, 29)})
    actuals = pd.DataFrame({"date": weekdays(START, 5), "migrated": [70] * 5})
    res = forecast(sc, actuals, replications=3, seed=1, workers=1, plan=True)
    fig = forecast_figure(res)
    ax = fig.axes[0]
    gids = {artist.get_gid() for artist in ax.get_children()}
    assert {"actuals", "forecast_p50", "plan_p50", "deadline", "as_of"} <= gids
    deadline = next(line for line in ax.get_lines() if line.get_gid() == "deadline")
    assert deadline.get_xdata()[0] == pytest.approx(mdates.date2num(pd.Timestamp("2024-02-29")))
    actual = next(line for line in ax.get_lines() if line.get_gid() == "actuals")
    assert actual.get_ydata()[-1] == 350


def test_cli_forecast_prints_json_and_writes_the_picture(tmp_path):
    sc = sim.load("scenarios/small-trust.toml")
    truth = sim.simulate(sc, 5, keep_mailboxes=False).daily
    path = tmp_path / "actuals.csv"
    actuals_from(truth, "2024-03-04", "2024-03-22").to_csv(path, index=False)
    runner = CliRunner()
    args = ["forecast", "scenarios/small-trust.toml", "--actuals", str(path), "-n", "3", "-w", "1"]
    printed = runner.invoke(app, [*args, "--json"])
    assert printed.exit_code == 0, printed.output
    summary = json.loads(printed.stdout)
    assert summary["as_of"] == "2024-03-22"
    assert {"pace", "failures.rate", "tickets_per_migrated_user"} <= set(summary["observed"])
    out = tmp_path / "out"
    written = runner.invoke(app, [*args, "--out", str(out)])
    assert written.exit_code == 0, written.output
    assert (out / "forecast.png").stat().st_size > 10_000
    assert json.loads((out / "summary.json").read_text())["as_of"] == "2024-03-22"
    assert "as of 2024-03-22" in written.stdout


def test_the_ticket_backlog_is_what_the_agents_could_not_close(make_scenario):
    # One agent, 30 minutes a ticket, open 08:00-18:00: 20 tickets closed a working day.
    # 50 raised on Tuesday leave 30 open that evening and 10 on Wednesday evening.
    sc = make_scenario(
        support={
            "agents": 1,
            "handle_minutes": {"median": 30, "sigma": 0},
            "hours": {"weekdays": ["08:00", "18:00"], "weekend": []},
        }
    )
    actuals = pd.DataFrame(
        {"date": weekdays(START, 3), "migrated": [100] * 3, "tickets_opened": [0, 50, 0]}
    )
    res = forecast(sc, actuals, replications=2, seed=1, workers=1)
    assert res.summary["observed"]["ticket_backlog_estimate"] == 10
    assert (res.runs["peak_backlog"] >= 10).all()


def test_forecast_reads_an_actuals_csv_and_names_it_in_errors(make_scenario, tmp_path):
    sc = make_scenario()
    path = tmp_path / "team-export.csv"
    path.write_text("date,migrated\n2024-01-08,100\n2024-01-09,100\n")
    res = forecast(sc, path, replications=1, workers=1)
    assert res.summary["observed"]["migrated"] == 200
    path.write_text("date,migrated\n2024-01-08,100\n2024-01-09,x\n")
    with pytest.raises(sim.ScenarioError, match=r"team-export\.csv: row 3, migrated"):
        forecast(sc, path, replications=1, workers=1)


def test_actuals_that_follow_the_plan_give_its_remediation_and_failures(make_scenario):
    # 20,000 mailboxes, 1,000 a weekday; 2% fail every attempt (persistent: 3 failures each,
    # then remediation) and the others fail 2% of attempts. The plan expects about
    # 20,000 x 0.02 = 400 in remediation and 400 x 3 + 19,600 x 0.02 = ~1,600 failed
    # attempts. Ten days of the plan's own actuals must lead back there: the per-attempt
    # rate is learned without the persistent failures (not 650 / 10,650 = 6%), and the
    # persistent already out are counted as owed. Tolerances: 4 Poisson sds of the count.
    sc = make_scenario(
        population={"mailboxes": 20_000, "organisations": 200},
        batches={"weekday": 1_000},
        failures={"rate": 0.02, "persistent_share": 0.02, "max_attempts": 3},
    )
    plan = sim.run(sc, replications=10, seed=5, workers=1, keep_mailboxes=False)
    truth = sim.simulate(sc, 11, keep_mailboxes=False).daily
    actuals = actuals_from(truth, "2024-01-08", "2024-01-19", tickets=False)
    res = forecast(sc, actuals, replications=10, seed=5, workers=1, keep_mailboxes=False)
    rate = res.summary["observed"]["failures.rate"]["posterior_mean"]
    attempts = actuals["migrated"].sum()
    assert rate == pytest.approx(0.02, abs=4 * np.sqrt(0.02 * 0.98 / attempts))
    for key in ("needs_remediation", "cutover_failures"):
        expected = plan.runs[key].median()
        assert res.runs[key].median() == pytest.approx(expected, abs=4 * np.sqrt(expected)), key
