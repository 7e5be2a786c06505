"""How late the throttle's schedule is against the exact system, on one replication.

    python benchmarks/throttle_lateness.py [--replication 0] [--set throttle.scale=0.8]

Runs one replication of the scenario (default: the reference, as written), takes
the queue its initial syncs were computed for (eligibility, sizes, own paces, the
day's capacity) and computes the same syncs event by event with the exact system
of ``tests/exact_throttle.py`` (a Python loop per event: 1-10 minutes on the 2.1M
reference). Prints the model's lateness (model minus exact, in hours) as median,
P90, P99 and max over the synced mailboxes, and how many are early (must be 0).
These are the figures ``docs/model.md`` states.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from _common import add_scenario_options, scenario_from

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.model import replication  # noqa: E402
from sim.model.scenario import parse_override, with_overrides  # noqa: E402
from sim.model.simulation import Model  # noqa: E402
from tests.exact_throttle import exact_sync_hours  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_scenario_options(parser)
    parser.add_argument("--replication", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    scenario = scenario_from(args)
    if args.set:
        overrides = dict(parse_override(a) for a in args.set)
        scenario = with_overrides(scenario, overrides, source="--set")

    captured: dict = {}
    model_syncs = replication.initial_syncs

    def capture(capacity, eligible, sizes, moves, **kwargs):
        out = model_syncs(capacity, eligible, sizes, moves, **kwargs)
        captured.update(
            capacity=capacity, eligible=eligible, sizes=sizes, moves=moves, out=out, **kwargs
        )
        return out

    replication.initial_syncs = capture
    seed = np.random.SeedSequence(scenario.scenario.seed).spawn(args.replication + 1)[-1]
    Model(scenario).replicate(seed, replication=args.replication)
    replication.initial_syncs = model_syncs

    capacity = captured["capacity"]
    started = time.perf_counter()
    exact, _, _ = exact_sync_hours(
        capacity,
        captured["eligible"],
        captured["sizes"],
        captured["moves"],
        capacity.per_move_gb_per_hour,
        own_pace_gb=captured.get("own_pace_gb"),
    )
    seconds = time.perf_counter() - started
    model = captured["out"].synced_hours
    both = np.isfinite(model) & np.isfinite(exact)
    late = model[both] - exact[both]
    q = np.quantile(late, [0.5, 0.9, 0.99])
    print(
        f"{len(late):,} mailboxes synced in both ({captured['moves']:,} moves); exact system "
        f"{seconds:.0f} s; model minus exact (hours): median {q[0]:.1f}, P90 {q[1]:.1f}, "
        f"P99 {q[2]:.1f}, max {late.max():.1f}; early by more than 1e-6 h: "
        f"{int(np.count_nonzero(late < -1e-6))}; synced only in the exact system: "
        f"{int(np.count_nonzero(np.isfinite(exact) & ~np.isfinite(model)))}"
    )


if __name__ == "__main__":
    main()
