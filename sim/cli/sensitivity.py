"""`migsim sensitivity`: which inputs move the finish date (tornado, rank, Sobol), and what
each risk costs (risks). The API names its arguments; errors here name the options."""

from __future__ import annotations

import json
import warnings
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
    stderr,
    stdout,
    was_there,
)
from sim.experiments import sensitivity as sensitivity_mod
from sim.experiments.keys import numeric_keys
from sim.model.scenario import ScenarioError
from sim.outputs.files import check_folder_target
from sim.outputs.headline import percent

ROWS_SHOWN = 30


# The API's argument names, as this command's options.
OPTIONS = {
    "params": "--params",
    "method": "--method",
    "outcome": "--outcome",
    "change": "--change",
    "runs": "--runs",
}


@app.command(short_help="Which inputs move the finish date; what each risk costs.")
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
        typer.Option(
            "--method",
            metavar="tornado|rank|sobol|risks",
            help="rank needs uncertain keys or risks; risks: each risk off against on.",
        ),
    ] = "tornado",
    outcome: Annotated[
        str,
        typer.Option(
            "--outcome",
            metavar="p50|p90|p_meet",
            help="What to measure: P50 or P90 completion, or P(meet the deadline).",
        ),
    ] = "p50",
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
    """How much each input (or each risk) moves P50 or P90 completion and P(meet deadline)."""
    sc = options.load()
    replications = options.replications_of(sc)
    positive(samples, "--samples")
    if method not in sensitivity_mod.METHODS:
        raise BadInput(f"--method: must be {_one_of(sensitivity_mod.METHODS)} (got {method!r})")
    if outcome not in sensitivity_mod.OUTCOMES:
        raise BadInput(f"--outcome: must be {_one_of(sensitivity_mod.OUTCOMES)} (got {outcome!r})")
    keys = [k.strip() for k in params.split(",") if k.strip()] if params is not None else None
    if keys is not None and not keys:
        raise BadInput("--params: name at least one key")
    if out is not None:  # an unusable --out fails before any simulating
        check_folder_target(out, sensitivity_mod.OUTPUT_FILES)
    runs_table = _read_runs(runs, sc, method) if runs is not None else None
    total = 0 if runs_table is not None else replications * _variants(sc, keys, method, samples)
    with (
        progress_bar(total, f"sensitivity ({method})") as advance,
        warnings.catch_warnings(),  # Sobol's warnings are printed below, once, as sentences
    ):
        warnings.simplefilter("ignore", sensitivity_mod.SobolWarning)
        try:
            result = sensitivity_mod.sensitivity(
                sc,
                keys,
                method,
                outcome=outcome,
                replications=replications,
                seed=options.seed,
                workers=options.workers,
                dask=options.dask,
                max_memory_gb=options.max_memory,
                change=change,
                samples=samples,
                runs=runs_table,
                progress=advance,
                source="--params",
            )
        except ScenarioError as error:
            if error.source not in OPTIONS:
                raise  # the file's or --set's own error, already in the right words
            raise _as_options(error, runs) from None
    if out is not None:
        during = f"{was_there(out)}; nothing was written"
        with if_interrupted(during, f"{out} holds the results"):
            written = result.write(out)
    if json_:
        stdout.print(json.dumps(result.to_dict(), indent=2, default=str), markup=False)
    else:
        print_table(result)
        for note in result.warnings:
            stderr.print(f"warning: {note}", markup=False)
        if out is not None:
            stdout.print(f"written: {', '.join(str(p) for p in written)}", markup=False)


def _one_of(names: tuple[str, ...]) -> str:
    return f"{', '.join(names[:-1])} or {names[-1]}"


def _read_runs(path: Path, sc, method: str) -> pd.DataFrame:
    """A ``runs.parquet`` of this scenario, or a one-line error naming ``--runs``."""
    if method != "rank":
        raise BadInput("--runs: used by --method rank only")
    if not path.is_file():
        raise BadInput(f"--runs: {path}: no such file")
    try:
        table = pd.read_parquet(path)
    except (OSError, ValueError) as error:
        raise BadInput(
            f"--runs: {path}: cannot read: {getattr(error, 'strerror', None) or error}"
        ) from None
    summary = path.parent / "summary.json"  # `run --out` writes one beside its runs
    if summary.is_file():
        try:
            made_from = json.loads(summary.read_text(encoding="utf-8")).get("scenario")
        except (OSError, ValueError, AttributeError):
            made_from = None
        if made_from is not None and made_from != sc.name:
            raise BadInput(
                f"--runs: {path}: made from scenario {made_from!r} (its summary.json), "
                f"not {sc.name!r}"
            )
    try:
        sensitivity_mod.check_runs_match(sc, table, source=f"--runs: {path}")
    except ScenarioError as error:
        raise BadInput(str(error)) from None
    return table


def _as_options(error: ScenarioError, runs: Path | None) -> ScenarioError:
    """The API's error, naming this command's option instead of the Python argument."""
    source = OPTIONS.get(error.source, error.source)
    if source == "--runs" and runs is not None:
        source = f"--runs: {runs}"
    return ScenarioError(source, error.key, error.message)


def _variants(sc, keys, method, samples) -> int:
    """How many scenario variants the method simulates (for the progress bar)."""
    if method == "rank":
        return 1
    if method == "risks":
        return 1 + len(sc.risks)
    if method == "tornado":
        return 1 + 2 * len(keys if keys is not None else numeric_keys(sc))
    dims = len(keys) if keys else len(sensitivity_mod.uncertain_distributions(sc)) or 1
    return samples * (dims + 2)


def print_table(result) -> None:
    """The table for a person, largest effect first."""
    table = result.table
    tornado = {"key": "key", "low": "low", "high": "high"}
    if result.outcome == "p_meet":
        tornado |= {"p_meet_low": "P(meet) low", "p_meet_high": "P(meet) high"}
        tornado |= {"days_low": "P50 days at low", "days_high": "P50 days at high"}
    else:
        which = result.outcome.upper()
        tornado |= {"days_low": f"{which} days at low", "days_high": f"{which} days at high"}
        tornado |= {"p_meet_low": "P(meet) low", "p_meet_high": "P(meet) high"}
    columns = {
        "tornado": tornado,
        "rank": {"key": "key", "rho": "Spearman rho", "p_value": "p-value", "n": "n"},
        "sobol": {"key": "key", "S1": "S1", "S1_conf": "+/-", "ST": "ST", "ST_conf": "+/- "},
        "risks": {
            "risk": "risk",
            "struck_share": "struck",
            "p50_days_cost": "P50 days",
            "p90_days_cost": "P90 days",
            "mean_days_cost": "mean days (95%)",
            "p_meet_cost": "P(meet) lost",
        },
    }[result.method]
    grid = Table(
        title=f"{result.scenario}: {result.method} ({result.outcome})", header_style="bold"
    )
    for label in columns.values():
        grid.add_column(label, justify="left" if label in ("key", "risk") else "right")
    for _, row in table.head(ROWS_SHOWN).iterrows():
        grid.add_row(*(_show(row, c) for c in columns))
    # Dotted keys make wide columns: widen the output rather than cut them to "batche…".
    needed = Measurement.get(stdout, stdout.options.update_width(1_000), grid).maximum
    Console(highlight=False, width=max(stdout.width, needed), file=stdout.file).print(grid)
    if len(table) > ROWS_SHOWN:
        stdout.print(f"... and {len(table) - ROWS_SHOWN} more keys", markup=False)
    if result.method == "rank" and table["rho"].isna().all():
        stdout.print(
            "no correlation to measure: the outcome (or every uncertain key and risk) is the "
            "same in every replication",
            markup=False,
        )
    base = result.base
    if result.method == "tornado":
        left_out = base.get("left_out") or []
        if left_out:
            stdout.print(
                f"left out, fixed at 0 (-/+ a share of 0 moves nothing): {', '.join(left_out)}",
                markup=False,
            )
        stdout.print(
            f"base: P50 completion {base['completion_p50']} ({base['p50_days']:g} days), "
            f"P90 {base['completion_p90']} ({base['p90_days']:g} days), "
            f"P(meet) {_share(base['p_meet_deadline'])}; {result.replications} replications, "
            f"seed {result.seed}, the same at every variant; days: + later, - earlier",
            markup=False,
        )
    if result.method == "risks":
        stdout.print(
            f"all risks on: P50 completion {base['completion_p50']}, P90 "
            f"{base['completion_p90']}, P(meet) {_share(base['p_meet_deadline'])}; each risk "
            f"switched off on the same dice ({result.replications} replications, seed "
            f"{result.seed}); days: how much later with the risk on",
            markup=False,
        )


SHARES = ("p_meet_low", "p_meet_high", "struck_share", "p_meet_cost")  # shown as percentages


def _show(row, column: str) -> str:
    if column in SHARES:
        return _share(row[column])
    if column == "mean_days_cost" and "mean_days_cost_lo" in row:
        low, high = row["mean_days_cost_lo"], row["mean_days_cost_hi"]
        if low == high:
            return _cell(row[column])
        return f"{row[column]:.1f} ({low:.1f} to {high:.1f})"
    return _cell(row[column])


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
