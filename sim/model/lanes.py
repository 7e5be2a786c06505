"""Lanes: mailboxes of different kinds moving on schedules of their own.

Not every mailbox is a person. NHSmail's users moved at up to 22,000 an
evening from October 2020, while application and POP/IMAP/SMTP accounts
"followed gradually from late October", beside them. A scenario says so with::

    [population]
    kinds = { user = 0.81, shared = 0.05, application = 0.14 }

    [[lanes]]
    name = "application and shared accounts"
    kinds = ["application", "shared"]
    from = 2020-10-26
    weekday = 1_500
    notice_days = 0          # nobody reads an application mailbox

``[batches]`` is the lane ``"main"`` and moves every kind no lane names. Each
lane has its own cohorts, evening capacity and carried-over users; all lanes
share the tenant throttle (first come, first served by eligibility), the
failure rules and the service desk. A scenario without ``[[lanes]]`` has one
lane, ``"main"``, and runs exactly as before lanes existed.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from sim.model.calendar import Calendar, lane_batch_size
from sim.model.cohorts import Cohorts, plan_cohorts, plan_queue, planned_day_by_mailbox
from sim.model.scenario import MAIN_LANE, Scenario


@dataclass(frozen=True)
class LanePlan:
    """One lane compiled on the calendar: its evenings, their capacity and its notices."""

    index: int
    name: str
    kinds: tuple[str, ...] | None  # None: every kind no other lane names ("main")
    batch_size: np.ndarray  # users planned per calendar day (0: no cutovers in this lane)
    evening_capacity: np.ndarray  # batch x (1 + catch_up), rounded down, per day
    notice_days: int
    notifies: bool  # does this lane tell its users (warning, reminders, success)?
    ticket_rate: float | None  # None: [support]'s rates (legacy clients apart)
    cutover_days: np.ndarray  # the days with cutovers in this lane, in order
    next_cutover: np.ndarray  # per day (and one past the end): first cutover day on or after

    def next_cutover_day(self, day: int) -> int:
        """This lane's first cutover day on or after ``day`` (the calendar's length if none)."""
        return int(self.next_cutover[min(day, len(self.next_cutover) - 1)])


def _next_cutover(cutover_days: np.ndarray, days: int) -> np.ndarray:
    k = np.searchsorted(cutover_days, np.arange(days + 1), side="left")
    return np.append(cutover_days, days)[k]


def compile_lanes(scenario: Scenario, cal: Calendar) -> tuple[LanePlan, ...]:
    """``"main"`` (``[batches]`` on the calendar), then each ``[[lanes]]`` in file order."""
    catch_up = scenario.batches.catch_up

    def capacity(batch: np.ndarray) -> np.ndarray:
        return np.floor(batch * (1.0 + catch_up) + 1e-9).astype(np.int64)

    batches = scenario.batches
    lanes = [
        LanePlan(
            0,
            MAIN_LANE,
            None,
            cal.batch_size,
            capacity(cal.batch_size),
            batches.notice_days,
            True,  # [batches] always tells its users (notice_days = 0: on the day)
            None,
            cal.cutover_days,
            cal.next_cutover_day,
        )
    ]
    for i, lane in enumerate(scenario.lanes, start=1):
        batch = lane_batch_size(cal, lane.weekday, lane.weekend_day, lane.phases, lane.from_)
        notice = batches.notice_days if lane.notice_days is None else lane.notice_days
        days = np.flatnonzero(batch > 0)
        lanes.append(
            LanePlan(
                i, lane.name, tuple(lane.kinds), batch, capacity(batch), notice, notice > 0,
                lane.ticket_rate, days, _next_cutover(days, cal.days),
            )
        )  # fmt: skip
    return tuple(lanes)


def lane_of_kind(lanes: tuple[LanePlan, ...], kind_names: tuple[str, ...]) -> np.ndarray:
    """The lane index of each kind code (kinds no lane names go to ``"main"``, 0)."""
    out = np.zeros(len(kind_names), dtype=np.int8)
    for lane in lanes[1:]:
        for code, kind in enumerate(kind_names):
            if kind in lane.kinds:
                out[code] = lane.index
    return out


def plan_lanes(
    lanes: tuple[LanePlan, ...],
    selection: str,
    organisation: np.ndarray,
    lane_of_mailbox: np.ndarray | None,
    rng: np.random.Generator,
) -> Cohorts:
    """Every lane's cohorts, merged into one initial-sync queue in eligibility order.

    Each lane plans its own mailboxes on its own evenings (``plan_cohorts``, from
    the same selection stream, lane after lane). The queue is sorted by planned
    day, stably, so on a day shared by lanes each lane's cohort is one contiguous
    block, "main" first. With one lane this is ``plan_cohorts`` itself.
    """
    if lane_of_mailbox is None or len(lanes) == 1:
        main = lanes[0]
        days = main.cutover_days
        return plan_cohorts(selection, days, main.batch_size[days], organisation, rng)
    # Each lane's queue is sorted by day: cut it into one block per day, then lay the
    # blocks of all lanes out by (day, lane) (a few hundred blocks: no per-mailbox sort).
    blocks: list[tuple[int, int, np.ndarray]] = []
    for lane in lanes:
        ids = np.flatnonzero(lane_of_mailbox == lane.index)
        days = lane.cutover_days
        if not len(ids) or not len(days):
            continue
        queue, queue_days = plan_queue(
            selection, days, lane.batch_size[days], organisation, rng, ids
        )
        # Each day's block of the queue (sorted by day): a few hundred binary searches
        # (the days as int32 like the queue's, or numpy would copy the queue's to int64).
        edges = np.append(np.searchsorted(queue_days, days.astype(queue_days.dtype)), len(queue))
        blocks += [
            (int(queue_days[first]), lane.index, queue[first:end])
            for first, end in itertools.pairwise(edges)
            if end > first
        ]
    blocks.sort(key=lambda block: block[:2])
    sizes = np.array([len(block[2]) for block in blocks], dtype=np.int64)
    if not blocks:
        planned_day = np.full(len(organisation), -1, dtype=np.int32)
        return Cohorts(
            planned_day, np.zeros(0, np.int64), np.zeros(0, np.int8), (), np.zeros(0, np.int32)
        )
    merged = np.concatenate([block[2] for block in blocks], dtype=np.int64)
    lane_by_position = np.repeat(np.array([b[1] for b in blocks], dtype=np.int8), sizes)
    queue_day = np.repeat(np.array([b[0] for b in blocks], dtype=np.int32), sizes)
    planned_day = planned_day_by_mailbox(merged, queue_day, len(organisation))
    ends = np.cumsum(sizes)
    spans = tuple(
        (day, lane, int(end - size), int(end))
        for (day, lane, _), size, end in zip(blocks, sizes, ends, strict=True)
    )
    return Cohorts(planned_day, merged, lane_by_position, spans, queue_day)


def remaining_kind_shares(
    scenario: Scenario, lanes: tuple[LanePlan, ...], through_day: int, moved: int, remaining: int
) -> dict[str, float] | None:
    """``population.kinds`` of what is left after ``moved`` mailboxes moved by ``through_day``
    (a forecast's remaining plan), or None without lanes.

    Actuals count mailboxes, not lanes: the moved ones are shared among the lanes as their
    plans had moved them by that day, each lane's remainder among its kinds by their shares.
    """
    if len(lanes) == 1:
        return None
    shares = scenario.population.kind_shares()
    lane_kinds: list[list[str]] = [[] for _ in lanes]
    named = {kind: lane.index for lane in lanes[1:] for kind in lane.kinds}
    for kind in shares:
        lane_kinds[named.get(kind, 0)].append(kind)
    n = scenario.population.mailboxes
    totals = np.array([n * sum(shares[k] for k in kinds) for kinds in lane_kinds])
    planned = np.minimum(
        [float(lane.batch_size[: through_day + 1].sum()) for lane in lanes], totals
    )
    moved_by_lane = moved * planned / planned.sum() if planned.sum() > 0 else 0 * planned
    left = np.clip(totals - moved_by_lane, 0.0, None)
    if left.sum() <= 0 or remaining <= 0:
        return None
    out: dict[str, float] = {}
    for kinds, lane_left in zip(lane_kinds, left / left.sum(), strict=True):
        lane_share = sum(shares[k] for k in kinds)
        for kind in kinds:
            out[kind] = float(lane_left * shares[kind] / lane_share) if lane_share > 0 else 0.0
    total = sum(out.values())
    return {kind: share / total for kind, share in out.items()}


__all__ = ["LanePlan", "compile_lanes", "lane_of_kind", "plan_lanes", "remaining_kind_shares"]
