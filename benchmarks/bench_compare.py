"""Benchmark ``sim.compare`` of two reference plans against two separate ``sim.run`` calls.

The target (issue 17): comparing two plans at 100 replications each takes at most 1.1x the
time of running them separately (the plans share one pool of workers and their tables are
the same; the pairing itself is a few numpy operations). Also checks that the comparison's
results are exactly the separate runs' (common random numbers), and exits 1 otherwise::

    python benchmarks/bench_compare.py                       # 100 replications, 2 workers
    python benchmarks/bench_compare.py --replications 20     # shorter
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import add_scenario_options, scenario_from

import sim
from sim.model.scenario import with_overrides

TARGET_RATIO = 1.1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", "-n", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument(
        "--repeat", type=int, choices=(1, 2), default=2, help="2: time in the order ABBA"
    )
    parser.add_argument(
        "--set",
        default="batches.weekday=30000",
        help="the alternative plan: KEY=VALUE on the scenario (default: 30,000 a weekday)",
    )
    add_scenario_options(parser)
    args = parser.parse_args()

    base = scenario_from(args)
    key, value = args.set.split("=", 1)
    alt = with_overrides(base, {key: float(value) if "." in value else int(value)}, source="--set")
    n, w, seed = args.replications, args.workers, args.seed
    print(f"{base.name}: plan vs {args.set}, {n} replications each, {w} workers", flush=True)

    def separately():
        return [sim.run(sc, n, seed, w, keep_mailboxes=i == 0) for i, sc in enumerate((base, alt))]

    def compared():
        return sim.compare({"plan": base, args.set: alt}, n, seed, w)

    # A shared machine is noisy: time separate, compare, compare, separate (ABBA) and keep
    # each one's best, so neither is favoured by what else ran at the time.
    timings: dict[str, list[float]] = {"separate": [], "compare": []}
    order = ["separate", "compare", "compare", "separate"][: 2 * args.repeat]
    for which in order:
        started = time.perf_counter()
        out = separately() if which == "separate" else compared()
        timings[which].append(time.perf_counter() - started)
        print(f"  {which:9}: {timings[which][-1]:8.1f} s", flush=True)
        if which == "separate":
            separate = out
        else:
            cmp = out
    separate_seconds, compare_seconds = min(timings["separate"]), min(timings["compare"])
    print(f"  two separate runs: {separate_seconds:8.1f} s (best)", flush=True)
    ratio = compare_seconds / separate_seconds
    alt_summary = cmp.summary["alternatives"][0]
    print(
        f"  compare:           {compare_seconds:8.1f} s (best; {ratio:.2f}x; target <= "
        f"{TARGET_RATIO}x)"
        f"\n  days earlier P10/P50/P90: {alt_summary['days_earlier']}, "
        f"P(earlier) {alt_summary['p_earlier']:.0%}",
        flush=True,
    )
    same = all(
        cmp.results[name].runs.equals(res.runs)
        for name, res in zip(cmp.results, separate, strict=True)
    )
    pd.testing.assert_frame_equal(cmp.results["plan"].daily, separate[0].daily)
    print(f"  same replications as the separate runs: {'yes' if same else 'NO'}")
    return 0 if same and ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
