"""Benchmark ``solve`` on the reference scenario: evaluations, replications run, wall time.

The target: a range of 1,000 whole numbers needs at most 2 + 10 = 12
evaluations (both ends, then one halving each; interpolation on lateness often
saves some); 5,000-60,000 (55,001 values) needs at most 2 + 16 = 18. Each
evaluation stops as soon as its verdict is certain, so the replications
actually run are reported too::

    python benchmarks/bench_solve.py                        # batches.weekday 5000..60000, 50 reps
    python benchmarks/bench_solve.py --low 21000 --high 22000 --replications 20

The same search as ``python -m sim solve scenarios/nhsmail-2020.toml --for
batches.weekday --low 5000 --high 60000 -n 50``.

Measured 2026-11-24 on the shared 2-core machine (load 4-9 from other work, so
noisy): 13,951 a weekday, 15 evaluations of the bound 18, 654 of 750
replications run, 440 s wall, 0.58 CPU s a replication; with ``-n 10``
(before the bisection safeguards): 18 evaluations, 229 s.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sim
from sim.experiments.solve import max_evaluations, solve

REFERENCE = Path(__file__).resolve().parents[1] / "scenarios" / "nhsmail-2020.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key", default="batches.weekday")
    parser.add_argument("--low", type=int, default=5_000)
    parser.add_argument("--high", type=int, default=60_000)
    parser.add_argument("--replications", "-n", type=int, default=50)
    parser.add_argument("--workers", "-w", type=int, default=None)
    args = parser.parse_args()
    sc = sim.load(REFERENCE)
    started = time.perf_counter()
    evaluations = []

    def tick(_: int) -> None:  # a line per evaluation, so a long run shows where it is
        evaluations.append(time.perf_counter() - started)
        print(f"evaluation {len(evaluations)} done at {evaluations[-1]:.1f} s", flush=True)

    solution = solve(
        sc,
        args.key,
        args.low,
        args.high,
        replications=args.replications,
        workers=args.workers,
        progress=tick,
    )
    wall = time.perf_counter() - started
    bound = max_evaluations(args.low, args.high, 1)
    run = int(solution.table["replications_run"].sum())
    print(solution.table.to_string(index=False))
    cpu = (
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
        + resource.getrusage(resource.RUSAGE_SELF).ru_utime
    )
    print(
        f"{args.key} = {solution.value}: {solution.evaluations} evaluations (bound {bound}), "
        f"{run} replications run of {solution.evaluations * args.replications} "
        f"({args.replications} a candidate), {wall:.1f} s wall, {cpu:.0f} s CPU "
        f"({cpu / max(run, 1):.2f} CPU s a replication)"
    )


if __name__ == "__main__":
    main()
