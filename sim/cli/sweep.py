"""`migsim sweep`: a scenario at every point of a grid or a Latin hypercube."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from sim.cli.common import (
    BadInput,
    RunOptions,
    app,
    fmt_number,
    if_interrupted,
    out_option,
    positive,
    progress_bar,
    simulating_command,
    stdout,
)
from sim.experiments.axes import parse_vary
from sim.experiments.metrics import metric
from sim.experiments.sweep import plan_sweep


@app.command(short_help="Run a scenario over a grid or a Latin hypercube of values.")
@simulating_command
def sweep(
    options: RunOptions,
    vary: Annotated[
        list[str],
        typer.Option(
            "--vary",
            metavar="KEY=VALUES",
            help="KEY=V1,V2,... or KEY=LO:HI:STEP (repeatable; a grid is the product of all).",
        ),
    ],
    method: Annotated[
        str,
        typer.Option(
            "--method", metavar="grid|lhs", help="grid: every combination; lhs: a Latin hypercube."
        ),
    ] = "grid",
    samples: Annotated[
        int | None,
        typer.Option("--samples", metavar="N", help="Points for --method lhs (ranges LO:HI)."),
    ] = None,
    out: Annotated[
        Path | None,
        out_option("Write sweep.parquet, sweep.csv, runs.parquet and per-point files here."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Finish the sweep in --out: simulate missing points.")
    ] = False,
) -> None:
    """Run a scenario at every point of a grid or a Latin hypercube, with the same seeds."""
    sc = options.load()
    positive(samples, "--samples")
    if method not in ("grid", "lhs"):
        raise BadInput(f"--method: must be grid or lhs (got {method!r})")
    if (method == "lhs") != (samples is not None):
        raise BadInput("--samples: needed by --method lhs, and only by it")
    if resume and out is None:
        raise BadInput("--resume: needs --out DIR, the folder of the sweep to finish")
    specs: dict[str, str] = {}
    for assignment in vary:
        key, text = parse_vary(assignment)
        if key in specs:
            raise BadInput(f"--vary: {key}: given twice")
        specs[key] = text
    plan = plan_sweep(sc, specs, options.replications, options.seed, method, samples, "--vary")
    done = f"{out} holds the points finished so far; --resume finishes the sweep"
    with (
        if_interrupted(done if out else "nothing was written"),
        progress_bar(len(plan.points) * plan.replications, "sweep") as advance,
    ):
        result = plan.run(
            options.workers,
            options.dask,
            out,
            resume,
            progress=advance,
            max_memory_gb=options.max_memory,
        )
    print_sweep(result)


SWEEP_ROWS_SHOWN = 40


def print_sweep(result) -> None:
    """The sweep's points as a short table: parameters, completion, risk, support load."""
    plan, table = result.plan, result.table
    grid = Table(title=f"{plan.base.name}: {plan.method} sweep", header_style="bold")
    completion, tickets = metric("completion_date"), metric("tickets")
    measures = {
        completion.column("p50"): "done P50",
        completion.column("p90"): "done P90",
        metric("met_deadline").column(): "P(deadline)",
        tickets.column("p50"): "tickets P50",
        metric("peak_backlog").column("p90"): "peak backlog P90",
    }
    for column in ["point", *plan.keys, *measures.values()]:
        grid.add_column(column, justify="right")
    for _, row in table.head(SWEEP_ROWS_SHOWN).iterrows():
        cells = [str(row["point"]), *(_cell(row[key]) for key in plan.keys)]
        cells += [_cell(row[column]) for column in measures]
        share = row[metric("met_deadline").column()]
        if pd.notna(share):
            cells[-3] = f"{share:.0%}"
        grid.add_row(*cells)
    # Dotted keys make wide columns: widen the output rather than cut them to "batche…".
    needed = Measurement.get(stdout, stdout.options.update_width(1_000), grid).maximum
    wide = Console(highlight=False, width=max(stdout.width, needed), file=stdout.file)
    wide.print(grid)
    if len(table) > SWEEP_ROWS_SHOWN:
        stdout.print(f"... and {len(table) - SWEEP_ROWS_SHOWN} more points", markup=False)
    resumed = len(table) - result.computed
    stdout.print(
        f"{len(table)} points x {plan.replications} replications (seed {plan.seed}); "
        + (f"{resumed} resumed, {result.computed} simulated; " if resumed else "")
        + f"{result.wall_seconds:.1f} s",
        markup=False,
    )
    if result.out is not None:
        stdout.print(
            f"table written to {result.out / 'sweep.parquet'} and {result.out / 'sweep.csv'}; "
            f"every replication to {result.out / 'runs.parquet'}",
            markup=False,
        )


def _cell(value) -> str:
    if value is None or (not isinstance(value, str | list | dict) and pd.isna(value)):
        return "-"
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.4g}"
    return fmt_number(value) if isinstance(value, int | float) else str(value)
