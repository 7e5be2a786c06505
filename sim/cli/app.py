"""`migsim app`: the what-if page in a browser (Panel), loopback unless asked otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sim.cli.common import BadInput, SetOpt, app, load_scenario


@app.command(name="app", short_help="Serve the what-if page in a browser.")
def app_command(
    scenario: Annotated[
        Path | None,
        typer.Argument(
            metavar="SCENARIO",
            help="Scenario TOML file. Default: the bundled NHSmail reference.",
            show_default=False,
        ),
    ] = None,
    host: Annotated[
        str,
        typer.Option(
            metavar="HOST",
            help="Address to listen on. Anything but loopback lets others run simulations here.",
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="PORT", help="Port to listen on.")] = 5006,
    allow_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-origin",
            metavar="HOST:PORT",
            help="Another address browsers use to reach the page (e.g. behind a proxy).",
        ),
    ] = None,
    set_: SetOpt = None,
) -> None:
    """Serve the what-if page: the plan's main inputs as a form, Run, the verdict and charts."""
    from sim.app import REFERENCE, PanelMissing, require_panel

    try:
        require_panel()
    except PanelMissing as error:
        raise BadInput(f"migsim app: {error}") from None
    if not 0 <= port <= 65535:
        raise BadInput(f"--port: must be between 0 and 65535 (got {port})")
    if scenario is None and not REFERENCE.exists():
        raise BadInput("migsim app: give a SCENARIO (the bundled reference is not installed here)")
    sc = load_scenario(scenario or REFERENCE, set_)
    from sim.app.serve import serve

    serve(sc, host=host, port=port, allow_origins=allow_origin or ())
