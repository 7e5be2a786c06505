"""The ``migsim`` command line: a thin layer over the Python API.

Exit codes: 0 success; 1 ``check`` found the plan misses its deadline; 2 bad
input (usage, a missing or malformed file, an invalid value), reported as one
line naming the file and the dotted key, with no traceback unless ``--debug``.

Each command lives in its own module and registers itself on :data:`app`.
"""

from sim.cli import check, run, sensitivity, solve, sweep  # noqa: F401  (registers the commands)
from sim.cli.common import EXIT_BAD_INPUT, EXIT_MISSED, EXIT_OK, app


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["EXIT_BAD_INPUT", "EXIT_MISSED", "EXIT_OK", "app", "main"]
