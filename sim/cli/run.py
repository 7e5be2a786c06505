"""`migsim run`, `validate` and `report`: one scenario, simulated and shown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sim.cli.common import (
    DaskOpt,
    ReplicationsOpt,
    ScenarioArg,
    SeedOpt,
    SetOpt,
    WorkersOpt,
    _fmt,
    app,
    guarded,
    load_scenario,
    simulate_for_cli,
    stderr,
    stdout,
)
from sim.experiments.results import too_few_replications
from sim.model.calendar import build_calendar
from sim.outputs.files import write_result


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
        warning = too_few_replications(result.summary, sc.scenario.confidence)
        if warning:
            stderr.print(warning, markup=False)
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
        if sc.uncertain or sc.risks:
            stdout.print(
                f"  uncertain: {', '.join(sc.uncertain) or 'none'}; "
                f"risks: {', '.join(r.name for r in sc.risks) or 'none'}",
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
    interval = summary.get("p_meet_deadline_interval")
    if interval:
        verdict += f" (Monte Carlo 95%: {interval[0]:.1%}-{interval[1]:.1%})"
    stdout.print(
        f"{verdict}; {summary['completed_share']:.0%} of {summary['replications']} replications "
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
