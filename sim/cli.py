"""The ``migsim`` command line: a thin layer over the Python API.

Exit codes: 0 success; 1 ``check`` found the plan misses its deadline; 2 bad
input (usage, a missing or malformed file, an invalid value), reported as one
line naming the file and the dotted key, with no traceback unless ``--debug``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sim.experiments import check as check_mod
from sim.experiments.runner import run as run_replications
from sim.experiments.sweep import parse_vary, plan_sweep
from sim.model import scenario as scenario_mod
from sim.model.calendar import build_calendar
from sim.model.scenario import Scenario, ScenarioError
from sim.outputs.files import write_result

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Discrete-event capacity simulator for very large mailbox migrations.",
)
stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)
_debug = {"on": False}

EXIT_OK, EXIT_MISSED, EXIT_BAD_INPUT = 0, 1, 2


class BadInput(Exception):
    """A usage problem found after parsing (e.g. an option value out of range)."""


@app.callback()
def _options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    _debug["on"] = debug


@contextmanager
def guarded() -> Iterator[None]:
    """Turn bad input into one line on stderr and exit code 2."""
    try:
        yield
    except (ScenarioError, BadInput) as error:
        if _debug["on"]:
            raise
        stderr.print(str(error), markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except KeyboardInterrupt:
        stderr.print("interrupted: nothing already written was changed", markup=False)
        raise typer.Exit(130) from None


def load_scenario(path: Path, assignments: list[str] | None) -> Scenario:
    """Load a scenario with ``--set`` overrides; errors name the file and the key."""
    overrides = dict(scenario_mod.parse_override(a, source="--set") for a in assignments or [])
    return scenario_mod.load(path, overrides, source=str(path))


def show_progress() -> bool:
    """A progress bar only for a person at a terminal."""
    return sys.stderr.isatty() and not os.environ.get("CI")


@contextmanager
def progress_bar(total: int, label: str):
    """Yield a callback advancing a rich progress bar by n (a no-op when not on a TTY)."""
    if not show_progress():
        yield lambda n: None
        return
    columns = (
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=stderr, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def positive(value: int | None, name: str) -> int | None:
    if value is not None and value < 1:
        raise BadInput(f"{name}: must be >= 1 (got {value})")
    return value


ScenarioArg = Annotated[Path, typer.Argument(help="Scenario TOML file.", show_default=False)]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a key: --set batches.weekday=30000 (repeatable)."),
]
ReplicationsOpt = Annotated[
    int | None, typer.Option("--replications", "-n", help="Monte Carlo replications.")
]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Master seed.")]
WorkersOpt = Annotated[
    int | None, typer.Option("--workers", "-w", help="Worker processes (default: all cores).")
]
DaskOpt = Annotated[
    str | None,
    typer.Option("--dask", help="Run on a dask.distributed scheduler ADDRESS, or 'local'."),
]


def simulate_for_cli(
    sc: Scenario,
    replications: int | None,
    seed: int | None,
    workers: int | None,
    dask: str | None = None,
):
    replications = positive(replications, "--replications") or sc.scenario.replications
    positive(workers, "--workers")
    with progress_bar(replications, "replications") as advance:
        return run_replications(sc, replications, seed, workers, dask=dask, progress=advance)


@app.command()
def run(
    scenario: ScenarioArg,
    replications: ReplicationsOpt = None,
    seed: SeedOpt = None,
    set_: SetOpt = None,
    workers: WorkersOpt = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write summary.json, runs/daily/mailboxes.parquet here."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    dask: DaskOpt = None,
) -> None:
    """Simulate a scenario: completion date distribution, support load, and more."""
    with guarded():
        sc = load_scenario(scenario, set_)
        result = simulate_for_cli(sc, replications, seed, workers, dask)
        if out is not None:
            write_result(out, result)
        if as_json:
            stdout.print_json(json.dumps(result.summary, default=str))
        else:
            print_summary(result.summary)
            if out is not None:
                stdout.print(f"results written to {out}/")


@app.command()
def validate(scenario: ScenarioArg, set_: SetOpt = None) -> None:
    """Check a scenario file and describe the plan it makes."""
    with guarded():
        sc = load_scenario(scenario, set_)
        cal = build_calendar(sc)
        days = cal.cutover_days
        capacity = int(cal.batch_size.sum())
        stdout.print(f"{scenario}: ok: {sc.name!r}", markup=False)
        stdout.print(
            f"  {sc.population.mailboxes:,} mailboxes; {len(days)} cutover days from "
            f"{cal.date_of(days[0]) if len(days) else '-'} within the "
            f"{sc.scenario.horizon_days}-day horizon; planned capacity {capacity:,} users",
            markup=False,
        )
        if capacity < sc.population.mailboxes:
            stdout.print(
                f"  warning: the plan schedules only {capacity:,} of "
                f"{sc.population.mailboxes:,} mailboxes within the horizon",
                markup=False,
            )


@app.command()
def report(
    scenario: ScenarioArg,
    out: Annotated[Path, typer.Option("--out", help="Folder for report.html.")],
    replications: ReplicationsOpt = None,
    seed: SeedOpt = None,
    set_: SetOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """Simulate a scenario and write a self-contained HTML report with plots."""
    from sim.outputs.report import write_report

    with guarded():
        sc = load_scenario(scenario, set_)
        result = simulate_for_cli(sc, replications, seed, workers)
        path = write_report(
            out,
            summary=result.summary,
            runs=result.runs,
            daily=result.daily,
            name=sc.name,
            start=sc.scenario.start,
            deadline=sc.scenario.deadline,
            population=sc.population.mailboxes,
            pause_backlog=sc.support.pause_backlog,
            scenario_text=scenario.read_text(encoding="utf-8"),
        )
        stdout.print(f"report written to {path}", markup=False)


@app.command()
def sweep(
    scenario: ScenarioArg,
    vary: Annotated[
        list[str],
        typer.Option(
            "--vary",
            help="KEY=V1,V2,... or KEY=LO:HI:STEP (repeatable; a grid is the product of all).",
        ),
    ],
    method: Annotated[
        str, typer.Option("--method", help="grid: every combination; lhs: a Latin hypercube.")
    ] = "grid",
    samples: Annotated[
        int | None, typer.Option("--samples", help="Points for --method lhs (ranges LO:HI).")
    ] = None,
    replications: ReplicationsOpt = None,
    seed: SeedOpt = None,
    set_: SetOpt = None,
    workers: WorkersOpt = None,
    dask: DaskOpt = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write sweep.parquet, sweep.csv and per-point files here."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Finish the sweep in --out: simulate missing points.")
    ] = False,
) -> None:
    """Run a scenario at every point of a grid or a Latin hypercube, with the same seeds."""
    with guarded():
        sc = load_scenario(scenario, set_)
        positive(replications, "--replications")
        positive(workers, "--workers")
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
        plan = plan_sweep(sc, specs, replications, seed, method, samples, source=str(scenario))
        with progress_bar(len(plan.points) * plan.replications, "sweep") as advance:
            result = plan.run(workers, dask, out, resume, progress=advance)
        print_sweep(result)


@app.command()
def check(
    scenario: ScenarioArg,
    deadline: Annotated[
        str | None,
        typer.Option("--deadline", help="YYYY-MM-DD (default: the scenario's deadline)."),
    ] = None,
    confidence: Annotated[
        float | None,
        typer.Option(
            "--confidence", help="Required P(done by deadline), 0-1 (default: scenario's)."
        ),
    ] = None,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Write a JUnit XML report to this file.")
    ] = None,
    replications: ReplicationsOpt = None,
    seed: SeedOpt = None,
    set_: SetOpt = None,
    workers: WorkersOpt = None,
    dask: DaskOpt = None,
) -> None:
    """Exit 0 if the plan meets its deadline at the required confidence, 1 if not; 2: bad input."""
    with guarded():
        sc = load_scenario(scenario, set_)
        replications = positive(replications, "--replications") or sc.scenario.replications
        positive(workers, "--workers")
        with progress_bar(replications, "replications") as advance:
            verdict = check_mod.check(
                sc,
                deadline=deadline,
                confidence=confidence,
                replications=replications,
                seed=seed,
                workers=workers,
                dask=dask,
                progress=advance,
                source=str(scenario),
            )
        stdout.print(verdict.paragraph(), markup=False)
        for path, write in (
            (junit, check_mod.write_junit),
            (os.environ.get("GITHUB_STEP_SUMMARY"), check_mod.append_step_summary),
        ):
            try:
                if path:
                    write(path, verdict)
            except OSError as error:
                raise BadInput(f"{path}: cannot write: {error.strerror or error}") from None
    raise typer.Exit(EXIT_OK if verdict.passed else EXIT_MISSED)


SWEEP_ROWS_SHOWN = 40


def print_sweep(result) -> None:
    """The sweep's points as a short table: parameters, completion, risk, support load."""
    plan, table = result.plan, result.table
    grid = Table(title=f"{plan.base.name}: {plan.method} sweep", header_style="bold")
    measures = {
        "completion_p50": "done P50",
        "completion_p90": "done P90",
        "p_meet_deadline": "P(deadline)",
        "tickets_p50": "tickets P50",
        "peak_backlog_p90": "peak backlog P90",
    }
    for column in ["point", *plan.keys, *measures.values()]:
        grid.add_column(column, justify="right")
    for _, row in table.head(SWEEP_ROWS_SHOWN).iterrows():
        cells = [str(row["point"]), *(_cell(row[key]) for key in plan.keys)]
        cells += [_cell(row[column]) for column in measures]
        if pd.notna(row["p_meet_deadline"]):
            cells[-3] = f"{row['p_meet_deadline']:.0%}"
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
            f"table written to {result.out / 'sweep.parquet'} and {result.out / 'sweep.csv'}",
            markup=False,
        )


def _cell(value) -> str:
    if value is None or (not isinstance(value, str | list | dict) and pd.isna(value)):
        return "-"
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.4g}"
    return _fmt(value) if isinstance(value, int | float) else str(value)


def print_summary(summary: dict) -> None:
    """The summary as a short table for a person."""
    c = summary["completion"]
    table = Table(title=summary["scenario"], show_header=True, header_style="bold")
    table.add_column("measure")
    table.add_column("P10", justify="right")
    table.add_column("P50", justify="right")
    table.add_column("P90", justify="right")
    table.add_row("completion date", *(str(c[k] or "not done") for k in ("p10", "p50", "p90")))
    rows = [
        ("migrated", summary["migrated"]),
        ("needs remediation", summary["needs_remediation"]),
        ("data moved (TB)", summary["data_tb"]),
        ("tickets", summary["support"]["tickets"]),
        ("users needing support (%)", summary["support"]["users_needing_support_pct"]),
        ("peak ticket backlog", summary["support"]["peak_backlog"]),
        ("ticket wait, 90th pct (hours)", summary["support"]["wait_hours"]),
        ("paused days", summary["paused_days"]),
    ]
    for label, q in rows:
        table.add_row(label, *(_fmt(q.get(k)) for k in ("p10", "p50", "p90")))
    stdout.print(table)
    p = summary["p_meet_deadline"]
    deadline = summary["deadline"] or "no deadline set"
    verdict = f"P(done by {deadline}) = {p:.1%}" if p is not None else deadline
    stdout.print(
        f"{verdict}; {summary['completed_share']:.0%} of {summary['replications']} replications "
        f"completed within the horizon; {summary['wall_seconds']:.1f} s",
        markup=False,
    )


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
