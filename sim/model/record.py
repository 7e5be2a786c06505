"""What one finished replication leaves behind: the record its tables are made from.

A replication (``sim.model.replication``) runs its SimPy story and, once the
clock has stopped, hands over one :class:`RunRecord`; the ``runs`` row, the
daily table and the per-mailbox table (``sim.model.tables``) are pure functions
of it. So the tables never reach into a running replication, and a reader sees
here, in one place, everything an output can be made of::

    record = run.record()                   # a finished replication
    record.state.status[record.queue == 7]  # mailbox 7's status (by queue position)
    record.counts.values["cutover_ok"]      # users cut over, by calendar day

Arrays are by queue position (the order the plan moves mailboxes in, see
``sim.model.bookkeeping``) unless their name says otherwise; days are indices
of ``calendar``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.model.bookkeeping import DailyCounts, MailboxState
from sim.model.calendar import Calendar
from sim.model.cohorts import Cohorts
from sim.model.desk import TicketRecords
from sim.model.lanes import LanePlan
from sim.model.population import Mailboxes
from sim.model.throttle import InitialSyncs


@dataclass(frozen=True)
class RunRecord:
    """One finished replication: its plan, what happened to each mailbox, and each day."""

    # The plan it ran.
    calendar: Calendar
    lanes: list[LanePlan]
    cutover_hours: np.ndarray  # by calendar day: the evening's cutover, in clock hours
    deadline_index: int | None
    # Its mailboxes (by id), their lanes (by id; None: all in "main") and the cohorts.
    mailboxes: Mailboxes
    lane_of_mailbox: np.ndarray | None
    cohorts: Cohorts
    queue: np.ndarray  # mailbox ids by queue position
    planned_by_position: np.ndarray  # the planned cutover day
    lane_by_position: np.ndarray | None  # lane indices (None: all in "main")
    # What happened: initial syncs, each mailbox's state, each day's counts, the desk.
    presync: InitialSyncs
    synced_at: np.ndarray  # clock hours each initial sync finished (inf: never)
    state: MailboxState
    counts: DailyCounts
    tickets: TicketRecords
    peak_backlog: int
    end_hours: float  # the clock when the replication stopped
    completion_day: int | None
    lane_completion: list[int | None]
    lane_migrated: list[int]
    lane_outstanding: list[int]
    paused_days_gate: int
    paused_days_risk: int
    date_changes: int

    @property
    def paused_days(self) -> int:
        """Evenings without cutovers for a go/no-go or a risk: both together."""
        return self.paused_days_gate + self.paused_days_risk


__all__ = ["RunRecord"]
