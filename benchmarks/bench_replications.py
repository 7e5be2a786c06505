"""Benchmark replications of the reference scenario: wall time and the speed-up from workers.

The targets: 100 replications of ``scenarios/nhsmail-2020.toml`` (2.1M mailboxes)
on 2 workers in <= 25 s (issue 8), 1,000 in <= 10 minutes on a 2-core machine,
and >= 1.7x from 1 to 2 workers. Runs
``sim.run`` with 1 worker, then 2 (or only the counts given), and prints wall
seconds, seconds per replication, peak memory and the speed-up::

    python benchmarks/bench_replications.py                      # 1,000 reps, 1 and 2 workers
    python benchmarks/bench_replications.py --replications 100   # shorter
    python benchmarks/bench_replications.py --workers 2          # only the 2-worker figure
    python benchmarks/bench_replications.py --no-daily           # what check and sweep keep

Both runs must agree exactly (same seed, whatever the workers); the script says
so, or exits 1.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import add_scenario_options, scenario_from

import sim

TARGET_SECONDS = 600.0  # 1,000 replications in 10 minutes
TARGET_SPEEDUP = 1.7


def peak_rss_mb() -> tuple[float, float]:
    """Peak resident memory (MB) of this process and of its largest finished child."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def timed_run(scenario, replications: int, seed: int, workers: int, keep_daily: bool):
    started = time.perf_counter()
    result = sim.run(scenario, replications, seed, workers, keep_daily=keep_daily)
    return result, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", "-n", type=int, default=1000)
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="worker counts to time"
    )
    parser.add_argument("--seed", type=int, default=2020)
    add_scenario_options(parser)
    parser.add_argument(
        "--no-daily", action="store_true", help="drop the daily tables (keep_daily=False)"
    )
    args = parser.parse_args()

    scenario = scenario_from(args)
    print(
        f"{scenario.name}: {scenario.population.mailboxes:,} mailboxes, "
        f"{args.replications} replications, seed {args.seed}, "
        f"daily tables {'dropped' if args.no_daily else 'kept'}",
        flush=True,
    )
    walls: dict[int, float] = {}
    results = {}
    for workers in args.workers:
        result, wall = timed_run(
            scenario, args.replications, args.seed, workers, keep_daily=not args.no_daily
        )
        walls[workers], results[workers] = wall, result
        own, child = peak_rss_mb()
        print(
            f"  {workers} worker{'s' if workers > 1 else ' '}: {wall:8.1f} s wall, "
            f"{wall / args.replications:.3f} s/replication, "
            f"{1000 * wall / args.replications / 60:5.1f} min per 1,000; "
            f"daily rows {len(result.daily):,}; peak RSS {own:,.0f} MB (children {child:,.0f} MB)",
            flush=True,
        )

    ok = True
    if len(results) > 1:
        first, *others = results.values()
        for other in others:
            try:
                pd.testing.assert_frame_equal(first.runs, other.runs)
            except AssertionError as error:
                print(f"  results differ between worker counts: {error}")
                ok = False
        if ok:
            print("  identical results for every worker count")
    best = min(walls.values()) * 1000 / args.replications
    print(f"  1,000 replications: {best / 60:.1f} min (target <= {TARGET_SECONDS / 60:.0f} min)")
    if 1 in walls and 2 in walls:
        speedup = walls[1] / walls[2]
        print(f"  speed-up 1 -> 2 workers: {speedup:.2f}x (aim >= {TARGET_SPEEDUP}x)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
