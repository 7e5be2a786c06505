"""`migsim check`: the deadline gate for CI."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from sim.cli.common import (
    EXIT_MISSED,
    EXIT_OK,
    BadInput,
    ConfidenceOpt,
    DeadlineOpt,
    MaxReplicationsOpt,
    PrecisionOpt,
    RunOptions,
    app,
    checked_confidence,
    checked_precision,
    if_interrupted,
    precision_line,
    progress_bar,
    simulating_command,
    stdout,
)
from sim.experiments import check as check_mod
from sim.outputs.files import OutputError, check_writable_file
from sim.outputs.headline import doubt_warnings


@app.command(short_help="CI gate: exit 0 if the plan meets its deadline, 1 if not.")
@simulating_command
def check(
    options: RunOptions,
    deadline: DeadlineOpt = None,
    confidence: ConfidenceOpt = None,
    junit: Annotated[
        Path | None,
        typer.Option("--junit", metavar="FILE", help="Write a JUnit XML report to this file."),
    ] = None,
    precision: PrecisionOpt = None,
    max_replications: MaxReplicationsOpt = None,
) -> None:
    """Exit 0 if the plan meets its deadline at the required confidence, 1 if not.

    With --precision DAYS, replications are added until the date at the required
    confidence is known to +-DAYS (95%), or --max-replications have run.
    2: bad input (found before simulating); 3: the check could not finish.
    """
    sc = options.load()
    sc = check_mod.deadline_applied(
        sc,
        deadline,
        sc.source_of("scenario.deadline"),
        option="--deadline",
        remedy="set it in the file or pass --deadline",
    )
    checked_confidence(confidence)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    for path, option in ((junit, "--junit"), (step_summary, "GITHUB_STEP_SUMMARY")):
        if path:
            try:
                check_writable_file(path)
            except OutputError as error:
                raise BadInput(f"{option}: {error}") from None
    replications = options.replications_of(sc)
    precision, max_replications = checked_precision(precision, max_replications, replications)
    total = (max_replications or max(1000, replications)) if precision else replications
    with progress_bar(total, "replications") as advance:
        verdict = check_mod.check(
            sc,
            confidence=confidence,
            replications=replications,
            seed=options.seed,
            workers=options.workers,
            dask=options.dask,
            progress=advance,
            source=str(options.scenario),
            max_memory_gb=options.max_memory,
            precision_days=precision,
            max_replications=max_replications,
        )
    stdout.print(verdict.paragraph(), markup=False)
    if verdict.done_by_interval:
        low, high = verdict.done_by_interval
        stdout.print(
            f"95% interval of the date at {verdict.confidence:.0%} confidence: "
            f"{low} to {high or 'beyond the horizon'}",
            markup=False,
        )
    line = precision_line({"precision": verdict.precision})
    if line:
        stdout.print(line, markup=False)
    for text in doubt_warnings(
        verdict.replications, verdict.confidence, verdict.p_meet_interval, advice=verdict.advice
    ):
        stdout.print(f"warning: {text}", markup=False)
    for text in verdict.warnings:
        stdout.print(f"warning: {text}", markup=False)
    saved_to = " and ".join(str(p) for p in (junit, step_summary) if p)
    if saved_to:
        with if_interrupted(
            f"the verdict above was not saved to {saved_to}",
            f"the verdict was saved to {saved_to}",
        ):
            if junit:
                check_mod.write_junit(junit, verdict)
            if step_summary:
                check_mod.append_step_summary(step_summary, verdict)
    raise typer.Exit(EXIT_OK if verdict.passed else EXIT_MISSED)
