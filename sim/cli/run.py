"""`migsim run`, `validate` and `report`: one scenario, simulated and shown."""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sim.cli.common import (
    EXIT_BAD_INPUT,
    MaxReplicationsOpt,
    PrecisionOpt,
    RunOptions,
    ScenarioArg,
    SetOpt,
    app,
    checked_confidence,
    checked_precision,
    fmt_number,
    load_scenario,
    out_option,
    precision_line,
    simulate_for_cli,
    simulate_into,
    simulating_command,
    stderr,
    stdout,
)
from sim.cli.errors import state as error_state
from sim.experiments.metrics import METRICS, metric
from sim.experiments.results import DEFAULT_PRECISION_DAYS, precision_advice
from sim.experiments.runner import default_workers
from sim.model.calendar import build_calendar
from sim.model.feasibility import estimate, problems, warnings
from sim.model.lanes import compile_lanes
from sim.model.scenario import ScenarioError
from sim.outputs.files import RESULT_FILES, write_result
from sim.outputs.headline import doubt_lines

REPORT_FILES = ("report.html", "*.png", "*.svg")


@app.command(short_help="Simulate a scenario: when it finishes and the desk's load.")
@simulating_command
def run(
    options: RunOptions,
    out: Annotated[
        Path | None, out_option("Write summary.json, runs/daily/mailboxes.parquet here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    precision: PrecisionOpt = None,
    max_replications: MaxReplicationsOpt = None,
) -> None:
    """Simulate a scenario: completion date distribution, support load, and more.

    With --precision DAYS, replications are added in blocks of -n until the P90 date's
    95% interval is within +-DAYS (or --max-replications have run)."""
    sc = options.load()
    checked_precision(precision, max_replications, options.replications_of(sc))

    def simulate():
        return simulate_for_cli(sc, options, precision=precision, max_replications=max_replications)

    result = simulate_into(out, RESULT_FILES, "the results", simulate, write_result)
    if as_json:
        stdout.print_json(json.dumps(result.summary, default=str))
    else:
        print_summary(result.summary)
        line = precision_line(result.summary)
        if line:
            stdout.print(line, markup=False)
        confidence = sc.scenario.confidence
        advice = precision_advice(
            result.runs["completion_date"], confidence, days=precision or DEFAULT_PRECISION_DAYS
        )
        for line in doubt_lines(result.summary, confidence, interval_line=False, advice=advice):
            stdout.print(line, markup=False)
        if out is not None:
            stdout.print(f"results written to {out}/", markup=False)


@app.command(short_help="Check a scenario file and describe the plan it makes.")
def validate(scenario: ScenarioArg, set_: SetOpt = None) -> None:
    """Check a scenario file and describe the plan it makes (exit 2 if it can never finish).

    Every problem is listed, one line each on stderr: a plan passes validate
    exactly when run, check, sweep, solve, sensitivity and forecast accept it.
    """
    try:
        sc = load_scenario(scenario, set_)
    except ScenarioError as error:
        _refuse(error.problems)
    cal = build_calendar(sc)
    found = problems(sc, cal, workers=default_workers(), replications=sc.scenario.replications)
    if found:
        _refuse(found)
    days = cal.cutover_days
    capacity = sum(int(lane.batch_size.sum()) for lane in compile_lanes(sc, cal))
    mailboxes = sc.population.mailboxes
    sized = estimate(sc, sc.scenario.replications, default_workers())
    stdout.print(f"{scenario}: ok: {sc.name!r}", markup=False)
    stdout.print(
        f"  {mailboxes:,} mailboxes; {len(days)} cutover days from "
        f"{cal.date_of(days[0])} within the {sc.scenario.horizon_days}-day horizon; "
        f"planned capacity {capacity:,} users; {sc.scenario.replications:,} replications "
        f"need {sized.describe()} on {default_workers()} workers",
        markup=False,
    )
    if sc.uncertain or sc.risks:
        stdout.print(
            f"  uncertain: {', '.join(sc.uncertain) or 'none'}; "
            f"risks: {', '.join(r.name for r in sc.risks) or 'none'}",
            markup=False,
        )
    for line in warnings(sc):
        stdout.print(f"  warning: {line}", markup=False)


@app.command(short_help="Simulate and write a self-contained HTML report.")
@simulating_command
def report(
    options: RunOptions,
    out: Annotated[Path, out_option("Folder for report.html (replaced whole).")],
    confidence: Annotated[
        float | None,
        typer.Option(
            "--confidence",
            metavar="P",
            help="Target P(done by deadline), 0-1 (default: scenario's).",
        ),
    ] = None,
) -> None:
    """Simulate a scenario and write a self-contained HTML report with plots."""
    from sim.model.scenario import parse_override
    from sim.outputs.report import write_report

    checked_confidence(confidence)
    sc = options.load()
    overrides = dict(parse_override(a, source="--set") for a in options.set_ or [])
    simulate_into(
        out,
        REPORT_FILES,
        "the report",
        lambda: simulate_for_cli(sc, options),
        lambda staging, result: write_report(
            staging, result, confidence=confidence, overrides=overrides
        ),
    )
    stdout.print(f"report written to {out / 'report.html'}", markup=False)


def _refuse(found: list[ScenarioError]) -> typing.NoReturn:
    """Every problem, one line each on stderr (the first for each key); exit 2.

    ``--debug``: the first, raised.
    """
    if error_state.debug:
        raise found[0]
    found = list({(error.source, error.key): error for error in reversed(found)}.values())[::-1]
    for error in found:
        stderr.print(getattr(error, "cli", str(error)), markup=False)
    raise typer.Exit(EXIT_BAD_INPUT)


def print_summary(summary: dict) -> None:
    """The summary as a short table for a person (rows from the metrics record)."""
    quantiles = ("p10", "p50", "p90")
    table = Table(title=summary["scenario"], show_header=True, header_style="bold")
    table.add_column("measure")
    for q in quantiles:
        table.add_column(q.upper(), justify="right")
    for m in METRICS:
        if not m.in_table:
            continue
        try:
            values = m.read(summary)
        except KeyError:
            continue  # not produced by this model
        if m.kind == "date":
            table.add_row(m.label, *(str(values[q] or "not done") for q in quantiles))
            intervals = summary.get("completion_interval") or {}
            table.add_row("  its 95% CI", *(_interval_cell(intervals.get(q)) for q in quantiles))
        else:
            table.add_row(m.label, *(fmt_number(values.get(q)) for q in quantiles))
    stdout.print(table)
    p = metric("met_deadline").read(summary)
    deadline = summary["deadline"] or "no deadline set"
    verdict = f"P(done by {deadline}) = {p:.1%}" if p is not None else deadline
    interval = summary.get("p_meet_deadline_interval")
    if p is not None and interval:
        verdict += f" (95% interval {interval[0]:.0%} to {interval[1]:.0%})"
    completed = metric("completed").read(summary)
    stdout.print(
        f"{verdict}; {completed:.0%} of {summary['replications']} replications "
        f"completed within the horizon; {summary['wall_seconds']:.1f} s",
        markup=False,
    )
    if summary.get("uncertain") or summary.get("risks"):
        risks = ", ".join(f"{k} {v:.0%}" for k, v in summary.get("risks", {}).items())
        stdout.print(
            f"uncertain: {', '.join(summary.get('uncertain', [])) or 'none'}"
            + (f"; risks struck in: {risks}" if risks else ""),
            markup=False,
        )


def _interval_cell(interval: list | None) -> str:
    """A completion quantile's 95% interval, short: "2021-01-28 to 02-04"."""
    if not interval:
        return "too few reps"
    low, high = interval
    if high is None:
        return f"{low} to beyond"
    return f"{low} to {high[5:] if high[:4] == low[:4] else high}"
