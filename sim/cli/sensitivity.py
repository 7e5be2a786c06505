"""`migsim sensitivity`: which inputs move the finish date (tornado, rank, Sobol)."""

from __future__ import annotations

import json
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
    if_interrupted,
    out_option,
    positive,
    progress_bar,
    simulating_command,
    stdout,
    was_there,
)
from sim.experiments import sensitivity as sensitivity_mod
from sim.experiments.keys import numeric_keys
from sim.outputs.files import check_folder_target
from sim.outputs.headline import percent

ROWS_SHOWN = 30


@app.command(short_help="Which inputs move the finish date: tornado, rank or Sobol.")
@simulating_command
def sensitivity(
    options: RunOptions,
    params: Annotated[
        str | None,
        typer.Option(
            "--params",
            metavar="KEY,...",
            help="KEY,KEY,... to study (default: every numeric plan key).",
        ),
    ] = None,
    method: Annotated[
        str,
        typer.Option("--method", metavar="tornado|rank|sobol", help="rank needs uncertain keys."),
    ] = "tornado",
    change: Annotated[
        float,
        typer.Option(
            "--change", metavar="SHARE", help="tornado: move a fixed key by this share down and up."
        ),
    ] = sensitivity_mod.DEFAULT_CHANGE,
    samples: Annotated[
        int,
        typer.Option(
            "--samples", metavar="N", help="sobol: Saltelli base sample N (a power of 2)."
        ),
    ] = sensitivity_mod.SOBOL_SAMPLES,
    out: Annotated[
        Path | None, out_option("Write sensitivity.parquet and tornado.png here (replaced whole).")
    ] = None,
    runs: Annotated[
        Path | None,
        typer.Option(
            "--runs",
            metavar="FILE",
            help="rank: a runs.parquet from `run --out` (no new simulation; same scenario).",
        ),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """How much each input moves P50 completion and P(meet deadline)."""
    sc = options.load()
    replications = options.replications_of(sc)
    positive(samples, "--samples")
    if method not in sensitivity_mod.METHODS:
        raise BadInput(f"--method: must be tornado, rank or sobol (got {method!r})")
    keys = [k.strip() for k in params.split(",") if k.strip()] if params is not None else None
    if keys is not None and not keys:
        raise BadInput("--params: name at least one key")
    if out is not None:  # an unusable --out fails before any simulating
        check_folder_target(out, sensitivity_mod.OUTPUT_FILES)
    runs_table = None
    if runs is not None:
        if method != "rank":
            raise BadInput("--runs: used by --method rank only")
        if not runs.is_file():
            raise BadInput(f"--runs: {runs}: no such file")
        try:
            runs_table = pd.read_parquet(runs)
        except (OSError, ValueError) as error:
            raise BadInput(
                f"--runs: {runs}: cannot read: {getattr(error, 'strerror', None) or error}"
            ) from None
        if "days_to_complete" not in runs_table.columns:
            raise BadInput(f"--runs: {runs}: not a runs table (no days_to_complete column)")
    total = 0 if runs_table is not None else replications * _variants(sc, keys, method, samples)
    with progress_bar(total, f"sensitivity ({method})") as advance:
        result = sensitivity_mod.sensitivity(
            sc,
            keys,
            method,
            replications=replications,
            seed=options.seed,
            workers=options.workers,
            dask=options.dask,
            max_memory_gb=options.max_memory,
            change=change,
            samples=samples,
            runs=runs_table,
            progress=advance,
        )
    if out is not None:
        during = f"{was_there(out)}; nothing was written"
        with if_interrupted(during, f"{out} holds the results"):
            written = result.write(out)
    if json_:
        stdout.print(json.dumps(result.to_dict(), indent=2, default=str), markup=False)
    else:
        print_table(result)
        if out is not None:
            stdout.print(f"written: {', '.join(str(p) for p in written)}", markup=False)


def _variants(sc, keys, method, samples) -> int:
    """How many scenario variants the method simulates (for the progress bar)."""
    if method == "rank":
        return 1
    if method == "tornado":
        return 1 + 2 * len(keys if keys is not None else numeric_keys(sc))
    dims = len(keys) if keys else len(sensitivity_mod.uncertain_distributions(sc)) or 1
    return samples * (dims + 2)


def print_table(result) -> None:
    """The table for a person, largest effect first."""
    table = result.table
    columns = {
        "tornado": {
            "key": "key",
            "low": "low",
            "high": "high",
            "days_low": "days at low",
            "days_high": "days at high",
            "p_meet_low": "P(meet) low",
            "p_meet_high": "P(meet) high",
        },
        "rank": {"key": "key", "rho": "Spearman rho", "p_value": "p-value", "n": "n"},
        "sobol": {"key": "key", "S1": "S1", "S1_conf": "+/-", "ST": "ST", "ST_conf": "+/- "},
    }[result.method]
    grid = Table(title=f"{result.scenario}: {result.method}", header_style="bold")
    for label in columns.values():
        grid.add_column(label, justify="left" if label == "key" else "right")
    for _, row in table.head(ROWS_SHOWN).iterrows():
        grid.add_row(*(_share(row[c]) if c in SHARES else _cell(row[c]) for c in columns))
    # Dotted keys make wide columns: widen the output rather than cut them to "batche…".
    needed = Measurement.get(stdout, stdout.options.update_width(1_000), grid).maximum
    Console(highlight=False, width=max(stdout.width, needed), file=stdout.file).print(grid)
    if len(table) > ROWS_SHOWN:
        stdout.print(f"... and {len(table) - ROWS_SHOWN} more keys", markup=False)
    if result.method == "rank" and table["rho"].isna().all():
        stdout.print(
            "no correlation to measure: completion (or every uncertain key) is the same in "
            "every replication",
            markup=False,
        )
    if result.method == "tornado":
        base = result.base
        stdout.print(
            f"base: P50 completion {base['completion_p50']} ({base['p50_days']:g} days), "
            f"P(meet) {_share(base['p_meet_deadline'])}; {result.replications} replications, "
            f"seed {result.seed}, the same at every variant; days: + later, - earlier",
            markup=False,
        )


SHARES = ("p_meet_low", "p_meet_high")  # shares of replications: shown as percentages


def _share(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    return percent(float(value))


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, str):
        return value
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.4g}"
