"""Who is due on which evening, and what happened each day.

Mailbox state is held by *queue position* (the order of initial syncs, cohort
by cohort), not by mailbox id, so that a day's planned cohort is a contiguous
slice of every array.

An evening's due users are, in order: users carried over from earlier evenings
(deferred, slipped or retrying), longest waiting first, then the day's planned
cohort. Example: Tuesday's 22,000 are planned; 300 of Monday's were deferred
(sync not finished) and 50 failed on Friday and retry today. Tuesday takes the
Friday retries first (waiting since their failed attempt), then Monday's
deferred (waiting since Monday), then as much of its own cohort as fits.
With ``batches.carried_over = "spare"`` Tuesday's cohort goes first and the
carried-over users take only the places it leaves.

Each lane (``sim.model.lanes``) has its own :class:`DueList`; their planned
cohorts are disjoint slices of the one queue.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

PENDING, MIGRATED, REMEDIATION = 0, 1, 2
STATUS_NAMES = ("not_migrated", "migrated", "remediation")

DAILY_COUNTS = (
    "scheduled",
    "cutover_ok",
    "cutover_failed",
    "deferred",
    "slipped",
    "notices_sent",
    "reminders_sent",
    "success_notices",
)


@dataclass
class DailyCounts:
    """Per-day counters of one replication."""

    days: int
    values: dict[str, np.ndarray] = field(init=False)
    paused: np.ndarray = field(init=False)  # by the go/no-go gate or a risk
    paused_by_risk: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.values = {name: np.zeros(self.days, dtype=np.int64) for name in DAILY_COUNTS}
        self.paused = np.zeros(self.days, dtype=bool)
        self.paused_by_risk = np.zeros(self.days, dtype=bool)

    def add(self, name: str, day: int, count: int) -> None:
        if 0 <= day < self.days:
            self.values[name][day] += count


class MailboxState:
    """Attempts, status and waiting of every queued mailbox (by queue position)."""

    def __init__(self, queued: int) -> None:
        self.attempts = np.zeros(queued, dtype=np.int16)
        self.status = np.zeros(queued, dtype=np.int8)
        self.cutover_day = np.full(queued, -1, dtype=np.int32)  # day of the successful cutover
        self.waiting_since = np.zeros(queued, dtype=np.int32)  # day first due for this attempt
        self.ever_deferred = np.zeros(queued, dtype=bool)
        self.ever_slipped = np.zeros(queued, dtype=bool)
        self.final_day = np.full(queued, -1, dtype=np.int32)  # migrated or sent to remediation


class DueList:
    """Who is due on each cutover day (of one lane): planned cohorts and carried-over users.

    ``carried_first`` (``batches.carried_over = "first"``): carried-over users
    come before the day's planned cohort; otherwise after it ("spare").
    """

    def __init__(
        self,
        planned_day_by_position: np.ndarray | None = None,
        *,
        planned: dict[int, tuple[int, int]] | None = None,
        carried_first: bool = True,
    ) -> None:
        if planned is None:
            planned = dict(_runs_of_equal_days(planned_day_by_position))
        self.planned = planned
        self.carried: dict[int, list[np.ndarray]] = {}
        self.carried_first = carried_first

    def any_on(self, day: int) -> bool:
        return day in self.planned or day in self.carried

    def carry(self, positions: np.ndarray, day: int) -> None:
        self.carried.setdefault(day, []).append(positions)

    def take(self, day: int, waiting_since: np.ndarray) -> np.ndarray:
        """Everyone due on ``day``: carried over (longest waiting first) and planned, in
        the order of ``carried_first``."""
        waiting = np.zeros(0, dtype=np.int64)
        carried = self.carried.pop(day, None)
        if carried:
            positions = np.concatenate(carried)
            # Longest waiting first; among equals, queue order (the plan's order).
            waiting = positions[np.lexsort((positions, waiting_since[positions]))]
        if day not in self.planned:
            return waiting
        first, end = self.planned.pop(day)
        # The planned cohort's range with room at one end for the carried over: one array.
        if self.carried_first:
            due = np.arange(first - len(waiting), end)
            due[: len(waiting)] = waiting
        else:
            due = np.arange(first, end + len(waiting))
            due[end - first :] = waiting
        return due

    def take_span(self, first: int, end: int, waiting_since: np.ndarray):
        """(day, due) for every day in [first, end) on which someone is due, in day order."""
        days = sorted(d for d in {*self.planned, *self.carried} if first <= d < end)
        return [(day, self.take(day, waiting_since)) for day in days]


def planned_by_lane(
    planned_day_by_position: np.ndarray,
    lane_by_position: np.ndarray | None,
    lanes: int,
    spans: tuple | None = None,
) -> list[dict[int, tuple[int, int]]]:
    """Each lane's planned cohorts: {day: (first, end)} slices of the queue.

    The queue is sorted by day and, within a day, holds each lane's cohort as one block;
    ``spans`` ((day, lane, first, end), as ``sim.model.lanes.plan_lanes`` gives them) saves
    finding the blocks again.
    """
    if lane_by_position is None or lanes == 1:
        return [dict(_runs_of_equal_days(planned_day_by_position))]
    if spans is not None:
        out_spans: list[dict[int, tuple[int, int]]] = [{} for _ in range(lanes)]
        for day, lane, first, end in spans:
            out_spans[lane][day] = (first, end)
        return out_spans
    key = planned_day_by_position.astype(np.int64) * lanes + lane_by_position
    out: list[dict[int, tuple[int, int]]] = [{} for _ in range(lanes)]
    for code, span in _runs_of_equal_days(key):
        day, lane = divmod(code, lanes)
        out[lane][day] = span
    return out


def _runs_of_equal_days(days: np.ndarray):
    """(day, (first, end)) for each run of equal values in a sorted day array."""
    if not len(days):
        return
    edges = np.concatenate([[0], np.flatnonzero(np.diff(days)) + 1, [len(days)]])
    for first, end in itertools.pairwise(edges):
        yield int(days[first]), (int(first), int(end))
