"""The compiled passes give exactly what numpy gives: a later attempt's uniforms read straight
from their place in the stream, ticket arrival minutes, an evening's switch-overs."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model.draws import (
    _PCG64_JUMPS,
    _PCG64_SUMS,
    FailureDice,
    _pcg64_start,
    _stream_uniforms,
    arrival_minutes,
    stream_seeds,
)
from sim.model.replication import _switch_over
from sim.model.scenario import Failures


@settings(deadline=None, max_examples=60)
@given(
    entropy=st.integers(0, 2**128 - 1),
    spawn_key=st.lists(st.integers(0, 20), max_size=3),
    mailboxes=st.integers(1, 50_000),
    picks=st.lists(st.floats(0, 1, exclude_max=True), max_size=40),
)
def test_stream_uniforms_equal_numpys_draw_of_every_mailbox_at_those_ids(
    entropy, spawn_key, mailboxes, picks
):
    seed = np.random.SeedSequence(entropy, spawn_key=tuple(spawn_key))
    ids = np.array([0, mailboxes - 1, *(int(p * mailboxes) for p in picks)], dtype=np.int64)
    every = np.random.default_rng(seed).random(mailboxes)
    got = _stream_uniforms(_pcg64_start(seed)[None], 0 * ids, ids, _PCG64_JUMPS, _PCG64_SUMS)
    np.testing.assert_array_equal(got, every[ids])


def test_stream_uniforms_reach_millions_of_places_in():
    seed = np.random.SeedSequence(2020, spawn_key=(4, 1))
    ids = np.array([2**21 - 1, 2**21, 2_099_999, 1_048_575, 1_048_576, 3, 0])
    every = np.random.default_rng(seed).random(2_100_000)
    got = _stream_uniforms(_pcg64_start(seed)[None], 0 * ids, ids, _PCG64_JUMPS, _PCG64_SUMS)
    np.testing.assert_array_equal(got, every[ids])


@settings(deadline=None, max_examples=60)
@given(
    weights=st.lists(st.sampled_from([0.0, 0.5, 1.0, 3.0, 1e-9]), min_size=24, max_size=24).filter(
        lambda w: sum(w) > 0
    ),
    count=st.integers(0, 300),
    seed=st.integers(0, 2**32 - 1),
)
def test_arrival_minutes_equal_numpys_calculation(weights, count, seed):
    hour_cdf = np.cumsum(weights) / np.sum(weights)
    got = arrival_minutes(hour_cdf, np.random.default_rng(seed), count)
    u = np.random.default_rng(seed).random(count)
    hour = np.minimum(np.searchsorted(hour_cdf, u, side="right"), 23)
    below = np.where(hour > 0, hour_cdf[hour - 1], 0.0)
    within = (u - below) / np.maximum(hour_cdf[hour] - below, 1e-12)
    np.testing.assert_array_equal(got, (hour + np.clip(within, 0, 1)) * 60.0)


def test_a_retrying_mailbox_reads_its_next_attempts_uniform_drawn_for_every_mailbox_by_id():
    mailboxes = 5_000
    seeds = stream_seeds(np.random.SeedSequence(11))
    queue = np.random.default_rng(0).permutation(mailboxes)
    dice = FailureDice(Failures(rate=0.01), seeds, mailboxes, queue)
    # Attempt k's uniforms: the failures stream's k-th child, one per mailbox id.
    by_attempt = [np.random.default_rng(s).random(mailboxes) for s in seeds["failures"].spawn(4)]
    positions = np.array([4_999, 0, 17, 2_500, 3])
    failed_attempt = np.array([1, 2, 1, 3, 2])
    dice.retry(positions, failed_attempt)
    uniform, persistent = dice.evening_tables(0.01)
    expected = by_attempt[0][queue]
    retried = zip(positions, failed_attempt, strict=True)
    expected[positions] = [by_attempt[k][queue[p]] for p, k in retried]
    np.testing.assert_array_equal(uniform, expected)
    assert not len(persistent)
    assert not len(dice.evening_tables(0.0)[0])


def switch_over_with_numpy(
    due, synced_hours, hours, capacity, state, dice, rate, limit, day, raises
):
    """The evening as numpy says it, one whole-array step at a time."""
    attempts, status, cutover_day, final_day = state
    uniform, persistent = dice
    synced = synced_hours[due] <= hours
    unsynced, ready = due[~synced], due[synced]
    slipped, tonight = ready[capacity:], ready[:capacity]
    attempt = attempts[tonight] + 1
    attempts[tonight] = attempt
    failed = uniform[tonight] < rate if rate > 0 else np.zeros(len(tonight), dtype=bool)
    if len(persistent):
        failed |= persistent[tonight]
    ok, bad, bad_attempt = tonight[~failed], tonight[failed], attempt[failed]
    status[ok], cutover_day[ok], final_day[ok] = 1, day, day
    given_up = bad[bad_attempt >= limit]
    status[given_up], final_day[given_up] = 2, day
    retry = bad[bad_attempt < limit]
    return unsynced, slipped, len(ok), ok[raises[ok]], bad, retry, len(given_up)


@settings(deadline=None, max_examples=100)
@given(
    seed=st.integers(0, 2**32 - 1),
    due_count=st.integers(0, 60),
    capacity=st.integers(0, 70),
    rate=st.sampled_from([0.0, 0.2, 0.7, 1.0]),
    limit=st.integers(1, 4),
    persistent_share=st.sampled_from([None, 0.0, 0.3]),
)
def test_switch_over_does_what_numpy_does_step_by_step(
    seed, due_count, capacity, rate, limit, persistent_share
):
    rng = np.random.default_rng(seed)
    queued = 80
    due = rng.permutation(queued)[:due_count].astype(np.int64)
    synced_hours = np.where(rng.random(queued) < 0.2, np.inf, rng.uniform(0, 10, queued))
    persistent = (
        np.empty(0, dtype=bool)
        if persistent_share is None
        else rng.random(queued) < persistent_share
    )
    dice = (rng.random(queued), persistent)
    raises = rng.random(queued) < 0.3
    # Some users on a later attempt; nobody switched over yet.
    attempts = rng.integers(0, limit, queued).astype(np.int16)

    def fresh_state():
        days = np.full(queued, -1, np.int32)
        return attempts.copy(), np.zeros(queued, np.int8), days, days.copy()

    compiled, stepwise = fresh_state(), fresh_state()
    args = (due, synced_hours, 6.0, capacity)
    got = _switch_over(*args, compiled, dice, rate, limit, 9, raises)
    want = switch_over_with_numpy(*args, stepwise, dice, rate, limit, 9, raises)
    for got_part, want_part in zip(got, want, strict=True):
        np.testing.assert_array_equal(got_part, want_part)
    for got_array, want_array in zip(compiled, stepwise, strict=True):
        np.testing.assert_array_equal(got_array, want_array)
