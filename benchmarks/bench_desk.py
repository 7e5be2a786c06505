"""Benchmark the service desk: 20,000 tickets, 40 agents, business hours over 30 days.

Tickets are submitted as the real model does, one batch per cutover evening (20:00), each
arriving over the next day; handle times are lognormal (median 15 minutes, sigma 0.8).
Prints the median wall time of 5 runs.

    python benchmarks/bench_desk.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import simpy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.model.desk import ServiceDesk

TICKETS = 20_000
AGENTS = 40
DAYS = 30
CUTOVER_HOUR = 20.0
HANDLE_MEDIAN_HOURS = 0.25
HANDLE_SIGMA = 0.8
REPEATS = 5


def business_hours(days: int) -> tuple[np.ndarray, np.ndarray]:
    """Weekdays 08:00-18:00 and weekends 09:00-17:00; day 0 is a Monday."""
    day = np.arange(days)
    weekend = day % 7 >= 5
    starts = day * 24.0 + np.where(weekend, 9.0, 8.0)
    ends = day * 24.0 + np.where(weekend, 17.0, 18.0)
    return starts, ends


def cutover_evenings(env: simpy.Environment, desk: ServiceDesk, rng: np.random.Generator):
    """Each evening, the day's migrated users raise tickets over the next 24 hours."""
    per_evening = TICKETS // DAYS
    for day in range(DAYS):
        yield env.timeout(day * 24.0 + CUTOVER_HOUR - env.now)
        count = per_evening + (1 if day < TICKETS % DAYS else 0)
        arrival_hours = env.now + rng.exponential(6.0, count).clip(max=24.0)
        handle_hours = HANDLE_MEDIAN_HOURS * rng.lognormal(0.0, HANDLE_SIGMA, count)
        desk.submit(arrival_hours, handle_hours, np.arange(count) + day * per_evening)


def one_run(seed: int) -> tuple[float, int, float]:
    """Wall seconds, peak backlog and mean wait hours of one simulated month."""
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    env = simpy.Environment()
    starts, ends = business_hours(DAYS + 30)
    desk = ServiceDesk(env, AGENTS, starts, ends)
    env.process(cutover_evenings(env, desk, rng))
    env.run()
    records = desk.records()
    seconds = time.perf_counter() - started
    assert len(records) == TICKETS and not np.isnan(records.closed_hours).any()
    return seconds, desk.peak_backlog, float(np.mean(records.wait_hours))


def main() -> None:
    results = [one_run(seed) for seed in range(REPEATS)]
    seconds = [r[0] for r in results]
    print(
        f"desk: {TICKETS} tickets, {AGENTS} agents, {DAYS} days of business hours: "
        f"median {statistics.median(seconds):.3f} s over {REPEATS} runs "
        f"(min {min(seconds):.3f}, max {max(seconds):.3f}); "
        f"peak backlog {results[0][1]}, mean wait {results[0][2]:.1f} h"
    )


if __name__ == "__main__":
    main()
