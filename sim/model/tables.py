"""The outputs of one replication: its ``runs`` row, its daily table, its mailboxes.

Pure functions of a finished replication's record (``sim.model.record``, made by
``sim.model.replication``): no simulation happens here. Column names are the SPEC's.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pandas as pd

from sim.model.arrays import take
from sim.model.bookkeeping import MIGRATED, PENDING, REMEDIATION, STATUS_NAMES
from sim.model.calendar import NAT_NS, Calendar, LocalClock
from sim.model.record import RunRecord


def metrics(record: RunRecord, replication: int) -> dict:
    """One row of ``runs``."""
    cal, n = record.calendar, len(record.mailboxes)
    completion = record.completion_day
    # A forecast's initial backlog (mailbox -1) is worked by the desk, so it is in the
    # daily backlog, its peak and the go/no-go gate, but it is no ticket of this run's users.
    tickets = record.tickets
    own = tickets.mailbox >= 0
    users = tickets.mailbox[own]
    waits = tickets.wait_hours[own]
    waits = waits[np.isfinite(waits)]
    deadline = record.deadline_index
    synced = float(record.presync.moved_by(np.array([record.end_hours]))[0])
    status, state = record.state.status, record.state
    return {
        "replication": replication,
        "completion_date": pd.Timestamp(cal.date_of(completion)) if completion else pd.NaT,
        "completed": completion is not None,
        "met_deadline": bool(
            completion is not None and deadline is not None and completion <= deadline
        ),
        "days_to_complete": (completion - cal.start_index + 1) if completion else np.nan,
        "migrated": int(np.count_nonzero(status == MIGRATED)),
        "needs_remediation": int(np.count_nonzero(status == REMEDIATION)),
        "not_migrated": n - int(np.count_nonzero(status != PENDING)),
        "data_tb": synced / 1000.0,
        "tickets": len(users),
        "users_needing_support_pct": 100.0 * _distinct(users, n) / n,
        "peak_backlog": int(record.peak_backlog),
        "wait_hours_mean": float(waits.mean()) if len(waits) else 0.0,
        "wait_hours_90th_pct": float(np.quantile(waits, 0.9)) if len(waits) else 0.0,
        "paused_days": record.paused_days,
        "paused_days_gate": record.paused_days_gate,
        "paused_days_risk": record.paused_days_risk,
        "cutover_failures": int(record.counts.values["cutover_failed"].sum()),
        "deferred_users": int(np.count_nonzero(state.ever_deferred)),
        "slipped_users": int(np.count_nonzero(state.ever_slipped)),
        **lateness(record),
        "sync_buffer_hours_p10": sync_buffer_hours_p10(record),
        **lane_metrics(record),
    }


def lateness(record: RunRecord) -> dict:
    """Per-user lateness: a user is late when cut over (or sent to remediation) after the
    first day they were told, their planned day. Over the users of lanes that tell them;
    one still waiting at the horizon is late by the days to its end."""
    told = _told_by_lane(record)
    late_by_days = np.zeros(record.calendar.days + 1, dtype=np.int64)  # by calendar days
    users = _days_late_counts(
        record.state.final_day,
        record.planned_by_position,
        record.calendar.last_cutover_index + 1,
        None if told is None else record.lane_by_position,
        told,
        late_by_days,
    )
    return {
        "users_late": int(late_by_days.sum()),
        "days_late_p90": _p90_of_days_late(late_by_days, users),
        "date_changes": int(record.date_changes),
    }


def _told_by_lane(record: RunRecord) -> np.ndarray | None:
    """By lane index: does it tell its users? None: every lane does."""
    if record.lane_by_position is None or all(lane.notifies for lane in record.lanes):
        return None
    return np.array([lane.notifies for lane in record.lanes])


@numba.njit(cache=True)
def _days_late_counts(final_day, planned_day, horizon_end, lane, told_by_lane, late_by_days):
    """:func:`lateness` in one pass over queue positions: the users counted (of lanes
    that tell them; ``lane`` None: all), and in ``late_by_days[d]`` how many of them are
    d > 0 days late. Days late are ``max(final - planned, 0)``, the final day of one
    never resolved ``horizon_end``."""
    users = 0
    for i in range(len(planned_day)):
        if lane is not None and not told_by_lane[lane[i]]:
            continue
        users += 1
        final = final_day[i] if final_day[i] >= 0 else horizon_end
        late = final - planned_day[i]
        if late > 0:
            if late >= len(late_by_days):
                raise IndexError("days late beyond the calendar")
            late_by_days[late] += 1
    return users


def _distinct(ids: np.ndarray, n: int) -> int:
    """How many different ids in 0..n-1 there are in ``ids``."""
    seen = np.zeros(n, dtype=bool)
    seen[ids] = True
    return int(np.count_nonzero(seen))


def _p90_of_days_late(late_by_days: np.ndarray, users: int) -> int:
    """The 90th percentile (inverted CDF, as the summary's) of days late over ``users``
    users, ``late_by_days[d]`` of them d > 0 days late."""
    if not users:
        return 0
    rank = max(math.ceil(0.9 * users - 1e-9) - 1, 0)  # metrics.quantile_rank
    on_time = users - int(late_by_days.sum())
    if rank < on_time:
        return 0
    counts = late_by_days.copy()
    counts[0] = on_time
    return int(np.searchsorted(np.cumsum(counts), rank + 1))


def sync_buffer_hours_p10(record: RunRecord) -> float:
    """10th percentile over mailboxes of the hours from the end of a mailbox's initial
    sync to its first due evening (its planned cutover): negative when it was deferred.
    A sync that never ended counts as the whole calendar late."""
    positions = len(record.queue)
    if not positions:
        return 0.0
    evening, day, synced = record.cutover_hours, record.planned_by_position, record.synced_at
    # The order statistic at the 10th percentile (inverted CDF): a partial sort of the
    # buffers up to a bound that a sample of every 64th puts at its 15th percentile.
    # The rank-th smallest of those at most the bound is the rank-th of all, if there
    # are more than rank of them: the sample misled when not, then all are sorted.
    rank = max(math.ceil(0.1 * positions - 1e-9) - 1, 0)
    sampled = evening[day[::64]] - synced[::64]
    at = len(sampled) * 15 // 100
    bound = np.partition(sampled, at)[at]
    buffer = np.empty(positions)  # the pages past the kept ones are never touched
    kept = _buffers_at_most(evening, day, synced, bound, buffer)
    if kept <= rank:
        kept = _buffers_at_most(evening, day, synced, None, buffer)
    low = buffer[:kept]
    low.partition(rank)
    return max(float(low[rank]), -24.0 * record.calendar.days)


@numba.njit(cache=True)
def _buffers_at_most(hours_by_day, day, instant_hours, bound, out) -> int:
    """Into ``out``'s first places, each ``hours_by_day[day] - instant_hours`` (-inf where
    an instant is inf) at most ``bound`` (None: every one); how many. One pass: numpy's
    lookup by int32 days alone takes longer."""
    kept = 0
    for i in range(len(day)):
        buffer = hours_by_day[day[i]] - instant_hours[i]
        out[kept] = buffer  # kept or written over: no branch to mispredict
        kept += 1 if bound is None else buffer <= bound
    return kept


def lane_metrics(record: RunRecord) -> dict:
    """``lane.<name>.completion_date`` and ``lane.<name>.migrated`` for every lane ("main"
    first): the day of the lane's last cutover attempt, and its mailboxes migrated."""
    cal = record.calendar
    migrated = record.lane_migrated
    completion = [record.completion_day] if len(record.lanes) == 1 else record.lane_completion
    out = {}
    for lane, day, moved in zip(record.lanes, completion, migrated, strict=True):
        done = day is not None and (record.lane_outstanding[lane.index] == 0)
        out[f"lane.{lane.name}.completion_date"] = (
            pd.Timestamp(cal.date_of(day)) if done else pd.NaT
        )
        out[f"lane.{lane.name}.migrated"] = int(moved)
    return out


def daily(record: RunRecord, replication: int) -> pd.DataFrame:
    """The daily table, from the first notice to the last cutover or ticket."""
    cal, tickets = record.calendar, record.tickets
    days = cal.days
    opened = _count_by_day(cal, tickets.opened_hours, days)
    closed = _count_by_day(cal, tickets.closed_hours, days)
    day_edges = cal.clock.to_hours(np.arange(days + 1) * 24.0)
    presync_gb = record.presync.moved_between(day_edges)
    counts = record.counts.values
    first = _first_nonzero(counts["notices_sent"], counts["reminders_sent"])
    end = record.completion_day if record.completion_day is not None else cal.last_cutover_index
    active = np.flatnonzero(opened + closed)
    last = max(end, int(active[-1]) if len(active) else end)
    span = slice(min(first, cal.start_index), last + 1)
    frame = {
        "replication": np.full(span.stop - span.start, replication, dtype=np.int32),
        "date": cal.dates[span],
        **{
            name: counts[name][span]
            for name in ("scheduled", "cutover_ok", "cutover_failed", "deferred", "slipped")
        },
        "cumulative_migrated": np.cumsum(counts["cutover_ok"])[span],
        "presync_gb": presync_gb[span],
        "throttle_capacity_gb": record.presync.capacity.daily_capacity_gb[span],
        **{name: counts[name][span] for name in ("notices_sent", "reminders_sent")},
        "success_notices": counts["success_notices"][span],
        "tickets_opened": opened[span],
        "tickets_closed": closed[span],
        "ticket_backlog": np.cumsum(opened - closed)[span],
        "paused": record.counts.paused[span],
        "paused_by_risk": record.counts.paused_by_risk[span],
    }
    return pd.DataFrame(frame)


def mailboxes(record: RunRecord) -> pd.DataFrame:
    """One row per mailbox id (replication 0's table in ``Result.mailboxes``)."""
    cal, n, tickets = record.calendar, len(record.mailboxes), record.tickets
    clock = cal.clock
    # Local midnight of the planned day, in the scenario's zone like every timestamp here, so
    # ``cutover_at.dt.normalize() >= scheduled_date`` compares like with like.
    midnights = cal.dates.as_unit("ns").tz_localize(
        clock.timezone, nonexistent="shift_forward", ambiguous=False
    )
    scheduled_date = clock.zoned(_looked_up(midnights.asi8, record.cohorts.planned_day))
    synced_at, cutover_at, attempts, status = _outcomes_by_id(record, n)
    # The first ticket of each user (the records are in submission order); few users
    # raise one, so only theirs are converted to timestamps.
    users = np.flatnonzero(tickets.mailbox >= 0)
    raisers, first = np.unique(tickets.mailbox[users], return_index=True)
    first_ticket = users[first]
    opened = _sparse_timestamps(clock, n, raisers, tickets.opened_hours[first_ticket])
    closed = _sparse_timestamps(clock, n, raisers, tickets.closed_hours[first_ticket])
    return pd.DataFrame(
        {
            "mailbox": record.mailboxes.id_column(),
            "organisation": record.mailboxes.organisation_column(),
            "kind": record.mailboxes.kind_column(),
            "lane": _lane_column(record, n),
            "size_gb": record.mailboxes.size_gb,
            "legacy": record.mailboxes.legacy,
            "scheduled_date": scheduled_date,
            "synced_at": clock.zoned(synced_at),
            "cutover_at": clock.zoned(cutover_at),
            "attempts": attempts,
            "status": pd.Categorical.from_codes(
                status, categories=list(STATUS_NAMES), validate=False
            ),
            "ticket_opened_at": opened,
            "ticket_closed_at": closed,
        },
        copy=False,  # every column is a fresh array already
    )


def _lane_column(record: RunRecord, n: int) -> pd.Categorical:
    """Each mailbox's lane (by its kind, planned or not)."""
    lane = record.lane_of_mailbox
    codes = np.zeros(n, dtype=np.int8) if lane is None else lane
    names = [lane.name for lane in record.lanes]
    return pd.Categorical.from_codes(codes, categories=names, validate=False)


def _looked_up(ns_by_day: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Instants (UTC ns) by day index (-1: NaT) from one instant per calendar day: a
    lookup, not a time-zone conversion of each of millions of values."""
    return take(np.append(ns_by_day, NAT_NS), day)  # day -1 reads the NaT at the end


def _sparse_timestamps(
    clock: LocalClock, n: int, ids: np.ndarray, hours: np.ndarray
) -> pd.DatetimeIndex:
    """Timestamps of ``hours`` at ``ids``, NaT elsewhere: ``n`` of them."""
    ns = np.full(n, NAT_NS, dtype=np.int64)
    ns[ids] = clock.utc_ns(hours)
    return clock.zoned(ns)


def _outcomes_by_id(
    record: RunRecord, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """By mailbox id: when its initial sync ended and when it was cut over (UTC ns, NaT
    for never), its attempts and its status (code); unscheduled ones never synced, were
    never cut over, have 0 attempts and are pending."""
    state = record.state
    if state.attempts.dtype.itemsize > 2 or state.status.dtype.itemsize > 1:
        raise TypeError("attempts and status must fit 16 and 8 bits: they are packed")
    evening_ns = record.calendar.clock.utc_ns(record.cutover_hours)
    outcomes = (
        np.empty(n, dtype=np.int64),
        np.empty(n, dtype=np.int64),
        np.empty(n, dtype=state.attempts.dtype),
        np.empty(n, dtype=state.status.dtype),
    )
    _scatter_outcomes(
        record.queue,
        record.calendar.clock.utc_ns(record.synced_at),
        state.cutover_day,
        state.attempts,
        state.status,
        np.append(evening_ns, NAT_NS),
        PENDING,
        np.empty((n, 2), dtype=np.int64),
        *outcomes,
    )
    return outcomes


@numba.njit(cache=True)
def _scatter_outcomes(
    queue,
    synced_ns,
    cutover_day,
    attempts,
    status,
    evening_ns,
    pending,
    rows,
    synced_out,
    cutover_out,
    attempts_out,
    status_out,
) -> None:
    """:func:`_outcomes_by_id`'s scatter from queue positions to ids. Writing to random
    ids costs a cache miss each, so each position's values go to one 16-byte row of
    ``rows`` (its sync's instant; its cutover day, attempts and status packed in an
    int64: attempts and status fit 16 and 8 bits), which are then unpacked in id order,
    the cutover day looked up in ``evening_ns`` (NaT last: day -1 reads it)."""
    n = len(rows)
    if len(queue) < n:
        rows[:, 0] = NAT_NS
        rows[:, 1] = (np.int64(-1) << 32) | np.int64(pending)
    for i in range(len(queue)):
        row = queue[i]
        rows[row, 0] = synced_ns[i]
        rows[row, 1] = (
            (np.int64(cutover_day[i]) << 32)
            | ((np.int64(attempts[i]) & 0xFFFF) << 8)
            | (np.int64(status[i]) & 0xFF)
        )
    for row in range(n):
        synced_out[row] = rows[row, 0]
        packed = rows[row, 1]
        cutover_out[row] = evening_ns[packed >> 32]
        attempts_out[row] = (packed >> 8) & 0xFFFF
        status_out[row] = packed & 0xFF


def _count_by_day(cal: Calendar, hours: np.ndarray, days: int) -> np.ndarray:
    finite = hours[np.isfinite(hours)]
    day = np.clip(cal.day_of(finite), 0, days - 1)
    return np.bincount(day, minlength=days)


def _first_nonzero(*arrays: np.ndarray) -> int:
    nonzero = np.flatnonzero(np.logical_or.reduce([a != 0 for a in arrays]))
    return int(nonzero[0]) if len(nonzero) else 0
