"""The throttle: how fast the service lets initial syncs move data.

Exchange Online limits a migration three ways (DOMAIN.md): a tenant-wide rate
that depends on the time of week (business hours are slower), a cap on
concurrent moves, and a per-move speed. The plan's numbers look like::

    windows = [{ days = "weekdays", from = "08:00", to = "18:00", gb_per_hour = 400 },
               { days = "all", from = "00:00", to = "24:00", gb_per_hour = 1_500 }]
    concurrent_moves = 1_000        # at most this many moves active
    per_move_gb_per_hour = 0.7      # each move at most this fast

The model is a first-come-first-served fluid queue, work-conserving:

* A mailbox joins the queue when its cohort's initial sync becomes eligible
  (``presync_lead_days`` before its cutover); the queue is in eligibility order.
* While data waits, the tenant moves it at the *flow capacity*
  ``min(window x scale, C x p)`` GB an hour (``C`` concurrent moves at ``p``
  GB/h each): the queue is served in order, so mailbox ``i`` has all its data
  once the cumulative flow passes ``S[i]``, the queue's cumulative size up to
  and including it.
* A single move never goes faster than its share of the window: mailbox ``i``
  gets a move slot when it is eligible and the mailbox ``C`` places ahead of it
  is done, and from then needs its own size at ``min(p, window / n)``, ``n`` the
  mailboxes waiting in the fluid queue (within ``[1, C]``). So a 100 GB mailbox
  needs at least 100 / 0.7 = 143 hours of open window, however idle the tenant is.

Mailbox ``i`` is synced at ``max(T_flow(i), T_own_pace(i))``. With ``K(t)`` the
cumulative flow capacity and ``a_j`` the eligibility times, the fluid queue
empties mailbox ``i`` when ``K`` reaches ``S[i] + max_{j <= i} (K(a_j) - S[j-1])``
(the busy-period formula of a fluid FCFS queue), vectorised over all mailboxes;
one move's progress curve then follows from the fluid's waiting count. A larger
window or a faster move can only make syncs earlier. The data the outputs report
is held to what the active moves could carry (:func:`reported_flow`). See
docs/model.md for how this compares with an exact event-by-event simulation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.model.calendar import Calendar
from sim.model.scenario import MINUTES_PER_DAY, Throttle


@dataclass(frozen=True)
class Capacity:
    """The throttle's clock: cumulative capacities at segment boundaries.

    ``times`` are real hours (strictly increasing); between consecutive times
    the window rate is constant, so both curves are piecewise linear.
    """

    times: np.ndarray
    gb_per_hour: np.ndarray  # window rate x scale, per segment (len(times) - 1)
    flow_gb: np.ndarray  # cumulative min(window x scale, C x p) at times
    move_gb: np.ndarray  # cumulative min(window x scale, p) at times: one move's progress
    daily_capacity_gb: np.ndarray  # flow capacity per calendar day
    concurrent_moves: int = 1
    per_move_gb_per_hour: float = np.inf
    grid_hours: np.ndarray = field(default_factory=lambda: np.zeros(1))  # whole hours + times
    grid_gb_per_hour: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per interval

    def flow_at(self, hours: np.ndarray) -> np.ndarray:
        return np.interp(hours, self.times, self.flow_gb)

    def move_at(self, hours: np.ndarray) -> np.ndarray:
        return np.interp(hours, self.times, self.move_gb)


def build_capacity(
    calendar: Calendar, throttle: Throttle, *, day_factor: np.ndarray | None = None
) -> Capacity:
    """The tenant's capacity over the whole calendar (first matching window wins).

    ``day_factor`` (one float per calendar day, default all 1) multiplies each
    day's window rates: a service incident that halves the tenant's throughput
    for three days is 0.5 on those days.
    """
    windows = throttle.windows
    edges = np.array(
        sorted({0, MINUTES_PER_DAY} | {w.from_ for w in windows} | {w.to for w in windows})
    )
    mids = (edges[:-1] + edges[1:]) / 2
    days = calendar.days
    rate = np.zeros((days, len(mids)))
    matched = np.zeros((days, len(mids)), dtype=bool)
    for window in windows:
        on_day = calendar.day_set(window.days, throttle.holidays_as_weekend)
        if window.from_ < window.to:
            covers = on_day[:, None] & (mids >= window.from_) & (mids < window.to)
        else:  # wraps midnight: the evening of a matching day and the morning after it
            # The day before the calendar: the same weekday a week on, holidays aside.
            before_first = calendar.day_set(window.days, holidays_as_weekend=False)[6]
            on_previous = np.concatenate([[before_first], on_day[:-1]])
            covers = (on_day[:, None] & (mids >= window.from_)) | (
                on_previous[:, None] & (mids < window.to)
            )
        rate[covers & ~matched] = window.gb_per_hour * throttle.scale
        matched |= covers
    if day_factor is not None:
        rate *= np.asarray(day_factor, dtype=float)[:days, None]

    day_index = np.repeat(np.arange(days), len(mids))
    starts = calendar.hours_at(day_index, np.tile(edges[:-1], days))
    ends = calendar.hours_at(day_index, np.tile(edges[1:], days))
    keep = ends > starts  # a stretch inside a spring-forward gap lasts no time
    starts, ends, flat_rate = starts[keep], ends[keep], rate.ravel()[keep]
    hours = ends - starts
    flow_rate = np.minimum(flat_rate, throttle.concurrent_moves * throttle.per_move_gb_per_hour)
    move_rate = np.minimum(flat_rate, throttle.per_move_gb_per_hour)
    daily = np.bincount(day_index[keep], weights=flow_rate * hours, minlength=days)
    times = np.append(starts, ends[-1])
    grid = np.union1d(times, np.arange(np.floor(times[0]), np.ceil(times[-1]) + 1))
    grid = grid[(grid >= times[0]) & (grid <= times[-1])]
    segment = np.clip(np.searchsorted(times, grid[:-1], side="right") - 1, 0, len(times) - 2)
    return Capacity(
        times=times,
        gb_per_hour=flat_rate,
        flow_gb=np.concatenate([[0.0], np.cumsum(flow_rate * hours)]),
        move_gb=np.concatenate([[0.0], np.cumsum(move_rate * hours)]),
        daily_capacity_gb=daily,
        concurrent_moves=throttle.concurrent_moves,
        per_move_gb_per_hour=throttle.per_move_gb_per_hour,
        grid_hours=grid,
        grid_gb_per_hour=flat_rate[segment],
    )


@dataclass(frozen=True)
class InitialSyncs:
    """When each queued mailbox finished its initial sync, and the flow of data."""

    synced_hours: np.ndarray  # per queue position; inf if not within the calendar
    backlog_start_gb: np.ndarray  # per queue position: K(a_j) - S[j-1], running max taken
    eligible_hours: np.ndarray
    cumulative_gb: np.ndarray
    capacity: Capacity
    report_hours: np.ndarray  # the reporting grid (hours and window changes)
    reported_gb: np.ndarray  # cumulative data reported moved at report_hours

    def moved_by(self, hours: np.ndarray) -> np.ndarray:
        """Cumulative data moved by each time, as reported (see :func:`reported_flow`)."""
        return np.interp(np.asarray(hours, dtype=float), self.report_hours, self.reported_gb)

    def moved_between(self, edges_hours: np.ndarray) -> np.ndarray:
        """Data moved between consecutive ``edges_hours``."""
        return np.diff(self.moved_by(edges_hours))

    def fluid_moved_by(self, hours: np.ndarray) -> np.ndarray:
        """Cumulative departures of the fluid FCFS queue (rate ``min(window, C x p)``)."""
        hours = np.asarray(hours, dtype=float)
        arrived = np.searchsorted(self.eligible_hours, hours, side="right")
        arrived_gb = np.where(arrived > 0, self.cumulative_gb[np.maximum(arrived - 1, 0)], 0.0)
        offset = np.where(arrived > 0, self.backlog_start_gb[np.maximum(arrived - 1, 0)], 0.0)
        served = self.capacity.flow_at(hours) - offset
        return np.clip(served, 0.0, arrived_gb)


def initial_syncs(
    capacity: Capacity,
    eligible_hours: np.ndarray,
    sizes_gb: np.ndarray,
    concurrent_moves: int,
    *,
    own_pace_gb: np.ndarray | None = None,
) -> InitialSyncs:
    """Sync-finish times of mailboxes in queue order (see the module docstring).

    ``eligible_hours`` must be non-decreasing (the queue is in eligibility order).
    ``own_pace_gb`` is, per mailbox, the work one move must do at the nominal
    per-move rate (default ``sizes_gb``): a mailbox of many small items, or one
    whose move runs slow, needs more hours of a slot than its size alone says,
    while the tenant's flow still carries only its ``sizes_gb``.
    """
    eligible = np.asarray(eligible_hours, dtype=float)
    sizes = np.asarray(sizes_gb, dtype=float)
    own_pace = sizes if own_pace_gb is None else np.asarray(own_pace_gb, dtype=float)
    if not len(eligible):
        eligible = sizes = np.zeros(0)
    steps = np.diff(eligible)
    if len(steps) and steps.min() < 0:
        raise ValueError("eligible_hours must be in queue (non-decreasing) order")
    cumulative = np.cumsum(sizes)
    # Capacity level at which each busy period started, carried forward: the running max
    # of K(a_j) - S[j-1]. Mailboxes become eligible cohort by cohort, and within a cohort
    # K(a_j) is constant while S[j-1] grows, so the max is taken at cohort starts only.
    cohort_first = np.flatnonzero(np.concatenate([[True], steps != 0]))
    cohort_sizes = np.diff(np.append(cohort_first, len(eligible)))
    before_cohort = cumulative[cohort_first] - sizes[cohort_first]
    cohort_backlog = np.maximum.accumulate(capacity.flow_at(eligible[cohort_first]) - before_cohort)
    backlog_start = np.repeat(cohort_backlog, cohort_sizes)
    flow_done = _first_time_reaching(capacity.times, capacity.flow_gb, cumulative + backlog_start)

    # A slot: when eligible, and the mailbox ``concurrent_moves`` places ahead is done.
    start = eligible.copy()
    if concurrent_moves < len(start):
        np.maximum(
            start[concurrent_moves:], flow_done[:-concurrent_moves], out=start[concurrent_moves:]
        )
    # Own pace matters only where one move could not have moved the mailbox by flow_done.
    grid, move_gb = _one_move_progress(capacity, eligible, flow_done)
    own_progress_gb = np.interp(start, grid, move_gb)
    own_progress_gb += own_pace
    synced = _first_time_reaching(grid, move_gb, own_progress_gb)
    np.maximum(synced, flow_done, out=synced)
    partial = InitialSyncs(
        synced, backlog_start, eligible, cumulative, capacity, np.zeros(1), np.zeros(1)
    )
    grid, reported = reported_flow(partial)
    return InitialSyncs(synced, backlog_start, eligible, cumulative, capacity, grid, reported)


def _one_move_progress(
    capacity: Capacity, eligible: np.ndarray, flow_done: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative progress of one move, on a grid of whole hours and window changes.

    The active moves share the window equally, each at ``min(p, window / n)``,
    ``n`` the moves active. The fluid queue tells how many mailboxes wait at the
    start of each hour (eligible, not yet through the fluid); ``n`` is that count
    within ``[1, C]``. While ``C`` moves are busy and the window binds (business
    hours of the reference: 600 GB/h over 2,500 moves) a move gets
    ``window / C``, not ``min(p, window)``: large mailboxes no longer finish a
    day early. With few waiting, each gets up to ``p``.
    """
    grid = capacity.grid_hours
    waiting = np.searchsorted(eligible, grid[:-1], side="right") - np.searchsorted(
        flow_done, grid[:-1], side="right"
    )
    active = np.clip(waiting, 1, capacity.concurrent_moves)
    rate = np.minimum(capacity.per_move_gb_per_hour, capacity.grid_gb_per_hour / active)
    return grid, np.concatenate([[0.0], np.cumsum(rate * np.diff(grid))])


def reported_flow(syncs: InitialSyncs) -> tuple[np.ndarray, np.ndarray]:
    """The data flow the outputs report: the fluid's departures, held to what moves could do.

    The fluid queue moves data at ``min(window, C x p)`` whenever any waits, which
    is right while ``C`` moves are busy but too fast when only a few mailboxes
    are left syncing (10 mailboxes cannot move 500 GB in 4 hours at 0.7 GB/h
    each). The report is the largest cumulative curve below the fluid's whose
    increase over each interval of a grid (whole hours and window changes) is at
    most the integral of ``f(w) = min(window, C x p, w x p)`` over it, ``w(t)``
    being the mailboxes eligible and not yet synced. Within an interval ``w``
    stays between ``lo`` (waiting at its start less those synced in it) and
    ``hi`` (plus those arriving in it); ``f`` is concave, so the chord from
    ``f(lo)`` to ``f(hi)`` applied to the exact integral of ``w`` is a lower
    bound of the integral of ``f``, exact when the window and ``C`` do not bind.
    The shaping itself is a running minimum (network calculus:
    ``R = A + min_{s<=t}(D(s) - A(s))``, ``A`` the cumulative allowance).
    Returns ``(grid_hours, reported_gb)``.
    """
    capacity = syncs.capacity
    grid = capacity.grid_hours
    length = np.diff(grid)
    window = capacity.grid_gb_per_hour
    whole_hours = bool(np.all(grid == np.round(grid)))

    def per_interval(hours: np.ndarray, weights: np.ndarray | None = None):
        """Count, and summed time to the interval's end, of events in each (t_k, t_k+1]."""
        if whole_hours:  # the interval of an event is its hour rounded up: no search
            k = np.ceil(hours).astype(np.int64) - (int(grid[0]) + 1)
        else:
            k = np.searchsorted(grid, hours, side="left") - 1
        if len(k) and (k.min() < 0 or k.max() >= len(length)):
            inside = (k >= 0) & (k < len(length))
            k, hours = k[inside], hours[inside]
            weights = None if weights is None else weights[inside]
        count = np.bincount(k, weights=weights, minlength=len(length))
        summed = np.bincount(
            k, weights=hours if weights is None else hours * weights, minlength=len(length)
        )
        return count, count * grid[1:] - summed

    eligible = syncs.eligible_hours
    synced = syncs.synced_hours
    if len(synced) and not synced.max() < np.inf:
        synced = synced[np.isfinite(synced)]
    # Eligibility comes in cohorts: a few hundred distinct times.
    starts = np.flatnonzero(np.diff(eligible, prepend=-np.inf))
    cohort_sizes = np.diff(np.append(starts, len(eligible))).astype(float)
    arrived, arrived_to_end = per_interval(eligible[starts], cohort_sizes)
    done, done_to_end = per_interval(synced)
    waiting_at_start = (
        np.searchsorted(eligible, grid[0], side="right")
        - np.count_nonzero(synced <= grid[0])
        + np.concatenate([[0], np.cumsum(arrived - done)[:-1]])
    )
    waiting_integral = waiting_at_start * length + arrived_to_end - done_to_end
    lo = np.maximum(waiting_at_start - done, 0)
    hi = waiting_at_start + arrived
    cap = np.minimum(window, capacity.concurrent_moves * capacity.per_move_gb_per_hour)
    f_lo = np.minimum(cap, lo * capacity.per_move_gb_per_hour)
    f_hi = np.minimum(cap, hi * capacity.per_move_gb_per_hour)
    with np.errstate(divide="ignore", invalid="ignore"):
        chord = np.where(hi > lo, (f_hi - f_lo) / (hi - lo), 0.0)
    allowed = f_lo * length + chord * np.maximum(waiting_integral - lo * length, 0.0)
    allowance = np.concatenate([[0.0], np.cumsum(allowed)])
    fluid = syncs.fluid_moved_by(grid)
    reported = allowance + np.minimum.accumulate(fluid - allowance)
    return grid, reported


def _first_time_reaching(times: np.ndarray, curve: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """First time a non-decreasing piecewise-linear curve reaches each level (inf if never).

    The inverse of the curve is itself piecewise linear once each flat stretch is
    reduced to its two ends, so ``np.interp`` evaluates it (fast for sorted levels).
    At (or a rounding error above) a flat stretch's value, the level is reached
    where the stretch starts, not where it ends.
    """
    levels = np.asarray(levels, dtype=float)
    flat = curve[1:] == curve[:-1]
    keep = np.ones(len(curve), dtype=bool)
    keep[1:-1] = ~(flat[:-1] & flat[1:])
    at = np.interp(levels, curve[keep], times[keep], right=np.inf)
    if flat.any():
        starts = np.flatnonzero(flat & ~np.concatenate([[False], flat[:-1]]))
        values, start_times = curve[starts], times[starts]
        slack = 1e-12 * max(float(curve[-1]), 1.0)
        k = np.searchsorted(values, levels - slack, side="left")
        hit = np.flatnonzero(values[np.minimum(k, len(values) - 1)] <= levels)
        hit = hit[k[hit] < len(values)]
        at[hit] = np.minimum(at[hit], start_times[k[hit]])
    return at
