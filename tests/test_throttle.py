"""The throttle: closed-form transfer times and invariants of the initial-sync schedule."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model.calendar import build_calendar
from sim.model.throttle import build_capacity, initial_syncs

from .conftest import scenario

JAN_8 = dt.date(2024, 1, 8)  # a Monday, far from any DST change


def capacity_for(windows, concurrent_moves=10_000, per_move=1e9, scale=1.0, holidays="none"):
    sc = scenario(
        throttle={
            "windows": windows,
            "concurrent_moves": concurrent_moves,
            "per_move_gb_per_hour": per_move,
            "scale": scale,
        },
        calendar={"holidays": holidays, "timezone": "UTC"},
    )
    cal = build_calendar(sc)
    return cal, build_capacity(cal, sc.throttle)


def all_day(rate):
    return [{"days": "all", "from": "00:00", "to": "24:00", "gb_per_hour": rate}]


def test_one_cohort_under_a_constant_window_takes_total_over_rate():
    cal, cap = capacity_for(all_day(250.0))
    t0 = cal.hours_at(cal.index_of(JAN_8), 20 * 60)
    sizes = np.full(4000, 1.5)  # 6,000 GB at 250 GB/h = 24 h
    syncs = initial_syncs(cap, np.full(4000, t0), sizes, 10_000)
    # All 4,000 share the window (0.0625 GB/h each) and finish together at 24 h: none
    # earlier (a first-come-first-served fluid had the first after 1.5 / 250 h).
    np.testing.assert_allclose(syncs.synced_hours, t0 + 24.0)


def test_concurrency_bound_rate_is_moves_times_per_move_speed():
    cal, cap = capacity_for(all_day(1e6), concurrent_moves=100, per_move=0.5)
    t0 = cal.hours_at(cal.index_of(JAN_8), 0)
    sizes = np.full(1000, 2.0)  # 2,000 GB at 100 x 0.5 = 50 GB/h = 40 h
    syncs = initial_syncs(cap, np.full(1000, t0), sizes, 100)
    assert syncs.synced_hours.max() == pytest.approx(t0 + 40.0)


def test_a_large_mailbox_moves_no_faster_than_one_move():
    cal, cap = capacity_for(all_day(1e6), per_move=0.7)
    t0 = cal.hours_at(cal.index_of(JAN_8), 0)
    syncs = initial_syncs(cap, np.array([t0, t0]), np.array([100.0, 0.07]), 10_000)
    assert syncs.synced_hours[0] == pytest.approx(t0 + 100 / 0.7)
    assert syncs.synced_hours[1] == pytest.approx(t0 + 0.1)


def test_a_night_window_moves_data_only_in_its_open_hours():
    # Open 00:00-06:00 at 100 GB/h: 1,500 GB eligible Monday 20:00 needs 15 open hours:
    # Tue 00-06 (600), Wed 00-06 (600), Thu 00:00-03:00 (300).
    windows = [{"days": "all", "from": "00:00", "to": "06:00", "gb_per_hour": 100}]
    cal, cap = capacity_for(windows)
    monday = cal.index_of(JAN_8)
    t0 = cal.hours_at(monday, 20 * 60)
    syncs = initial_syncs(cap, np.full(1500, t0), np.ones(1500), 10_000)
    assert syncs.synced_hours[-1] == pytest.approx(cal.hours_at(monday + 3, 3 * 60))


def test_a_window_wrapping_midnight_belongs_to_the_evening_it_starts():
    # Weekday evenings 22:00 to 06:00 next morning at 100 GB/h; nothing at weekends.
    windows = [{"days": "weekdays", "from": "22:00", "to": "06:00", "gb_per_hour": 100}]
    cal, cap = capacity_for(windows)
    friday = cal.index_of(dt.date(2024, 1, 12))
    t0 = cal.hours_at(friday, 12 * 60)
    # 1,000 GB: Fri 22:00-Sat 06:00 (800 GB), then nothing until Mon 22:00, +2 h.
    syncs = initial_syncs(cap, np.full(1000, t0), np.ones(1000), 10_000)
    assert syncs.synced_hours[-1] == pytest.approx(cal.hours_at(friday + 3, 24 * 60))


def test_first_matching_window_wins_and_scale_multiplies_rates():
    windows = [
        {"days": "weekdays", "from": "08:00", "to": "18:00", "gb_per_hour": 10},
        {"days": "all", "from": "00:00", "to": "24:00", "gb_per_hour": 100},
    ]
    cal, cap = capacity_for(windows, scale=0.5)
    monday, saturday = cal.index_of(JAN_8), cal.index_of(dt.date(2024, 1, 13))
    assert cap.daily_capacity_gb[monday] == pytest.approx(10 * 5 + 14 * 50)
    assert cap.daily_capacity_gb[saturday] == pytest.approx(24 * 50)


def test_holidays_count_as_weekend_for_windows_by_default():
    windows = [
        {"days": "weekdays", "from": "00:00", "to": "24:00", "gb_per_hour": 10},
        {"days": "weekend", "from": "00:00", "to": "24:00", "gb_per_hour": 100},
    ]
    cal, cap = capacity_for(windows, holidays="GB-ENG")
    new_year = cal.index_of(dt.date(2024, 1, 1))
    assert cap.daily_capacity_gb[new_year] == pytest.approx(2400)
    assert cap.daily_capacity_gb[new_year + 1] == pytest.approx(240)


cohorts = st.lists(
    st.tuples(st.integers(0, 60), st.integers(1, 40), st.floats(0.05, 20.0)),
    min_size=1,
    max_size=8,
)


def random_queue(spec, seed):
    rng = np.random.default_rng(seed)
    eligible, sizes = [], []
    for hour, count, mean in sorted(spec):
        eligible += [float(hour) * 7] * count
        sizes += list(rng.lognormal(np.log(mean), 1.0, count))
    return np.array(eligible), np.array(sizes)


windows_strategy = st.lists(
    st.tuples(
        st.sampled_from(["all", "weekdays", "weekend"]),
        st.integers(0, 23),
        st.integers(1, 24),
        st.floats(0, 500),
    ),
    min_size=1,
    max_size=3,
)


def to_windows(spec):
    out = []
    for days, start, end, rate in spec:
        if start == end % 24 and end != 24:
            end = start + 1
        out.append(
            {"days": days, "from": f"{start:02d}:00", "to": f"{end:02d}:00", "gb_per_hour": rate}
        )
    return out


@given(cohorts, windows_strategy, st.integers(1, 50), st.floats(0.1, 5), st.integers(0, 10))
@settings(max_examples=60, deadline=None)
def test_data_moved_in_any_hour_never_exceeds_that_hours_limit(spec, wspec, moves, per_move, seed):
    windows = to_windows(wspec)
    cal, cap = capacity_for(windows, concurrent_moves=moves, per_move=per_move)
    eligible, sizes = random_queue(spec, seed)
    syncs = initial_syncs(cap, eligible, sizes, moves)
    hours = np.arange(0.0, 24 * 40)
    moved = syncs.moved_between(hours)
    # The limit, from the windows directly: first matching window's rate, capped by C x p.
    limit = np.array([_rate_at(cal, windows, h) for h in hours[:-1]])
    limit = np.minimum(limit, moves * per_move)
    assert np.all(moved <= limit + 1e-6)
    assert syncs.moved_by(np.array([hours[-1]]))[0] <= sizes.sum() + 1e-6


def _day_matches(cal, days: str, day: int) -> bool:
    weekday = (cal.first_day.weekday() + day) % 7
    return {"all": True, "weekdays": weekday < 5, "weekend": weekday >= 5}[days]


def _rate_at(cal, windows, hour):
    """The first matching window's rate at the middle of the half hour after ``hour``."""
    day, minute = int(hour // 24), (hour % 24) * 60 + 30
    for w in windows:
        start, end = _minutes(w["from"]), _minutes(w["to"])
        today, yesterday = _day_matches(cal, w["days"], day), _day_matches(cal, w["days"], day - 1)
        if start < end and today and start <= minute < end:
            return w["gb_per_hour"]
        if start > end and ((today and minute >= start) or (yesterday and minute < end)):
            return w["gb_per_hour"]
    return 0.0


def _minutes(text):
    h, m = text.split(":")
    return int(h) * 60 + int(m)


@given(cohorts, st.integers(1, 50), st.floats(0.1, 5), st.floats(1.0, 3.0), st.integers(0, 10))
@settings(max_examples=60, deadline=None)
def test_a_faster_window_or_move_never_makes_any_sync_later(spec, moves, per_move, factor, seed):
    eligible, sizes = random_queue(spec, seed)
    _, cap = capacity_for(BASE_WINDOWS, concurrent_moves=moves, per_move=per_move)
    base = initial_syncs(cap, eligible, sizes, moves).synced_hours
    for variant in ({"scale": factor}, {"per_move": per_move * factor}):
        kwargs = {"concurrent_moves": moves, "per_move": per_move, **variant}
        _, more = capacity_for(BASE_WINDOWS, **kwargs)
        faster = initial_syncs(more, eligible, sizes, moves).synced_hours
        assert np.all(faster <= base + 1e-7), variant


BASE_WINDOWS = [
    {"days": "weekdays", "from": "08:00", "to": "18:00", "gb_per_hour": 20},
    {"days": "all", "from": "00:00", "to": "24:00", "gb_per_hour": 60},
]


@given(cohorts, st.integers(0, 10))
@settings(max_examples=40, deadline=None)
def test_no_mailbox_syncs_before_it_is_eligible_or_faster_than_one_move(spec, seed):
    eligible, sizes = random_queue(spec, seed)
    _, cap = capacity_for(all_day(300.0), concurrent_moves=5, per_move=2.0)
    synced = initial_syncs(cap, eligible, sizes, 5).synced_hours
    assert np.all(synced >= eligible + sizes / 2.0 - 1e-7)


def test_a_day_factor_scales_that_days_capacity_only():
    windows = all_day(100.0)
    cal, cap = capacity_for(windows)
    monday = cal.index_of(JAN_8)
    factor = np.ones(cal.days)
    factor[monday] = 0.25
    sc = scenario(
        throttle={"windows": windows, "concurrent_moves": 10_000, "per_move_gb_per_hour": 1e9},
        calendar={"holidays": "none", "timezone": "UTC"},
    )
    cut = build_capacity(cal, sc.throttle, day_factor=factor)
    assert cut.daily_capacity_gb[monday] == pytest.approx(0.25 * 2400)
    assert cut.daily_capacity_gb[monday + 1] == pytest.approx(2400)
    same = build_capacity(cal, sc.throttle, day_factor=np.ones(cal.days))
    np.testing.assert_array_equal(same.flow_gb, cap.flow_gb)


def test_own_pace_work_defaults_to_the_size_and_slows_only_the_move():
    cal, cap = capacity_for(all_day(1e6), per_move=0.5)
    t0 = cal.hours_at(cal.index_of(JAN_8), 0)
    eligible, sizes = np.full(3, t0), np.array([10.0, 1.0, 4.0])
    plain = initial_syncs(cap, eligible, sizes, 10_000)
    default = initial_syncs(cap, eligible, sizes, 10_000, own_pace_gb=sizes)
    np.testing.assert_array_equal(plain.synced_hours, default.synced_hours)
    # Twice the work at 0.5 GB/h: a 10 GB mailbox needs 40 h instead of 20 h.
    slow = initial_syncs(cap, eligible, sizes, 10_000, own_pace_gb=2 * sizes)
    np.testing.assert_allclose(slow.synced_hours - t0, 2 * sizes / 0.5)
    np.testing.assert_allclose(plain.synced_hours - t0, sizes / 0.5)
