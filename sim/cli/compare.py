"""`migsim compare`: is plan B better than plan A, on the same dice?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from sim.cli.common import (
    BadInput,
    RunOptions,
    app,
    load_scenario,
    out_option,
    progress_bar,
    simulate_into,
    simulating_command,
    stdout,
)
from sim.experiments.compare import COMPARE_FILES, Comparison, write_comparison
from sim.experiments.compare import compare as compare_plans
from sim.model.scenario import Scenario, parse_override, with_overrides
from sim.outputs.headline import percent


@app.command(short_help="Compare plans on the same random numbers: days earlier, P(meet).")
@simulating_command
def compare(
    options: RunOptions,
    others: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Other scenario files (TOML), each compared with SCENARIO.",
            show_default=False,
            metavar="OTHER",
        ),
    ] = None,
    alt: Annotated[
        list[str] | None,
        typer.Option(
            "--alt",
            metavar="NAME:KEY=VALUE[;KEY=VALUE]",
            help="SCENARIO with overrides, named (repeatable): --alt '30k:batches.weekday=30000'.",
        ),
    ] = None,
    out: Annotated[
        Path | None, out_option("Write summary.json, comparison.parquet and compare.png here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """Compare SCENARIO (the base) with other scenario files and --alt variants of it.

    Every plan runs the same replications on the same seeds, so each difference is
    the plans' own: days earlier (base minus plan; P10/P50/P90), the share of
    replications finishing earlier, and the difference of P(meet deadline) with its
    paired 95% interval. --set applies to every file.
    """
    base = options.load()
    plans = {base.name: base}
    for path in others or []:
        sc = load_scenario(path, options.set_)
        plans[_free_name(plans, sc.name, path.stem)] = sc
    for text in alt or []:
        name, sc = parse_alt(text, base)
        if name in plans:
            raise BadInput(f"--alt: another plan is named {name!r}")
        plans[name] = sc
    if len(plans) < 2:
        raise BadInput("compare: give another scenario file or an --alt to compare SCENARIO with")
    replications = options.replications_of(base)

    def simulate() -> Comparison:
        with progress_bar(replications * len(plans), "replications") as advance:
            return compare_plans(
                plans,
                replications,
                options.seed,
                options.workers,
                dask=options.dask,
                progress=advance,
                max_memory_gb=options.max_memory,
            )

    comparison = simulate_into(out, COMPARE_FILES, "the comparison", simulate, write_comparison)
    if as_json:
        stdout.print_json(json.dumps(comparison.summary, default=str))
        return
    print_comparison(comparison)
    if out is not None:
        stdout.print(f"comparison written to {out}/", markup=False)


def parse_alt(text: str, base: Scenario) -> tuple[str, Scenario]:
    """``NAME:KEY=VALUE[;KEY=VALUE]`` as a name and the base with those overrides."""
    name, _, assignments = text.partition(":")
    name = name.strip()
    if not name or "=" in name or not assignments.strip():
        raise BadInput(f"--alt: expected NAME:KEY=VALUE[;KEY=VALUE] (got {text!r})")
    overrides = dict(
        parse_override(part.strip(), source="--alt") for part in assignments.split(";") if part
    )
    return name, with_overrides(base, overrides, source="--alt")


def _free_name(taken: dict, name: str, stem: str) -> str:
    for candidate in (name, stem):
        if candidate not in taken:
            return candidate
    number = 2
    while f"{stem} ({number})" in taken:
        number += 1
    return f"{stem} ({number})"


def print_comparison(comparison: Comparison) -> None:
    """Each plan against the base, a few lines each, as a board would read them."""
    summary = comparison.summary
    base_interval = comparison.results[summary["base"]].summary.get("completion_interval") or {}
    stdout.print(
        f"Compared with {summary['base']!r} (the base): {summary['replications']:,} "
        f"replications of each plan on the same seeds (seed {summary['seed']})",
        markup=False,
    )
    stdout.print(
        f"  {summary['base']} (base): {_dates(summary['completion'], base_interval)}; "
        f"P(meet deadline) {_share(summary.get('p_meet_deadline'))}",
        markup=False,
    )
    for alt in summary["alternatives"]:
        days = alt["days_earlier"]
        stdout.print(
            f"  {alt['name']}: {_dates(alt['completion'], alt.get('completion_interval') or {})}; "
            f"P(meet deadline) {_share(alt['p_meet_deadline'])}",
            markup=False,
        )
        line = (
            f"    {_days(days['p50'])} at P50 (P10 {_signed(days['p10'])}, "
            f"P90 {_signed(days['p90'])} days); earlier in {_share(alt['p_earlier'])} "
            "of replications"
        )
        if alt["p_meet_difference"] is not None:
            low, high = alt["p_meet_difference_interval"]
            line += (
                f"; P(meet) {alt['p_meet_difference'] * 100:+.1f} points "
                f"(95% interval {low * 100:+.1f} to {high * 100:+.1f})"
            )
        stdout.print(line, markup=False)
    stdout.print(
        "  days earlier = base minus plan in each replication (positive: the plan finishes "
        f"earlier); {summary['wall_seconds']:.1f} s",
        markup=False,
    )


def _dates(completion: dict, intervals: dict) -> str:
    return (
        f"P50 {_date_with_interval(completion['p50'], intervals.get('p50'))}, "
        f"P90 {_date_with_interval(completion['p90'], intervals.get('p90'))}"
    )


def _days(days: int | None) -> str:
    if days is None:
        return "finish time unknown (beyond the horizon)"
    if days == 0:
        return "finishes the same day"
    unit = "day" if abs(days) == 1 else "days"
    return f"finishes {abs(days)} {unit} {'earlier' if days > 0 else 'later'}"


def _signed(days: int | None) -> str:
    return "?" if days is None else f"{days:+d}"


def _date_with_interval(date: str | None, interval: list | None) -> str:
    if date is None:
        return "not done"
    if not interval:
        return date
    return f"{date} [95%: {interval[0]} to {interval[1] or 'beyond the horizon'}]"


def _share(share: float | None) -> str:
    return "-" if share is None else percent(share)
