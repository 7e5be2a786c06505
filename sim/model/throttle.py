"""The throttle: how fast the service lets initial syncs move data.

Exchange Online limits a migration three ways (DOMAIN.md): a tenant-wide rate
that depends on the time of week (business hours are slower), a cap on
concurrent moves, and a per-move speed. The plan's numbers look like::

    windows = [{ days = "weekdays", from = "08:00", to = "18:00", gb_per_hour = 400 },
               { days = "all", from = "00:00", to = "24:00", gb_per_hour = 1_500 }]
    concurrent_moves = 1_000        # at most this many moves active
    per_move_gb_per_hour = 0.7      # each move at most this fast

The system (SPEC): at most ``C`` moves active, slots given first come, first
served once a mailbox is eligible (``presync_lead_days`` before its cutover),
each active move at ``min(own pace, window / active)``. Computing that event by
event (``tests/exact_throttle.py``) is a loop over two million completions, far
too slow, so the model computes a **schedule that is never earlier** than it:

* **One clock.** While ``n <= C`` moves are active each gets at least
  ``window / C``, so a move of own pace ``p_i`` moves at least ``min(p_i,
  window / C)`` GB an hour. Counting a mailbox's *work* as ``max(size,
  own_pace_gb)`` (its size at the nominal pace ``p``, more where its own pace
  is slower), every active move does work at least at ``r(t) = min(p, window /
  C)``: a single clock ``L(t) = integral of r`` bounds every move's progress.
* **Slots in clock time.** In units of ``L`` a move needs its work, whatever
  the hour, so first come first served over ``C`` slots is a list schedule:
  mailbox ``i`` gets the earliest slot freed by its predecessors. That is
  sequential, but in blocks of ``C`` mailboxes it is a few sorts per block: the
  block takes the ``C`` latest finish levels of everything before it in order,
  then (refinements) also the slots its own short moves free. Leaving out a
  slot that the exact schedule would reuse only makes a start later. The
  finishes handed on to later blocks credit each move its real speed in the
  first two stretches of constant window it runs in (:class:`_Segments`): a
  move slower than ``p`` is held by its own pace at night but is as fast as any
  other in business hours, and a queue that lasts weeks adds up any bias.
* **Sharing when few are active.** The clock's ``window / C`` is the share when
  all slots are busy; with fewer waiting, each move gets more. The first
  schedule's finishes bound the moves waiting in every hour from above (it is
  never early), so a second clock ``min(p, window / n(t))`` with that ``n(t)``
  is still never faster than the exact system; each mailbox keeps the earlier
  of its two finishes.

Every step only delays a start or slows a move, so no mailbox is synced before
the exact system could sync it (``tests/test_throttle_exact.py`` checks it by
hypothesis against the event-by-event simulation). The data the outputs report
is each mailbox's progress along that schedule: it adds up to exactly the data
synced, and per hour it stays within the window and the active moves' speed.
docs/model.md states how late the schedule is against the exact system.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
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
    """When each queued mailbox started and finished its initial sync, and the data moved."""

    synced_hours: np.ndarray  # per queue position; inf if not within the calendar
    start_hours: np.ndarray  # when its move got a slot
    eligible_hours: np.ndarray
    capacity: Capacity
    report_hours: np.ndarray  # the reporting grid (whole hours and window changes)
    reported_gb: np.ndarray  # cumulative data moved at report_hours

    def moved_by(self, hours: np.ndarray) -> np.ndarray:
        """Cumulative data moved by each time (linear between the grid's points)."""
        return np.interp(np.asarray(hours, dtype=float), self.report_hours, self.reported_gb)

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
    refinements: int = 3,
    passes: int = 1,
) -> InitialSyncs:
    """Sync start and finish times of mailboxes in queue order (see the module docstring).

    ``eligible_hours`` must be non-decreasing (the queue is in eligibility order).
    ``own_pace_gb`` is, per mailbox, the work one move must do at the nominal
    per-move rate (default ``sizes_gb``): a mailbox of many small items, or one
    whose move runs slow, needs more hours of a slot than its size alone says,
    while the tenant's window still carries only its ``sizes_gb``.
    ``refinements`` is how many times a block of ``C`` reuses the slots of its
    own short moves (more is tighter and slower; any number is never early).
    """
    eligible = np.asarray(eligible_hours, dtype=float)
    sizes = np.asarray(sizes_gb, dtype=float)
    own = sizes if own_pace_gb is None else np.asarray(own_pace_gb, dtype=float)
    if not len(eligible):
        eligible = sizes = own = np.zeros(0)
    # Eligibility comes cohort by cohort: the queue changes eligible time a few hundred times.
    changes = _changes(eligible)
    if len(changes) and changes[-1] < 0:
        raise ValueError("eligible_hours must be in queue (non-decreasing) order")
    moves = max(int(concurrent_moves), 1)
    # Clocks count the GB of all C slots (C x one move's), so round numbers stay exact.
    work = np.empty(len(sizes))
    # Own paces (where given: p x size / own work) and the slowest share of p each moves at.
    paced = own_pace_gb is not None
    own_pace, slowest = (np.empty(len(sizes)), np.empty(len(sizes))) if paced else (work, work)
    pace = capacity.per_move_gb_per_hour
    varies, empty = _work_and_paces(sizes, own, moves, pace, paced, work, own_pace, slowest)
    grid, window = capacity.grid_hours, capacity.grid_gb_per_hour
    length = np.diff(grid)

    # Pass 1: every slot busy, each move at least min(p, window / C).
    busy = _Clock(grid, np.minimum(pace * moves, window) * length)
    segments = None
    if own_pace_gb is not None and varies:
        segments = _Segments(grid, window / moves, pace, busy.curve, own_pace, slowest, moves)

    # The clock at the queue's few hundred distinct eligible times.
    eligible_level = np.repeat(
        busy.level(eligible[changes]), np.diff(np.append(changes, len(eligible)))
    )
    # Past EXACT_BELOW a finish is found as its bucket's end (later than its level): a
    # slot is handed on at that bucket's top, so no move starts in it before the move
    # ahead has finished, and the data reported per hour stays within C x p.
    handover = busy.width if len(eligible) > busy.EXACT_BELOW else 0.0
    start_level, done_level = _slot_levels(
        eligible_level, work, moves, refinements, segments, sizes, handover
    )
    start = busy.time_sorted(start_level, eligible)
    if segments is not None:  # long moves: their real speed in every stretch, not the slowest
        done_level = segments.walk(
            start_level, sizes, done_level, segments.stretch, segments.later(), spare=True
        )
        segments = own_pace = slowest = None  # (freed for the arrays below to reuse)
    reached = busy.time_after(done_level, spare=True)
    synced, synced_bin = reached.hours, reached.first
    top = None  # the clock's level at each finish (reached.used() if no pass)
    clock, level = busy, start_level  # (the start is a time at that level)
    eligible_level = start_level = done_level = None
    # These finishes bound from above the mailboxes waiting in each interval, so each
    # active move gets at least window / min(C, waiting): a faster clock, on which the
    # same starts finish no later, hence fewer waiting, and so on; never early.
    arrived = np.searchsorted(eligible, grid[1:], side="left")  # before each interval ends
    waiting = arrived - _count_by(synced_bin, len(grid))
    for again in range(passes - 1, -1, -1):
        # (Where none waits, none is active: any rate will do; the busy one keeps the scale.)
        share = np.where(waiting > 0, window * moves / np.clip(waiting, 1, moves), window)
        faster = _Clock(grid, np.minimum(pace * moves, share) * length)
        at = faster.level(start)
        top = reached.keep_earlier(faster, at, work)  # as a level of the faster clock
        reached = _Reached(faster, synced, synced_bin)  # (after this pass: times only)
        clock, level = faster, at
        if not again:
            break
        fewer = arrived - _count_by(synced_bin, len(grid))
        if np.array_equal(fewer, waiting):
            break
        waiting = fewer
    if top is None:
        top = reached.used()
    synced[empty], top[empty] = start[empty], level[empty]
    synced_bin[empty] = np.searchsorted(grid, start[empty], side="left")
    reported = _reported(clock, start, level, synced_bin, top, sizes)
    return InitialSyncs(synced, start, eligible, capacity, grid, reported)


@numba.njit(cache=True, error_model="numpy")
def _work_and_paces(sizes, own, moves, pace, paced, work, own_pace, slowest):
    """Each move's work in clock units, ``max(size, own) x C``; where ``paced``, its own
    pace, ``p x size / own`` (p where there is no own work), and the least share of p
    it moves at, ``min(1, size / own)``. Whether any own pace differs from p, and the
    positions of moves with no work."""
    varies, empty = False, []
    for i in range(len(sizes)):
        work[i] = _np_max(sizes[i], own[i]) * moves
        if paced:
            ratio = sizes[i] / own[i] if own[i] > 0 else 1.0
            own_pace[i] = ratio * pace
            slowest[i] = _np_min(1.0, ratio)
            varies |= ratio != 1.0
        if work[i] <= 0:
            empty.append(i)
    return varies, np.array(empty, dtype=np.intp)


@numba.njit(cache=True)
def _changes(values):
    """Where non-decreasing ``values`` change: position 0 and each new value's first
    (empty for none); -1 at the end if they ever decrease."""
    if not len(values):
        return np.empty(0, dtype=np.intp)
    changes = [0]
    for i in range(1, len(values)):
        if values[i] != values[i - 1]:
            changes.append(i)
            if values[i] < values[i - 1]:
                changes.append(-1)
                break
    return np.array(changes, dtype=np.intp)


class _Clock:
    """A non-decreasing piecewise-linear clock on the capacity grid, and its inverses.

    ``level(t)`` is the clock at real times. The way back is *never early*. For a
    few levels it is exact (a binary search each); for millions, searched in random
    order, a binary search each would miss the cache at every step, so a level is
    taken as reached when the clock reaches the top of its bucket, in a uniform
    partition of the levels fine enough that a bucket lasts at most ``TOLERANCE_HOURS``
    at the clock's slowest positive rate (or, capped at ``MAX_BUCKETS``, a little more).
    """

    EXACT_BELOW = 200_000
    MAX_BUCKETS = 1 << 18
    TOLERANCE_HOURS = 0.1

    def __init__(self, grid: np.ndarray, increments: np.ndarray):
        self.grid = grid
        self.curve = np.concatenate([[0.0], np.cumsum(increments)])
        top = float(self.curve[-1])
        rate = increments / np.diff(grid)
        slowest = rate[rate > 0].min() if np.any(rate > 0) else 1.0
        with np.errstate(all="ignore"):
            wanted = np.ceil(top / (slowest * self.TOLERANCE_HOURS))
        self.buckets = int(min(self.MAX_BUCKETS, wanted)) if wanted >= 1 else 1
        self.width = top / self.buckets if top > 0 else 1.0
        self._bucket_end: np.ndarray | None = None  # per bucket: when its top is reached
        self._bucket_bin = np.zeros(0, dtype=np.intp)  # and the first grid index at or after
        self._at_grid: tuple[np.ndarray, ...] | None = None
        # For the first grid index k at or above (or above) a level: the segment
        # (k - 1, k) it lies on, as base time + (level - base level) x hours per unit.
        rise, hours = np.diff(self.curve), np.diff(grid)
        with np.errstate(all="ignore"):  # a vanishing rise: its segment's end (never early)
            per_unit = np.where(rise > 0, np.minimum(hours / rise, 1e300), 0.0)
        self._base_time = np.concatenate([[grid[0]], grid[:-1], [np.inf]])
        self._base_level = np.concatenate([[0.0], self.curve[:-1], [0.0]])
        self._per_unit = np.concatenate([[0.0], per_unit, [0.0]])
        self._hours = np.concatenate([[0.0], hours, [0.0]])

    def _on_segment(self, levels: np.ndarray, k: np.ndarray) -> np.ndarray:
        out = np.empty(len(levels))
        _on_segments(levels, k, self._base_level, self._per_unit, self._hours, self._base_time, out)
        return out

    def level(self, hours: np.ndarray) -> np.ndarray:
        return np.interp(hours, self.grid, self.curve)

    def level_at(self, hours: np.ndarray, first: np.ndarray) -> np.ndarray:
        """The clock at ``hours``, given the first grid index at or after each (any order)."""
        if self._at_grid is None:  # per index k: the grid and clock at k - 1 (k at 0)
            before = np.maximum(np.arange(len(self.grid)) - 1, 0)
            grid0, curve0 = self.grid[before], self.curve[before]
            self._at_grid = grid0, self.grid - grid0, curve0, self.curve - curve0
        grid0, span, curve0, rise = self._at_grid
        k = np.minimum(first, len(self.grid) - 1)
        span = span[k]
        with np.errstate(invalid="ignore"):  # never reached (inf): set below
            frac = np.subtract(hours, grid0[k])
            np.divide(frac, span, out=frac, where=span > 0)
            frac[span <= 0] = 1.0
            frac *= rise[k]
            out = np.add(curve0[k], frac, out=frac)
        out[first >= len(self.grid)] = np.inf
        return out

    def time_sorted(self, levels: np.ndarray, no_earlier: np.ndarray) -> np.ndarray:
        """The last time the clock is at each level (non-decreasing levels; inf beyond),
        or ``no_earlier`` when that is later."""
        out = np.empty(len(levels))
        _times_sorted(
            levels, no_earlier,
            self.curve, self._base_level, self._per_unit, self._hours, self._base_time, out,
        )  # fmt: skip
        return out

    def _first_times(self, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First time the clock reaches each level (inf if never), and that grid index."""
        first = np.searchsorted(self.curve, levels, side="left")
        return self._on_segment(levels, first), first

    def _bucket_tables(self) -> None:
        """Per bucket, when the clock reaches its top and the first grid index at or after."""
        if self._bucket_end is None:
            tops = self.width * np.arange(self.buckets + 2)
            self._bucket_end, self._bucket_bin = self._first_times(tops)

    def time_after(self, levels: np.ndarray, spare: bool = False) -> _Reached:
        """When the clock reaches each level, never before (see :class:`_Reached`).

        ``spare``: ``levels`` is not needed after (it may be overwritten)."""
        if len(levels) <= self.EXACT_BELOW:
            times, first = self._first_times(levels)
            return _Reached(self, times, first, levels)
        self._bucket_tables()
        index = np.empty(len(levels), dtype=np.intp)
        first = np.empty(len(levels), dtype=np.intp)
        hours = levels if spare else np.empty(len(levels))
        _buckets_reached(
            levels, 1.0 / self.width, self.buckets + 1, self._bucket_end, self._bucket_bin,
            index, hours, first,
        )  # fmt: skip
        return _Reached(self, hours, first, index=index)


@numba.njit(cache=True, error_model="numpy")
def _np_fmin(a: float, b: float) -> float:
    """``np.fmin`` of two floats (the other if one is NaN)."""
    if a != a:
        return b
    return a if (a <= b or b != b) else b


@numba.njit(cache=True, error_model="numpy")
def _on_segment(level, k, base_level, per_unit, hours, base_time) -> float:
    """A level's time on the clock's segment ``k`` (see :class:`_Clock`): base time +
    (level - base level) x hours per unit, at most the segment's hours. An infinite
    level gives inf x 0 there, then the segment's end (never early)."""
    return _np_fmin((level - base_level[k]) * per_unit[k], hours[k]) + base_time[k]


@numba.njit(cache=True, error_model="numpy")
def _on_segments(levels, k, base_level, per_unit, hours, base_time, out) -> None:
    for i in range(len(levels)):
        out[i] = _on_segment(levels[i], k[i], base_level, per_unit, hours, base_time)


@numba.njit(cache=True, error_model="numpy")
def _times_sorted(levels, no_earlier, curve, base_level, per_unit, hours, base_time, out) -> None:
    """:meth:`_Clock.time_sorted`: for non-decreasing levels the segment of each, the
    first grid index above it (``searchsorted(curve, level, "right")``), only steps on."""
    k, points = 0, len(curve)
    for i in range(len(levels)):
        while k < points and curve[k] <= levels[i]:
            k += 1
        at = _on_segment(levels[i], k, base_level, per_unit, hours, base_time)
        out[i] = _np_max(no_earlier[i], at)


@numba.njit(cache=True, error_model="numpy")
def _bucket_of(level: float, inv_width: float, top: int) -> int:
    """``clip(ceil(level x inv_width), 0, top)`` as an index."""
    return int(min(max(np.ceil(level * inv_width), 0.0), float(top)))


@numba.njit(cache=True, error_model="numpy")
def _buckets_reached(levels, inv_width, top, bucket_end, bucket_bin, index, hours, first) -> None:
    """Each level's bucket, the time its top is reached and that grid index (``hours`` may
    be ``levels``: each is read before it is written)."""
    for i in range(len(levels)):
        b = _bucket_of(levels[i], inv_width, top)
        index[i] = b
        hours[i] = bucket_end[b]
        first[i] = bucket_bin[b]


@dataclass
class _Reached:
    """When a clock reaches levels: ``hours``, never early, and ``first``, the first grid
    index at or after each. ``levels`` the levels themselves when exact, else ``index``
    their buckets, whose tops are the levels used (neither: only the times are known)."""

    clock: _Clock
    hours: np.ndarray
    first: np.ndarray
    levels: np.ndarray | None = None
    index: np.ndarray | None = None

    def used(self) -> np.ndarray:
        """The level each time is at: the level itself or its bucket's top."""
        if self.index is None:
            return self.levels.copy()
        return self.index * self.clock.width

    def keep_earlier(self, clock: _Clock, at: np.ndarray, work: np.ndarray) -> np.ndarray:
        """Each of these finishes or the time ``clock`` reaches ``at + work``, whichever
        is earlier (kept here, in place), as a level of ``clock``."""
        if self.index is not None and len(at) > clock.EXACT_BELOW:  # by bucket: one pass
            mine, top = self.clock, np.empty(len(self.hours))
            mine._bucket_tables()
            clock._bucket_tables()
            _keep_earlier(
                self.hours, self.first, self.index,
                clock.level_at(mine._bucket_end, mine._bucket_bin),
                at, work, 1.0 / clock.width, clock.buckets + 1,
                clock._bucket_end, clock._bucket_bin, clock.width, top,
            )  # fmt: skip
            return top
        other = clock.time_after(at + work, spare=True)
        kept = np.flatnonzero(self.hours < other.hours)
        top = other.used()
        top[kept] = self.on(other.clock, kept)
        np.minimum(self.hours, other.hours, out=self.hours)
        np.minimum(self.first, other.first, out=self.first)
        return top

    def on(self, other: _Clock, which: np.ndarray) -> np.ndarray:
        """``other``'s clock at the times of positions ``which``."""
        if self.index is None:
            return other.level_at(self.hours[which], self.first[which])
        # The times are bucket ends: the clock at each bucket's end, once per bucket.
        clock = self.clock
        return other.level_at(clock._bucket_end, clock._bucket_bin)[self.index[which]]


@numba.njit(cache=True, error_model="numpy")
def _keep_earlier(
    hours, first, index, at_bucket, at, work, inv_width, top_bucket, bucket_end, bucket_bin,
    width, top,
):  # fmt: skip
    """:meth:`_Reached.keep_earlier` by bucket: the other clock's finishes found as in
    :meth:`_Clock.time_after` and compared at once."""
    for i in range(len(hours)):
        b = _bucket_of(at[i] + work[i], inv_width, top_bucket)
        other_hours = bucket_end[b]
        if hours[i] < other_hours:
            top[i] = at_bucket[index[i]]
        else:  # a move the clock never finishes keeps its own level, not the top bucket's,
            # so it is reported moving at its own pace
            top[i] = b * width if other_hours < np.inf else at[i] + work[i]
            hours[i] = _np_min(hours[i], other_hours)
        first[i] = min(first[i], bucket_bin[b])


def _count_by(bins: np.ndarray, points: int) -> np.ndarray:
    """Per grid interval, how many of ``bins`` (first grid index at or after a finish)
    are at or before its start."""
    return np.cumsum(np.bincount(bins, minlength=points + 1))[: points - 1]


def _slot_levels(
    arrive: np.ndarray,
    work: np.ndarray,
    moves: int,
    refinements: int,
    segments: _Segments | None = None,
    sizes: np.ndarray | None = None,
    handover: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Clock level at which each mailbox gets a slot: ``C`` slots, first come first served.

    Exactly, mailbox ``i`` starts at ``max(arrive_i, (i - C + 1)-th smallest finish
    of its predecessors)``. In blocks of ``C``: the block's ``k``-th member takes the
    ``k``-th smallest of the ``C`` latest finishes before the block (the others all
    finished earlier), then, ``refinements`` times, the ``k``-th smallest of those and
    the block's own finishes. Every finish used is one the exact schedule has by then
    (a later member's finish is no earlier than this member's exact start), so a
    start is never earlier than the exact one. Within a block a finish is the start
    plus the work; the finishes handed on to later blocks are those of ``segments``
    when given (tighter: :class:`_Segments`, ``sizes`` their GB).
    ``handover`` (when positive) is a bucket width: a finish frees its slot at its
    bucket's top, no earlier than the finish itself.
    """
    n = len(arrive)
    start = np.empty(n)
    done = np.empty(n)
    slots = min(moves, n)
    pool = np.full(slots, -np.inf)  # sorted finish levels of the slots
    spare = np.empty(slots)
    freed = np.empty(slots)
    own = np.empty(slots)
    for first in range(0, n, moves):
        last = min(first + moves, n)
        m = last - first
        a = _block_arrivals(arrive, start, first, last)
        s = start[first:last]
        np.maximum(a, pool[:m], out=s)
        for _ in range(refinements):  # reuse the slots of the block's own short moves
            mine = own[:m]
            if _own_finishes(s, work[first:last], handover, mine) >= s[-1]:
                break  # none frees before the last member starts
            mine.sort()
            _smallest(a, pool, mine, s)  # the m smallest of the pool and those finishes
        if segments is None:
            np.add(start[first:last], work[first:last], out=done[first:last])
        else:
            segments.finish(start, sizes, done, first, last)
        # The latest finishes (freed at their bucket tops), sorted, as the next pool.
        _handed_over(done[first:last], handover, freed[:m])
        freed[:m].sort()
        _latest(pool, freed[:m], spare)
        pool, spare = spare, pool
    return start, done


@numba.njit(cache=True, error_model="numpy")
def _np_min(a: float, b: float) -> float:
    """``np.minimum`` of two floats (NaN if either is NaN)."""
    return a if (a <= b or a != a) else b


@numba.njit(cache=True, error_model="numpy")
def _np_max(a: float, b: float) -> float:
    """``np.maximum`` of two floats (NaN if either is NaN)."""
    return a if (a >= b or a != a) else b


@numba.njit(cache=True, error_model="numpy")
def _bucket_top(level: float, width: float) -> float:
    """The top of a level's bucket, the level at which :meth:`_Clock.time_after` finds it
    reached; the level itself if ``width`` is 0."""
    if width > 0.0:
        return width * np.ceil(level * (1.0 / width))
    return level


@numba.njit(cache=True, error_model="numpy")
def _handed_over(done: np.ndarray, width: float, out: np.ndarray) -> None:
    for i in range(len(done)):
        out[i] = _bucket_top(done[i], width)


@numba.njit(cache=True, error_model="numpy")
def _latest(pool: np.ndarray, freed: np.ndarray, out: np.ndarray) -> None:
    """The ``len(pool)`` largest of sorted ``pool`` and sorted ``freed``, sorted, into ``out``."""
    i, j = len(pool) - 1, len(freed) - 1
    for k in range(len(out) - 1, -1, -1):
        if j < 0 or (i >= 0 and pool[i] >= freed[j]):
            out[k] = pool[i]
            i -= 1
        else:
            out[k] = freed[j]
            j -= 1


@numba.njit(cache=True, error_model="numpy")
def _block_arrivals(arrive: np.ndarray, start: np.ndarray, first: int, last: int) -> np.ndarray:
    """A block's arrivals, first come first served: never before the mailbox ahead."""
    a = arrive[first:last].copy()
    if first:
        ahead = start[first - 1]
        for k in range(len(a)):
            a[k] = _np_max(a[k], ahead)
    return a


@numba.njit(cache=True, error_model="numpy")
def _own_finishes(s: np.ndarray, work: np.ndarray, width: float, out: np.ndarray) -> float:
    """Each member's finish from its start (freed at its bucket top), and the earliest."""
    lowest = np.inf
    for k in range(len(s)):
        out[k] = _bucket_top(s[k] + work[k], width)
        lowest = min(lowest, out[k])
    return lowest


@numba.njit(cache=True, error_model="numpy")
def _smallest(a: np.ndarray, pool: np.ndarray, own: np.ndarray, s: np.ndarray) -> None:
    """``s``: the ``len(s)`` smallest of sorted ``pool`` and sorted ``own``, each no
    earlier than its member's arrival ``a``."""
    i, j = 0, 0
    for k in range(len(s)):
        if j < len(own) and not (pool[i] <= own[j]):
            s[k] = _np_max(a[k], own[j])
            j += 1
        else:
            s[k] = _np_max(a[k], pool[i])
            i += 1


class _Segments:
    """Finish levels on the busy clock, crediting each move its real speed in the first
    two stretches of constant window it runs in.

    On the busy clock (``min(p, window / C)`` an hour) a move of own pace ``p_i``
    moves ``c = min(p_i, window / C) / min(p, window / C)`` GB per unit, at least
    ``min(1, p_i / p)`` (the slowest, which :func:`initial_syncs` counts as work
    ``max(size, own_pace_gb)``), and here held to at most 1: a move is never counted
    faster than ``p``, so what the outputs report stays within ``active x p``. A
    move slower than ``p`` is held back by its own pace at night and by its share
    in business hours, where it moves as fast as any other: counted at its slowest
    rate throughout, a slot would be busy too long and the queue would drain too
    late. Exact within the two stretches, at the slowest rate after them: never
    early. ``own`` is each mailbox's own pace, ``slowest`` the least share of ``p`` it
    moves at (``min(1, own pace / p)``), ``moves`` the clocks' unit (C moves' GB).
    """

    def __init__(
        self,
        grid: np.ndarray,
        share: np.ndarray,
        pace: float,
        curve: np.ndarray,
        own: np.ndarray,
        slowest: np.ndarray,
        moves: int,
    ):
        keep = np.diff(curve) > 0
        changes = np.concatenate([[True], (share[1:] != share[:-1]) | ~keep[:-1]])
        new = np.flatnonzero(keep & changes)  # first grid interval of each stretch
        # A stretch ends where the next begins (closed intervals between add no level).
        self.end_level = np.append(curve[np.append(new[1:], len(keep))], [np.inf, np.inf])
        last = share[new[-1]] if len(new) else 1.0
        self.share = np.append(share[new], [last, last])
        self.move = np.minimum(pace, self.share)  # the busy clock's rate in each stretch
        self.own, self.slowest, self.moves = own, slowest, moves
        # The stretch each mailbox starts in, as :meth:`finish` found it (for :meth:`walk`).
        self.stretch = np.zeros(len(own), dtype=np.intp)
        self.past_second = np.zeros(len(own), dtype=bool)  # finished past it (:meth:`finish`)

    def later(self) -> np.ndarray:
        """Queue positions whose :meth:`finish` is past their second stretch."""
        return np.flatnonzero(self.past_second)

    def walk(
        self,
        start: np.ndarray,
        sizes: np.ndarray,
        done: np.ndarray,
        j: np.ndarray | None = None,
        later: np.ndarray | None = None,
        spare: bool = False,
    ) -> np.ndarray:
        """Finish levels of every mailbox, crediting its real speed in every stretch.

        ``done`` are finishes already found (:meth:`finish`); only those past their
        second stretch can improve, and they are walked stretch by stretch. ``j`` is
        each start's stretch when known (``searchsorted(end_level, start, "right")``),
        ``later`` those past their second stretch when known (:meth:`later`);
        ``spare``: ``done`` is not needed after (updated in place).
        """
        if j is None:
            j = np.searchsorted(self.end_level, start, side="right")
        if later is None:
            second = self.end_level[np.minimum(j + 1, len(self.end_level) - 1)]
            later = np.flatnonzero(done > second)
        out = done if spare else done.copy()
        _walk(
            start, sizes, self.moves, out, j, later,
            self.own, self.slowest, self.end_level, self.share, self.move,
        )  # fmt: skip
        return out

    def finish(
        self, start: np.ndarray, sizes: np.ndarray, done: np.ndarray, first: int, last: int
    ) -> None:
        """Finish levels of mailboxes ``first`` to ``last`` (queue positions) from their
        ``start`` (non-decreasing: a block's starts), into ``done``."""
        _finish_block(
            start, sizes, self.moves, done, first, last, self.own, self.slowest,
            self.end_level, self.share, self.move, self.stretch, self.past_second,
        )  # fmt: skip


@numba.njit(cache=True, error_model="numpy")
def _credit(own: float, slowest: float, share: float, move: float) -> float:
    """GB per clock unit in a stretch, between the slowest and 1 (:meth:`_Segments._credit`)."""
    return _np_min(_np_max(_np_min(own, share) / move, slowest), 1.0)


@numba.njit(cache=True, error_model="numpy")
def _finish_block(
    start, sizes, moves, done, first, last, own, slowest, end_level, share, move, stretch,
    past_second,
) -> None:  # fmt: skip
    """:meth:`_Segments.finish`: exact within a move's first two stretches, then at its
    slowest rate (never early). Starts are non-decreasing, so each one's stretch is
    found by stepping on from the one before. First every move as if it finished in
    its first stretch, then those with data left after it (about a quarter), apart:
    no guess per move which way it goes."""
    ends = len(end_level)
    j = np.searchsorted(end_level, start[first], side="right")
    later, count = np.empty(last - first, dtype=np.intp), 0
    for i in range(first, last):
        at = start[i]
        while j < ends and end_level[j] <= at:
            j += 1
        stretch[i] = j
        credit1 = _credit(own[i], slowest[i], share[j], move[j])
        data = sizes[i] * moves  # (in the clocks' units)
        done[i] = data / credit1 + at
        past_second[i] = done[i] > end_level[min(j + 1, ends - 1)]
        later[count] = i
        count += not (data - (end_level[j] - at) * credit1 <= 0)  # data left after it
    for k in range(count):
        i = later[k]
        j = stretch[i]
        j2 = min(j + 1, ends - 1)
        credit1 = _credit(own[i], slowest[i], share[j], move[j])
        left = sizes[i] * moves - (end_level[j] - start[i]) * credit1
        credit2 = _credit(own[i], slowest[i], share[j2], move[j2])
        end1, end2 = end_level[j], end_level[j2]
        second = (end2 - end1) * credit2
        within = left <= second  # within the second stretch, else at the slowest rate
        done[i] = end1 + left / credit2 if within else end2 + (left - second) / slowest[i]
        past_second[i] = done[i] > end2


@numba.njit(cache=True, error_model="numpy")
def _walk(start, sizes, moves, out, j, later, own, slowest, end_level, share, move) -> None:
    """:meth:`_Segments.walk` for the positions ``later``, stretch by stretch."""
    last = len(share) - 1
    for i in later:
        at, left, k = start[i], sizes[i] * moves, j[i]
        while True:
            credit = _credit(own[i], slowest[i], share[k], move[k])
            room = (end_level[k] - at) * credit
            if left <= room:
                out[i] = _np_min(out[i], at + left / credit)
                break
            left -= room
            k = min(k + 1, last)
            at = end_level[k - 1]


def _reported(
    clock: _Clock,
    start: np.ndarray,
    start_level: np.ndarray,
    synced_bin: np.ndarray,
    synced_level: np.ndarray,
    sizes: np.ndarray,
) -> np.ndarray:
    """Cumulative data moved at each grid time: every mailbox's progress on its schedule.

    Between its start and its finish a mailbox moves its size in proportion to the
    clock's progress (at most its own pace, held to its share: never faster than
    the limit), so it has exactly its size when synced. At a grid time ``g`` the
    total is the data of the mailboxes synced by ``g`` plus, over those in flight,
    ``clock(g) x A - B``: ``A`` the sum of their size per clock unit, ``B`` that
    times the clock at their start.
    """
    grid = clock.grid
    # Starts are in queue order (non-decreasing): sums up to each grid time by cumsum.
    begun = np.searchsorted(start, grid, side="right")  # started at or before each time
    in_flight, at_start, done, flying = _reported_sums(
        start_level, synced_level, sizes, synced_bin, begun
    )
    moving = np.maximum(clock.curve * in_flight - at_start, 0.0)
    # None in flight: exactly the data synced (not a rounding error of two large sums).
    moving[flying < 1] = 0.0
    return done + moving


@numba.njit(cache=True, error_model="numpy")
def _reported_sums(start_level, synced_level, sizes, synced_bin, begun):
    """Per grid time (``begun``: how many started by then, non-decreasing): the sums of
    size per clock unit and of that times the start level over the moves in flight,
    the data synced, and the moves in flight. Sums run in queue order, each as
    ``np.cumsum`` and ``np.bincount`` would add them."""
    g = len(begun)
    ratio_begun, level_begun = np.zeros(g), np.zeros(g)  # cumulative over started moves
    ratio_ended, level_ended = np.zeros(g + 1), np.zeros(g + 1)  # by finishing grid index
    synced, ended = np.zeros(g + 1), np.zeros(g + 1, dtype=np.int64)
    ratio_sum = level_sum = 0.0
    k = 0
    while k < g and begun[k] == 0:
        k += 1
    for i in range(len(sizes)):
        span = synced_level[i] - start_level[i]
        ratio = sizes[i] / span if span > 0 else 0.0
        weight = start_level[i] * ratio
        ratio_sum += ratio
        level_sum += weight
        while k < g and begun[k] == i + 1:  # (the running sums up to this start)
            ratio_begun[k], level_begun[k] = ratio_sum, level_sum
            k += 1
        b = synced_bin[i]
        if b <= g:
            ratio_ended[b] += ratio
            level_ended[b] += weight
            synced[b] += sizes[i]
            ended[b] += 1
    in_flight = ratio_begun - np.cumsum(ratio_ended)[:g]
    at_start = level_begun - np.cumsum(level_ended)[:g]
    flying = begun - np.cumsum(ended)[:g]
    return in_flight, at_start, np.cumsum(synced)[:g], flying
