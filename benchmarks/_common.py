"""What the replication benchmarks share: which scenario to time, as written or nominal.

Imported by the scripts in this folder (run as ``python benchmarks/bench_X.py``,
so this folder is on ``sys.path``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import sim
from sim.model.scenario import Scenario
from sim.model.uncertainty import nominal

REFERENCE = Path(__file__).resolve().parents[1] / "scenarios" / "nhsmail-2020.toml"


def add_scenario_options(parser: argparse.ArgumentParser) -> None:
    """``--scenario`` (default: the reference scenario) and ``--nominal``."""
    parser.add_argument("--scenario", type=Path, default=REFERENCE)
    parser.add_argument(
        "--nominal",
        action="store_true",
        help="the plan as written: uncertain inputs at their medians, no risks, no variation",
    )


def scenario_from(args: argparse.Namespace) -> Scenario:
    """The scenario named by ``--scenario``, reduced to the plan as written with ``--nominal``."""
    scenario = sim.load(args.scenario)
    return nominal(scenario) if args.nominal else scenario
