"""The service desk: tickets raised by migrated users, answered first come, first served.

Users who hit a problem after their cutover raise a ticket. A team of agents answers tickets in
the order they arrived, one at a time each, and only *starts* work while the desk is open; a
ticket started just before closing is finished even if that runs late. Tickets raised overnight
or at the weekend wait for the next opening.

Example: on a Monday evening cutover 22,000 users move and a few raise a ticket that night.
With 40 agents on weekdays 08:00-18:00 (simulation time is in hours since Monday 00:00), the
evening's tickets are started at Tuesday 08:00:

>>> import numpy as np, simpy
>>> env = simpy.Environment()
>>> desk = ServiceDesk(env, agents=40, open_starts=np.array([8.0, 32.0]),
...                    open_ends=np.array([18.0, 42.0]))
>>> desk.submit(arrival_hours=np.array([20.5, 21.0]), handle_hours=np.array([0.25, 0.5]),
...             mailbox=np.array([17, 42]))
>>> env.run(until=31)
>>> desk.backlog
2
>>> env.run(until=48)
>>> desk.records().wait_hours.tolist()
[11.5, 11.0]

The desk knows nothing of mailboxes beyond the id it carries for the record: numpy arrays in,
numpy arrays out. Times are float hours since the simulation epoch.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass

import numba
import numpy as np
import simpy

__all__ = ["ServiceDesk", "TicketRecords", "serve"]


@dataclass(frozen=True)
class TicketRecords:
    """What happened to each ticket, in submission order (NaN: not started / closed yet)."""

    mailbox: np.ndarray
    opened_hours: np.ndarray
    started_hours: np.ndarray
    closed_hours: np.ndarray
    handle_hours: np.ndarray

    def __len__(self) -> int:
        return len(self.opened_hours)

    @property
    def wait_hours(self) -> np.ndarray:
        """Hours from a ticket being raised to an agent starting on it (NaN if not started)."""
        return self.started_hours - self.opened_hours

    @property
    def sojourn_hours(self) -> np.ndarray:
        """Hours from a ticket being raised to it being closed (NaN if not closed)."""
        return self.closed_hours - self.opened_hours


class ServiceDesk:
    """A first-come-first-served desk of ``agents`` agents who start tickets only in open hours.

    ``open_starts`` / ``open_ends`` are sorted, non-overlapping open intervals ``[start, end)`` in
    simulation hours; back-to-back intervals behave as one. ``None`` for both means open 24/7.

    How it runs: in FCFS order each ticket takes the agent free soonest and starts at the first
    open instant from the later of its arrival and that agent's free time (Kiefer-Wolfowitz with
    opening hours). A ticket's place in that order is settled once it has arrived: later batches
    arrive no earlier than they are submitted. So the desk schedules tickets as the clock passes
    their arrival, when it is asked (backlog, counts, records), without a process per agent or
    per ticket; its one process only keeps the run going until the last known ticket closes.
    What happened by now (arrivals, starts and closes up to now) reads as it would had every
    agent been a process.
    """

    def __init__(
        self,
        env: simpy.Environment,
        agents: int,
        open_starts: np.ndarray | None = None,
        open_ends: np.ndarray | None = None,
    ) -> None:
        if isinstance(agents, bool) or not isinstance(agents, int | np.integer) or agents < 0:
            raise ValueError(f"agents must be an integer >= 0 (got {agents!r})")
        self.env = env
        self.agents = int(agents)
        self._open_starts, self._open_ends = _open_intervals(open_starts, open_ends)
        # Per ticket, indexed by submission order, the first ``_tickets`` of each array (grown
        # by doubling); start and close once scheduled (else NaN).
        self._mailbox_batches: list[np.ndarray] = []
        self._tickets = 0
        self._opened_hours = np.empty(0)
        self._handle_hours = np.empty(0)
        self._started_hours = np.empty(0)
        self._closed_hours = np.empty(0)
        # Tickets not yet scheduled, sorted by (arrival, submission order); from _next_due on.
        self._due_hours = np.empty(0)
        self._due_tickets = np.empty(0, dtype=np.int64)
        self._next_due = 0
        self._agent_free_hours = np.full(self.agents, -math.inf)  # a heap
        # A heap, its first _closing_count: scheduled tickets not yet closed.
        self._closing_hours = np.empty(0)
        self._closing_count = 0
        self._never_again = self.agents == 0  # no agent will ever start another ticket
        # Tickets arrived and closed by now, and the largest backlog so far.
        self._tally = np.zeros(3, dtype=np.int64)
        self._last_close_hours = -math.inf  # of every ticket scheduled so far
        self._settled_hours = -math.inf  # the desk's process has reached this instant
        self._wake: simpy.Event | None = None
        env.process(self._keep_running())

    # -- public interface -------------------------------------------------------------------

    def submit(
        self, arrival_hours: np.ndarray, handle_hours: np.ndarray, mailbox: np.ndarray
    ) -> None:
        """Schedule a batch of tickets raised at ``arrival_hours`` (absolute, >= now, any order).

        Each ticket brings its own ``handle_hours`` (agent time once started) and the ``mailbox``
        id of the user who raised it. Batches may be submitted at any time during a run;
        tickets arriving at the same instant are served in submission order.
        """
        arrival_hours, handle_hours, mailbox = self._checked_batch(
            arrival_hours, handle_hours, mailbox
        )
        count = len(arrival_hours)
        if count == 0:
            return
        self._catch_up()  # what has arrived is settled: only later arrivals are merged
        first_ticket = self._tickets
        self._grow_tickets(first_ticket + count)
        self._mailbox_batches.append(mailbox)
        self._opened_hours[first_ticket : first_ticket + count] = arrival_hours
        self._handle_hours[first_ticket : first_ticket + count] = handle_hours
        self._tickets = first_ticket + count
        self._due_hours, self._due_tickets = _merged_due(
            self._due_hours, self._due_tickets, self._next_due, arrival_hours, first_ticket
        )
        self._next_due = 0
        if self._wake is not None:
            self._wake.succeed()
            self._wake = None

    @property
    def opened_count(self) -> int:
        """Tickets that have arrived by now (cumulative)."""
        self._catch_up()
        return int(self._tally[_ARRIVED])

    @property
    def closed_count(self) -> int:
        """Tickets closed by now (cumulative)."""
        self._catch_up()
        return int(self._tally[_CLOSED])

    @property
    def backlog(self) -> int:
        """Tickets that have arrived by now and are not yet closed."""
        self._catch_up()
        return int(self._tally[_ARRIVED] - self._tally[_CLOSED])

    @property
    def peak_backlog(self) -> int:
        """The largest backlog so far, over every instant (not sampled)."""
        self._catch_up()
        return int(self._tally[_PEAK])

    def records(self) -> TicketRecords:
        """A snapshot of every submitted ticket, in submission order."""
        self._catch_up()
        mailbox = (
            np.concatenate(self._mailbox_batches)
            if self._mailbox_batches
            else np.empty(0, dtype=np.int64)
        )
        tickets = self._tickets
        started = self._started_hours[:tickets].copy()
        closed = self._closed_hours[:tickets].copy()
        # Scheduled is not yet happened: a start or close still ahead shows as NaN, and so
        # does one at this very instant unless the desk's process has reached it (as a run
        # that stops at ``until`` leaves what falls on ``until`` undone).
        now, settled = self.env.now, self._settled_hours
        for hours in (started, closed):
            ahead = (hours >= now) & (hours > settled)
            if ahead.any():
                hours[ahead] = math.nan
        return TicketRecords(
            mailbox=mailbox,
            opened_hours=self._opened_hours[:tickets].copy(),
            started_hours=started,
            closed_hours=closed,
            handle_hours=self._handle_hours[:tickets].copy(),
        )

    # -- the desk's process ----------------------------------------------------------------

    def _keep_running(self) -> Generator[simpy.Event, None, None]:
        """Keep the run going until the last known ticket closes: wait for the last arrival
        known (then every close is known), then for the last close."""
        while True:
            self._catch_up()
            self._settled_hours = max(self._settled_hours, self.env.now)  # done up to now
            target = self._last_close_hours
            if self._next_due < len(self._due_hours):
                target = max(target, float(self._due_hours[-1]))
            if target > self._now():
                yield self.env.timeout(self._delay_until(target))
                # The clock can be a rounding step short of the target: count it as reached.
                self._settled_hours = target
            else:
                self._wake = self.env.event()
                yield self._wake  # until a batch comes

    # -- helpers ----------------------------------------------------------------------------

    def _now(self) -> float:
        """Now, or the desk's own exact time if its process has just reached it."""
        now = self.env.now
        return self._settled_hours if self._settled_hours >= now else now

    def _catch_up(self) -> None:
        """Schedule the tickets that have arrived by now; count arrivals and closes by now,
        the backlog just after each instant giving the peak (``_schedule_arrived``)."""
        now = self._now()
        due_hours, next_due, closing = self._due_hours, self._next_due, self._closing_count
        pending = len(due_hours)
        if (next_due == pending or due_hours[next_due] > now) and (
            not closing or self._closing_hours[0] > now
        ):
            return  # nothing happened since
        if len(self._closing_hours) < closing + pending - next_due:
            grown = np.empty(2 * (closing + pending - next_due))
            grown[:closing] = self._closing_hours[:closing]
            self._closing_hours = grown
        self._next_due, self._closing_count, self._never_again, self._last_close_hours = (
            _schedule_arrived(
                now,
                due_hours,
                self._due_tickets,
                next_due,
                self._agent_free_hours,
                self._closing_hours,
                closing,
                self._handle_hours,
                self._started_hours,
                self._closed_hours,
                self._open_starts,
                self._open_ends,
                self._tally,
                self._never_again,
                self._last_close_hours,
            )
        )

    def _grow_tickets(self, tickets: int) -> None:
        """Room for ``tickets`` tickets in the per-ticket arrays (doubling: few copies)."""
        if tickets <= len(self._opened_hours):
            return
        size = max(tickets, 2 * len(self._opened_hours), 64)
        kept = self._tickets
        for name, fill in (
            ("_opened_hours", 0.0),
            ("_handle_hours", 0.0),
            ("_started_hours", math.nan),
            ("_closed_hours", math.nan),
        ):
            grown = np.full(size, fill)
            grown[:kept] = getattr(self, name)[:kept]
            setattr(self, name, grown)

    def _delay_until(self, target_hours: float) -> float:
        # SimPy only offers relative delays, and now + (target - now) can round to a step
        # short of target; the desk keeps its own exact times, so that is harmless.
        return max(0.0, target_hours - self.env.now)

    def _checked_batch(
        self, arrival_hours: np.ndarray, handle_hours: np.ndarray, mailbox: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        arrival_hours = np.asarray(arrival_hours, dtype=float)
        handle_hours = np.asarray(handle_hours, dtype=float)
        mailbox = np.asarray(mailbox)
        if arrival_hours.ndim != 1 or not (
            arrival_hours.shape == handle_hours.shape == mailbox.shape
        ):
            raise ValueError(
                "arrival_hours, handle_hours and mailbox must be 1-D arrays of the same length "
                f"(got shapes {arrival_hours.shape}, {handle_hours.shape}, {mailbox.shape})"
            )
        if len(arrival_hours) == 0:
            return arrival_hours, handle_hours, mailbox.astype(np.int64)
        # min and max: NaN propagates through both, so they tell every check.
        earliest, latest = arrival_hours.min(), arrival_hours.max()
        if not (math.isfinite(earliest) and math.isfinite(latest)):
            raise ValueError("arrival_hours must be finite")
        if earliest < self.env.now:
            raise ValueError(f"arrival_hours must be >= now ({self.env.now}); got {earliest}")
        if not (handle_hours.min() >= 0 and handle_hours.max() < math.inf):
            raise ValueError("handle_hours must be finite and >= 0")
        if mailbox.dtype.kind not in "iu":
            raise ValueError(f"mailbox must hold integer ids (got dtype {mailbox.dtype})")
        return arrival_hours, handle_hours, mailbox.astype(np.int64, copy=False)


def serve(
    arrival_hours: np.ndarray,
    handle_hours: np.ndarray,
    agents: int,
    open_starts: np.ndarray | None = None,
    open_ends: np.ndarray | None = None,
    until: float | None = None,
) -> TicketRecords:
    """Run a standalone desk on one batch of tickets and return what happened to them.

    Runs until every ticket is closed (or can never be), or until ``until`` hours.
    ``open_starts`` / ``open_ends`` of ``None`` mean open 24/7. Mailbox ids are 0..n-1.
    """
    env = simpy.Environment()
    desk = ServiceDesk(env, agents, open_starts, open_ends)
    arrival_hours = np.asarray(arrival_hours, dtype=float)
    desk.submit(arrival_hours, handle_hours, np.arange(len(arrival_hours)))
    env.run(until=until)
    return desk.records()


def _open_intervals(
    open_starts: np.ndarray | None, open_ends: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Validated open hours."""
    if open_starts is None and open_ends is None:
        return np.array([-math.inf]), np.array([math.inf])
    if open_starts is None or open_ends is None:
        raise ValueError("give both open_starts and open_ends, or neither (open 24/7)")
    starts = np.asarray(open_starts, dtype=float)
    ends = np.asarray(open_ends, dtype=float)
    if starts.ndim != 1 or starts.shape != ends.shape:
        raise ValueError(
            "open_starts and open_ends must be 1-D and the same length "
            f"(got {starts.shape}, {ends.shape})"
        )
    if np.isnan(starts).any() or np.isnan(ends).any():
        raise ValueError("open hours must not be NaN")
    if not np.all(starts < ends):
        raise ValueError("every open interval must have start < end")
    if not np.all(starts[1:] >= ends[:-1]):
        raise ValueError("open intervals must be sorted and must not overlap")
    return starts.copy(), ends.copy()


# -- the compiled scheduling loop ----------------------------------------------------------------

_ARRIVED, _CLOSED, _PEAK = 0, 1, 2  # the desk's tally


@numba.njit(cache=True)
def _schedule_arrived(
    now,
    due_hours,
    due_tickets,
    next_due,
    free,
    closing,
    closing_count,
    handle,
    started,
    closed_hours,
    open_starts,
    open_ends,
    tally,
    never_again,
    last_close,
):
    """Instant by instant up to ``now``: each arriving ticket, in FCFS order, takes the agent
    free soonest (``free``, a heap) and starts at the first open instant from the later of its
    arrival and that agent's free time; closes (``closing``, a heap) are counted, and the
    backlog after each instant gives the peak. Returns the desk's new scalars."""
    pending, intervals = len(due_hours), len(open_ends)
    arrived, closed, peak = tally[_ARRIVED], tally[_CLOSED], tally[_PEAK]
    while True:
        hours = due_hours[next_due] if next_due < pending else math.inf
        if closing_count and closing[0] < hours:
            hours = closing[0]
        if hours > now:
            break
        while next_due < pending and due_hours[next_due] == hours:
            if not never_again:
                ticket = due_tickets[next_due]
                starts_hours = free[0] if free[0] > hours else hours
                interval = np.searchsorted(open_ends, starts_hours, side="right")
                if interval == intervals:
                    never_again = True  # the desk never opens again: nobody is served
                else:
                    if open_starts[interval] > starts_hours:
                        starts_hours = open_starts[interval]
                    closes_hours = starts_hours + handle[ticket]
                    started[ticket] = starts_hours
                    closed_hours[ticket] = closes_hours
                    free[0] = closes_hours
                    _sift_down(free, len(free))
                    closing[closing_count] = closes_hours
                    closing_count += 1
                    _sift_up(closing, closing_count - 1)
                    if closes_hours > last_close:
                        last_close = closes_hours
            next_due += 1
            arrived += 1
        while closing_count and closing[0] <= hours:
            closing_count -= 1
            closing[0] = closing[closing_count]
            _sift_down(closing, closing_count)
            closed += 1
        if arrived - closed > peak:
            peak = arrived - closed
    tally[_ARRIVED], tally[_CLOSED], tally[_PEAK] = arrived, closed, peak
    return next_due, closing_count, never_again, last_close


@numba.njit(cache=True)
def _merged_due(due_hours, due_tickets, next_due, arrival_hours, first_ticket):
    """The tickets not yet scheduled (``due_hours[next_due:]``, sorted) and a batch (tickets
    ``first_ticket`` on), merged in (arrival, submission) order: ties keep earlier tickets
    first, as a stable sort of the two one after the other would."""
    order = np.argsort(arrival_hours, kind="mergesort")  # mergesort: stable
    pending, count = len(due_hours), len(arrival_hours)
    hours = np.empty(pending - next_due + count)
    tickets = np.empty(pending - next_due + count, dtype=np.int64)
    old, new = next_due, 0
    for k in range(len(hours)):
        if new == count or (old < pending and due_hours[old] <= arrival_hours[order[new]]):
            hours[k], tickets[k] = due_hours[old], due_tickets[old]
            old += 1
        else:
            hours[k], tickets[k] = arrival_hours[order[new]], first_ticket + order[new]
            new += 1
    return hours, tickets


@numba.njit(cache=True)
def _sift_down(heap, size):
    """Restore the min-heap ``heap[:size]`` after its top was replaced."""
    item, pos = heap[0], 0
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        if child + 1 < size and heap[child + 1] < heap[child]:
            child += 1
        if not heap[child] < item:
            break
        heap[pos] = heap[child]
        pos = child
    heap[pos] = item


@numba.njit(cache=True)
def _sift_up(heap, pos):
    """Restore the min-heap above ``heap[pos]``, just added at the end."""
    item = heap[pos]
    while pos > 0:
        parent = (pos - 1) // 2
        if not item < heap[parent]:
            break
        heap[pos] = heap[parent]
        pos = parent
    heap[pos] = item
