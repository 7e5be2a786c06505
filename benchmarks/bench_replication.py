"""Time one replication of the reference scenario, per-mailbox table kept.

    python benchmarks/bench_replication.py [--runs 7] [--scenario scenarios/nhsmail-2020.toml]

Prints each run's wall seconds, the median, the model build time and the
process's peak resident memory. Target (issue 8): a median of <= 0.5 s with the
2.1M-row mailbox table, and <= 1 GB, on an idle machine. On a shared machine
compare before and after in the same conditions (alternate them) and read the
median CPU time as well as the wall time.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import numpy as np
from _common import add_scenario_options, scenario_from

import sim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_scenario_options(parser)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--summary-only", action="store_true", help="Skip the mailbox table.")
    args = parser.parse_args()

    scenario = scenario_from(args)
    started = time.perf_counter()
    model = sim.Model(scenario)
    build_seconds = time.perf_counter() - started
    seeds = np.random.SeedSequence(scenario.scenario.seed).spawn(args.runs)
    times, cpu_times = [], []
    for i, seed in enumerate(seeds):
        started, cpu_started = time.perf_counter(), time.process_time()
        rep = model.replicate(seed, keep_mailboxes=not args.summary_only, replication=i)
        times.append(time.perf_counter() - started)
        cpu_times.append(time.process_time() - cpu_started)
        rows = 0 if rep.mailboxes is None else len(rep.mailboxes)
        print(
            f"run {i}: {times[-1]:.3f} s  ({rows:,} mailbox rows, "
            f"{rep.metrics['tickets']:,} tickets)"
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"model build: {build_seconds:.3f} s")
    print(
        f"median of {args.runs}: {statistics.median(times):.3f} s  "
        f"(min {min(times):.3f}, max {max(times):.3f}); "
        f"median CPU time {statistics.median(cpu_times):.3f} s"
    )
    print(f"peak memory (max RSS): {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
