"""One replication of a migration: the SimPy model.

The story, as the processes tell it:

* ``cohort_day``: every cutover evening at ``cutover_time`` the day's users
  are due (the day's planned cohort, plus anyone deferred, paused or retrying).
  First the go/no-go gate: with more tickets open than ``pause_backlog``, the
  day is skipped and its users move to the next cutover day.
* ``cutover``: users whose initial sync (``presync`` in the tenant throttle)
  has finished are switched over; the rest are deferred to the next cutover day
  and keep syncing. A switch-over fails with probability ``failures.rate``;
  failures retry ``retry_after_days`` later, up to ``max_attempts``, after
  which the mailbox needs manual remediation.
* the service desk: migrated users raise tickets on their next working morning
  (``support.ticket_rate``, ``legacy_ticket_rate``), and some failed switch-overs
  do too (``failed_cutover_ticket_rate``); agents work them first come, first
  served, in opening hours (``sim.model.desk``).

Mailbox-level work is numpy over whole cohorts; SimPy moves time from one
cutover evening to the next and runs the desk, ticket by ticket.

Randomness: a replication gets one ``SeedSequence``; each stochastic process
draws from its own child stream (``STREAMS``), so two scenarios run with the
same seed share their random numbers (common random numbers) and results never
depend on how replications are spread over workers.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import simpy

from sim.model.calendar import Calendar, build_calendar
from sim.model.cohorts import UNSCHEDULED, Cohorts, plan_by_organisation, plan_random
from sim.model.desk import ServiceDesk, TicketRecords
from sim.model.population import Mailboxes, draw_mailboxes
from sim.model.scenario import Scenario
from sim.model.throttle import Capacity, build_capacity, initial_syncs

STREAMS = (
    "sizes",
    "organisations",
    "legacy",
    "selection",
    "failures",
    "tickets",
    "ticket_times",
    "handle_times",
)

PENDING, MIGRATED, REMEDIATION = 0, 1, 2
STATUS_NAMES = ("not_migrated", "migrated", "remediation")

DAILY_COUNTS = (
    "scheduled",
    "cutover_ok",
    "cutover_failed",
    "deferred",
    "notices_sent",
    "reminders_sent",
    "success_notices",
)


# --- the per-replication world: what varies beyond the mailbox-level dice ----------------
@dataclass(frozen=True)
class World:
    """What varies between replications beyond the mailbox-level dice."""

    throttle_factor_by_day: np.ndarray | None = None  # per calendar day, x window rate x scale
    paused_by_day: np.ndarray | None = None  # per calendar day: no cutovers
    failure_factor_by_day: np.ndarray | None = None  # per calendar day, x failures.rate
    move_speed_factor: np.ndarray | None = None  # per mailbox id, x per_move_gb_per_hour
    # Tickets still open at the start (a forecast's backlog from users already migrated):
    # opened the evening before the start, worked by the desk (they count in its backlog,
    # peak and go/no-go gate) but not in ``tickets``, support shares or waits.
    initial_ticket_backlog: int = 0


@dataclass
class Replication:
    """What one replication produced."""

    metrics: dict  # one row of ``runs``
    daily: pd.DataFrame
    mailboxes: pd.DataFrame | None = None


class Model:
    """A scenario compiled for simulation: the calendar, windows and desk hours.

    Everything here is deterministic, so it is built once and shared by every
    replication (and shipped once to each worker).
    """

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.calendar: Calendar = build_calendar(scenario)
        self.capacity: Capacity = build_capacity(self.calendar, scenario.throttle)
        cal = self.calendar
        self.cutover_hours = cal.hours_at(np.arange(cal.days), scenario.batches.cutover_time)
        self.desk_open = _desk_hours(cal, scenario)
        weights = np.asarray(scenario.support.arrival_hour_weights, dtype=float)
        self.arrival_hour_cdf = np.cumsum(weights) / weights.sum()
        self.deadline_index = (
            cal.index_of(scenario.scenario.deadline) if scenario.scenario.deadline else None
        )
        # Uncertainty hook: distributions, variation and risks draw a world per replication.
        from sim.model.uncertainty import Uncertainty, has_uncertainty

        self.uncertainty = Uncertainty(self) if has_uncertainty(scenario) else None

    def replicate(
        self,
        seed: np.random.SeedSequence,
        *,
        keep_mailboxes: bool = False,
        replication: int = 0,
        world: World | None = None,
    ) -> Replication:
        """Run one replication from its own seed sequence (in ``world``, if given)."""
        if self.uncertainty is not None:  # uncertainty hook: draw the world, run it plainly
            return self.uncertainty.replicate(
                seed, keep_mailboxes=keep_mailboxes, replication=replication, world=world
            )
        streams = {name: np.random.default_rng(s) for name, s in stream_seeds(seed).items()}
        run = _Run(self, streams, world or World())
        run.simulate()
        return run.collect(replication, keep_mailboxes)


def stream_seeds(seed: np.random.SeedSequence) -> dict[str, np.random.SeedSequence]:
    """One child sequence per stochastic process: what ``seed.spawn`` gives a fresh
    sequence, without mutating ``seed`` (so replicating twice gives the same result)."""
    return {
        name: np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, i))
        for i, name in enumerate(STREAMS)
    }


def _desk_hours(cal: Calendar, scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    hours = scenario.support.hours
    weekday_open = ~cal.weekend & (scenario.support.open_on_holidays | ~cal.holiday)
    weekend_open = cal.weekend & (scenario.support.open_on_holidays | ~cal.holiday)
    span_from = np.zeros(cal.days)
    span_to = np.zeros(cal.days)
    is_open = np.zeros(cal.days, dtype=bool)
    for open_days, span in ((weekday_open, hours.weekdays), (weekend_open, hours.weekend)):
        if span is not None:
            span_from[open_days], span_to[open_days] = span
            is_open |= open_days
    return cal.intervals(is_open, span_from, span_to)


@dataclass
class _Counts:
    """Per-day counters of one replication."""

    days: int
    values: dict[str, np.ndarray] = field(init=False)
    paused: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.values = {name: np.zeros(self.days, dtype=np.int64) for name in DAILY_COUNTS}
        self.paused = np.zeros(self.days, dtype=bool)

    def add(self, name: str, day: int, count: int) -> None:
        if 0 <= day < self.days:
            self.values[name][day] += count


class _Run:
    """The state of one replication while it runs.

    Mailbox state is held by *queue position* (the order of initial syncs, cohort
    by cohort), not by mailbox id, so that a day's cohort is a contiguous slice
    of every array; ``self.queue`` maps positions back to mailbox ids.
    """

    def __init__(self, model: Model, streams: dict[str, np.random.Generator], world: World) -> None:
        self.model = model
        self.sc = model.scenario
        self.cal = model.calendar
        self.streams = streams
        self.world = world
        self.capacity = model.capacity
        if world.throttle_factor_by_day is not None:  # World hook: the service's health
            self.capacity = build_capacity(
                self.cal, self.sc.throttle, day_factor=world.throttle_factor_by_day
            )
        self.env = simpy.Environment(initial_time=0.0)
        self.pop: Mailboxes = draw_mailboxes(self.sc.population, streams)
        self.cohorts: Cohorts = self._plan()
        n = len(self.pop)
        self.queue = self.cohorts.queue
        queued = len(self.queue)
        self.legacy = self.pop.legacy[self.queue]
        self.presync = self._presync()
        self.synced_at = self.presync.synced_hours
        # Drawn per mailbox id (common random numbers), then put in queue order.
        self.failures_before_success = self._draw_failures(n)[self.queue]
        if world.failure_factor_by_day is not None:  # World hook: a failure wave
            self.failure_extra_log = np.zeros(queued)  # sum of log(day rate / rate) per attempt
        self.ticket_draw = streams["tickets"].random(n)[self.queue]
        self.attempts = np.zeros(queued, dtype=np.int16)
        self.status = np.zeros(queued, dtype=np.int8)
        self.cutover_at = np.full(queued, np.nan)
        self.outstanding = n
        self.due: dict[int, list[np.ndarray]] = {}
        self.counts = _Counts(self.cal.days)
        self.completion_day: int | None = None
        self.paused_days = 0
        self.ever_deferred = np.zeros(queued, dtype=bool)  # distinct users, paused days too
        self.desk = ServiceDesk(self.env, self.sc.support.agents, *model.desk_open)
        self.backlog_tickets = self._open_backlog(world.initial_ticket_backlog)  # forecast hook

    # --- set-up -----------------------------------------------------------------------------

    def _plan(self) -> Cohorts:
        days = self.cal.cutover_days
        sizes = self.cal.batch_size[days]
        rng = self.streams["selection"]
        if self.sc.batches.selection == "by_organisation":
            org_sizes = np.bincount(self.pop.organisation)
            return plan_by_organisation(org_sizes, days, sizes, rng)
        return plan_random(len(self.pop), days, sizes, rng)

    def _presync(self):
        """Initial syncs under the tenant throttle, in queue order (``sim.model.throttle``)."""
        queue = self.cohorts.queue
        lead_hours = self.sc.throttle.presync_lead_days * 24.0
        eligible = self.model.cutover_hours[self.cohorts.planned_day[queue]] - lead_hours
        sizes_gb = self.pop.size_gb[queue]
        # Items (an inventory's item counts) and each mailbox's own speed (per_move_sigma).
        own_pace_gb = self.pop.own_pace_gb(self.sc.throttle, queue)
        if self.world.move_speed_factor is not None:
            own = sizes_gb if own_pace_gb is None else own_pace_gb
            own_pace_gb = own / self.world.move_speed_factor[queue]
        return initial_syncs(
            self.capacity,
            eligible,
            sizes_gb,
            self.sc.throttle.concurrent_moves,
            own_pace_gb=own_pace_gb,
        )

    def _draw_failures(self, n: int) -> np.ndarray:
        """Failed attempts before a mailbox's first successful cutover (geometric).

        Drawn once per mailbox by inversion, so the same mailbox fails the same
        way in every scenario run with the same seed.
        """
        rate = self.sc.failures.rate
        uniform = 1.0 - self.streams["failures"].random(n)  # in (0, 1]
        if self.world.failure_factor_by_day is not None:  # World hook: rates that vary by day
            self.failure_uniform_by_id = uniform
        failures = np.zeros(n, dtype=np.int16)
        if rate > 0:
            unlucky = np.flatnonzero(uniform <= rate)  # P(at least k failures) = rate ** k
            count = np.floor(np.log(uniform[unlucky]) / np.log(rate))
            failures[unlucky] = np.minimum(count, np.iinfo(np.int16).max)
        return failures

    def _open_backlog(self, count: int) -> int:
        """Forecast hook: ``count`` tickets open at the start, from users not in this population."""
        if count <= 0:
            return 0
        opened = self.cal.hours_at(self.cal.start_index - 1, 23 * 60.0)
        handle = self.sc.support.handle_minutes
        minutes = self.streams["handle_times"].lognormal(np.log(handle.median), handle.sigma, count)
        self.desk.submit(np.full(count, opened), minutes / 60.0, np.full(count, -1))
        return count

    # --- the processes ----------------------------------------------------------------------

    def simulate(self) -> None:
        planned = self.cohorts.planned_day
        scheduled = planned[planned != UNSCHEDULED]
        notice_day = scheduled - self.sc.batches.notice_days
        self.counts.values["notices_sent"] += np.bincount(
            np.clip(notice_day, 0, None), minlength=self.cal.days
        )[: self.cal.days]
        for day, positions in _group_by_day(planned[self.queue]):
            self._schedule(positions, day)
        self.env.process(self.cohort_day())
        self.env.run(until=self.cal.clock.to_hours(self.cal.days * 24.0))

    def cohort_day(self):
        """Every cutover evening: the go/no-go gate, then the cutover of those due."""
        gate = self.sc.support.pause_backlog
        for day in self.cal.cutover_days:
            if self.outstanding == 0:
                return
            if day not in self.due:
                continue
            yield self.env.timeout(self.model.cutover_hours[day] - self.env.now)
            due = np.concatenate(self.due.pop(day))
            self.counts.add("scheduled", day, len(due))
            paused = self.world.paused_by_day is not None and self.world.paused_by_day[day]
            if paused or (gate and self.desk.backlog > gate):
                self.counts.paused[day] = True
                self.paused_days += 1
                self.counts.add("deferred", day, len(due))
                self.ever_deferred[due] = True
                self._schedule(due, self._next_cutover_day(day + 1))
                continue
            self.cutover(day, due)
            if self.outstanding == 0:
                self.completion_day = day

    def cutover(self, day: int, due: np.ndarray) -> None:
        """Switch over the synced users; defer the rest; count failures and retries."""
        now = self.env.now
        synced = self.synced_at[due] <= now
        waiting = due[~synced]
        if len(waiting):
            self.ever_deferred[waiting] = True
            self.counts.add("deferred", day, len(waiting))
            self._schedule(waiting, self._next_cutover_day(day + 1))

        ready = due[synced]
        self.attempts[ready] += 1
        failed = self.attempts[ready] <= self.failures_before_success[ready]
        if self.world.failure_factor_by_day is not None:
            self._vary_failures(day, ready, failed)
        ok, bad = ready[~failed], ready[failed]
        self.status[ok] = MIGRATED
        self.cutover_at[ok] = now
        self.counts.add("cutover_ok", day, len(ok))
        self.counts.add("success_notices", day, len(ok))
        self.counts.add("cutover_failed", day, len(bad))
        given_up = bad[self.attempts[bad] >= self.sc.failures.max_attempts]
        self.status[given_up] = REMEDIATION
        self.outstanding -= len(ok) + len(given_up)
        retry = bad[self.attempts[bad] < self.sc.failures.max_attempts]
        retry_day = self._next_cutover_day(day + max(1, self.sc.failures.retry_after_days))
        self._schedule(retry, retry_day)
        self._raise_tickets(day, ok, bad)

    def _vary_failures(self, day: int, ready: np.ndarray, failed: np.ndarray) -> None:
        """World hook: attempts under a day's rate ``rate x factor`` (a failure wave).

        A mailbox fails its k-th attempt when its one uniform is below the product
        of its k attempts' rates (so a constant rate is exactly the geometric draw
        above: ``log u <= k log rate``). Only mailboxes that ever met another rate
        need that product; the rest keep the geometric answer.
        """
        rate = self.sc.failures.rate
        if rate <= 0:
            return
        day_rate = min(rate * self.world.failure_factor_by_day[day], 1.0)
        if day_rate != rate:
            boost = np.log(day_rate) - np.log(rate) if day_rate > 0 else -np.inf
            self.failure_extra_log[ready] += boost
        extra = self.failure_extra_log[ready]
        special = np.flatnonzero(extra != 0)
        if len(special):
            ids = self.queue[ready[special]]
            log_u = np.log(self.failure_uniform_by_id[ids])
            failed[special] = log_u <= self.attempts[ready[special]] * np.log(rate) + extra[special]

    def _raise_tickets(self, day: int, migrated: np.ndarray, failed: np.ndarray) -> None:
        """Tickets from migrated users, and from some failed switch-overs, next working day."""
        support = self.sc.support
        rate = np.where(self.legacy[migrated], support.legacy_ticket_rate, support.ticket_rate)
        raisers = migrated[self.ticket_draw[migrated] < rate]
        if support.failed_cutover_ticket_rate > 0 and len(failed):
            unlucky = (
                self.streams["tickets"].random(len(failed)) < support.failed_cutover_ticket_rate
            )
            raisers = np.concatenate([raisers, failed[unlucky]])
        work_day = self.cal.next_working_day[day]
        if not len(raisers) or work_day >= self.cal.days:
            return
        minutes = self._arrival_minutes(len(raisers))
        arrival_hours = self.cal.hours_at(work_day, minutes)
        handle = support.handle_minutes
        handle_hours = (
            self.streams["handle_times"].lognormal(
                np.log(handle.median), handle.sigma, len(raisers)
            )
            / 60.0
        )
        self.desk.submit(arrival_hours, handle_hours, self.queue[raisers])

    def _arrival_minutes(self, count: int) -> np.ndarray:
        """Local minutes after midnight, by the scenario's hourly arrival weights."""
        cdf = self.model.arrival_hour_cdf
        u = self.streams["ticket_times"].random(count)
        hour = np.minimum(np.searchsorted(cdf, u, side="right"), 23)
        below = np.where(hour > 0, cdf[hour - 1], 0.0)
        within = (u - below) / np.maximum(cdf[hour] - below, 1e-12)
        return (hour + np.clip(within, 0, 1)) * 60.0

    # --- bookkeeping ------------------------------------------------------------------------

    def _next_cutover_day(self, day: int) -> int:
        return int(self.cal.next_cutover_day[min(day, self.cal.days)])

    def _schedule(self, ids: np.ndarray, day: int) -> None:
        """Make ``ids`` due on ``day``; a reminder goes out the day before."""
        if not len(ids) or day > self.cal.last_cutover_index:
            return  # beyond the horizon: they stay not migrated
        self.due.setdefault(day, []).append(ids)
        self.counts.add("reminders_sent", day - 1, len(ids))

    # --- results ----------------------------------------------------------------------------

    def collect(self, replication: int, keep_mailboxes: bool) -> Replication:
        every_ticket = self.desk.records()
        tickets = _skip_tickets(every_ticket, self.backlog_tickets)  # forecast hook
        metrics = self._metrics(replication, tickets)
        daily = self._daily(replication, every_ticket)
        mailboxes = self._mailbox_table(tickets) if keep_mailboxes else None
        return Replication(metrics, daily, mailboxes)

    def _metrics(self, replication: int, tickets) -> dict:
        cal, n = self.cal, len(self.pop)
        completion = self.completion_day
        waits = tickets.wait_hours[np.isfinite(tickets.wait_hours)]
        deadline = self.model.deadline_index
        synced = float(self.presync.moved_by(np.array([self.env.now]))[0])
        return {
            "replication": replication,
            "completion_date": pd.Timestamp(cal.date_of(completion)) if completion else pd.NaT,
            "completed": completion is not None,
            "met_deadline": bool(
                completion is not None and deadline is not None and completion <= deadline
            ),
            "days_to_complete": (completion - cal.start_index + 1) if completion else np.nan,
            "migrated": int(np.count_nonzero(self.status == MIGRATED)),
            "needs_remediation": int(np.count_nonzero(self.status == REMEDIATION)),
            "not_migrated": n - int(np.count_nonzero(self.status != PENDING)),
            "data_tb": synced / 1000.0,
            "tickets": len(tickets.mailbox),
            "users_needing_support_pct": 100.0 * len(np.unique(tickets.mailbox)) / n,
            "peak_backlog": int(self.desk.peak_backlog),
            "wait_hours_mean": float(waits.mean()) if len(waits) else 0.0,
            "wait_hours_p90": float(np.quantile(waits, 0.9)) if len(waits) else 0.0,
            "paused_days": self.paused_days,
            "cutover_failures": int(self.counts.values["cutover_failed"].sum()),
            "deferred_users": int(np.count_nonzero(self.ever_deferred)),
            "slipped_users": 0,  # filled in by the capacity work (issue 8)
        }

    def _daily(self, replication: int, tickets) -> pd.DataFrame:
        cal = self.cal
        days = cal.days
        opened = _count_by_day(cal, tickets.opened_hours, days)
        closed = _count_by_day(cal, tickets.closed_hours, days)
        day_edges = cal.clock.to_hours(np.arange(days + 1) * 24.0)
        presync_gb = self.presync.moved_between(day_edges)
        counts = self.counts.values
        first = _first_nonzero(counts["notices_sent"], counts["reminders_sent"])
        end = self.completion_day if self.completion_day is not None else cal.last_cutover_index
        active = np.flatnonzero(opened + closed)
        last = max(end, int(active[-1]) if len(active) else end)
        span = slice(min(first, cal.start_index), last + 1)
        frame = {
            "replication": np.full(span.stop - span.start, replication, dtype=np.int32),
            "date": cal.dates[span],
            **{name: counts[name][span] for name in ("scheduled", "cutover_ok", "cutover_failed")},
            "deferred": counts["deferred"][span],
            "cumulative_migrated": np.cumsum(counts["cutover_ok"])[span],
            "presync_gb": presync_gb[span],
            "throttle_capacity_gb": self.capacity.daily_capacity_gb[span],
            **{name: counts[name][span] for name in DAILY_COUNTS[4:]},
            "tickets_opened": opened[span],
            "tickets_closed": closed[span],
            "ticket_backlog": np.cumsum(opened - closed)[span],
            "paused": self.counts.paused[span],
        }
        return pd.DataFrame(frame)

    def _by_id(self, values: np.ndarray, fill) -> np.ndarray:
        """A per-position array as a per-mailbox-id array (unscheduled ones get ``fill``)."""
        return _by_id_array(self.queue, values, len(self.pop), fill)

    def _mailbox_table(self, tickets) -> pd.DataFrame:
        cal, n = self.cal, len(self.pop)
        clock = cal.clock
        planned = self.cohorts.planned_day
        scheduled_date = cal.dates[np.clip(planned, 0, None)].where(planned != UNSCHEDULED)
        first_ticket = np.full(n, -1, dtype=np.int64)
        # The first ticket of each user (the records are in submission order).
        order = np.arange(len(tickets.mailbox))[::-1]
        first_ticket[tickets.mailbox[order]] = order
        has = first_ticket >= 0
        opened = np.full(n, np.nan)
        closed = np.full(n, np.nan)
        opened[has] = tickets.opened_hours[first_ticket[has]]
        closed[has] = tickets.closed_hours[first_ticket[has]]
        synced = self._by_id(np.where(np.isfinite(self.synced_at), self.synced_at, np.nan), np.nan)
        status = self._by_id(self.status, PENDING)
        return pd.DataFrame(
            {
                "mailbox": self.pop.id_column(),
                "organisation": self.pop.organisation_column(),
                "size_gb": self.pop.size_gb,
                "legacy": self.pop.legacy,
                "scheduled_date": scheduled_date,
                "synced_at": clock.timestamps(synced),
                "cutover_at": clock.timestamps(self._by_id(self.cutover_at, np.nan)),
                "attempts": self._by_id(self.attempts, 0),
                "status": pd.Categorical.from_codes(status, categories=list(STATUS_NAMES)),
                "ticket_opened_at": clock.timestamps(opened),
                "ticket_closed_at": clock.timestamps(closed),
            }
        )


def _skip_tickets(tickets: TicketRecords, count: int) -> TicketRecords:
    """The records without the first ``count`` tickets (forecast hook: the initial backlog)."""
    if not count:
        return tickets
    return TicketRecords(**{k: v[count:] for k, v in vars(tickets).items()})


def _by_id_array(queue: np.ndarray, values: np.ndarray, n: int, fill) -> np.ndarray:
    out = np.full(n, fill, dtype=values.dtype)
    out[queue] = values
    return out


def _group_by_day(days: np.ndarray):
    """(day, positions) for each run of equal values in a sorted day array."""
    if not len(days):
        return
    edges = np.concatenate([[0], np.flatnonzero(np.diff(days)) + 1, [len(days)]])
    for first, end in itertools.pairwise(edges):
        yield int(days[first]), np.arange(first, end)


def _count_by_day(cal: Calendar, hours: np.ndarray, days: int) -> np.ndarray:
    finite = hours[np.isfinite(hours)]
    day = np.clip(cal.day_of(finite), 0, days - 1)
    return np.bincount(day, minlength=days)


def _first_nonzero(*arrays: np.ndarray) -> int:
    nonzero = np.flatnonzero(np.logical_or.reduce([a != 0 for a in arrays]))
    return int(nonzero[0]) if len(nonzero) else 0


def simulate(
    scenario: Scenario,
    seed: np.random.SeedSequence | int,
    *,
    keep_mailboxes: bool = True,
    replication: int = 0,
) -> Replication:
    """Build the model and run one replication (convenience for tests and notebooks)."""
    if not isinstance(seed, np.random.SeedSequence):
        seed = np.random.SeedSequence(seed)
    return Model(scenario).replicate(seed, keep_mailboxes=keep_mailboxes, replication=replication)


__all__ = ["Model", "Replication", "World", "simulate"]
