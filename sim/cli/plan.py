"""`migsim plan`: the batch plan, as the migration team loads it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from sim.cli.common import (
    RunOptions,
    ScenarioArg,
    SetOpt,
    app,
    if_interrupted,
    out_option,
    stdout,
    was_there,
)
from sim.experiments.batch_plan import plan as batch_plan
from sim.experiments.results import provenance
from sim.experiments.runner import check_before_running
from sim.outputs.batch_plan import write_plan


@app.command(short_help="Write the batch plan: who cuts over on which evening.")
def plan(
    scenario: ScenarioArg,
    out: Annotated[Path, out_option("Folder for plan.csv and batches/YYYY-MM-DD.csv.")],
    seed: Annotated[
        int | None, typer.Option("--seed", metavar="S", help="Master seed (>= 0).")
    ] = None,
    set_: SetOpt = None,
) -> None:
    """Write the batch plan of replication 0: who is planned to cut over on which evening."""
    options = RunOptions(scenario, set_=set_, seed=seed)
    sc = options.load()
    check_before_running(sc, 1, None, None, replications=1)  # what validate refuses, plan does
    started = time.perf_counter()
    frame = batch_plan(sc, seed=options.seed)
    made = provenance(
        sc,
        seed=sc.scenario.seed if options.seed is None else options.seed,
        replications=1,  # the plan is replication 0's
        wall_seconds=time.perf_counter() - started,
    )
    with if_interrupted(f"{was_there(out)}; nothing was written", f"{out} holds the plan"):
        written = write_plan(out, frame, provenance=made)
    evenings = sum(1 for path in written if path.parent.name == "batches")
    planned = int(frame["scheduled_date"].notna().sum())
    stdout.print(
        f"{planned:,} of {len(frame):,} mailboxes planned over {evenings} evenings: "
        f"{out}/plan.csv and {out}/batches/",
        markup=False,
    )
    if planned < len(frame):
        stdout.print(
            f"  warning: {len(frame) - planned:,} mailboxes fit no evening within the "
            "horizon (plan.csv lists them without a date)",
            markup=False,
        )
