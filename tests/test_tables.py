"""The output tables' one-pass shortcuts give exactly the numbers of their plain definitions."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model import tables
from sim.model.simulation import simulate

from .conftest import BASE, scenario


@settings(max_examples=200, deadline=None)
@given(
    positions=st.integers(1, 3000),
    seed=st.integers(0, 2**32 - 1),
    never_synced_share=st.sampled_from([0.0, 0.05, 0.6]),
    sampled_synced_at=st.sampled_from([None, -1e6, 1e6]),
)
def test_the_sync_buffer_p10_is_the_order_statistic_of_all_buffers_even_when_the_sample_misleads(
    positions, seed, never_synced_share, sampled_synced_at
):
    rng = np.random.default_rng(seed)
    days = 40
    evening = np.round(rng.random(days) * 900, 1)  # rounded: ties
    day = np.sort(rng.integers(0, days, positions)).astype(np.int32)
    synced = np.round(rng.random(positions) * 900, 1)
    synced[rng.random(positions) < never_synced_share] = np.inf
    if sampled_synced_at is not None:  # every 64th, the bound's sample: all big or all small
        synced[::64] = sampled_synced_at
    record = SimpleNamespace(
        queue=np.arange(positions),
        cutover_hours=evening,
        planned_by_position=day,
        synced_at=synced,
        calendar=SimpleNamespace(days=days),
    )
    rank = max(math.ceil(0.1 * positions - 1e-9) - 1, 0)
    expected = max(float(np.sort(evening[day] - synced)[rank]), -24.0 * days)
    assert tables.sync_buffer_hours_p10(record) == expected


@settings(max_examples=200, deadline=None)
@given(
    positions=st.integers(0, 2000),
    seed=st.integers(0, 2**32 - 1),
    notifies=st.lists(st.booleans(), min_size=1, max_size=4),
)
def test_lateness_counts_told_users_by_final_day_less_planned_day(positions, seed, notifies):
    rng = np.random.default_rng(seed)
    days, last_cutover = 60, 55
    planned = np.sort(rng.integers(0, last_cutover + 1, positions)).astype(np.int32)
    final = np.minimum(planned + rng.integers(-2, 12, positions), last_cutover).astype(np.int32)
    final[rng.random(positions) < 0.2] = -1  # never resolved: late to the horizon's end
    lane = rng.integers(0, len(notifies), positions).astype(np.int8)
    record = SimpleNamespace(
        state=SimpleNamespace(final_day=final),
        planned_by_position=planned,
        calendar=SimpleNamespace(days=days, last_cutover_index=last_cutover),
        lanes=[SimpleNamespace(index=k, notifies=told) for k, told in enumerate(notifies)],
        lane_by_position=lane if len(notifies) > 1 else None,
        date_changes=7,
    )
    told = np.array(notifies)[lane] if len(notifies) > 1 else np.ones(positions, dtype=bool)
    days_late = np.maximum(np.where(final < 0, last_cutover + 1, final) - planned, 0)[told]
    users = len(days_late)
    rank = max(math.ceil(0.9 * users - 1e-9) - 1, 0)
    assert tables.lateness(record) == {
        "users_late": int(np.count_nonzero(days_late)),
        "days_late_p90": int(np.sort(days_late)[rank]) if users else 0,
        "date_changes": 7,
    }


def test_mailboxes_left_out_of_a_short_plan_are_not_migrated_never_synced_nor_cut_over():
    # 100 users a weekday for one week: 500 of the 1,000 mailboxes have no evening.
    short = scenario(scenario={**BASE["scenario"], "horizon_days": 7})
    boxes = simulate(short, 1).mailboxes
    unplanned = boxes["scheduled_date"].isna()
    assert unplanned.sum() == 500
    left_out = boxes[unplanned]
    assert left_out["synced_at"].isna().all() and left_out["cutover_at"].isna().all()
    assert (left_out["attempts"] == 0).all() and (left_out["status"] == "not_migrated").all()
    planned = boxes[~unplanned]
    assert planned["synced_at"].notna().all()
    assert (planned["cutover_at"].dt.normalize() == planned["scheduled_date"]).all()
    assert planned["synced_at"].dtype == pd.DatetimeTZDtype("ns", short.calendar.timezone)
