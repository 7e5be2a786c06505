"""Benchmark a mid-flight forecast against a plain run of the same replications.

The target (issue 11): a forecast as of mid-flight costs no more than a plain run of
the same replications. The reference scenario (2.1M mailboxes) is re-forecast as of
``--as-of`` (default 26 November 2020) from actuals that one replication of the plan
produced; both runs use the same replications, seed and workers, and each is timed
``--repeat`` times (the median is reported: the machine is shared)::

    python benchmarks/bench_forecast.py                  # 20 replications, 2 workers
    python benchmarks/bench_forecast.py -n 50 --as-of 2020-10-15

The forecast's time includes everything ``sim.forecast`` does: validating the actuals,
one replication of the plan as the pace's yardstick, and the remaining plan's runs.
Exits 1 if the forecast's median is slower than the run's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sim

REFERENCE = Path(__file__).resolve().parents[1] / "scenarios" / "nhsmail-2020.toml"


def actuals_as_of(scenario, as_of: str, seed: int) -> pd.DataFrame:
    daily = sim.simulate(scenario, seed, keep_mailboxes=False).daily
    seen = daily[(daily["date"] >= str(scenario.scenario.start)) & (daily["date"] <= as_of)]
    return pd.DataFrame(
        {
            "date": seen["date"].dt.strftime("%Y-%m-%d"),
            "migrated": seen["cutover_ok"],
            "failed": seen["cutover_failed"],
            "tickets_opened": seen["tickets_opened"],
        }
    )


def timed(call) -> tuple[object, float]:
    started = time.perf_counter()
    out = call()
    return out, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", "-n", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-of", default="2020-11-26")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    sc = sim.load(REFERENCE)
    actuals = actuals_as_of(sc, args.as_of, seed=99)
    kwargs = {"replications": args.replications, "seed": args.seed, "workers": args.workers}
    run_seconds, forecast_seconds = [], []
    for _ in range(args.repeat):
        plain, seconds = timed(lambda: sim.run(sc, **kwargs))
        run_seconds.append(seconds)
        ahead, seconds = timed(lambda: sim.forecast(sc, actuals, **kwargs))
        forecast_seconds.append(seconds)
    run_median, forecast_median = (statistics.median(s) for s in (run_seconds, forecast_seconds))
    left = ahead.summary["observed"]["remaining"]
    print(
        f"{args.replications} replications, {args.workers} workers, as of {args.as_of} "
        f"({left:,} of {sc.population.mailboxes:,} mailboxes left)"
    )
    print(f"  run:      median {run_median:6.1f} s  {[round(s, 1) for s in run_seconds]}")
    print(f"  forecast: median {forecast_median:6.1f} s  {[round(s, 1) for s in forecast_seconds]}")
    print(f"  forecast / run: {forecast_median / run_median:.2f}")
    print(
        f"  completion p50: plan {plain.summary['completion']['p50']}, "
        f"forecast {ahead.summary['completion']['p50']}"
    )
    return 0 if forecast_median <= run_median else 1


if __name__ == "__main__":
    sys.exit(main())
