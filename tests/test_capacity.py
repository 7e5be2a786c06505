"""Evenings with a capacity: shortfalls, pauses and failures move the finish date."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.model.calendar import build_calendar
from sim.model.scenario import with_overrides
from sim.model.simulation import Model, simulate
from sim.model.world import World

from .conftest import nth_weekday_after, scenario
from .test_model import plans, scenario_from, slow

START = dt.date(2024, 1, 8)  # Monday


def completion(run) -> dt.date | None:
    value = run.metrics["completion_date"]
    return None if pd.isna(value) else value.date()


def one_hour_a_night(mailboxes, batch, synced_per_night):
    """Cutovers every day at 20:00 of ``batch`` users; 1 GB mailboxes; the throttle opens
    02:00-03:00 at ``synced_per_night`` GB/h only, for as many concurrent moves, and a
    cohort becomes eligible at its own cutover (lead 0). Each night the S moves share the
    window, 1 GB/h each, and finish together at 03:00: exactly S users sync a night."""
    return scenario(
        population={"mailboxes": mailboxes, "size_gb": {"mean": 1.0, "sigma": 0}},
        calendar={"timezone": "UTC"},
        batches={"weekday": batch, "weekend_day": batch},
        throttle={
            "presync_lead_days": 0,
            "concurrent_moves": synced_per_night,
            "per_move_gb_per_hour": 1e6,
            "windows": [
                {"days": "all", "from": "02:00", "to": "03:00", "gb_per_hour": synced_per_night}
            ],
        },
    )


@pytest.mark.parametrize(("mailboxes", "batch", "synced"), [(1000, 100, 40), (700, 300, 90)])
def test_a_throttle_that_syncs_s_of_b_a_night_finishes_after_ceil_n_over_s_nights(
    mailboxes, batch, synced
):
    # Day 0's cohort is eligible at its own cutover, so nobody is ready on day 0; each
    # night S more sync (FCFS), and every evening has room for them (S < B): the last
    # sync is on night ceil(N / S), its cutover that evening. Everyone waits at least once.
    run = simulate(one_hour_a_night(mailboxes, batch, synced), 1, keep_mailboxes=False)
    nights = math.ceil(mailboxes / synced)
    assert completion(run) == START + dt.timedelta(days=nights)
    daily = run.daily.set_index("date")
    assert (
        daily.loc[pd.Timestamp(START + dt.timedelta(days=1)) :, "cutover_ok"].iloc[: nights - 1]
        == synced
    ).all()
    assert run.metrics["deferred_users"] == mailboxes
    assert run.metrics["slipped_users"] == 0
    # Without the throttle, the plan alone would have finished far earlier.
    planned_finish = START + dt.timedelta(days=math.ceil(mailboxes / batch) - 1)
    assert completion(run) > planned_finish


def test_synced_users_beyond_an_evenings_capacity_slip_longest_waiting_first():
    # 3 nights of syncing arrive at once: a weekend with cutovers off lets 3 x 60 sync
    # before Monday's evening, which takes only its batch of 100 (catch_up 0).
    sc = one_hour_a_night(600, 100, 60)
    sc = with_overrides(sc, {"batches.weekend_day": 0}, source="test")
    run = simulate(sc, 1)
    daily = run.daily.set_index("date")
    assert (daily["cutover_ok"] + daily["cutover_failed"] <= 100).all()
    assert daily["slipped"].sum() > 0 and run.metrics["slipped_users"] > 0
    # Longest waiting first: nobody is cut over while someone planned earlier and synced
    # slips (cutover order follows the plan's order).
    mb = run.mailboxes.sort_values(["cutover_at", "scheduled_date"])
    assert mb["status"].eq("migrated").all()
    assert mb["scheduled_date"].is_monotonic_increasing


@pytest.mark.parametrize("paused", [1, 2, 5])
def test_k_paused_days_move_the_finish_by_exactly_k_cutover_days(paused):
    # 10 weekday cohorts of 100, ample throttle, no failures, catch_up 0: a paused day's
    # users slip to the next day, whose own cohort then slips in turn, to the end.
    sc = scenario(population={"mailboxes": 1000}, batches={"weekday": 100})
    model = Model(sc)
    cal = model.calendar
    pause = np.zeros(cal.days, dtype=bool)
    first_paused = cal.index_of(dt.date(2024, 1, 10))  # Wednesday of the first week
    pause[cal.cutover_days[np.searchsorted(cal.cutover_days, first_paused) :][:paused]] = True
    seed = np.random.SeedSequence(3)
    plain = model.replicate(seed)
    held = model.replicate(seed, world=World(paused_by_day=pause))
    assert completion(plain) == nth_weekday_after(START, 10)
    assert completion(held) == nth_weekday_after(START, 10 + paused)
    assert held.metrics["paused_days"] == paused
    assert held.daily["paused"].sum() == paused
    assert (held.daily["cutover_ok"] <= 100).all()


def test_a_catch_up_share_lets_an_evening_clear_carried_over_users():
    sc = scenario(population={"mailboxes": 1000}, batches={"weekday": 100, "catch_up": 1.0})
    model = Model(sc)
    pause = np.zeros(model.calendar.days, dtype=bool)
    pause[model.calendar.index_of(dt.date(2024, 1, 10))] = True
    held = model.replicate(np.random.SeedSequence(3), world=World(paused_by_day=pause))
    # Thursday takes Wednesday's 100 and its own 100 (capacity 200): no later finish.
    assert completion(held) == nth_weekday_after(START, 10)
    daily = held.daily.set_index("date")
    assert daily.loc["2024-01-11", "cutover_ok"] == 200


@pytest.mark.parametrize(("rate", "attempts", "persistent"), [(0.1, 2, 0.05), (0.3, 3, 0.0)])
def test_remediation_is_persistent_share_plus_rate_to_the_max_attempts(rate, attempts, persistent):
    n = 20_000
    sc = scenario(
        population={"mailboxes": n},
        batches={"weekday": 2000, "catch_up": 1.0},
        failures={
            "rate": rate,
            "max_attempts": attempts,
            "retry_after_days": 1,
            "persistent_share": persistent,
        },
    )
    m = simulate(sc, 11, keep_mailboxes=False).metrics
    assert m["completed"]
    # A mailbox needs remediation if persistent, or else if every attempt fails.
    p = persistent + (1 - persistent) * rate**attempts
    assert abs(m["needs_remediation"] / n - p) <= 4 * math.sqrt(p * (1 - p) / n)


def test_persistent_mailboxes_fail_every_attempt_then_need_remediation():
    sc = scenario(
        population={"mailboxes": 2000},
        batches={"weekday": 500},
        failures={"rate": 0.0, "max_attempts": 3, "persistent_share": 0.1},
    )
    mb = simulate(sc, 5).mailboxes
    remediation = mb[mb["status"] == "remediation"]
    assert (remediation["attempts"] == 3).all()
    assert (mb.loc[mb["status"] == "migrated", "attempts"] == 1).all()
    assert abs(len(remediation) / 2000 - 0.1) <= 4 * math.sqrt(0.09 / 2000)


def test_a_failure_factor_of_two_is_the_same_as_twice_the_rate():
    sc = scenario(population={"mailboxes": 3000}, failures={"rate": 0.05, "max_attempts": 2})
    model = Model(sc)
    doubled = model.replicate(
        np.random.SeedSequence(9),
        world=World(failure_factor_by_day=np.full(model.calendar.days, 2.0)),
    )
    twice = Model(with_overrides(sc, {"failures.rate": 0.1}, source="test")).replicate(
        np.random.SeedSequence(9)
    )
    assert doubled.metrics == twice.metrics


def test_a_nominal_world_changes_nothing():
    sc = scenario(
        population={"mailboxes": 1500, "size_gb": {"mean": 2.0, "sigma": 1.0}},
        failures={"rate": 0.05},
        support={"ticket_rate": 0.05, "pause_backlog": 30, "agents": 1},
        throttle={"windows": [{"days": "all", "from": "00:00", "to": "24:00", "gb_per_hour": 40}]},
    )
    model = Model(sc)
    days, n = model.calendar.days, sc.population.mailboxes
    seed = np.random.SeedSequence(4)
    plain = model.replicate(seed, keep_mailboxes=True)
    for world in (
        None,
        World(),
        World(
            throttle_factor_by_day=np.ones(days),
            paused_by_day=np.zeros(days, dtype=bool),
            failure_factor_by_day=np.ones(days),
            move_speed_factor=np.ones(n),
        ),
    ):
        other = model.replicate(seed, keep_mailboxes=True, world=world)
        assert other.metrics == plain.metrics
        pd.testing.assert_frame_equal(other.daily, plain.daily)
        pd.testing.assert_frame_equal(other.mailboxes, plain.mailboxes)


def test_a_throttle_factor_is_the_same_as_scaling_the_throttle():
    sc = scenario(
        population={"mailboxes": 1500, "size_gb": {"mean": 2.0, "sigma": 1.0}},
        throttle={"windows": [{"days": "all", "from": "00:00", "to": "24:00", "gb_per_hour": 60}]},
    )
    model = Model(sc)
    halved = model.replicate(
        np.random.SeedSequence(2),
        world=World(throttle_factor_by_day=np.full(model.calendar.days, 0.5)),
    )
    scaled = Model(with_overrides(sc, {"throttle.scale": 0.5}, source="test")).replicate(
        np.random.SeedSequence(2)
    )
    assert halved.metrics == scaled.metrics
    pd.testing.assert_frame_equal(halved.daily, scaled.daily)


def test_slow_moves_and_an_initial_ticket_backlog_are_felt():
    sc = scenario(
        population={"mailboxes": 500, "size_gb": {"mean": 20.0, "sigma": 0}},
        throttle={"per_move_gb_per_hour": 1.0, "presync_lead_days": 2},
        support={"agents": 2},
    )
    model = Model(sc)
    seed = np.random.SeedSequence(1)
    plain = model.replicate(seed)
    slow_moves = model.replicate(seed, world=World(move_speed_factor=np.full(500, 0.2)))
    # 20 GB at 0.2 GB/h = 100 h > 2 days of lead: every user is deferred at least once.
    assert plain.metrics["deferred_users"] == 0
    assert slow_moves.metrics["deferred_users"] == 500
    assert completion(slow_moves) > completion(plain)
    backlog = model.replicate(seed, world=World(initial_ticket_backlog=300))
    # Worked by the desk, but no ticket of this run's users (a forecast's earlier tickets).
    assert backlog.metrics["tickets"] == plain.metrics["tickets"]
    assert backlog.metrics["peak_backlog"] >= 300
    start = backlog.daily.set_index("date").loc[str(START), "ticket_backlog"]
    assert start > 0
    with pytest.raises(ValueError, match="paused_by_day"):
        model.replicate(seed, world=World(paused_by_day=np.zeros(3, dtype=bool)))


# --- invariants -----------------------------------------------------------------------------


@given(plans, st.sampled_from([0.0, 0.1, 0.5]), st.integers(0, 4), st.booleans())
@slow
def test_no_evening_switches_over_more_than_its_capacity(p, catch_up, paused, gate):
    sc = scenario_from(p, **{"batches.catch_up": catch_up})
    if gate:
        sc = with_overrides(sc, {"support.pause_backlog": 3, "support.agents": 1}, source="t")
    model = Model(sc)
    cal = build_calendar(sc)
    pause = np.zeros(cal.days, dtype=bool)
    pause[cal.cutover_days[: 3 * paused : 3]] = True
    run = model.replicate(np.random.SeedSequence(p["seed"]), world=World(paused_by_day=pause))
    daily = run.daily.set_index("date")
    capacity = pd.Series(np.floor(cal.batch_size * (1 + catch_up) + 1e-9), index=cal.dates).reindex(
        daily.index
    )
    assert (daily["cutover_ok"] + daily["cutover_failed"] <= capacity).all()
    assert (daily.loc[daily["paused"], ["cutover_ok", "cutover_failed"]] == 0).all().all()
    assert (
        daily["scheduled"]
        == daily["cutover_ok"] + daily["cutover_failed"] + daily["deferred"] + daily["slipped"]
    ).all()
    m = run.metrics
    assert m["migrated"] + m["needs_remediation"] + m["not_migrated"] == p["mailboxes"]
