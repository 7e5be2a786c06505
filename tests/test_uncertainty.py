"""Drawn worlds: common random numbers, risks, variation, and intervals that cover."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.experiments.results import p_meet_interval
from sim.model.replication import PlainModel
from sim.model.scenario import with_overrides
from sim.model.simulation import Model
from sim.model.uncertainty import Uncertainty, risk_window
from tests.conftest import nth_weekday_after, scenario

START = dt.date(2024, 1, 8)  # a Monday; BASE cuts over 100 a weekday, 1,000 mailboxes


def _metrics(sc, seed=11, replication=0):
    rep = Model(sc).replicate(np.random.SeedSequence(seed), keep_mailboxes=True)
    plain = {k: v for k, v in rep.metrics.items() if not k.startswith(("param.", "risk."))}
    return rep, plain


def _assert_same_run(a, b):
    (rep_a, metrics_a), (rep_b, metrics_b) = a, b
    assert metrics_a == metrics_b
    pd.testing.assert_frame_equal(rep_a.daily, rep_b.daily)
    pd.testing.assert_frame_equal(rep_a.mailboxes, rep_b.mailboxes)


BUSY = {
    "failures": {"rate": 0.02},
    "support": {"ticket_rate": 0.05, "legacy_ticket_rate": 0.1, "agents": 2, "pause_backlog": 0},
}


def test_a_zero_width_distribution_gives_the_results_of_the_plain_number():
    plain = scenario(**BUSY)
    point = {"dist": "uniform", "low": 0.05, "high": 0.05}
    uncertain = scenario({"support.ticket_rate": point}, **BUSY)
    assert uncertain.uncertain
    _assert_same_run(_metrics(plain), _metrics(uncertain))


def test_an_uncertain_key_runs_as_the_plain_scenario_at_the_value_drawn():
    """Its own stream: the mailboxes, failures and tickets are those of the plain run."""
    dist = {"dist": "uniform", "low": 0.01, "high": 0.2}
    uncertain = scenario({"support.ticket_rate": dist}, **BUSY)
    rep, _ = _metrics(uncertain)
    drawn = rep.metrics["param.support.ticket_rate"]
    assert 0.01 <= drawn <= 0.2
    fixed = with_overrides(uncertain, {"support.ticket_rate": drawn}, source="test")
    _assert_same_run(_metrics(fixed), _metrics(uncertain))


def test_making_one_key_uncertain_leaves_every_other_draw_unchanged():
    one = scenario({"support.ticket_rate": {"dist": "uniform", "low": 0.01, "high": 0.2}}, **BUSY)
    two = with_overrides(
        one, {"failures.rate": {"dist": "beta", "alpha": 2, "beta": 98}}, source="test"
    )
    seeds = np.random.SeedSequence(3).spawn(20)
    draws_one = [Uncertainty(PlainModel(one)).draw(s).params for s in seeds]
    draws_two = [Uncertainty(PlainModel(two)).draw(s).params for s in seeds]
    assert [d["support.ticket_rate"] for d in draws_one] == [
        d["support.ticket_rate"] for d in draws_two
    ]
    # ... and the mailboxes (sizes, organisations, clients, plan) are the same mailboxes.
    mail_one = _metrics(one)[0].mailboxes
    mail_two = _metrics(two)[0].mailboxes
    columns = ["mailbox", "organisation", "size_gb", "legacy", "scheduled_date"]
    pd.testing.assert_frame_equal(mail_one[columns], mail_two[columns])


def test_a_risk_with_probability_zero_changes_nothing():
    never = [{"name": "never", "probability": 0.0, "pause_days": 30}]
    never += [{"name": "nor this", "probability": 0.0, "throttle_factor": 0.0, "days": 30}]
    plain = scenario(**BUSY)
    risky = scenario({"risks": never}, **BUSY)
    rep, _ = _metrics(risky)
    assert rep.metrics["risk.never"] == 0
    _assert_same_run(_metrics(plain), _metrics(risky))


def _cutover_days_from(day: dt.date, count_days: int) -> int:
    """Weekdays (the BASE plan's cutover days) among ``count_days`` calendar days from ``day``."""
    return sum((day + dt.timedelta(days=i)).weekday() < 5 for i in range(count_days))


@pytest.mark.parametrize("pause_days", [1, 3, 4, 10])
def test_a_certain_pause_moves_the_finish_by_the_cutover_days_it_covers(pause_days):
    """Nothing else binds: the last cohort (day 10) waits out the pause, one evening a day."""
    last = nth_weekday_after(START, 10)
    plain = scenario(batches={"catch_up": 0.0} if _has_catch_up() else {})
    risk = {"name": "halt", "probability": 1.0, "between": [last, last], "pause_days": pause_days}
    paused = with_overrides(plain, {"risks": [risk]}, source="test")
    finish = sim.simulate(plain, 1).metrics["completion_date"].date()
    rep = sim.simulate(paused, 1)
    assert finish == last
    covered = _cutover_days_from(last, pause_days)
    assert rep.metrics["completion_date"].date() == nth_weekday_after(START, 10 + covered)
    assert rep.metrics["risk.halt"] == 1


def _has_catch_up() -> bool:
    return "catch_up" in sim.Scenario.model_fields["batches"].annotation.model_fields


def test_a_throttle_cut_multiplies_the_days_capacity():
    day = nth_weekday_after(START, 3)
    risk = {"name": "cut", "probability": 1.0, "between": [day, day]}
    risk |= {"throttle_factor": 0.25, "days": 2}
    plain = sim.simulate(scenario(), 1).daily.set_index("date")["throttle_capacity_gb"]
    cut = sim.simulate(scenario({"risks": [risk]}), 1).daily.set_index("date")
    ratio = cut["throttle_capacity_gb"] / plain
    struck = ratio.index.isin(pd.to_datetime([day, day + dt.timedelta(days=1)]))
    assert np.allclose(ratio[struck], 0.25) and np.allclose(ratio[~struck], 1.0)


def test_daily_variation_is_a_lognormal_factor_of_median_one_on_each_day():
    sigma = 0.3
    plain = sim.simulate(scenario(), 1).daily.set_index("date")["throttle_capacity_gb"]
    varied = sim.simulate(scenario({"throttle.daily_variation": sigma}), 1).daily
    log_ratio = np.log(varied.set_index("date")["throttle_capacity_gb"] / plain)
    n = len(log_ratio)
    assert abs(log_ratio.mean()) <= 4 * sigma / math.sqrt(n)
    assert abs(log_ratio.std() - sigma) <= 4 * sigma / math.sqrt(2 * (n - 1))


def test_per_move_speed_factors_are_lognormal_per_mailbox():
    sigma = 0.4
    sc = scenario({"throttle.per_move_sigma": sigma})
    factor = Uncertainty(PlainModel(sc)).draw(np.random.SeedSequence(2)).world.move_speed_factor
    logs = np.log(factor.astype(float))
    assert len(logs) == sc.population.mailboxes
    assert abs(logs.mean()) <= 4 * sigma / math.sqrt(len(logs))
    assert abs(logs.std() - sigma) <= 4 * sigma / math.sqrt(2 * (len(logs) - 1))


def test_slow_mailboxes_sync_later_when_the_per_move_pace_binds():
    tight = {"per_move_gb_per_hour": 0.05, "presync_lead_days": 0.5}
    plain = sim.simulate(scenario(throttle=tight), 1).metrics
    varied = sim.simulate(scenario({"throttle.per_move_sigma": 1.0}, throttle=tight), 1).metrics
    # Every mailbox is equally slow without the spread; with it, the slowest few hold the
    # finish back (a lognormal's tail is much slower than its median).
    assert varied["completion_date"] > plain["completion_date"]


def test_a_failure_wave_multiplies_the_failure_rate_while_it_lasts():
    rate, factor = 0.01, 10
    risk = {"name": "wave", "probability": 1.0, "between": [START, START]}
    risk |= {"failure_factor": factor, "days": 200}
    rep = sim.simulate(scenario({"risks": [risk]}, failures={"rate": rate}), 4)
    first_attempts = 1000
    failed = rep.daily["cutover_failed"].sum()
    # First attempts fail with rate x factor = 0.1; their retries with 0.1 again.
    expected = first_attempts * 0.1 * (1 + 0.1 + 0.01)
    assert abs(failed - expected) <= 4 * math.sqrt(first_attempts * 0.1 * 0.9) + 5


def test_risks_strike_as_often_as_their_probability_and_rate_say():
    risks = [
        {"name": "once", "probability": 0.3, "pause_days": 1},
        {"name": "weekly", "per_week": 0.7, "throttle_factor": 0.5, "days": 1},
    ]
    sc = scenario({"risks": risks})
    unc = Uncertainty(PlainModel(sc))
    draws = [unc.draw(s).struck for s in np.random.SeedSequence(9).spawn(2000)]
    once = np.array([d["once"] for d in draws])
    weekly = np.array([d["weekly"] for d in draws])
    assert abs(once.mean() - 0.3) <= 4 * math.sqrt(0.3 * 0.7 / len(once))
    first, last = risk_window(sc.risks[1], unc.base)
    expected = 0.7 / 7 * (last - first + 1)  # Poisson over the risk's window
    assert abs(weekly.mean() - expected) <= 4 * math.sqrt(expected / len(weekly))


def test_results_are_identical_on_one_or_two_workers_and_carry_param_and_risk_columns():
    sc = scenario(
        {
            "support.ticket_rate": {"dist": "pert", "low": 0.01, "mode": 0.02, "high": 0.05},
            "throttle.daily_variation": 0.2,
            "risks": [{"name": "halt", "probability": 0.5, "pause_days": 3}],
        },
        **BUSY,
    )
    one = sim.run(sc, replications=6, seed=4, workers=1)
    two = sim.run(sc, replications=6, seed=4, workers=2)
    pd.testing.assert_frame_equal(one.runs, two.runs)
    assert {"param.support.ticket_rate", "risk.halt"} <= set(one.runs.columns)
    assert one.summary["uncertain"] == ["support.ticket_rate"]
    assert one.summary["risks"] == {"halt": round(float((one.runs["risk.halt"] > 0).mean()), 4)}


def test_p_meet_interval_is_the_wilson_interval():
    met, n, z = 45, 50, 1.959963984540054
    p = met / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    lo, hi = p_meet_interval(met, n)
    assert lo == pytest.approx(centre - half, abs=1e-4)
    assert hi == pytest.approx(centre + half, abs=1e-4)


def test_sweeps_vary_a_distribution_parameter_and_carry_the_uncertainty():
    sc = scenario(
        {
            "support.ticket_rate": {"dist": "uniform", "low": 0.01, "high": 0.02},
            "risks": [{"name": "halt", "probability": 0.5, "pause_days": 3}],
        },
        **BUSY,
    )
    sw = sim.sweep(sc, {"support.ticket_rate.high": [0.02, 0.2]}, replications=4, workers=1)
    table = sw.table
    assert list(table["support.ticket_rate.high"]) == [0.02, 0.2]
    assert list(table["uncertain"]) == ["support.ticket_rate"] * 2
    assert "risk.halt" in table.columns
    assert table["tickets_p50"].iloc[1] > table["tickets_p50"].iloc[0]


def test_forecast_intervals_cover_the_true_finish_about_80_percent_of_the_time():
    """Truths drawn from the scenario's own distributions land in P10-P90 ~80% of trials."""
    weekday = {"dist": "uniform", "low": 10, "high": 100}
    sc = scenario({"batches.weekday": weekday, "scenario.horizon_days": 220})
    forecast = sim.run(sc, replications=100, seed=1, workers=1, keep_daily=False)
    p10 = pd.Timestamp(forecast.summary["completion"]["p10"])
    p90 = pd.Timestamp(forecast.summary["completion"]["p90"])
    rng = np.random.default_rng(77)
    trials, inside = 60, 0
    for trial in range(trials):
        true_weekday = round(rng.uniform(10, 100))
        truth = with_overrides(sc, {"batches.weekday": true_weekday}, source="truth")
        finish = sim.simulate(truth, 1000 + trial, keep_mailboxes=False)
        inside += p10 <= finish.metrics["completion_date"] <= p90
    sd = math.sqrt(0.8 * 0.2 / trials)
    assert abs(inside / trials - 0.8) <= 3 * sd + 0.03  # 0.03: ties on whole days


def test_cli_accepts_an_inline_table_and_warns_when_replications_are_too_few(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(
        '[scenario]\nname = "t"\nstart = 2024-01-08\ndeadline = 2024-01-19\nhorizon_days = 60\n'
        "confidence = 0.9\n[population]\nmailboxes = 200\n"
        '[calendar]\nholidays = "none"\n[batches]\nweekday = 20\nweekend_day = 0\n',
        encoding="utf-8",
    )
    runner = CliRunner()
    table = 'support.ticket_rate={dist="uniform", low=0.002, high=0.01}'
    result = runner.invoke(app, ["run", str(path), "-n", "4", "-w", "1", "--set", table])
    assert result.exit_code == 0, result.output
    assert "uncertain: support.ticket_rate" in result.output
    assert "too few" in result.output
    bad = 'support.ticket_rate={dist="uniform", low=0.5, high=2}'
    result = runner.invoke(app, ["run", str(path), "-n", "4", "--set", bad])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "support.ticket_rate" in result.output


def test_a_risk_strikes_on_its_date_when_an_uncertain_lead_time_moves_the_calendar():
    day = nth_weekday_after(START, 4)
    risk = {"name": "halt", "probability": 1.0, "between": [day, day], "pause_days": 1}
    notice = {"dist": "uniform", "low": 10, "high": 30}
    sc = scenario({"batches.notice_days": notice, "risks": [risk]})
    for seed in range(3):
        daily = sim.simulate(sc, seed, keep_mailboxes=False).daily.set_index("date")
        assert list(daily.index[daily["paused"]]) == [pd.Timestamp(day)]
