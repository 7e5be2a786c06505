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
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass

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

    How it runs: each agent is a process that takes the oldest waiting ticket, holds it until
    the desk opens, handles it and goes back for the next. Tickets need no process of their own:
    while some agent is idle, the ``_tickets_arrive`` process hands each ticket over at its
    arrival time; while every agent is busy, the next agent to come free collects everything
    that has arrived meanwhile. The order is the same either way, with far fewer events.
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
        # Per ticket, indexed by submission order.
        self._mailbox_batches: list[np.ndarray] = []
        self._opened_hours: list[float] = []
        self._handle_hours: list[float] = []
        self._started_hours: list[float] = []
        self._closed_hours: list[float] = []
        # Tickets not yet handed over, sorted by (arrival, submission order); from _next_due on.
        self._due_hours: list[float] = []
        self._due_tickets: list[int] = []
        self._next_due = 0
        # Tickets handed over but not picked up, in FCFS order; agents waiting for one.
        self._queue: deque[int] = deque()
        self._idle_agents: list[simpy.Event] = []
        self._handed_over_count = 0
        self._closed_count = 0
        self._peak_backlog = 0
        self._last_change_hours = -math.inf
        self._arrivals_sleep_until = -math.inf  # -inf: asleep only for an instant, or not yet
        self._arrivals = env.process(self._tickets_arrive())
        for _ in range(self.agents):
            env.process(self._agent())

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
        first_ticket = len(self._opened_hours)
        self._mailbox_batches.append(mailbox)
        self._opened_hours.extend(arrival_hours.tolist())
        self._handle_hours.extend(handle_hours.tolist())
        self._started_hours.extend([math.nan] * count)
        self._closed_hours.extend([math.nan] * count)
        self._merge_due(arrival_hours, np.arange(first_ticket, first_ticket + count))
        if self._idle_agents:
            self._wake_arrivals_for(self._due_hours[0])

    @property
    def opened_count(self) -> int:
        """Tickets that have arrived by now (cumulative)."""
        not_handed_over = bisect_right(self._due_hours, self.env.now, self._next_due)
        return self._handed_over_count + not_handed_over - self._next_due

    @property
    def closed_count(self) -> int:
        """Tickets closed by now (cumulative)."""
        return self._closed_count

    @property
    def backlog(self) -> int:
        """Tickets that have arrived by now and are not yet closed."""
        return self.opened_count - self._closed_count

    @property
    def peak_backlog(self) -> int:
        """The largest backlog so far, over every instant (not sampled)."""
        return max(self._peak_backlog, self.backlog)

    def records(self) -> TicketRecords:
        """A snapshot of every submitted ticket, in submission order."""
        mailbox = (
            np.concatenate(self._mailbox_batches)
            if self._mailbox_batches
            else np.empty(0, dtype=np.int64)
        )
        return TicketRecords(
            mailbox=mailbox,
            opened_hours=np.array(self._opened_hours, dtype=float),
            started_hours=np.array(self._started_hours, dtype=float),
            closed_hours=np.array(self._closed_hours, dtype=float),
            handle_hours=np.array(self._handle_hours, dtype=float),
        )

    # -- processes --------------------------------------------------------------------------

    def _tickets_arrive(self) -> Generator[simpy.Event, None, None]:
        """While an agent is idle, hand each ticket over as it arrives; else sleep."""
        while True:
            try:
                if self._idle_agents and self._next_due < len(self._due_hours):
                    due_hours = self._arrivals_sleep_until = self._due_hours[self._next_due]
                    yield self.env.timeout(self._delay_until(due_hours))
                else:
                    self._arrivals_sleep_until = math.inf
                    yield self.env.event()  # until an agent goes idle or a batch comes
            except simpy.Interrupt:
                due_hours = self.env.now
            self._hand_over_due(due_hours)

    def _agent(self) -> Generator[simpy.Event, None, None]:
        """Take the oldest waiting ticket, wait for the desk to open, handle it, repeat."""
        # Decisions use the agent's own exact times: the clock can be a rounding step short.
        free_hours = -math.inf
        while True:
            self._hand_over_due(max(free_hours, self.env.now))
            while not self._queue:
                yield from self._wait_for_a_ticket()
            ticket = self._queue[0]
            starts_hours = self._next_opening_hours(max(free_hours, self._opened_hours[ticket]))
            if starts_hours == math.inf:
                return  # the desk never opens again
            self._queue.popleft()
            if starts_hours > self.env.now:
                yield self.env.timeout(self._delay_until(starts_hours))
            self._started_hours[ticket] = starts_hours
            free_hours = starts_hours + self._handle_hours[ticket]
            yield self.env.timeout(self._delay_until(free_hours))
            self._note_change_at(free_hours)
            self._closed_hours[ticket] = free_hours
            self._closed_count += 1

    def _wait_for_a_ticket(self) -> Generator[simpy.Event, None, None]:
        if self._next_due < len(self._due_hours):
            self._wake_arrivals_for(self._due_hours[self._next_due])
        wake = self.env.event()
        self._idle_agents.append(wake)
        yield wake

    # -- helpers ----------------------------------------------------------------------------

    def _hand_over_due(self, now_hours: float) -> None:
        """Queue every ticket that has arrived by ``now_hours``; wake idle agents for them."""
        due_hours = self._due_hours
        first = last = self._next_due
        while last < len(due_hours) and due_hours[last] <= now_hours:
            last += 1
        if last == first:
            return
        self._note_change_at(now_hours)
        self._queue.extend(self._due_tickets[first:last])
        self._next_due = last
        self._handed_over_count += last - first
        for _ in range(min(last - first, len(self._idle_agents))):
            self._idle_agents.pop().succeed()

    def _note_change_at(self, hours: float) -> None:
        """Record the peak backlog before the first close or hand-over at a new instant.

        Between such instants only arrivals happen, so the backlog just before this instant
        is the largest since the last one. Taking it then (not after each change) means a
        ticket closing at the very moment another arrives never counts as two open tickets.
        """
        if hours == self._last_change_hours:
            return
        self._last_change_hours = hours
        arrived_before = self._handed_over_count + (
            bisect_left(self._due_hours, hours, self._next_due) - self._next_due
        )
        self._peak_backlog = max(self._peak_backlog, arrived_before - self._closed_count)

    def _wake_arrivals_for(self, due_hours: float) -> None:
        """Make sure the arrivals process is awake by ``due_hours``."""
        if due_hours < self._arrivals_sleep_until:
            self._arrivals_sleep_until = -math.inf  # one interrupt per instant is enough
            self._arrivals.interrupt()

    def _merge_due(self, arrival_hours: np.ndarray, tickets: np.ndarray) -> None:
        """Merge a batch into the tickets not handed over, keeping (arrival, submission) order."""
        all_hours = np.concatenate([self._due_hours[self._next_due :], arrival_hours])
        all_tickets = np.concatenate(
            [np.array(self._due_tickets[self._next_due :], dtype=np.int64), tickets]
        )
        order = np.argsort(all_hours, kind="stable")  # stable: earlier submissions first
        self._due_hours = all_hours[order].tolist()
        self._due_tickets = all_tickets[order].tolist()
        self._next_due = 0

    def _next_opening_hours(self, hours: float) -> float:
        """``hours`` itself if the desk is open then, else the next opening (inf if none).

        The first interval ending after ``hours`` is the one to look at; at a back-to-back
        boundary that is the next interval, which starts right there, so the desk stays open.
        """
        interval = bisect_right(self._open_ends, hours)
        if interval == len(self._open_ends):
            return math.inf
        return max(self._open_starts[interval], hours)

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
        if not np.all(np.isfinite(arrival_hours)):
            raise ValueError("arrival_hours must be finite")
        if arrival_hours.min() < self.env.now:
            raise ValueError(
                f"arrival_hours must be >= now ({self.env.now}); got {arrival_hours.min()}"
            )
        if not (np.all(np.isfinite(handle_hours)) and handle_hours.min() >= 0):
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
) -> tuple[list[float], list[float]]:
    """Validated open hours, as lists: bisect on a list beats np.searchsorted on a scalar."""
    if open_starts is None and open_ends is None:
        return [-math.inf], [math.inf]
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
    return starts.tolist(), ends.tolist()
