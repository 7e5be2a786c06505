"""`migsim plan`: the batch plan, as the migration team loads it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sim.cli.common import BadInput, ScenarioArg, SeedOpt, SetOpt, app, guarded, load_scenario
from sim.cli.common import stdout as console
from sim.experiments.batch_plan import plan as batch_plan
from sim.outputs.batch_plan import PlanFolderError, write_plan


@app.command()
def plan(
    scenario: ScenarioArg,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for plan.csv and batches/YYYY-MM-DD.csv.")
    ],
    seed: SeedOpt = None,
    set_: SetOpt = None,
) -> None:
    """Write the batch plan of replication 0: who is planned to cut over on which evening."""
    with guarded():
        sc = load_scenario(scenario, set_)
        frame = batch_plan(sc, seed=seed)
        try:
            written = write_plan(out, frame)
        except PlanFolderError as error:
            raise BadInput(str(error)) from None
        evenings = len(written) - 1
        planned = int(frame["planned_date"].notna().sum())
        console.print(
            f"{planned:,} of {len(frame):,} mailboxes planned over {evenings} evenings: "
            f"{out}/plan.csv and {out}/batches/",
            markup=False,
        )
        if planned < len(frame):
            console.print(
                f"  warning: {len(frame) - planned:,} mailboxes fit no evening within the "
                "horizon (plan.csv lists them without a date)",
                markup=False,
            )
