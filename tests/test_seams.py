"""Where the merged features meet: uncertainty x capacity x forecast x solve."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.experiments.forecast import forecast
from sim.model.scenario import with_overrides
from sim.model.simulation import Model, simulate
from sim.model.uncertainty import nominal
from sim.model.world import World

from .conftest import nth_weekday_after, scenario
from .test_forecast import actuals_from
from .test_model import plans, scenario_from, slow

START = dt.date(2024, 1, 8)  # a Monday; BASE cuts over 100 a weekday, 1,000 mailboxes


def test_a_callers_world_keeps_its_dates_when_an_uncertain_lead_time_moves_the_calendar():
    # A lead time above notice_days (14) starts the calendar earlier: the drawn plan's day
    # indices differ from the base plan's, the dates of the caller's world must not.
    sc = scenario({"throttle.presync_lead_days": {"dist": "uniform", "low": 15, "high": 25}})
    model = Model(sc)
    day = nth_weekday_after(START, 3)
    pause = np.zeros(model.calendar.days, dtype=bool)
    pause[model.calendar.index_of(day)] = True
    for seed in range(3):
        rep = model.replicate(np.random.SeedSequence(seed), world=World(paused_by_day=pause))
        paused = rep.daily.loc[rep.daily["paused"], "date"]
        assert list(paused.dt.date) == [day]
        # One weekday lost: the 10-day plan ends one weekday later.
        assert rep.metrics["completion_date"].date() == nth_weekday_after(START, 11)


def _forecast_inputs(**extra):
    tables = {
        "population": {"mailboxes": 3000, "organisations": 30},
        "batches": {"weekday": 150, "notice_days": 3},
    }
    truth = sim.simulate(scenario(**tables), 5, keep_mailboxes=False).daily
    actuals = actuals_from(truth, "2024-01-08", "2024-01-26")  # 15 of the 20 weekdays
    return (lambda overrides=None: scenario(overrides, **tables)), actuals


def test_a_forecast_runs_when_the_lead_time_is_uncertain_and_is_the_same_on_two_workers():
    make, actuals = _forecast_inputs()
    sc = make({"throttle.presync_lead_days": {"dist": "uniform", "low": 2, "high": 9}})
    one = forecast(sc, actuals, replications=4, seed=3, workers=1)
    two = forecast(sc, actuals, replications=4, seed=3, workers=2)
    pd.testing.assert_frame_equal(
        one.runs.drop(columns="wall_seconds", errors="ignore"),
        two.runs.drop(columns="wall_seconds", errors="ignore"),
    )
    pd.testing.assert_frame_equal(one.daily, two.daily)
    # 3,000 at 150 a weekday: 20 weekdays, the last on Friday 2 February.
    assert one.summary["completion"]["p50"] == "2024-02-02"


def test_a_one_off_risk_whose_window_ended_before_as_of_does_not_strike_in_the_forecast():
    make, actuals = _forecast_inputs()
    over = {"name": "halt", "probability": 1.0, "between": [dt.date(2024, 1, 9)] * 2}
    plain = forecast(make(), actuals, replications=3, seed=3, workers=1)
    risky = forecast(
        make({"risks": [over | {"pause_days": 20}]}), actuals, replications=3, seed=3, workers=1
    )
    assert (risky.runs["risk.halt"] == 0).all()
    assert not risky.daily["paused"].any()
    assert risky.summary["completion"] == plain.summary["completion"]


def test_a_forecast_risk_strikes_only_on_the_days_after_as_of():
    # A certain pause drawn uniformly in 22 Jan - 2 Feb; as of Friday 26 January only
    # Monday 29 Jan - Friday 2 Feb are left: half its window (6 of 12 days), so it strikes
    # in about half the worlds, and never on or before the as-of day.
    make, actuals = _forecast_inputs()
    risk = {
        "name": "halt",
        "probability": 1.0,
        "between": [dt.date(2024, 1, 22), dt.date(2024, 2, 2)],
    }
    res = forecast(
        make({"risks": [risk | {"pause_days": 1}]}), actuals, replications=40, seed=3, workers=1
    )
    struck = res.runs["risk.halt"]
    assert set(struck) <= {0, 1}
    assert 8 <= struck.sum() <= 32  # Binomial(40, 1/2): outside this in 1 in 10,000 runs
    paused = res.daily.loc[res.daily["paused"], "date"].dt.date
    assert (paused > dt.date(2024, 1, 26)).all()


# --- the SPEC's invariants in drawn worlds ---------------------------------------------------

worlds = st.fixed_dictionaries(
    {
        "catch_up": st.sampled_from([0.0, 0.2, {"dist": "uniform", "low": 0.0, "high": 0.5}]),
        "weekday": st.sampled_from(
            [None, {"dist": "triangular", "low": 50, "mode": 120, "high": 300}]
        ),
        "rate": st.sampled_from([None, {"dist": "beta", "alpha": 2, "beta": 20}]),
        "daily_variation": st.sampled_from([0.0, 0.5]),
        "per_move_sigma": st.sampled_from([0.0, 0.8]),
        "pause": st.booleans(),
        "cut": st.booleans(),
        "wave": st.booleans(),
    }
)


def _drawn_scenario(p, w):
    overrides = {
        "batches.catch_up": w["catch_up"],
        "throttle.daily_variation": w["daily_variation"],
        "throttle.per_move_sigma": w["per_move_sigma"],
    }
    if w["weekday"] is not None:
        overrides["batches.weekday"] = w["weekday"]
    if w["rate"] is not None:
        overrides["failures.rate"] = w["rate"]
    window = [dt.date(2024, 1, 1), dt.date(2024, 2, 29)]
    risks = []
    if w["pause"]:
        risks.append(
            {
                "name": "halt",
                "per_week": 0.5,
                "between": window,
                "pause_days": {"dist": "triangular", "low": 1, "mode": 3, "high": 9},
            }
        )
    if w["cut"]:
        risks.append({"name": "cut", "per_week": 0.5, "throttle_factor": 0.2, "days": 4})
    if w["wave"]:
        risks.append(
            {
                "name": "wave",
                "probability": 0.7,
                "between": window,
                "failure_factor": 3.0,
                "days": 3,
            }
        )
    if risks:
        overrides["risks"] = risks
    return scenario_from(p, **overrides)


@given(plans, worlds)
@slow
def test_drawn_worlds_keep_every_invariant_of_the_plain_model(p, w):
    sc = _drawn_scenario(p, w)
    run = simulate(sc, p["seed"])
    mb, daily, m = run.mailboxes, run.daily, run.metrics
    n = p["mailboxes"]
    counts = mb["status"].value_counts()
    assert counts.sum() == n
    assert counts["migrated"] == m["migrated"] and counts["remediation"] == m["needs_remediation"]
    assert m["migrated"] + m["needs_remediation"] + m["not_migrated"] == n
    assert (
        daily["scheduled"]
        == daily["cutover_ok"] + daily["cutover_failed"] + daily["deferred"] + daily["slipped"]
    ).all()
    assert daily["cumulative_migrated"].iloc[-1] == m["migrated"] == daily["cutover_ok"].sum()
    # The evening's capacity is the drawn batch x (1 + the drawn catch-up).
    catch_up = m.get("param.batches.catch_up", w["catch_up"])
    weekday = m.get("param.batches.weekday", max(p["weekday"], 1))
    batch = np.where(daily["date"].dt.day_of_week < 5, weekday, p["weekend_day"])
    capacity = np.floor(batch * (1 + catch_up) + 1e-9)
    assert (daily["cutover_ok"] + daily["cutover_failed"] <= capacity).all()
    assert (daily.loc[daily["paused"], ["cutover_ok", "cutover_failed"]] == 0).all().all()
    # What the outputs report never exceeds the day's (varied, cut) capacity.
    assert (daily["presync_gb"] <= daily["throttle_capacity_gb"] * (1 + 1e-9) + 1e-6).all()
    if m["completed"]:
        assert m["not_migrated"] == 0
        assert daily.loc[daily["scheduled"] > 0, "date"].max() == m["completion_date"]


@given(plans)
@settings(max_examples=10, deadline=None)
def test_a_plan_without_doubt_is_its_own_nominal_and_gives_identical_results(p):
    sc = scenario_from(p)
    assert nominal(sc) is sc
    a, b = simulate(sc, p["seed"]), simulate(nominal(sc), p["seed"])
    assert a.metrics == b.metrics
    pd.testing.assert_frame_equal(a.daily, b.daily)
    pd.testing.assert_frame_equal(a.mailboxes, b.mailboxes)


def test_a_pause_mid_programme_moves_the_finish_by_the_cutover_days_it_covers():
    # Thursday 11 January + 4 calendar days: Thu, Fri (and the weekend, no cutovers) and
    # Monday: 3 cutover days. With catch_up 0 and nothing else binding, every later
    # cohort slips by 3 evenings: the 10-weekday plan ends on the 13th weekday.
    day = nth_weekday_after(START, 4)
    risk = {"name": "halt", "probability": 1.0, "between": [day, day], "pause_days": 5}
    run = simulate(scenario({"risks": [risk]}), 1)
    assert run.metrics["completion_date"].date() == nth_weekday_after(START, 13)
    assert run.metrics["paused_days"] == 3
    assert (run.daily["cutover_ok"] <= 100).all()


def test_a_failure_wave_raises_failures_only_on_its_days():
    # 1% failures; a wave x 50 (50%) on Tuesday 16 and Wednesday 17 January only.
    wave_day = nth_weekday_after(START, 7)
    risk = {"name": "wave", "probability": 1.0, "between": [wave_day, wave_day]}
    risk |= {"failure_factor": 50.0, "days": 2}
    tables = {
        "failures": {"rate": 0.01, "max_attempts": 5},
        "population": {"mailboxes": 2000},
        "batches": {"weekday": 200},
    }
    plain = simulate(scenario(**tables), 4).daily.set_index("date")
    waved = simulate(scenario({"risks": [risk]}, **tables), 4).daily.set_index("date")
    before = pd.Timestamp(wave_day) - pd.Timedelta(days=1)
    pd.testing.assert_frame_equal(waved[:before], plain[:before])
    attempts = waved["cutover_ok"] + waved["cutover_failed"]
    share = waved["cutover_failed"] / attempts.where(attempts > 0)
    wave = waved.index.isin(pd.to_datetime([wave_day, wave_day + dt.timedelta(days=1)]))
    # 200 attempts at 50%: 0.35-0.65 holds but once in ~10^5; elsewhere 1% of ~1,600.
    assert share[wave].between(0.35, 0.65).all()
    assert waved.loc[~wave, "cutover_failed"].sum() / attempts[~wave].sum() < 0.03


# --- inventory x uncertainty -----------------------------------------------------------------


def test_an_inventory_moves_own_pace_combines_item_counts_and_its_speed_factor(tmp_path):
    # Each move alone (ample tenant): max(size / g, items / r) hours at the nominal pace,
    # divided by the mailbox's own drawn speed factor (per_move_sigma).
    from .test_inventory import (
        DOMAIN_GB_PER_HOUR,
        DOMAIN_ITEMS_PER_HOUR,
        ITEMS,
        item_scenario,
        sync_hours,
    )

    plain = item_scenario(tmp_path, ITEMS, DOMAIN_ITEMS_PER_HOUR)
    sc = with_overrides(plain, {"throttle.per_move_sigma": 0.5}, source="test")
    mb = simulate(sc, 1).mailboxes
    speed = Model(sc).uncertainty.draw(np.random.SeedSequence(1)).world.move_speed_factor
    spec = ITEMS.set_index("mailbox").loc[mb["mailbox"]]
    nominal_hours = np.maximum(
        spec["size_gb"] / DOMAIN_GB_PER_HOUR, spec["item_count"] / DOMAIN_ITEMS_PER_HOUR
    )
    assert not np.allclose(speed, 1.0)
    # The exact system runs a faster move at its own pace; the model never counts a move
    # faster than per_move_gb_per_hour (its reported data stays within active x p).
    exact = nominal_hours.to_numpy() / speed
    at_most_p = np.maximum(spec["size_gb"].to_numpy() / DOMAIN_GB_PER_HOUR, exact)
    np.testing.assert_allclose(sync_hours(mb.set_index("mailbox"), sc), at_most_p, atol=1e-4)


@pytest.mark.parametrize(
    "overrides",
    [
        {"batches.weekday": {"dist": "uniform", "low": 50, "high": 200}},
        {"population.size_gb.mean": {"dist": "uniform", "low": 0.5, "high": 2.0}},
        {"throttle.daily_variation": 0.3, "throttle.per_move_sigma": 0.5},
    ],
)
def test_the_batch_plan_is_replication_0s_also_when_numbers_are_uncertain(overrides):
    sc = scenario(overrides, population={"mailboxes": 1000, "size_gb": {"mean": 1.0, "sigma": 1}})
    plan = sim.plan(sc, seed=7).set_index("mailbox")
    mb = sim.run(sc, replications=1, seed=7, workers=1).mailboxes.set_index("mailbox")
    plan = plan.loc[mb.index]
    assert (plan["scheduled_date"] == mb["scheduled_date"]).all()
    np.testing.assert_array_equal(plan["size_gb"], mb["size_gb"])


# --- solve / sensitivity x uncertainty ------------------------------------------------------


def test_tornado_bars_of_an_uncertain_key_are_measured_from_its_median():
    # weekday ~ U(80, 120): P10 84, median 100, P90 116. 1,000 mailboxes take ceil(1000 / b)
    # weekdays from Monday 8 January: 12 (Tue 23rd, day 16), 10 (Fri 19th, day 12) and 9
    # (Thu 18th, day 11). From the plan where the batch still varies the bars had the
    # wrong sign (a smaller batch "finished earlier").
    sc = scenario({"batches.weekday": {"dist": "uniform", "low": 80, "high": 120}})
    table = sim.sensitivity(sc, params=["batches.weekday"], replications=2, workers=1).table
    row = table.set_index("key").loc["batches.weekday"]
    assert (row["low"], row["base"], row["high"]) == (84, 100, 116)
    assert (row["p50_days_low"], row["p50_days_base"], row["p50_days_high"]) == (16, 12, 11)
    assert (row["days_low"], row["days_high"]) == (4, -1)


def test_solve_fixes_an_uncertain_key_at_each_candidate():
    # With the weekday batch a distribution the answer is still the closed form of a fixed
    # batch: 1,000 mailboxes by the 7th weekday need ceil(1000 / 7) = 143 a weekday.
    sc = scenario(
        {
            "scenario.deadline": nth_weekday_after(START, 7),
            "batches.weekday": {"dist": "uniform", "low": 50, "high": 150},
        }
    )
    solution = sim.solve(sc, "batches.weekday", 1, 1000, replications=3, workers=1)
    assert solution.value == 143
    assert solution.best.p_meet_deadline == 1.0


def test_run_sweep_solve_and_forecast_are_the_same_on_one_or_two_workers_in_drawn_worlds():
    doubt = {
        "support.ticket_rate": {"dist": "uniform", "low": 0.01, "high": 0.05},
        "batches.weekday": {"dist": "triangular", "low": 80, "mode": 100, "high": 130},
        "throttle.daily_variation": 0.3,
        "throttle.per_move_sigma": 0.4,
        "scenario.deadline": nth_weekday_after(START, 11),
        "risks": [{"name": "halt", "per_week": 0.3, "pause_days": 2}],
    }
    sc = scenario(doubt, failures={"rate": 0.02}, support={"agents": 2})
    for workers in (1, 2):
        run = sim.run(sc, replications=4, seed=5, workers=workers)
        sweep = sim.sweep(
            sc, {"throttle.scale": [0.5, 1.0]}, replications=3, seed=5, workers=workers
        )
        solution = sim.solve(sc, "support.agents", 1, 5, replications=3, seed=5, workers=workers)
        if workers == 1:
            first = (run, sweep, solution)
            continue
        pd.testing.assert_frame_equal(
            run.runs.drop(columns=["wall_seconds"], errors="ignore"),
            first[0].runs.drop(columns=["wall_seconds"], errors="ignore"),
        )
        pd.testing.assert_frame_equal(run.daily, first[0].daily)
        volatile = [c for c in sweep.table.columns if "seconds" in c]
        pd.testing.assert_frame_equal(
            sweep.table.drop(columns=volatile), first[1].table.drop(columns=volatile)
        )
        assert solution.value == first[2].value
        assert [t.meets for t in solution.trials] == [t.meets for t in first[2].trials]


def test_the_learned_pace_scales_a_batch_size_given_as_a_distribution():
    # As test_actuals_at_70_percent_of_the_plan...: 350 of 1,000 by Friday 12 January at
    # 70 a weekday; the batch, a (zero-width) distribution at 100, becomes one at 70:
    # ceil(650 / 70) = 10 more weekdays, the last Friday 26 January (at 100: the 23rd).
    sc = scenario({"batches.weekday": {"dist": "uniform", "low": 100, "high": 100}})
    days = [nth_weekday_after(START, i).isoformat() for i in range(1, 6)]
    actuals = pd.DataFrame({"date": days, "migrated": [70] * 5})
    res = forecast(sc, actuals, replications=3, seed=1, workers=1)
    assert res.summary["observed"]["pace"]["posterior_mean"] == pytest.approx(0.7, abs=1e-4)
    assert res.summary["completion"]["p50"] == "2024-01-26"


def test_solve_reports_the_same_trials_on_one_or_two_workers():
    # A candidate far below the answer is refused early, after a few of its replications:
    # which ones must not depend on how many workers ran them (they steer the search and
    # are in the JSON).
    sc = scenario(
        {
            "scenario.deadline": nth_weekday_after(START, 13),
            "batches.weekday": {"dist": "uniform", "low": 80, "high": 140},
            "throttle.daily_variation": 0.3,
        }
    )
    tables = []
    for workers in (1, 2):
        solution = sim.solve(
            sc,
            "throttle.per_move_gb_per_hour",
            0.001,
            5.0,
            replications=16,
            seed=2,
            workers=workers,
        )
        tables.append(solution.table.drop(columns="seconds"))
    assert len(tables[0]) > 5 and (tables[0]["replications_run"] < 16).any()  # early verdicts
    pd.testing.assert_frame_equal(tables[0], tables[1])


def test_a_risk_that_strikes_before_the_calendar_is_felt_only_where_it_lasts_into_it():
    # The calendar starts 15 days before Monday 8 January (notice 14 + 1). A 30-day pause
    # from 1 December ends on 30 December: no cutover is lost. One from 20 December
    # (30 days: to 18 January) halts the first 9 weekdays; one after the horizon, nothing.
    def finish(day):
        risk = {"name": "halt", "probability": 1.0, "between": [day, day], "pause_days": 30}
        return simulate(scenario({"risks": [risk]}), 1).metrics["completion_date"].date()

    assert finish(dt.date(2023, 12, 1)) == nth_weekday_after(START, 10)
    assert finish(dt.date(2023, 12, 20)) == nth_weekday_after(START, 19)
    assert finish(dt.date(2025, 1, 1)) == nth_weekday_after(START, 10)


def test_the_reference_forecast_from_actuals_that_follow_its_plan_lands_where_the_plan_lands():
    # The reference's plan as written finishes on Monday 1 February 2021 (test_reference);
    # actuals taken from it up to 26 November, forecast with the file's distributions and
    # risks (which strike after as-of only), land there too in the median world.
    sc = sim.load("scenarios/nhsmail-2020.toml")
    truth = simulate(nominal(sc), 5, keep_mailboxes=False)
    assert truth.metrics["completion_date"].date() == dt.date(2021, 2, 1)
    actuals = actuals_from(truth.daily, "2020-08-03", "2020-11-26")
    res = forecast(sc, actuals, replications=4, seed=1, workers=2, keep_mailboxes=False)
    assert res.summary["observed"]["pace"]["posterior_mean"] == pytest.approx(1.0, abs=0.01)
    assert res.summary["completion"]["p50"] in ("2021-01-29", "2021-02-01", "2021-02-02")
    assert (res.daily["date"] > pd.Timestamp("2020-11-26")).all()


def test_candidates_share_their_worlds_common_random_numbers():
    # solve and the tornado run every candidate on the same seeds: replication i draws the
    # same ticket rate and meets the same risks whatever the agents or the batch size.
    from sim.experiments.variants import Variants

    doubt = {
        "support.ticket_rate": {"dist": "uniform", "low": 0.01, "high": 0.05},
        "risks": [{"name": "cut", "per_week": 0.5, "throttle_factor": 0.5, "days": 2}],
    }
    sc = scenario(doubt, support={"agents": 2})
    candidates = [
        with_overrides(sc, {"support.agents": agents, "batches.weekday": batch}, source="test")
        for agents, batch in ((1, 100), (4, 150))
    ]
    with Variants(seed=4, replications=6, workers=2) as variants:
        one, two = variants.runs(candidates)
    columns = ["replication", "param.support.ticket_rate", "risk.cut"]
    pd.testing.assert_frame_equal(one[columns], two[columns])
    assert one["param.support.ticket_rate"].nunique() == 6


def test_a_forecasts_posterior_replaces_the_scenarios_distribution_for_a_learned_rate():
    # Prior: failures.rate ~ Beta(1, 99) (mean 1%, worth 100 attempts). Observed: 100 of
    # 1,000 attempts failed. Posterior Beta(101, 999): mean 0.0918, sd 0.0087; every
    # replication runs a rate drawn from it, not from the prior.
    sc = scenario({"failures.rate": {"dist": "beta", "alpha": 1, "beta": 99}})
    days = [nth_weekday_after(START, i).isoformat() for i in range(1, 6)]
    actuals = pd.DataFrame({"date": days, "migrated": [180] * 5, "failed": [20] * 5})
    res = forecast(sc, actuals, replications=8, seed=2, workers=1)
    drawn = res.runs["param.failures.rate"]
    assert drawn.between(0.0918 - 4 * 0.0087, 0.0918 + 4 * 0.0087).all()
    assert drawn.nunique() == 8
    # ... and the remaining cutovers fail at about that rate (~100 left in each of 8 runs).
    attempts = res.daily["cutover_ok"] + res.daily["cutover_failed"]
    assert 0.05 < res.daily["cutover_failed"].sum() / attempts.sum() < 0.14


def test_daily_variation_falls_on_the_same_dates_whatever_the_lead_time():
    # Leads of 3 and 20 days (above notice_days 14) start the calendar on different days;
    # each date's capacity factor must be the same, so that candidates compare fairly.
    def factors(lead):
        sc = scenario({"throttle.daily_variation": 0.3, "throttle.presync_lead_days": lead})
        model = Model(sc)
        world = model.uncertainty.draw(np.random.SeedSequence(8)).world
        return pd.Series(world.throttle_factor_by_day, index=model.calendar.dates)

    short, long = factors(3), factors(20)
    assert long.index[0] < short.index[0]
    common = short.index.intersection(long.index)
    assert len(common) == len(short)
    np.testing.assert_array_equal(short[common].to_numpy(), long[common].to_numpy())
