"""An exact, event-by-event simulation of the throttle, to check the model against.

The system as SPEC.md states it: at most ``C`` moves active; mailboxes get a slot
first come, first served (queue order) once eligible; the active moves share the
window equally, each at ``min(own pace, window / active)``, a mailbox's own pace
being ``p x size / own_pace_gb`` (``p`` the per-move rate; ``own_pace_gb``
defaults to the size, so every move's own pace is ``p``). Events are eligibility
times, window changes and move completions; between events every rate is
constant, so each step is exact up to rounding. A Python loop per event over
numpy arrays of the active moves: for small scenarios in tests, and (slowly, a
minute or two) for measuring the model on the full reference.
"""

from __future__ import annotations

import numpy as np

from sim.model.throttle import Capacity


def exact_sync_hours(
    capacity: Capacity,
    eligible_hours: np.ndarray,
    sizes_gb: np.ndarray,
    concurrent_moves: int,
    per_move_gb_per_hour: float,
    *,
    own_pace_gb: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Finish hour per mailbox, and the exact data moved per segment of ``capacity.times``.

    Returns ``(finish_hours, start_hours, moved_gb_per_segment)``.
    """
    times, rates = capacity.times, capacity.gb_per_hour
    eligible_hours = np.asarray(eligible_hours, dtype=float)
    sizes = np.asarray(sizes_gb, dtype=float)
    n = len(sizes)
    if own_pace_gb is None:
        pace = np.full(n, float(per_move_gb_per_hour))
    else:
        own = np.asarray(own_pace_gb, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            pace = np.where(own > 0, per_move_gb_per_hour * sizes / own, per_move_gb_per_hour)
    finish = np.full(n, np.inf)
    start = np.full(n, np.inf)
    moved = np.zeros(len(rates))
    active = np.zeros(0, dtype=np.int64)
    remaining = sizes.copy()
    t = float(times[0])
    seg = 0
    nxt = 0
    eps = 1e-9
    while True:
        while seg < len(rates) and times[seg + 1] <= t + 1e-12:
            seg += 1
        # Admit eligible mailboxes to free slots, in queue order.
        free = concurrent_moves - len(active)
        if free > 0 and nxt < n and eligible_hours[nxt] <= t + 1e-12:
            last = min(nxt + free, int(np.searchsorted(eligible_hours, t + 1e-12, "right")))
            new = np.arange(nxt, last)
            start[new] = t
            empty = remaining[new] <= eps
            finish[new[empty]] = t
            active = np.concatenate([active, new[~empty]])
            nxt = last
        if seg >= len(rates):
            break
        if not len(active):
            if nxt >= n:
                break
            t = max(t, float(eligible_hours[nxt]))
            continue
        share = rates[seg] / len(active)
        rate = np.minimum(pace[active], share)
        rem = remaining[active]
        t_next = float(times[seg + 1])
        if nxt < n and len(active) < concurrent_moves:
            t_next = min(t_next, float(eligible_hours[nxt]))
        if share > 0:
            t_next = min(t_next, t + float((rem / rate).min()))
        t_next = max(t_next, t)
        step = t_next - t
        rem = rem - rate * step
        moved[seg] += float(rate.sum()) * step
        t = t_next
        done = rem <= eps * np.maximum(1.0, sizes[active])
        remaining[active] = np.where(done, 0.0, rem)
        if done.any():
            finish[active[done]] = t
            active = active[~done]
    return finish, start, moved
