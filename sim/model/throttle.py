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
* A single move never goes faster than ``p`` (nor than the window itself):
  mailbox ``i`` gets a move slot when it is eligible and the mailbox ``C``
  places ahead of it is done, and from then needs its own size at that pace.
  So a 100 GB mailbox needs at least 100 / 0.7 = 143 hours of open window,
  however idle the tenant is.

Mailbox ``i`` is synced at ``max(T_flow(i), T_own_pace(i))``. Both capacities
depend only on the clock, not on the queue, so every sync time follows in
closed form, vectorised over all mailboxes: with ``K(t)`` the cumulative flow
capacity and ``a_j`` the eligibility times, the fluid queue empties mailbox
``i`` when ``K`` reaches ``S[i] + max_{j <= i} (K(a_j) - S[j-1])`` (the
busy-period formula of a fluid FCFS queue). Capacity never depends on who is
waiting, so more capacity or earlier eligibility can only make syncs earlier.
See docs/model.md for what this approximates.
"""

from __future__ import annotations

from dataclasses import dataclass

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
        rate *= np.asarray(day_factor, dtype=float)[:, None]

    day_index = np.repeat(np.arange(days), len(mids))
    starts = calendar.hours_at(day_index, np.tile(edges[:-1], days))
    ends = calendar.hours_at(day_index, np.tile(edges[1:], days))
    keep = ends > starts  # a stretch inside a spring-forward gap lasts no time
    starts, ends, flat_rate = starts[keep], ends[keep], rate.ravel()[keep]
    hours = ends - starts
    flow_rate = np.minimum(flat_rate, throttle.concurrent_moves * throttle.per_move_gb_per_hour)
    move_rate = np.minimum(flat_rate, throttle.per_move_gb_per_hour)
    daily = np.bincount(day_index[keep], weights=flow_rate * hours, minlength=days)
    return Capacity(
        times=np.append(starts, ends[-1]),
        gb_per_hour=flat_rate,
        flow_gb=np.concatenate([[0.0], np.cumsum(flow_rate * hours)]),
        move_gb=np.concatenate([[0.0], np.cumsum(move_rate * hours)]),
        daily_capacity_gb=daily,
    )


@dataclass(frozen=True)
class InitialSyncs:
    """When each queued mailbox finished its initial sync, and the flow of data."""

    synced_hours: np.ndarray  # per queue position; inf if not within the calendar
    backlog_start_gb: np.ndarray  # per queue position: K(a_j) - S[j-1], running max taken
    eligible_hours: np.ndarray
    cumulative_gb: np.ndarray
    capacity: Capacity

    def moved_by(self, hours: np.ndarray) -> np.ndarray:
        """Cumulative data moved by each time (the fluid queue's departures)."""
        hours = np.asarray(hours, dtype=float)
        arrived = np.searchsorted(self.eligible_hours, hours, side="right")
        arrived_gb = np.where(arrived > 0, self.cumulative_gb[np.maximum(arrived - 1, 0)], 0.0)
        offset = np.where(arrived > 0, self.backlog_start_gb[np.maximum(arrived - 1, 0)], 0.0)
        served = self.capacity.flow_at(hours) - offset
        return np.clip(served, 0.0, arrived_gb)

    def moved_between(self, edges_hours: np.ndarray) -> np.ndarray:
        """Data moved between consecutive ``edges_hours``."""
        return np.diff(self.moved_by(edges_hours))


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
    if len(eligible) and np.any(np.diff(eligible) < 0):
        raise ValueError("eligible_hours must be in queue (non-decreasing) order")
    cumulative = np.cumsum(sizes)
    before = cumulative - sizes
    # Capacity level at which each busy period started, carried forward.
    backlog_start = np.maximum.accumulate(capacity.flow_at(eligible) - before)
    flow_done = _first_time_reaching(capacity.times, capacity.flow_gb, cumulative + backlog_start)

    ahead = np.arange(len(sizes)) - concurrent_moves
    slot_at = np.where(ahead >= 0, flow_done[np.maximum(ahead, 0)], -np.inf)
    start = np.maximum(eligible, slot_at)
    # Own pace matters only where one move could not have moved the mailbox by flow_done.
    own_progress_gb = capacity.move_at(start) + own_pace
    slow = np.flatnonzero(capacity.move_at(flow_done) < own_progress_gb)
    synced = flow_done.copy()
    synced[slow] = _first_time_reaching(capacity.times, capacity.move_gb, own_progress_gb[slow])
    return InitialSyncs(synced, backlog_start, eligible, cumulative, capacity)


def _first_time_reaching(times: np.ndarray, curve: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """First time a non-decreasing piecewise-linear curve reaches each level (inf if never)."""
    levels = np.asarray(levels, dtype=float)
    # Relative slack so that a level equal to the curve's value up to rounding counts as reached.
    slack = 1e-12 * max(float(curve[-1]), 1.0)
    k = np.searchsorted(curve, levels - slack, side="left")
    inside = np.clip(k, 1, len(curve) - 1)
    lo, hi = curve[inside - 1], curve[inside]
    t_lo, t_hi = times[inside - 1], times[inside]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(hi > lo, (levels - lo) / (hi - lo), 0.0)
    at = t_lo + np.clip(frac, 0.0, 1.0) * (t_hi - t_lo)
    at = np.where(k == 0, times[0], at)
    return np.where(k >= len(curve), np.inf, at)
