"""The migration calendar: which days have cutovers, how many, and local time.

A plan says "22,000 users every weekday evening at 20:00, 41,500 each weekend
day, nothing on bank holidays or in the Christmas freeze". The calendar turns
that into arrays over days (weekend, holiday, blackout, batch size, cutover day)
and converts local wall-clock times into simulation time.

Simulation time is float hours of real elapsed time since the *epoch*, local
midnight of the first calendar day. Real, not wall-clock, hours: on the night
the clocks go forward a day has 23 hours, and the throttle moves 23 hours of
data, not 24. :class:`LocalClock` does that conversion with numpy alone (it
precomputes the zone's transitions), so hot paths never call into pandas.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import holidays as holidays_lib
import numba
import numpy as np
import pandas as pd

from sim.model.scenario import DAY_NAMES, Scenario

# Days kept after the horizon so that the service desk can drain its queue.
DESK_DRAIN_DAYS = 60
NAT_NS = np.iinfo(np.int64).min  # NaT as int64 nanoseconds


@dataclass(frozen=True)
class LocalClock:
    """Converts local wall-clock hours since the epoch into real hours and back.

    Non-existent local times (inside the spring-forward gap) move forward to the
    transition; ambiguous ones (the repeated autumn hour) take the first
    occurrence, as ``pandas.tz_localize(nonexistent="shift_forward")`` would.
    """

    first_day: dt.date
    timezone: str
    transition_hours: np.ndarray  # real hours of each UTC-offset change
    wall_thresholds: np.ndarray  # wall hours from which the new offset applies
    offsets_hours: np.ndarray  # offset relative to the epoch's, before/after each change

    @classmethod
    def build(cls, first_day: dt.date, days: int, timezone: str) -> LocalClock:
        epoch = pd.Timestamp(first_day).tz_localize(timezone).as_unit("ns")
        # Offsets every 15 minutes find every transition of every real zone.
        instants = pd.date_range(epoch, periods=days * 96 + 1, freq="15min").as_unit("ns")
        offset_all = _offsets_hours(instants)
        changes = np.flatnonzero(np.diff(offset_all)) + 1
        real = (instants.asi8 - epoch.value) / 3.6e12
        before = offset_all[changes - 1] - offset_all[0]
        after = offset_all[changes] - offset_all[0]
        transition = real[changes]
        return cls(
            first_day=first_day,
            timezone=timezone,
            transition_hours=transition,
            wall_thresholds=transition + np.maximum(before, after),
            offsets_hours=np.concatenate([[0.0], after]),
        )

    def to_hours(self, wall_hours: np.ndarray | float) -> np.ndarray:
        """Real hours since the epoch of local wall-clock hours since the epoch."""
        wall = np.asarray(wall_hours, dtype=float)
        k = np.searchsorted(self.wall_thresholds, wall, side="right")
        real = wall - self.offsets_hours[k]
        upcoming = np.append(self.transition_hours, np.inf)[k]
        return np.minimum(real, upcoming)  # a wall time in a spring gap moves forward

    def to_wall(self, hours: np.ndarray | float) -> np.ndarray:
        """Local wall-clock hours since the epoch of real hours since the epoch."""
        real = np.asarray(hours, dtype=float)
        k = np.searchsorted(self.transition_hours, real, side="right")
        return real + self.offsets_hours[k]

    def timestamps(self, hours: np.ndarray) -> pd.DatetimeIndex:
        """Time-zone-aware timestamps of real hours (NaN and inf become NaT)."""
        return self.zoned(self.utc_ns(hours))

    def utc_ns(self, hours: np.ndarray) -> np.ndarray:
        """The instants of real hours as int64 UTC nanoseconds (NaN and inf: NaT's int64)."""
        epoch = pd.Timestamp(self.first_day).tz_localize(self.timezone).as_unit("ns")
        hours = np.asarray(hours, dtype=float)
        stamps = np.empty(len(hours), dtype=np.int64)
        _utc_ns(hours, epoch.value, stamps)
        return stamps

    def zoned(self, utc_ns: np.ndarray) -> pd.DatetimeIndex:
        """Instants (int64 UTC nanoseconds, NaT's int64 for none) in this clock's zone."""
        # pandas reads integers as UTC instants: the array is wrapped, neither copied
        # nor localized value by value.
        return pd.DatetimeIndex(utc_ns, dtype=pd.DatetimeTZDtype("ns", self.timezone), copy=False)


@numba.njit(cache=True)
def _utc_ns(hours, epoch_ns, out) -> None:
    """:meth:`LocalClock.utc_ns` in one pass: numpy's version (scale, mask the missing,
    round, cast, shift, mark NaT) makes six over millions of mailboxes. Rounded to the
    nearest nanosecond, half to even, as ``np.round``."""
    for i in range(len(hours)):
        ns = hours[i] * 3.6e12
        out[i] = np.int64(np.rint(ns)) + epoch_ns if np.isfinite(ns) else NAT_NS


def _offsets_hours(instants: pd.DatetimeIndex) -> np.ndarray:
    wall = instants.tz_localize(None).as_unit("ns").asi8
    return (wall - instants.as_unit("ns").asi8) / 3.6e12


@dataclass(frozen=True)
class Calendar:
    """Per-day facts of a scenario, indexed by day number from ``first_day``."""

    first_day: dt.date
    start_index: int  # the scenario's start day
    last_cutover_index: int  # last day a cutover may happen (end of the horizon)
    weekend: np.ndarray  # bool per day
    holiday: np.ndarray  # bool per day
    blackout: np.ndarray  # bool per day
    batch_size: np.ndarray  # users planned per day (phases applied; 0 on days without cutovers)
    clock: LocalClock

    @property
    def days(self) -> int:
        return len(self.weekend)

    @cached_property
    def dates(self) -> pd.DatetimeIndex:
        return pd.date_range(self.first_day, periods=self.days, freq="D")

    @cached_property
    def weekday_numbers(self) -> np.ndarray:
        """0 = Monday ... 6 = Sunday, per day."""
        return (np.arange(self.days) + self.first_day.weekday()) % 7

    @cached_property
    def cutover_days(self) -> np.ndarray:
        """Indices of the days on which cutovers happen, in order."""
        return np.flatnonzero(self.batch_size > 0)

    @cached_property
    def working_day(self) -> np.ndarray:
        """Days when most users are at work: not weekend, not a bank holiday."""
        return ~self.weekend & ~self.holiday

    @cached_property
    def next_working_day(self) -> np.ndarray:
        """For each day, the first working day strictly after it (``days`` if none)."""
        working = np.flatnonzero(self.working_day)
        k = np.searchsorted(working, np.arange(self.days), side="right")
        return np.append(working, self.days)[k]

    @cached_property
    def next_cutover_day(self) -> np.ndarray:
        """For each day, the first cutover day on or after it (``days`` if none)."""
        k = np.searchsorted(self.cutover_days, np.arange(self.days + 1), side="left")
        return np.append(self.cutover_days, self.days)[k]

    def hours_at(self, day: np.ndarray | int, minutes: np.ndarray | float) -> np.ndarray:
        """Real simulation hours of local time ``minutes`` after midnight on ``day``."""
        return self.clock.to_hours(np.asarray(day) * 24.0 + np.asarray(minutes) / 60.0)

    def day_of(self, hours: np.ndarray | float) -> np.ndarray:
        """The local calendar day index of real simulation hours."""
        return np.floor(self.clock.to_wall(hours) / 24.0).astype(np.int64)

    def index_of(self, date: dt.date) -> int:
        return (date - self.first_day).days

    def date_of(self, day: int) -> dt.date:
        return self.first_day + dt.timedelta(days=int(day))

    def day_set(self, days: str | list[str], holidays_as_weekend: bool) -> np.ndarray:
        """Bool per day: does the throttle-window day spec ``days`` match?"""
        if days == "all":
            return np.ones(self.days, dtype=bool)
        rest = self.holiday if holidays_as_weekend else np.zeros(self.days, dtype=bool)
        if days == "weekdays":
            return ~self.weekend & ~rest
        if days == "weekend":
            return self.weekend | rest
        wanted = [DAY_NAMES.index(name) for name in days]
        return np.isin(self.weekday_numbers, wanted)

    def intervals(self, open_day: np.ndarray, from_minutes: np.ndarray, to_minutes: np.ndarray):
        """Real-hour intervals for per-day local opening times, back-to-back ones merged.

        ``open_day`` selects days; ``from_minutes``/``to_minutes`` are per day.
        Returns ``(starts, ends)`` sorted arrays.
        """
        days = np.flatnonzero(open_day)
        starts = self.hours_at(days, from_minutes[days])
        ends = self.hours_at(days, to_minutes[days])
        return merge_intervals(starts, ends)


def merge_intervals(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge sorted intervals that touch or overlap."""
    if len(starts) == 0:
        return starts.astype(float), ends.astype(float)
    running_end = np.maximum.accumulate(ends)
    new_run = np.ones(len(starts), dtype=bool)
    new_run[1:] = starts[1:] > running_end[:-1]
    run_id = np.cumsum(new_run) - 1
    merged_ends = np.zeros(run_id[-1] + 1)
    np.maximum.at(merged_ends, run_id, ends)
    return starts[new_run], merged_ends


def build_calendar(scenario: Scenario) -> Calendar:
    """The calendar of a scenario: from the first warning to the horizon plus desk drain."""
    sc, batches = scenario.scenario, scenario.batches
    lead_days = max(batches.notice_days, int(np.ceil(scenario.throttle.presync_lead_days)))
    first_day = sc.start - dt.timedelta(days=lead_days + 1)
    start_index = lead_days + 1
    last_cutover_index = start_index + sc.horizon_days - 1
    days = last_cutover_index + 1 + DESK_DRAIN_DAYS
    dates = pd.date_range(first_day, periods=days, freq="D")

    weekday_numbers = (np.arange(days) + first_day.weekday()) % 7
    weekend_numbers = [DAY_NAMES.index(name) for name in scenario.calendar.weekend]
    weekend = np.isin(weekday_numbers, weekend_numbers)
    holiday = _holidays(scenario.calendar.holidays, dates)
    blackout = np.zeros(days, dtype=bool)
    for window in scenario.calendar.blackouts:
        blackout |= (dates >= pd.Timestamp(window.from_)) & (dates <= pd.Timestamp(window.to))

    batch_size = _batch_sizes(dates, weekend, batches.weekday, batches.weekend_day, batches.phases)
    in_horizon = (np.arange(days) >= start_index) & (np.arange(days) <= last_cutover_index)
    batch_size = np.where(in_horizon & ~holiday & ~blackout, batch_size, 0)

    return Calendar(
        first_day=first_day,
        start_index=start_index,
        last_cutover_index=last_cutover_index,
        weekend=weekend,
        holiday=holiday,
        blackout=blackout,
        batch_size=batch_size.astype(np.int64),
        clock=LocalClock.build(first_day, days + 1, scenario.calendar.timezone),
    )


def _batch_sizes(
    dates: pd.DatetimeIndex, weekend: np.ndarray, weekday: int, weekend_day: int, phases
) -> np.ndarray:
    """Users planned per day by weekday/weekend and the latest phase (before any day is shut)."""
    days = len(dates)
    weekday_batch = np.full(days, weekday)
    weekend_batch = np.full(days, weekend_day)
    for phase in phases:
        from_phase = dates >= pd.Timestamp(phase.from_)
        weekday_batch[from_phase] = weekday if phase.weekday is None else phase.weekday
        weekend_batch[from_phase] = weekend_day if phase.weekend_day is None else phase.weekend_day
    return np.where(weekend, weekend_batch, weekday_batch)


def lane_batch_size(
    cal: Calendar, weekday: int, weekend_day: int, phases, first: dt.date
) -> np.ndarray:
    """Users planned per day in a lane (``[[lanes]]``) of its own batch sizes and phases,
    from its first day ``first``: none before it, on holidays, in blackouts, or outside
    the scenario's horizon (the calendar's cutover days bound every lane's)."""
    batch = _batch_sizes(cal.dates, cal.weekend, weekday, weekend_day, phases)
    index = np.arange(cal.days)
    open_day = (index >= max(cal.start_index, cal.index_of(first))) & (
        index <= cal.last_cutover_index
    )
    return np.where(open_day & ~cal.holiday & ~cal.blackout, batch, 0).astype(np.int64)


def _holidays(spec: str, dates: pd.DatetimeIndex) -> np.ndarray:
    if spec == "none":
        return np.zeros(len(dates), dtype=bool)
    country, _, subdivision = spec.partition("-")
    years = range(dates[0].year, dates[-1].year + 1)
    table = holidays_lib.country_holidays(country, subdiv=subdivision or None, years=years)
    return np.isin(dates.date, np.array(list(table.keys()), dtype=object))
