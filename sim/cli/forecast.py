"""`migsim forecast`: re-forecast a migration under way from its daily actuals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from sim.cli.common import (
    RunOptions,
    app,
    out_option,
    progress_bar,
    simulate_into,
    simulating_command,
    stdout,
)
from sim.cli.run import print_summary
from sim.experiments.actuals import read_actuals
from sim.experiments.forecast import forecast as run_forecast
from sim.outputs.files import RESULT_FILES, write_result, write_with
from sim.outputs.headline import doubt_lines

FORECAST_FILES = (*RESULT_FILES, "forecast.png")
LEARNED_LABELS = {
    "pace": "pace (share of the expected cutovers)",
    "failures.rate": "failure rate per attempt",
    "tickets_per_migrated_user": "tickets per migrated user",
}


@app.command(short_help="Re-forecast a migration under way from its daily actuals.")
@simulating_command
def forecast(
    options: RunOptions,
    actuals: Annotated[
        Path,
        typer.Option(
            "--actuals",
            metavar="CSV",
            help="Daily counts: date,migrated[,failed,tickets_opened] up to the as-of day.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path | None,
        out_option("Write summary.json, forecast.png (with the plan's fan) and the tables here."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Re-forecast from the actuals: start from the observed state, learn, simulate the rest."""
    sc = options.load()
    frame = read_actuals(actuals)
    replications = options.replications_of(sc)

    def simulate():
        runs = replications * (2 if out is not None else 1)  # with --out, the plan's too
        with progress_bar(runs, "replications") as advance:
            return run_forecast(
                sc,
                frame,
                replications=replications,
                seed=options.seed,
                workers=options.workers,
                dask=options.dask,
                max_memory_gb=options.max_memory,
                progress=advance,
                plan=out is not None,  # the plan's fan is drawn behind the forecast
                source=str(actuals),
            )

    def write(staging: Path, result) -> None:
        from sim.outputs.forecast_plot import forecast_figure

        figure = forecast_figure(result)
        write_with(staging / "forecast.png", lambda tmp: figure.savefig(tmp, format="png"))
        write_result(staging, result)

    result = simulate_into(out, FORECAST_FILES, "the forecast", simulate, write)
    if as_json:
        stdout.print_json(json.dumps(result.summary, default=str))
        return
    print_summary(result.summary)
    for line in doubt_lines(result.summary, sc.scenario.confidence):
        stdout.print(line, markup=False)
    print_observed(result.summary)
    if out is not None:
        stdout.print(f"forecast written to {out}/", markup=False)


def print_observed(summary: dict) -> None:
    """What the actuals said, in a few lines."""
    seen = summary["observed"]
    stdout.print(
        f"as of {summary['as_of']}: {seen['migrated']:,} migrated "
        f"(the plan expected {seen['expected_by_as_of']:,}), {seen['remaining']:,} left; "
        f"about {seen['ticket_backlog_estimate']:,} tickets open",
        markup=False,
    )
    for key, label in LEARNED_LABELS.items():
        if key in seen:
            rate = seen[key]
            stdout.print(
                f"  {label}: seen {_pct(rate['observed'])}, prior {_pct(rate['prior_mean'])}, "
                f"now {_pct(rate['posterior_mean'])} (P10-P90 {_pct(rate['p10'])}-"
                f"{_pct(rate['p90'])})",
                markup=False,
            )


def _pct(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1%}" if value >= 0.1 else f"{value:.3%}"
