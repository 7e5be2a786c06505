"""Measure the memory one replication holds per mailbox: the figures behind the memory guard.

``sim.model.feasibility`` refuses a run whose replications would not fit in
memory. Its constants come from here: the peak of Python allocations
(``tracemalloc``, which sees numpy and pandas buffers) during one replication
of the reference scenario scaled to N mailboxes, with and without replication
0's per-mailbox table, divided by N::

    python benchmarks/bench_memory.py                       # 100,000 and 400,000 mailboxes
    python benchmarks/bench_memory.py --mailboxes 2100000   # the full reference

and then a real run's peak resident memory (the largest process) against the
guard's estimate for it.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sim
from sim.model import feasibility
from sim.model.scenario import with_overrides
from sim.model.simulation import Model

REFERENCE = Path(__file__).resolve().parents[1] / "scenarios" / "nhsmail-2020.toml"


def bytes_per_mailbox(mailboxes: int) -> tuple[float, float]:
    """Peak traced bytes per mailbox of one replication: (without, with) the mailbox table."""
    base = sim.load(REFERENCE)
    organisations = min(mailboxes, base.population.organisations)
    sc = with_overrides(
        base,
        {"population.mailboxes": mailboxes, "population.organisations": organisations},
        source="bench",
    )
    model = Model(sc)
    peaks = []
    for keep in (False, True):
        tracemalloc.start()
        replication = model.replicate(np.random.SeedSequence(1), keep_mailboxes=keep)
        peaks.append(tracemalloc.get_traced_memory()[1] / mailboxes)
        tracemalloc.stop()
        del replication
    return peaks[0], peaks[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mailboxes", type=int, nargs="*", default=[100_000, 400_000])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"{'mailboxes':>10} {'B/mailbox':>10} {'with table':>11}")
    for n in args.mailboxes:
        without, with_table = bytes_per_mailbox(n)
        print(f"{n:>10,} {without:>10.0f} {with_table:>11.0f}")
    print(
        f"guard constants: worker {feasibility.WORKER_BYTES_PER_MAILBOX} B/mailbox, "
        f"parent {feasibility.PARENT_BYTES_PER_MAILBOX} B/mailbox, "
        f"{feasibility.PROCESS_BASE_BYTES / 2**20:.0f} MiB per process"
    )
    sc = sim.load(REFERENCE)
    sim.run(sc, replications=args.workers, workers=args.workers, keep_daily=False)
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    estimate = feasibility.memory_needed_gb(sc.population.mailboxes, args.workers)
    print(
        f"reference run, {args.workers} workers: largest worker {peak_children:.2f} GB, "
        f"parent {peak_self:.2f} GB; guard's estimate for the whole run {estimate:.2f} GB"
    )


if __name__ == "__main__":
    main()
