"""What every ``migsim`` command shares: the app, its options and progress bars.

A command that simulates declares only its own options and is decorated with
:func:`simulating_command`, which adds SCENARIO, ``--set``, ``-n``,
``--seed``, ``-w``, ``--dask`` and ``--max-memory`` and hands them over as one
:class:`RunOptions`. Errors and exit codes are mapped in :mod:`sim.cli.errors`.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import threading
import time
import typing
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sim.cli.errors import (  # noqa: F401  (re-exported: every command imports from here)
    EXIT_BAD_INPUT,
    EXIT_COULD_NOT_FINISH,
    EXIT_INTERRUPTED,
    EXIT_MISSED,
    EXIT_OK,
    BadInput,
    MigsimGroup,
    if_interrupted,
    stderr,
)
from sim.experiments.runner import default_workers
from sim.experiments.runner import run as run_replications
from sim.model import scenario as scenario_mod
from sim.model.feasibility import duration, estimate
from sim.model.numbers import MAX_INT
from sim.model.scenario import Scenario

stdout = Console(highlight=False, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        try:
            version = metadata.version("migsim")
        except metadata.PackageNotFoundError:
            version = "unknown"
        stdout.print(f"migsim {version}", markup=False)
        raise typer.Exit(EXIT_OK)


app = typer.Typer(
    cls=MigsimGroup,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Discrete-event capacity simulator for very large mailbox migrations.",
)


@app.callback()
def _options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks (anywhere on the command line).")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Show the version and exit.", callback=_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Discrete-event capacity simulator for very large mailbox migrations."""


# --- options shared by several commands -------------------------------------------------------

ScenarioArg = Annotated[
    Path, typer.Argument(help="Scenario TOML file.", show_default=False, metavar="SCENARIO")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="Override a key: --set batches.weekday=30000 (repeatable).",
    ),
]

DeadlineOpt = Annotated[
    str | None,
    typer.Option(
        "--deadline", metavar="DATE", help="YYYY-MM-DD (default: the scenario's deadline)."
    ),
]
ConfidenceOpt = Annotated[
    float | None,
    typer.Option(
        "--confidence",
        metavar="P",
        help="Required P(done by deadline), 0-1 (default: the scenario's).",
    ),
]


def checked_confidence(confidence: float | None) -> float | None:
    """``--confidence`` as given, after checking it is a probability in (0, 1] (bad input: 2)."""
    if confidence is not None and not 0 < confidence <= 1:
        raise BadInput(f"--confidence: must be > 0 and <= 1 (got {confidence})")
    return confidence


@dataclass(frozen=True)
class RunOptions:
    """The options of every command that simulates: what to load and how to run it."""

    scenario: Path
    set_: list[str] | None = None
    replications: int | None = None
    seed: int | None = None
    workers: int | None = None
    dask: str | None = None
    max_memory: float | None = None

    def load(self) -> Scenario:
        """The scenario with ``--set`` applied, after checking the options (bad input: 2)."""
        positive(self.replications, "--replications")
        positive(self.workers, "--workers")
        if self.seed is not None and self.seed < 0:
            raise BadInput(f"--seed: must be >= 0 (got {self.seed})")
        if self.seed is not None and self.seed > MAX_INT:
            raise BadInput(f"--seed: must be at most {MAX_INT:,} (got {self.seed:,})")
        if self.max_memory is not None and not self.max_memory > 0:
            raise BadInput(f"--max-memory: must be > 0 GB (got {self.max_memory})")
        return load_scenario(self.scenario, self.set_)

    def replications_of(self, sc: Scenario) -> int:
        return self.replications or sc.scenario.replications


_RUN_OPTIONS: dict[str, Any] = {
    "scenario": ScenarioArg,
    "set_": SetOpt,
    "replications": Annotated[
        int | None,
        typer.Option("--replications", "-n", metavar="N", help="Monte Carlo replications."),
    ],
    "seed": Annotated[int | None, typer.Option("--seed", metavar="S", help="Master seed (>= 0).")],
    "workers": Annotated[
        int | None,
        typer.Option("--workers", "-w", metavar="N", help="Worker processes (default: all cores)."),
    ],
    "dask": Annotated[
        str | None,
        typer.Option(
            "--dask",
            metavar="ADDRESS",
            help="Run on a dask.distributed scheduler ADDRESS, or 'local'.",
        ),
    ],
    "max_memory": Annotated[
        float | None,
        typer.Option(
            "--max-memory",
            metavar="GB",
            help="Memory the run may use (default: this machine's); larger runs are refused.",
        ),
    ],
}


def simulating_command(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command the shared options; it receives them as ``options: RunOptions``.

    The command declares only what is its own (``--out``, ``--json``, ...);
    SCENARIO, ``--set``, ``-n``, ``--seed``, ``-w``, ``--dask`` and
    ``--max-memory`` are declared once, here.
    """
    own = [
        p
        for p in inspect.signature(command, eval_str=True).parameters.values()
        if p.name != "options"
    ]
    shared = [
        inspect.Parameter(
            name,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            annotation=annotation,
            default=inspect.Parameter.empty if name == "scenario" else None,
        )
        for name, annotation in _RUN_OPTIONS.items()
    ]
    hints = typing.get_type_hints(command, include_extras=True)
    hints.pop("options", None)

    @functools.wraps(command)
    def with_options(**values: Any) -> Any:
        options = RunOptions(**{name: values.pop(name) for name in _RUN_OPTIONS})
        return command(options=options, **values)

    # SCENARIO first (an argument), then the command's own options, then the shared ones.
    with_options.__signature__ = inspect.Signature([shared[0], *own, *shared[1:]])
    with_options.__annotations__ = {**hints, **_RUN_OPTIONS}
    del with_options.__wrapped__
    return with_options


def out_option(help_text: str):
    """``--out DIR`` with its help."""
    return typer.Option("--out", metavar="DIR", help=help_text, show_default=False)


def load_scenario(path: Path, assignments: list[str] | None) -> Scenario:
    """Load a scenario with ``--set`` overrides; errors name the file, or ``--set``, and the key."""
    overrides = dict(scenario_mod.parse_override(a, source="--set") for a in assignments or [])
    return scenario_mod.load(path, overrides, source=str(path), override_source="--set")


def positive(value: int | None, name: str) -> int | None:
    """``value`` if it is None or >= 1; else :class:`BadInput` naming the option."""
    if value is not None and value < 1:
        raise BadInput(f"{name}: must be >= 1 (got {value})")
    return value


def show_progress() -> bool:
    """A progress bar only for a person at a terminal."""
    return sys.stderr.isatty() and not os.environ.get("CI")


PROGRESS_EVERY_SECONDS = 10.0  # without a terminal: a line this often while work lasts


@contextmanager
def progress_bar(total: int, label: str, *, expected_seconds: float | None = None):
    """Yield a callback advancing the progress by n.

    On a terminal, a rich progress bar; otherwise (a CI log, a pipe) one plain
    line on stderr every :data:`PROGRESS_EVERY_SECONDS` while the work lasts,
    so a long job shows a sign of life (:func:`progress_lines`).
    """
    if not show_progress():
        with progress_lines(total, label, expected_seconds=expected_seconds) as advance:
            yield advance
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=stderr, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


@contextmanager
def progress_lines(
    total: int,
    label: str,
    *,
    every: float | None = None,
    expected_seconds: float | None = None,
    say: Callable[[str], None] | None = None,
):
    """Yield a callback advancing a count by n; a thread says where it stands every ``every`` s.

    ``replications: 40 of 100 (40%) after 20 s; about 30 s left``. Nothing is
    said for work that ends within the first interval. The time left is the
    pace so far, or ``expected_seconds`` (the estimate made before starting)
    until the first piece is done.
    """
    every = PROGRESS_EVERY_SECONDS if every is None else every
    say = say or (lambda line: stderr.print(line, markup=False))
    done = [0]
    stop = threading.Event()
    started = time.monotonic()

    def report() -> None:
        while not stop.wait(every):
            elapsed = time.monotonic() - started
            count = done[0]
            if count:
                left = elapsed * (total - count) / count
            else:
                left = None if expected_seconds is None else expected_seconds - elapsed
            if left is not None and left <= 0:
                left = None  # beyond the estimate: say nothing rather than "0 s left"
            share = count / max(total, 1)
            line = f"{label}: {count:,} of {total:,} ({share:.0%}) after {elapsed:,.0f} s"
            if left is not None:
                line += f"; about {duration(left)} left"
            say(line)

    thread = threading.Thread(target=report, name="migsim-progress", daemon=True)
    thread.start()
    try:
        yield lambda n: done.__setitem__(0, done[0] + n)
    finally:
        stop.set()
        thread.join()


def simulate_for_cli(sc: Scenario, options: RunOptions):
    """``sim.run`` with a progress bar."""
    replications = options.replications_of(sc)
    expected = estimate(sc, replications, options.workers or default_workers()).seconds
    with progress_bar(replications, "replications", expected_seconds=expected) as advance:
        return run_replications(
            sc,
            replications,
            options.seed,
            options.workers,
            dask=options.dask,
            progress=advance,
            max_memory_gb=options.max_memory,
        )


def was_there(path: Path) -> str:
    """What an interrupted write leaves at ``path``: the earlier results, or nothing."""
    return f"{path} was left as it was" if path.exists() else f"{path} was not created"


def fmt_number(value) -> str:
    """A summary number for a table: whole numbers with separators, others to 2 decimals."""
    if value is None:
        return "-"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"
