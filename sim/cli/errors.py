"""Exit codes and one-line errors, mapped once for every ``migsim`` command.

Exit codes (SPEC): 0 success; 1 ``check`` found the plan misses its deadline;
2 bad input (usage, a missing or malformed file, an invalid value, an output
path that cannot be written: found before simulating); 3 the run could not
finish (an unreachable cluster, a full disk, an internal error); 130 Ctrl-C.
Each failure is one line on stderr with no traceback, unless ``--debug`` is
given anywhere on the command line; an interrupt or a failure says what is on
disk (:func:`if_interrupted`)::

    --set: batches.weekday: must be >= 0 (got -5)                      -> 2
    could not finish: cannot reach the dask scheduler at tcp://x:8786  -> 3
    interrupted: results was left as it was; nothing was written       -> 130
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from typer.core import TyperGroup

try:  # newer typer carries its own copy of click; its exceptions are the ones raised
    from typer._click import core as click_core
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:  # older typer runs on click itself
    from click import core as click_core
    from click.exceptions import NoArgsIsHelpError, UsageError

from sim.experiments.runner import ClusterError
from sim.model.feasibility import MemoryLimitError
from sim.model.scenario import ScenarioError
from sim.outputs.files import OutputError

EXIT_OK, EXIT_MISSED, EXIT_BAD_INPUT, EXIT_COULD_NOT_FINISH = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # the shell's convention for Ctrl-C

COMMAND_ORDER = (
    "run", "sweep", "check", "validate", "report", "plan", "solve", "sensitivity", "forecast",
    "calibrate", "compare", "app",
)  # fmt: skip

stderr = Console(stderr=True, highlight=False, soft_wrap=True)


class BadInput(Exception):
    """A usage problem found after parsing (e.g. an option value out of range)."""


class _State:
    """Per invocation: ``--debug``, and what is true on disk if the user presses Ctrl-C now."""

    debug = False
    on_interrupt = "nothing was written"


state = _State()


def _say(line: str) -> None:
    stderr.print(line, markup=False)


class MigsimGroup(TyperGroup):
    """The command group: ``--debug`` and ``--version`` anywhere; errors mapped to exit codes."""

    def parse_args(self, ctx: click_core.Context, args: list[str]) -> list[str]:
        state.debug = False
        state.on_interrupt = "nothing was written"
        if "--debug" in args:
            cut = args.index("--") if "--" in args else len(args)
            state.debug = "--debug" in args[:cut]
            args = [a for i, a in enumerate(args) if not (a == "--debug" and i < cut)]
        cut = args.index("--") if "--" in args else len(args)
        if "--version" in args[:cut] and "--help" not in args[:cut]:
            # Anywhere, like --debug: `migsim run --version` answers rather than failing.
            args = ["--version"]
        try:
            return super().parse_args(ctx, args)
        except UsageError as error:  # `migsim --bogus`: one line, not click's usage block
            if state.debug or isinstance(error, NoArgsIsHelpError):
                raise
            _say(f"{ctx.command_path}: {error.format_message()} (see {ctx.command_path} --help)")
            raise typer.Exit(EXIT_BAD_INPUT) from None

    def list_commands(self, ctx: click_core.Context) -> list[str]:
        """The commands in the order SPEC's "Command line" lists them, then any others."""
        names = super().list_commands(ctx)
        known = [name for name in COMMAND_ORDER if name in names]
        return known + [name for name in names if name not in COMMAND_ORDER]

    def get_command(self, ctx: click_core.Context, cmd_name: str) -> click_core.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            plain = _plain_usage(command.collect_usage_pieces)
            command.collect_usage_pieces = plain  # type: ignore[method-assign]
            for param in command.params:
                if param.param_type_name == "argument" and param.metavar:
                    # "SCENARIO  Scenario TOML file.", not "SCENARIO <path>  ...".
                    param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]
        return command

    def invoke(self, ctx: click_core.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except UsageError as error:
            if state.debug or isinstance(error, NoArgsIsHelpError):
                raise
            where = error.ctx.command_path if error.ctx else "migsim"
            _say(f"{where}: {error.format_message()} (see {where} --help)")
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except KeyboardInterrupt:
            if state.debug:
                raise
            _say(f"interrupted: {state.on_interrupt}")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as error:
            if state.debug:
                raise
            code, line = describe(error)
            _say(line)
            raise typer.Exit(code) from None


def _plain_usage(collect):
    """Usage pieces without typer's braces around required arguments: ``SCENARIO``."""

    def pieces(ctx: click_core.Context) -> list[str]:
        return [
            piece[1:-1] if piece.startswith("{") and piece.endswith("}") else piece
            for piece in collect(ctx)
        ]

    return pieces


def describe(error: Exception) -> tuple[int, str]:
    """The exit code and the one line a user sees for an error."""
    if isinstance(error, MemoryLimitError):
        return EXIT_BAD_INPUT, error.cli
    if isinstance(error, ScenarioError | BadInput):
        return EXIT_BAD_INPUT, str(error)
    if isinstance(error, OutputError):
        return EXIT_BAD_INPUT, error.cli
    if isinstance(error, ClusterError):
        return EXIT_COULD_NOT_FINISH, f"could not finish: {error}"
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        reason = error.strerror or str(error)
        return EXIT_COULD_NOT_FINISH, (f"could not finish: {where}{reason}; {state.on_interrupt}")
    kind = type(error).__name__
    return EXIT_COULD_NOT_FINISH, (
        f"could not finish: internal error ({kind}: {error}); {state.on_interrupt}; "
        "run again with --debug for the traceback"
    )


@contextmanager
def if_interrupted(during: str, after: str | None = None) -> Iterator[None]:
    """A Ctrl-C or a failure inside reports ``during`` as what is on disk; ``after`` after it."""
    previous, state.on_interrupt = state.on_interrupt, during
    yield
    # Changed only on success: a failure is reported after leaving this block.
    state.on_interrupt = after or previous
