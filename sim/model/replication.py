"""One replication of a migration: the SimPy story.

The processes read like the plan:

* ``cohort_day``: every cutover evening at ``cutover_time`` each lane's users
  are due (``sim.model.lanes``; without ``[[lanes]]`` one lane, "main"): users
  carried over from earlier evenings (deferred, slipped, retrying; longest
  waiting first), then the day's planned cohort (the other way round with
  ``batches.carried_over = "spare"``).
* ``go_no_go``: with more tickets open than ``pause_backlog`` there are no
  cutovers: every due user slips to the next cutover day (nobody knows for how
  long). A risk's pause (``World.paused_by_day``) has a known length:
  ``rebook_pause`` rebooks everyone due inside it once, to the first cutover
  day after it.
* ``cutover``: users whose initial sync (``presync`` in the tenant throttle) has
  not finished are deferred (they take no place and keep syncing); the evening
  switches over at most its capacity, the day's batch x (1 + ``catch_up``), and
  the synced users beyond it slip. A switch-over fails with ``failures.rate``
  (every time for the ``persistent_share``); failures retry ``retry_after_days``
  later, up to ``max_attempts``, then the mailbox needs manual remediation.
* ``raise_tickets``: migrated users raise tickets on their next working morning,
  and some failed switch-overs do too; the service desk (``sim.model.desk``)
  works them first come, first served, in opening hours.

Mailbox-level work is over whole cohorts (an evening's switch-overs are one
compiled pass, ``_switch_over``); SimPy moves time from one cutover evening to
the next and runs the desk. Dice: ``sim.model.draws``;
who is due when: ``sim.model.bookkeeping``; what a finished replication leaves:
``sim.model.record``, made into its output tables by ``sim.model.tables``.

A :class:`PlainModel` runs the scenario as given, in a given :class:`World`: it
draws nothing but the mailbox-level dice. Drawing a world and a concrete scenario
first (uncertain inputs, variation, risks) is ``sim.model.uncertainty``, above
this module; ``sim.model.simulation.Model`` puts the two together.

An evening's capacity after the plan runs out: the calendar keeps the last
phase's batch sizes up to the horizon, so retries and slipped users of the
last cohorts still have evenings (with the last phase's capacity) to finish on.
A phase with 0 has no cutovers at all, carried-over users included.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd
import simpy

from sim.model import draws, tables
from sim.model.arrays import take
from sim.model.bookkeeping import (
    MIGRATED,
    REMEDIATION,
    STATUS_NAMES,
    DailyCounts,
    DueList,
    MailboxState,
    planned_by_lane,
)
from sim.model.calendar import Calendar, build_calendar
from sim.model.cohorts import Cohorts
from sim.model.desk import ServiceDesk
from sim.model.draws import STREAMS, stream_seeds
from sim.model.lanes import LanePlan, compile_lanes, lane_of_kind, plan_lanes
from sim.model.population import Mailboxes, draw_mailboxes
from sim.model.record import RunRecord
from sim.model.scenario import Scenario
from sim.model.throttle import Capacity, InitialSyncs, build_capacity, initial_syncs
from sim.model.world import NOMINAL, World


@dataclass
class Replication:
    """What one replication produced."""

    metrics: dict  # one row of ``runs``
    daily: pd.DataFrame
    mailboxes: pd.DataFrame | None = None


class PlainModel:
    """A scenario compiled for simulation, as written: the calendar, windows and desk hours.

    Everything here is deterministic, so it is built once and shared by every
    replication (and shipped once to each worker). Nothing in it is uncertain: each
    replication runs this scenario in the world it is given.
    """

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.calendar: Calendar = build_calendar(scenario)
        self.capacity: Capacity = build_capacity(self.calendar, scenario.throttle)
        cal = self.calendar
        self.cutover_hours = cal.hours_at(np.arange(cal.days), scenario.batches.cutover_time)
        # Each lane's evenings and their capacity: its batch x (1 + catch_up) users.
        self.lanes = compile_lanes(scenario, cal)
        self.evening_capacity = self.lanes[0].evening_capacity
        self.evening_days = np.unique(np.concatenate([lane.cutover_days for lane in self.lanes]))
        self.desk_open = _desk_hours(cal, scenario)
        weights = np.asarray(scenario.support.arrival_hour_weights, dtype=float)
        self.arrival_hour_cdf = np.cumsum(weights) / weights.sum()
        self.deadline_index = (
            cal.index_of(scenario.scenario.deadline) if scenario.scenario.deadline else None
        )

    def replicate(
        self,
        seed: np.random.SeedSequence,
        *,
        keep_mailboxes: bool = False,
        replication: int = 0,
        world: World | None = None,
    ) -> Replication:
        """Run one replication from its own seed sequence, in ``world`` (default: nominal)."""
        world = NOMINAL if world is None else world
        world.check(self.calendar.days, self.scenario.population.mailboxes)
        run = _Run(self, stream_seeds(seed), world)
        run.simulate()
        record = run.record()
        return Replication(
            tables.metrics(record, replication),
            tables.daily(record, replication),
            tables.mailboxes(record) if keep_mailboxes else None,
        )


@numba.njit(cache=True)
def _below_rate_by_position(
    uniform_by_id: np.ndarray,
    rates: np.ndarray,
    lane: np.ndarray,
    legacy: np.ndarray,
    queue: np.ndarray,
) -> np.ndarray:
    """By queue position: is the mailbox's uniform below ``rates[its lane, legacy client]``?
    Compared by id in one pass (numpy would first build 2.1M floats of rates), then
    gathered by position, in about half the time of ``np.take``'s checked gather."""
    below = np.empty(len(uniform_by_id), dtype=np.bool_)
    for i in range(len(uniform_by_id)):
        below[i] = uniform_by_id[i] < rates[np.uint64(lane[i]), np.uint64(legacy[i])]
    out = np.empty(len(queue), dtype=np.bool_)
    for position in range(len(queue)):
        out[position] = below[np.uint64(queue[position])]
    return out


@numba.njit(cache=True, error_model="numpy")
def _sizes_and_own_work(size_gb, speed, queue):
    """By queue position: each mailbox's size, and its size / its speed factor."""
    sizes, own = np.empty(len(queue)), np.empty(len(queue))
    for i in range(len(queue)):
        sizes[i] = size_gb[queue[i]]
        own[i] = sizes[i] / speed[queue[i]]
    return sizes, own


def _planned_counts(planned: dict[int, tuple[int, int]], days: int) -> np.ndarray:
    """Users planned on each day, from a lane's {day: (first, end)} cohorts."""
    counts = np.zeros(days + 1, dtype=np.int64)
    for day, (first, end) in planned.items():
        counts[day] = end - first
    return counts


def _pause_ends(paused_by_day: np.ndarray | None, days: int) -> np.ndarray | None:
    """For each day, the first day on or after it that no risk pauses (``days`` if none)."""
    if paused_by_day is None:
        return None
    free = np.flatnonzero(~np.asarray(paused_by_day, dtype=bool))
    k = np.searchsorted(free, np.arange(days), side="left")
    return np.append(free, days)[k]


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


class _Run:
    """The state of one replication while it runs (by queue position, see bookkeeping)."""

    def __init__(
        self, model: PlainModel, seeds: dict[str, np.random.SeedSequence], world: World
    ) -> None:
        self.model = model
        self.sc = model.scenario
        self.cal = model.calendar
        self.world = world
        self.lanes = model.lanes
        self.env = simpy.Environment(initial_time=0.0)
        self.pop: Mailboxes = draw_mailboxes(
            self.sc.population,
            {name: np.random.default_rng(seeds[name]) for name in (*STREAMS[:3], "kinds")},
        )
        self.lane_of_mailbox = self._lane_of_mailbox()
        self.cohorts: Cohorts = self._plan(np.random.default_rng(seeds["selection"]))
        self.queue = self.cohorts.queue
        # Planned day by queue position: non-decreasing, cohort after cohort.
        self.planned_by_position = self.cohorts.queue_day
        self.lane_by_position = self.cohorts.lane
        self.presync = self._presync()
        self.synced_at = self.presync.synced_hours
        n = len(self.pop)
        self.failure_dice = draws.FailureDice(self.sc.failures, seeds, n, self.queue)
        self.ticket_rng = np.random.default_rng(seeds["tickets"])
        self.raises_ticket = self._ticket_raisers(self.ticket_rng.random(n))
        self.ticket_times_rng = np.random.default_rng(seeds["ticket_times"])
        self.handle_rng = np.random.default_rng(seeds["handle_times"])
        self.state = MailboxState(len(self.queue))
        carried_first = self.sc.batches.carried_over == "first"
        planned = planned_by_lane(
            self.planned_by_position,
            self.lane_by_position,
            len(self.lanes),
            self.cohorts.lane_spans,
        )
        self.due = [DueList(planned=p, carried_first=carried_first) for p in planned]
        self.spare = not carried_first
        if self.spare:
            # Places already taken on each lane's evenings: its planned cohort, and the
            # carried-over users due then (to book slipped users where a place is free).
            self.taken = [_planned_counts(p, self.cal.days) for p in planned]
        self.counts = DailyCounts(self.cal.days)
        self.outstanding = n
        self.lane_outstanding = self._lane_sizes()
        self.lane_completion: list[int | None] = [None] * len(self.lanes)
        self.lane_migrated = [0] * len(self.lanes)
        self.completion_day: int | None = None
        self.paused_days_gate = 0
        self.paused_days_risk = 0
        self.date_changes = 0
        self.pause_end = _pause_ends(world.paused_by_day, self.cal.days)
        self.desk = ServiceDesk(self.env, self.sc.support.agents, *model.desk_open)
        self._open_initial_backlog(np.random.default_rng(seeds["initial_backlog"]))

    def record(self) -> RunRecord:
        """What this replication leaves behind once it has run (its tables' input)."""
        return RunRecord(
            calendar=self.cal,
            lanes=self.lanes,
            cutover_hours=self.model.cutover_hours,
            deadline_index=self.model.deadline_index,
            mailboxes=self.pop,
            lane_of_mailbox=self.lane_of_mailbox,
            cohorts=self.cohorts,
            queue=self.queue,
            planned_by_position=self.planned_by_position,
            lane_by_position=self.lane_by_position,
            presync=self.presync,
            synced_at=self.synced_at,
            state=self.state,
            counts=self.counts,
            tickets=self.desk.records(),
            peak_backlog=self.desk.peak_backlog,
            end_hours=self.env.now,
            completion_day=self.completion_day,
            lane_completion=self.lane_completion,
            lane_migrated=self.lane_migrated,
            lane_outstanding=self.lane_outstanding,
            paused_days_gate=self.paused_days_gate,
            paused_days_risk=self.paused_days_risk,
            date_changes=self.date_changes,
        )

    # --- set-up -----------------------------------------------------------------------------

    def _lane_of_mailbox(self) -> np.ndarray | None:
        """Each mailbox's lane by its kind; None when every mailbox is in "main"."""
        if len(self.lanes) == 1:
            return None
        by_kind = lane_of_kind(self.lanes, self.pop.kind_names)
        kind = self.pop.kind
        if kind is None:
            return np.full(len(self.pop), by_kind[0], dtype=np.int8)
        return take(by_kind, kind)

    def _lane_sizes(self) -> list[int]:
        if self.lane_of_mailbox is None:
            return [len(self.pop)]
        lane_of_mailbox = self.lane_of_mailbox
        return [int(np.count_nonzero(lane_of_mailbox == lane.index)) for lane in self.lanes]

    def _plan(self, rng: np.random.Generator) -> Cohorts:
        """The cohorts, exactly as ``sim.plan`` hands them to the migration team."""
        return plan_lanes(
            self.lanes, self.sc.batches.selection, self.pop.organisation, self.lane_of_mailbox, rng
        )

    def _presync(self) -> InitialSyncs:
        """Initial syncs under the tenant throttle, in queue order (``sim.model.throttle``)."""
        throttle, world, queue = self.sc.throttle, self.world, self.queue
        capacity = self.model.capacity
        if world.throttle_factor_by_day is not None:
            capacity = build_capacity(self.cal, throttle, day_factor=world.throttle_factor_by_day)
        # A move's own work: its size, or more where items bind (an inventory's item
        # counts), divided by this mailbox's own speed (throttle.per_move_sigma).
        own_pace = self.pop.own_pace_gb(throttle, queue)
        speed = world.move_speed_factor
        if speed is not None and own_pace is None:  # (the usual: both gathered in one pass)
            sizes, own_pace = _sizes_and_own_work(self.pop.size_gb, speed, queue)
        else:
            sizes = np.take(self.pop.size_gb, queue)  # take: fancy indexing's gather, faster
            if speed is not None:
                own_pace = own_pace / np.take(np.asarray(speed, dtype=float), queue)
        lead_hours = throttle.presync_lead_days * 24.0
        eligible = self.model.cutover_hours[self.planned_by_position] - lead_hours
        return initial_syncs(
            capacity, eligible, sizes, throttle.concurrent_moves, own_pace_gb=own_pace
        )

    def _ticket_raisers(self, uniform_by_id: np.ndarray) -> np.ndarray:
        """By queue position: will this user raise a ticket once migrated?"""
        support = self.sc.support
        rates = [(support.ticket_rate, support.legacy_ticket_rate)] * len(self.lanes)
        for lane in self.lanes[1:]:
            if lane.ticket_rate is not None:
                rates[lane.index] = (lane.ticket_rate, lane.ticket_rate)
        lane = self.lane_of_mailbox
        if lane is None:
            lane = np.zeros(len(self.pop), dtype=np.int8)
        legacy = np.asarray(self.pop.legacy, dtype=bool)
        rates = np.array(rates, dtype=float)
        return _below_rate_by_position(uniform_by_id, rates, lane, legacy, self.queue)

    def _open_initial_backlog(self, rng: np.random.Generator) -> None:
        count = self.world.initial_ticket_backlog
        if count:
            # Opened the evening before the start: the desk's state on the as-of day.
            eve = max(self.cal.start_index - 1, 0)
            opened_hours = np.full(count, self.cal.hours_at(eve, 23 * 60.0))
            handle = draws.handle_hours(self.sc.support.handle_minutes, rng, count)
            self.desk.submit(opened_hours, handle, np.full(count, -1, dtype=np.int64))

    # --- the processes ----------------------------------------------------------------------

    def simulate(self) -> None:
        for lane, due in zip(self.lanes, self.due, strict=True):
            for day, (first, end) in due.planned.items():
                self.state.waiting_since[first:end] = day
                if lane.notifies:
                    self.counts.add("notices_sent", max(day - lane.notice_days, 0), end - first)
                    self.counts.add("reminders_sent", day - 1, end - first)
        self.env.process(self.cohort_day())
        self.env.run(until=self.cal.clock.to_hours(self.cal.days * 24.0))

    def cohort_day(self):
        """Every cutover evening: the go/no-go gate, then each lane's cutover of those due."""
        skip_until = -1
        for day in self.model.evening_days:
            if self.outstanding == 0:
                return
            if day < skip_until:
                continue  # inside a risk's pause whose users were rebooked when it struck
            due_lanes = [lane for lane in self.lanes if self.due[lane.index].any_on(day)]
            if not due_lanes:
                continue
            yield self.env.timeout(self.model.cutover_hours[day] - self.env.now)
            if self.paused_by_risk(day):
                skip_until = self.rebook_pause(day)
                continue
            go = self.go_no_go(day)
            for lane in due_lanes:
                due = self.due[lane.index].take(day, self.state.waiting_since)
                self.counts.add("scheduled", day, len(due))
                if go:
                    self.cutover(lane, day, due)
                else:
                    self.slip(lane, day, due)
            if self.outstanding == 0:
                self.completion_day = day

    def paused_by_risk(self, day: int) -> bool:
        paused = self.world.paused_by_day
        return paused is not None and bool(paused[day])

    def go_no_go(self, day: int) -> bool:
        """Go, unless the desk has too many tickets open (a pause of unknown length)."""
        gate = self.sc.support.pause_backlog
        if gate and self.desk.backlog > gate:
            self.counts.paused[day] = True
            self.paused_days_gate += 1
            return False
        return True

    def rebook_pause(self, day: int) -> int:
        """A risk's pause strikes: its length is known, so everyone due on an evening inside
        it is rebooked once, to their lane's first cutover day after it, with one notice
        of the new date. Returns the first day after the pause."""
        end = int(self.pause_end[day])
        evenings = self.model.evening_days
        inside = evenings[(evenings >= day) & (evenings < end)]
        self.counts.paused[inside] = True
        self.counts.paused_by_risk[inside] = True
        self.paused_days_risk += len(inside)
        for lane in self.lanes:
            target = lane.next_cutover_day(end)
            for due_day, due in self.due[lane.index].take_span(day, end, self.state.waiting_since):
                self.counts.add("scheduled", due_day, len(due))
                self.counts.add("slipped", due_day, len(due))
                self.state.ever_slipped[due] = True
                if due_day > day and lane.notifies:
                    # They were to be reminded of an evening that will not happen.
                    self.counts.add("reminders_sent", due_day - 1, -len(due))
                self._rebook(lane, due, target)
        return end

    def cutover(self, lane: LanePlan, day: int, due: np.ndarray) -> None:
        """Defer the unsynced, switch over up to the evening's capacity, slip the rest."""
        rate = self.sc.failures.rate
        if self.world.failure_factor_by_day is not None:
            rate = min(1.0, rate * float(self.world.failure_factor_by_day[day]))
        state, dice = self.state, self.failure_dice
        max_attempts = self.sc.failures.max_attempts
        unsynced, slipped, migrated, raisers, failed, retry, given_up = _switch_over(
            due,
            self.synced_at,
            self.model.cutover_hours[day],
            int(lane.evening_capacity[day]),
            (state.attempts, state.status, state.cutover_day, state.final_day),
            dice.evening_tables(rate),
            rate,
            max_attempts,
            day,
            self.raises_ticket,
        )
        if len(unsynced):
            self.defer(lane, day, unsynced)
        if len(slipped):
            self.slip(lane, day, slipped, evening_full=True)
        self.counts.add("cutover_ok", day, migrated)
        if lane.notifies:
            self.counts.add("success_notices", day, migrated)
        self.counts.add("cutover_failed", day, len(failed))
        done = migrated + given_up
        self.lane_migrated[lane.index] += migrated
        self.outstanding -= done
        self.lane_outstanding[lane.index] -= done
        if done and self.lane_outstanding[lane.index] == 0:
            self.lane_completion[lane.index] = day
        dice.retry(retry, state.attempts[retry])
        state.waiting_since[retry] = day
        retry_day = lane.next_cutover_day(day + max(1, self.sc.failures.retry_after_days))
        self._carry(lane, retry, retry_day)
        self.raise_tickets(day, raisers, failed)

    def defer(self, lane: LanePlan, day: int, positions: np.ndarray) -> None:
        """Not synced yet: due again on the lane's next cutover day, still syncing."""
        self.state.ever_deferred[positions] = True
        self.counts.add("deferred", day, len(positions))
        self._carry(lane, positions, lane.next_cutover_day(day + 1))

    def slip(
        self, lane: LanePlan, day: int, positions: np.ndarray, *, evening_full: bool = False
    ) -> None:
        """No place tonight (capacity or a go/no-go): due again on the lane's next cutover day;
        with ``carried_over = "spare"`` a user the full evening turned away is booked on the
        first evening with a place left instead (one notice, not one an evening)."""
        self.state.ever_slipped[positions] = True
        self.counts.add("slipped", day, len(positions))
        next_day = lane.next_cutover_day(day + 1)
        if evening_full:
            self._rebook(lane, positions, next_day)
        else:
            self._carry(lane, positions, next_day)

    def raise_tickets(self, day: int, raisers: np.ndarray, failed: np.ndarray) -> None:
        """Tickets from the migrated users who raise one (``raises_ticket``), and from some
        failed switch-overs, next working day."""
        support = self.sc.support
        if support.failed_cutover_ticket_rate > 0 and len(failed):
            unlucky = self.ticket_rng.random(len(failed)) < support.failed_cutover_ticket_rate
            raisers = np.concatenate([raisers, failed[unlucky]])
        work_day = self.cal.next_working_day[day]
        if not len(raisers) or work_day >= self.cal.days:
            return
        minutes = draws.arrival_minutes(
            self.model.arrival_hour_cdf, self.ticket_times_rng, len(raisers)
        )
        arrival_hours = self.cal.hours_at(work_day, minutes)
        handle = draws.handle_hours(support.handle_minutes, self.handle_rng, len(raisers))
        self.desk.submit(arrival_hours, handle, self.queue[raisers])

    # --- bookkeeping ------------------------------------------------------------------------

    def _rebook(self, lane: LanePlan, positions: np.ndarray, day: int) -> None:
        """Give ``positions`` (longest waiting first) a new date from ``day`` on: ``day``
        itself when carried-over users go first; with "spare", each the first evening from
        ``day`` with a place its planned cohort and the users already due leave."""
        if not self.spare or not len(positions):
            self._carry(lane, positions, day)
            return
        days = lane.cutover_days[np.searchsorted(lane.cutover_days, day) :]
        days = days[days <= self.cal.last_cutover_index]
        free = lane.evening_capacity[days] - self.taken[lane.index][days]
        np.maximum(free, 0, out=free)
        # User j gets the evening whose cumulative free places first exceed j.
        slot = np.searchsorted(np.cumsum(free), np.arange(len(positions)), side="right")
        edges = np.concatenate([[0], np.flatnonzero(np.diff(slot)) + 1, [len(slot)]])
        for first, end in itertools.pairwise(edges):
            if slot[first] < len(days):  # else no place within the horizon: not migrated
                self._carry(lane, positions[first:end], int(days[slot[first]]))

    def _carry(self, lane: LanePlan, positions: np.ndarray, day: int) -> None:
        """Make ``positions`` due on ``day``: a notice of the new date (counted in
        ``date_changes``) and a reminder the day before, in a lane that tells its users."""
        if not len(positions) or day > self.cal.last_cutover_index:
            return  # beyond the horizon: they stay not migrated
        self.due[lane.index].carry(positions, day)
        if self.spare:
            self.taken[lane.index][day] += len(positions)
        if lane.notifies:
            self.counts.add("reminders_sent", day - 1, len(positions))
            self.date_changes += len(positions)


# --- an evening's switch-overs, compiled: one pass over the due users ----------------------


@numba.njit(cache=True)
def _switch_over(due, synced_hours, hours, capacity, state, dice, rate, max_attempts, day, raises):
    """In ``due`` order: a user whose initial sync has not finished by ``hours`` is deferred;
    the first ``capacity`` synced users are switched over and the rest slip. Each switch-over
    is one more attempt; it fails by the failure dice (``FailureDice.evening_tables``); a
    success is migrated tonight, a failure on the last attempt goes to remediation, others
    retry. Updates ``state`` (attempts, status, cutover_day, final_day by queue position);
    returns (deferred, slipped, migrated count, migrated users who raise a ticket, failed,
    to retry, sent to remediation count), positions in ``due`` order. Numpy took a dozen
    passes over the ~22,000 of an evening for this."""
    attempts, status, cutover_day, final_day = state
    uniform, persistent = dice
    unsynced, slipped = np.empty_like(due), np.empty_like(due)
    raisers, failed, retry = np.empty_like(due), np.empty_like(due), np.empty_like(due)
    deferred = turned_away = tonight = migrated = raising = failures = retrying = 0
    for position in due:
        if not synced_hours[position] <= hours:
            unsynced[deferred] = position
            deferred += 1
            continue
        if tonight == capacity:
            slipped[turned_away] = position
            turned_away += 1
            continue
        tonight += 1
        attempt = attempts[position] + 1
        attempts[position] = attempt
        fails = len(persistent) > 0 and persistent[position]
        if not fails and rate > 0:
            fails = uniform[position] < rate
        if not fails:
            status[position] = MIGRATED
            cutover_day[position] = day
            final_day[position] = day
            migrated += 1
            if raises[position]:
                raisers[raising] = position
                raising += 1
            continue
        failed[failures] = position
        failures += 1
        if attempt >= max_attempts:
            status[position] = REMEDIATION
            final_day[position] = day
        else:
            retry[retrying] = position
            retrying += 1
    return (
        unsynced[:deferred],
        slipped[:turned_away],
        migrated,
        raisers[:raising],
        failed[:failures],
        retry[:retrying],
        failures - retrying,
    )


__all__ = ["STATUS_NAMES", "PlainModel", "Replication", "World"]
