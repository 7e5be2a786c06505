"""An exact, event-by-event simulation of the throttle, to check the fluid model against.

The system as SPEC.md states it: at most ``C`` moves active; mailboxes get a slot
first come, first served (queue order) once eligible; the active moves share the
window equally, each at ``min(p, window / active)``. Events are eligibility
times, window changes and move completions; between events every rate is
constant, so each step is exact up to rounding. Slow (a Python loop per event):
for small scenarios only.
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
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Finish hour per mailbox, and the exact data moved per segment of ``capacity.times``.

    Returns ``(finish_hours, start_hours, moved_gb_per_segment)``.
    """
    times, rates = capacity.times, capacity.gb_per_hour
    n = len(sizes_gb)
    finish = np.full(n, np.inf)
    start = np.full(n, np.inf)
    moved = np.zeros(len(rates))
    active: list[int] = []
    remaining = np.asarray(sizes_gb, dtype=float).copy()
    t = float(times[0])
    seg = 0
    nxt = 0
    eps = 1e-9
    while True:
        while seg < len(rates) and times[seg + 1] <= t + 1e-12:
            seg += 1
        # Admit eligible mailboxes to free slots, in queue order.
        while nxt < n and eligible_hours[nxt] <= t + 1e-12 and len(active) < concurrent_moves:
            start[nxt] = t
            if remaining[nxt] <= eps:
                finish[nxt] = t
            else:
                active.append(nxt)
            nxt += 1
        if seg >= len(rates):
            break
        if not active:
            if nxt >= n:
                break
            t = max(t, float(eligible_hours[nxt]))
            continue
        window = rates[seg]
        rate = min(per_move_gb_per_hour, window / len(active))
        rem = remaining[active]
        events = [float(times[seg + 1])]
        if nxt < n and len(active) < concurrent_moves:
            events.append(float(eligible_hours[nxt]))
        if rate > 0:
            events.append(t + float(rem.min()) / rate)
        t_next = max(min(events), t)
        step = t_next - t
        remaining[active] = rem - rate * step
        moved[seg] += rate * step * len(active)
        t = t_next
        done = [i for i in active if remaining[i] <= eps * max(1.0, sizes_gb[i])]
        for i in done:
            finish[i] = t
            remaining[i] = 0.0
        if done:
            active = [i for i in active if remaining[i] > 0.0]
    return finish, start, moved
