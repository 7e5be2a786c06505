"""Where the merged features meet: uncertainty x capacity x forecast x solve."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

import sim
from sim.experiments.forecast import forecast
from sim.model.replication import Model, World

from .conftest import nth_weekday_after, scenario
from .test_forecast import actuals_from

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
