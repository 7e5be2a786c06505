"""What every ``migsim`` command shares: the app, its options, progress (``sim.cli.progress``).

A command that simulates declares only its own options and is decorated with
:func:`simulating_command`, which adds SCENARIO, ``--set``, ``-n``,
``--seed``, ``-w``, ``--dask`` and ``--max-memory`` and hands them over as one
:class:`RunOptions`. Errors and exit codes are mapped in :mod:`sim.cli.errors`.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

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
from sim.cli.progress import progress_bar, progress_lines, show_progress  # noqa: F401
from sim.experiments.runner import default_workers
from sim.experiments.runner import run as run_replications
from sim.model import scenario as scenario_mod
from sim.model.feasibility import estimate
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


PrecisionOpt = Annotated[
    float | None,
    typer.Option(
        "--precision",
        metavar="DAYS",
        help="Add replications until the deciding date's 95% interval is within +-DAYS.",
    ),
]
MaxReplicationsOpt = Annotated[
    int | None,
    typer.Option(
        "--max-replications",
        metavar="N",
        help="With --precision: stop at N replications (default 1,000).",
    ),
]


def checked_precision(
    precision: float | None, max_replications: int | None, replications: int
) -> tuple[float | None, int | None]:
    """``--precision`` and ``--max-replications`` after checking them (bad input: 2)."""
    if precision is None:
        if max_replications is not None:
            raise BadInput("--max-replications: needs --precision DAYS")
        return None, None
    if not precision > 0:
        raise BadInput(f"--precision: must be > 0 days (got {precision:g})")
    if max_replications is not None and max_replications < replications:
        raise BadInput(
            f"--max-replications: must be >= the {replications:,} replications to start with "
            f"(got {max_replications})"
        )
    return precision, max_replications


def precision_line(summary: dict) -> str | None:
    """What stopped ``--precision``: the interval was narrow enough, or the cap was reached."""
    report = summary.get("precision")
    if not report:
        return None
    width = report["half_width_days"]
    known = "not yet known" if width is None else f"+-{width:g} days"
    date = report["quantile"].upper()
    if report["stopped_by"] == "precision":
        return (
            f"precision: the {date} date is within {known} (95% interval) after "
            f"{report['replications']:,} replications: stopped because it is precise enough "
            f"(+-{report['days']:g} days asked)"
        )
    return (
        f"precision: stopped at --max-replications {report['max_replications']:,}: the "
        f"{date} date is {known} (95% interval), not yet the +-{report['days']:g} days asked"
    )


def simulate_for_cli(
    sc: Scenario,
    options: RunOptions,
    *,
    precision: float | None = None,
    max_replications: int | None = None,
):
    """``sim.run`` with a progress bar (``--precision``: up to the most it may run)."""
    replications = options.replications_of(sc)
    precision, max_replications = checked_precision(precision, max_replications, replications)
    total = (max_replications or max(1000, replications)) if precision else replications
    expected = estimate(sc, total, options.workers or default_workers()).seconds
    with progress_bar(total, "replications", expected_seconds=expected) as advance:
        return run_replications(
            sc,
            replications,
            options.seed,
            options.workers,
            dask=options.dask,
            progress=advance,
            max_memory_gb=options.max_memory,
            precision_days=precision,
            max_replications=max_replications,
        )


def was_there(path: Path) -> str:
    """What an interrupted write leaves at ``path``: the earlier results, or nothing."""
    return f"{path} was left as it was" if path.exists() else f"{path} was not created"


T = typing.TypeVar("T")


def simulate_into(
    out: Path | None,
    expected: typing.Iterable[str],
    holds: str,
    simulate: Callable[[], T],
    write: Callable[[Path, T], None],
) -> T:
    """Run ``simulate``; with ``out``, inside a staged folder that ``write`` fills.

    The folder is claimed before simulating (an unwritable ``out`` fails at once) and
    replaces any earlier ``out`` only when every file is written; an interrupt says
    what is on disk (``holds``: what ``out`` holds once written, e.g. "the results").
    """
    if out is None:
        return simulate()
    from sim.outputs.files import staged_folder

    with (
        if_interrupted(f"{was_there(out)}; nothing was written", f"{out} holds {holds}"),
        staged_folder(out, expected) as staging,
    ):
        value = simulate()
        write(staging, value)
    return value


def fmt_number(value) -> str:
    """A summary number for a table: whole numbers with separators, others to 2 decimals."""
    if value is None:
        return "-"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"
