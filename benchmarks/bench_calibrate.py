"""Calibrating a scenario from a large move report: reading it and fitting it.

    python benchmarks/bench_calibrate.py [--moves 10000] [--runs 5]

Writes a move report of ``--moves`` moves as Windows PowerShell exports it
(``Get-MoveRequestStatistics | Export-Csv``: #TYPE line, quoted fields, sizes as
Exchange's text, durations ``d.hh:mm:ss``), drawn from known truths by
``scenarios/make_exchange_examples.py``, then prints the median wall and CPU
seconds of ``sim.calibrate`` on it (reading the CSV, the fit, the calibrated
scenario) and of the fit alone. Target (issue 16): 10,000 moves <= 2 s.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sim  # noqa: E402
from sim.experiments.calibrate import fit_speeds  # noqa: E402
from sim.experiments.move_report import gb, read_move_report  # noqa: E402


def examples():
    spec = importlib.util.spec_from_file_location(
        "make_exchange_examples", ROOT / "scenarios" / "make_exchange_examples.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def median_seconds(call, runs: int) -> tuple[float, float]:
    """Median wall and CPU seconds (CPU time shows the work when the machine is shared)."""
    wall, cpu = [], []
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        call()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    make = examples()
    scenario = sim.load(ROOT / "scenarios" / "exchange-export.toml")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "moves.csv"
        frame = make.pilot_moves(np.random.default_rng(1), args.moves)
        make.write_powershell_csv(frame, path, make.MOVES_TYPE_LINE)
        print(f"{args.moves:,} moves written ({path.stat().st_size / 1e6:.1f} MB)")
        wall, cpu = median_seconds(lambda: sim.calibrate(scenario, moves=path), args.runs)
        print(f"sim.calibrate (read + fit + scenario): {wall:.3f} s wall, {cpu:.3f} s CPU "
              f"(median of {args.runs})")  # fmt: skip
        wall, cpu = median_seconds(lambda: read_move_report(path), args.runs)
        print(f"read the move report:                 {wall:.3f} s wall, {cpu:.3f} s CPU")
        report = read_move_report(path)
        usable = np.isin(report.status, ("completed", "synced"))
        size, hours, items = (
            gb(report.bytes_transferred[usable]),
            report.hours[usable],
            report.items[usable],
        )
        wall, cpu = median_seconds(lambda: fit_speeds(size, hours, items), args.runs)
        print(f"the speed fit alone:                  {wall:.3f} s wall, {cpu:.3f} s CPU")


if __name__ == "__main__":
    main()
