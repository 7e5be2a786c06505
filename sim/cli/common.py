"""What every ``migsim`` command shares: the app, options, errors and progress bars.

Exit codes: 0 success; 1 ``check`` found the plan misses its deadline; 2 bad
input (usage, a missing or malformed file, an invalid value), reported as one
line naming the file and the dotted key, with no traceback unless ``--debug``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sim.experiments.runner import run as run_replications
from sim.model import scenario as scenario_mod
from sim.model.scenario import Scenario, ScenarioError

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


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"
