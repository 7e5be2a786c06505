"""Who is due on an evening: carried-over users longest waiting first, and the planned cohort
before or after them (``batches.carried_over``)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model.bookkeeping import DueList


@settings(deadline=None, max_examples=100)
@given(
    planned=st.one_of(st.none(), st.tuples(st.integers(0, 50), st.integers(0, 30))),
    carried=st.lists(st.integers(50, 99), max_size=20, unique=True),
    carries=st.integers(1, 3),
    carried_first=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_take_gives_the_carried_over_longest_waiting_first_then_or_after_the_planned_cohort(
    planned, carried, carries, carried_first, seed
):
    waiting_since = np.random.default_rng(seed).integers(0, 4, 100).astype(np.int32)
    batches = np.array_split(np.array(carried, dtype=np.int64), carries)  # from several evenings
    plan = {} if planned is None else {7: (planned[0], planned[0] + planned[1])}
    due = DueList(planned=dict(plan), carried_first=carried_first)
    for batch in batches:
        due.carry(batch, 7)
    got = due.take(7, waiting_since)

    waiting = sorted(carried, key=lambda p: (waiting_since[p], p))
    cohort = list(range(*plan[7])) if plan else []
    want = waiting + cohort if carried_first else cohort + waiting
    assert got.dtype == np.int64
    assert got.tolist() == want
    assert not due.any_on(7)
