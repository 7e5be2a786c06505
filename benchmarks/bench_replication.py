"""Time one replication of the reference scenario, per-mailbox table kept.

    python benchmarks/bench_replication.py [--runs 7] [--scenario scenarios/nhsmail-2020.toml]

Prints each run's wall seconds, the median, the model build time and the
process's peak resident memory, for replications run two ways: as ``sim.run``
runs them (the C allocator keeps the memory a replication frees for the next:
``runner.freed_memory_kept``) and with the allocator's defaults (as a bare
``Model.replicate`` loop in a notebook runs them). Target (issues 8 and 15): a
median of <= 0.5 s with the 2.1M-row mailbox table, and <= 1 GB, on an idle
machine. On a shared machine compare before and after in the same conditions
(alternate them) and read the median CPU time as well as the wall time. The
first replication of a process also loads the compiled kernels (numba's cache;
compiled on first use after an install): it is run first and not counted.
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import statistics
import time

import numpy as np
from _common import add_scenario_options, scenario_from

import sim
from sim.experiments.runner import freed_memory_kept


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
    seeds = np.random.SeedSequence(scenario.scenario.seed).spawn(args.runs + 1)
    started = time.perf_counter()
    model.replicate(seeds[-1], keep_mailboxes=not args.summary_only, replication=args.runs)
    print(f"first replication (kernels loaded, not counted): {time.perf_counter() - started:.3f} s")
    ways = {"as sim.run runs them": freed_memory_kept, "allocator defaults": contextlib.nullcontext}
    for way, memory in ways.items():
        times, cpu_times = [], []
        with memory():
            for i, seed in enumerate(seeds[: args.runs]):
                started, cpu_started = time.perf_counter(), time.process_time()
                rep = model.replicate(seed, keep_mailboxes=not args.summary_only, replication=i)
                times.append(time.perf_counter() - started)
                cpu_times.append(time.process_time() - cpu_started)
                rows = 0 if rep.mailboxes is None else len(rep.mailboxes)
                print(
                    f"{way}, run {i}: {times[-1]:.3f} s  ({rows:,} mailbox rows, "
                    f"{rep.metrics['tickets']:,} tickets)"
                )
        print(
            f"{way}: median of {args.runs}: {statistics.median(times):.3f} s  "
            f"(min {min(times):.3f}, max {max(times):.3f}); "
            f"median CPU time {statistics.median(cpu_times):.3f} s"
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"model build: {build_seconds:.3f} s")
    print(f"peak memory (max RSS): {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
