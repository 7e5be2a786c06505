"""The calendar: cutover days, phases, holidays, blackouts, local time and DST."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model.calendar import LocalClock, build_calendar, merge_intervals


def cutover_dates(cal) -> list[dt.date]:
    return [cal.date_of(d) for d in cal.cutover_days]


def test_weekday_plan_has_cutovers_on_weekdays_only(make_scenario):
    cal = build_calendar(make_scenario())
    dates = cutover_dates(cal)
    assert dates[0] == dt.date(2024, 1, 8)
    assert all(d.weekday() < 5 for d in dates)
    assert len(dates[:20]) == 20 and dates[19] == dt.date(2024, 2, 2)


def test_easter_bank_holidays_have_no_cutovers(make_scenario):
    sc = make_scenario(calendar={"holidays": "GB-ENG"}, scenario={"start": dt.date(2024, 3, 25)})
    dates = set(cutover_dates(build_calendar(sc)))
    assert dt.date(2024, 3, 28) in dates
    assert dt.date(2024, 3, 29) not in dates  # Good Friday
    assert dt.date(2024, 4, 1) not in dates  # Easter Monday
    assert dt.date(2024, 4, 2) in dates


def test_blackout_is_inclusive_at_both_ends(make_scenario):
    sc = make_scenario(
        calendar={"blackouts": [{"from": dt.date(2024, 1, 15), "to": dt.date(2024, 1, 19)}]}
    )
    dates = set(cutover_dates(build_calendar(sc)))
    assert dt.date(2024, 1, 12) in dates and dt.date(2024, 1, 22) in dates
    assert not {dt.date(2024, 1, d) for d in range(15, 20)} & dates


def test_phases_override_batch_sizes_from_their_date_on(make_scenario):
    sc = make_scenario(
        batches={
            "weekday": 100,
            "weekend_day": 50,
            "phases": [
                {"from": dt.date(2024, 1, 8), "weekday": 10, "weekend_day": 0},
                {"from": dt.date(2024, 1, 22), "weekday": 20},
            ],
        }
    )
    cal = build_calendar(sc)
    size = {cal.date_of(d): int(cal.batch_size[d]) for d in range(cal.days)}
    assert size[dt.date(2024, 1, 8)] == 10 and size[dt.date(2024, 1, 13)] == 0
    assert size[dt.date(2024, 1, 22)] == 20
    assert size[dt.date(2024, 1, 27)] == 50  # weekend_day falls back to the base value
    assert size[dt.date(2024, 1, 7)] == 0  # before the start


def test_horizon_ends_cutovers(make_scenario):
    cal = build_calendar(make_scenario(scenario={"horizon_days": 10}))
    assert cutover_dates(cal)[-1] == dt.date(2024, 1, 17)


def test_cutover_hours_are_real_hours_across_dst(make_scenario):
    sc = make_scenario(scenario={"start": dt.date(2024, 3, 25), "horizon_days": 300})
    cal = build_calendar(sc)
    day = cal.index_of(dt.date(2024, 3, 30))
    spring = cal.hours_at(np.array([day, day + 1]), 20 * 60)
    assert spring[1] - spring[0] == pytest.approx(23.0)  # clocks go forward on 31 March
    day = cal.index_of(dt.date(2024, 10, 26))
    autumn = cal.hours_at(np.array([day, day + 1]), 20 * 60)
    assert autumn[1] - autumn[0] == pytest.approx(25.0)


@pytest.mark.parametrize("zone", ["Europe/London", "America/New_York", "Asia/Kolkata", "UTC"])
def test_local_clock_agrees_with_pandas(zone):
    first = dt.date(2023, 1, 1)
    clock = LocalClock.build(first, 800, zone)
    wall = np.concatenate(
        [np.arange(0, 800 * 24, 0.25), np.random.default_rng(1).uniform(0, 19000, 5000)]
    )
    naive = pd.DatetimeIndex(pd.Timestamp(first) + pd.to_timedelta(wall, unit="h")).as_unit("ns")
    local = naive.tz_localize(zone, ambiguous=np.ones(len(wall), bool), nonexistent="shift_forward")
    epoch = pd.Timestamp(first).tz_localize(zone).as_unit("ns")
    expected = (local.asi8 - epoch.value) / 3.6e12
    np.testing.assert_allclose(clock.to_hours(wall), expected, atol=1e-9)
    existing = np.abs(clock.to_wall(clock.to_hours(wall)) - wall) < 1e-9
    assert existing.mean() > 0.99  # only spring-gap times fail to round-trip


def test_next_working_and_cutover_days(make_scenario):
    cal = build_calendar(make_scenario())
    friday = cal.index_of(dt.date(2024, 1, 12))
    assert cal.date_of(cal.next_working_day[friday]) == dt.date(2024, 1, 15)
    saturday = friday + 1
    assert cal.date_of(cal.next_cutover_day[saturday]) == dt.date(2024, 1, 15)


@given(st.lists(st.tuples(st.floats(0, 100), st.floats(0.01, 10)), min_size=1, max_size=30))
@settings(max_examples=100, deadline=None)
def test_merged_intervals_cover_the_same_points(pairs):
    pairs.sort()
    starts = np.array([a for a, _ in pairs])
    ends = starts + np.array([b for _, b in pairs])
    m_starts, m_ends = merge_intervals(starts, ends)
    assert np.all(m_starts[1:] > m_ends[:-1])
    probes = np.linspace(0, 115, 400)
    inside = ((probes[:, None] >= starts) & (probes[:, None] <= ends)).any(axis=1)
    merged = ((probes[:, None] >= m_starts) & (probes[:, None] <= m_ends)).any(axis=1)
    assert np.array_equal(inside, merged)
