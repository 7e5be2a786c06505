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
    DaskOpt,
    ReplicationsOpt,
    ScenarioArg,
    SeedOpt,
    SetOpt,
    WorkersOpt,
    app,
    guarded,
    load_scenario,
    positive,
    progress_bar,
    stdout,
)
from sim.experiments import check as check_mod


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
