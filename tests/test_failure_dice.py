"""The failure dice read a later attempt's uniforms straight from their place in the stream."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model.draws import _PCG64_JUMPS, _PCG64_SUMS, _pcg64_start, _stream_uniforms


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
    got = _stream_uniforms(_pcg64_start(seed), ids, _PCG64_JUMPS, _PCG64_SUMS)
    np.testing.assert_array_equal(got, every[ids])


def test_stream_uniforms_reach_millions_of_places_in():
    seed = np.random.SeedSequence(2020, spawn_key=(4, 1))
    ids = np.array([2**21 - 1, 2**21, 2_099_999, 1_048_575, 1_048_576, 3, 0])
    every = np.random.default_rng(seed).random(2_100_000)
    got = _stream_uniforms(_pcg64_start(seed), ids, _PCG64_JUMPS, _PCG64_SUMS)
    np.testing.assert_array_equal(got, every[ids])
