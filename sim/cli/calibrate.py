"""`migsim calibrate`: a pilot's move report in, the scenario's speeds and failures out."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from sim.cli.common import (
    RunOptions,
    ScenarioArg,
    SetOpt,
    app,
    if_interrupted,
    stdout,
    was_there,
)
from sim.experiments.calibrate import Calibration
from sim.experiments.calibrate import calibrate as fit
from sim.model.scenario import ScenarioError, loads, parse_override
from sim.outputs.files import OutputError, check_writable_file, write_text, write_with

PLOT_NAME = "calibration.png"


@app.command(short_help="Fit move speeds and the failure rate from a pilot's move report.")
def calibrate(
    scenario: ScenarioArg,
    moves: Annotated[
        Path,
        typer.Option(
            "--moves",
            metavar="CSV",
            help="Get-MoveRequest | Get-MoveRequestStatistics | Export-Csv of the pilot.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="NEW.toml",
            help="Write the calibrated scenario here, and calibration.png beside it.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the fit as JSON.")] = False,
    set_: SetOpt = None,
) -> None:
    """Fit throttle.per_move_gb_per_hour, per_move_sigma, per_move_items_per_hour and
    failures.rate from the moves of a pilot; each key states its evidence."""
    sc = RunOptions(scenario, set_=set_).load()
    if out is not None:
        if out.suffix.lower() != ".toml":
            raise OutputError(f"--out: must name a .toml file (got {out})")
        for path in (out, out.with_name(PLOT_NAME)):
            check_writable_file(path)
    result = fit(sc, moves, source=str(moves))
    if out is not None:
        overrides = dict(parse_override(a, source="--set") for a in set_ or [])
        _write(result, scenario, out, overrides)
    if as_json:
        stdout.print_json(json.dumps(result.summary, default=str))
        return
    print_fit(result)
    if out is not None:
        stdout.print(
            f"calibrated scenario written to {out} (and {out.with_name(PLOT_NAME)})", markup=False
        )


def print_fit(result: Calibration) -> None:
    counts = ", ".join(f"{v} {k}" for k, v in result.report.counts().items())
    stdout.print(f"{result.source}: {len(result.report)} moves ({counts})", markup=False)
    for row in result.fits:
        value = result.table.set_index("key").at[row.key, "value"] if row.fitted else None
        shown = f"= {value}" if row.fitted else "(unchanged)"
        stdout.print(f"  {row.key} {shown}", markup=False)
        stdout.print(f"      {row.evidence}", markup=False)


def _write(result: Calibration, scenario: Path, out: Path, overrides: dict) -> None:
    """The scenario file with the fitted keys (and ``--set``) replaced, checked to load,
    then the picture."""
    text = scenario.read_text(encoding="utf-8")
    extra = {key: (value, "from --set") for key, value in overrides.items()}
    inventory = result.base.population.inventory
    if inventory is not None and _folder(out) != _folder(scenario):
        moved = os.path.relpath(inventory, _folder(out))
        extra["population.inventory"] = (moved, "relative to this file's folder")
    try:
        new_text = result.toml(text, extra=extra)
    except ValueError as error:
        raise ScenarioError(str(scenario), "", str(error)) from None
    loads(new_text, source=str(out), base_dir=_folder(out))  # runs as is, or nothing is written
    figure = result.plot()
    with if_interrupted(f"{was_there(out)}; nothing was written", f"{out} holds the scenario"):
        write_with(out.with_name(PLOT_NAME), lambda tmp: figure.savefig(tmp, format="png"))
        write_text(out, new_text)


def _folder(path: Path) -> Path:
    return Path(os.path.abspath(path)).parent
