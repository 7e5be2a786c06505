"""`migsim solve`: the smallest plan (or the largest tolerable rate) that meets the deadline."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from sim.cli.common import (
    EXIT_MISSED,
    EXIT_OK,
    BadInput,
    ConfidenceOpt,
    DeadlineOpt,
    RunOptions,
    app,
    checked_confidence,
    progress_bar,
    simulating_command,
    stdout,
)
from sim.experiments import check as check_mod
from sim.experiments import solve as solve_mod
from sim.experiments.keys import numeric_key


@app.command(short_help="The smallest plan (or largest rate) that meets the deadline.")
@simulating_command
def solve(
    options: RunOptions,
    key: Annotated[
        str,
        typer.Option(
            "--for", metavar="KEY", help="The numeric key to solve for, e.g. batches.weekday."
        ),
    ],
    low: Annotated[
        float | None,
        typer.Option(
            "--low",
            metavar="L",
            help="Smallest value to consider (default: the plan's value / 4 or the key's least).",
        ),
    ] = None,
    high: Annotated[
        float | None,
        typer.Option(
            "--high",
            metavar="H",
            help="Largest value to consider (default: the plan's value x 4).",
        ),
    ] = None,
    confidence: ConfidenceOpt = None,
    deadline: DeadlineOpt = None,
    wait_hours_p90: Annotated[
        float | None,
        typer.Option(
            "--wait-hours-p90",
            metavar="HOURS",
            help="Also keep the P90 ticket wait at or under this many hours.",
        ),
    ] = None,
    direction: Annotated[
        str | None,
        typer.Option(
            "--direction",
            metavar="DIRECTION",
            help="larger_helps (answer: smallest meeting) or smaller_helps (largest tolerable); "
            "default from the key.",
        ),
    ] = None,
    tolerance: Annotated[
        float | None,
        typer.Option(
            "--tolerance",
            metavar="T",
            help="Real-valued keys: stop when the bracket is this narrow.",
        ),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Find the smallest value of a key that meets the deadline at the confidence (exit 1: none)."""
    sc = options.load()
    checked_confidence(confidence)  # errors name the option, not the Python argument
    if deadline is not None:
        check_mod.deadline_applied(sc, deadline, str(options.scenario), option="--deadline")
    if direction is not None and direction not in ("larger_helps", "smaller_helps"):
        raise BadInput(f"--direction: must be larger_helps or smaller_helps (got {direction!r})")
    if deadline is None and wait_hours_p90 is None and sc.scenario.deadline is None:
        raise BadInput(
            f"{options.scenario}: scenario.deadline: no deadline to solve for: "
            "set it in the file or pass --deadline"
        )
    spec = numeric_key(sc, key, "--for")
    if spec.integer:  # typer reads --low/--high as floats; a whole-number key takes ints
        low, high = (int(v) if v is not None and float(v).is_integer() else v for v in (low, high))
    bound = _evaluation_bound(sc, key, low, high, direction, tolerance)
    with progress_bar(bound, f"solve {key}") as advance:
        solution = solve_mod.solve(
            sc,
            key,
            low,
            high,
            confidence=confidence,
            deadline=deadline,
            wait_hours_p90=wait_hours_p90,
            direction=direction,
            tolerance=tolerance,
            replications=options.replications,
            seed=options.seed,
            workers=options.workers,
            dask=options.dask,
            max_memory_gb=options.max_memory,
            progress=advance,
            source="--for",
            names=solve_mod.CLI_NAMES,
        )
    if json_:
        stdout.print(json.dumps(solution.to_dict(), indent=2, default=str), markup=False)
    else:
        stdout.print(describe(solution), markup=False)
    raise typer.Exit(EXIT_OK if solution.found else EXIT_MISSED)


def _evaluation_bound(sc, key, low, high, direction, tolerance) -> int:
    """The progress bar's length: the most evaluations the search can need."""
    spec = numeric_key(sc, key, "--for")
    direction = direction or ("smaller_helps" if key in solve_mod.SMALLER_HELPS else "larger_helps")
    lo, hi = solve_mod._range(spec, low, high, direction, solve_mod.CLI_NAMES)
    step = 1 if spec.integer else solve_mod._tolerance(tolerance, lo, hi, solve_mod.CLI_NAMES)
    return solve_mod.max_evaluations(lo, hi, step)


def describe(solution: solve_mod.Solution) -> str:
    """A paragraph for a person: the answer, what it gives, and how it was found."""
    targets = []
    if solution.deadline is not None:
        targets.append(f"P(done by {solution.deadline}) >= {solution.confidence:.0%}")
    if solution.wait_hours_p90_limit is not None:
        targets.append(f"P90 ticket wait <= {solution.wait_hours_p90_limit:g} h")
    target = " and ".join(targets)
    plural = "s" if solution.evaluations != 1 else ""
    searched = (
        f"{solution.evaluations} evaluation{plural} of {solution.replications} replications "
        f"(seed {solution.seed}, the same at every candidate), {solution.wall_seconds:.1f} s"
    )
    if not solution.found:
        return (
            f"NOT FOUND: no value of {solution.key} in [{_value(solution.low)}, "
            f"{_value(solution.high)}] meets {target}; {searched}."
        )
    best = solution.best
    verb = "smallest" if solution.direction == "larger_helps" else "largest tolerable"
    if solution.at_range_end:
        precision = "the whole range meets it: widen the range to look further"
    elif solution.integer:
        precision = "exact: whole numbers"
    else:
        precision = f"within {solution.tolerance:.3g} of the boundary"
    p_meet = "-" if best.p_meet_deadline is None else f"{best.p_meet_deadline:.0%}"
    return (
        f"{solution.key} = {_value(solution.value)}: the {verb} value in "
        f"[{_value(solution.low)}, {_value(solution.high)}] that meets {target} ({precision}). "
        f"At that value P(meet) = {p_meet}, completion P50 {best.completion_p50 or 'not reached'}, "
        f"P90 {best.completion_p90 or 'not reached'}, P90 ticket wait "
        f"{best.wait_hours_p90:.1f} h. {searched}."
    )


def _value(value) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:.6g}"
