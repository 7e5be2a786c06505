"""The ``migsim`` command line: a thin layer over the Python API.

Exit codes: 0 success; 1 ``check`` found the plan misses its deadline; 2 bad
input, found before simulating; 3 the run could not finish (cluster, disk,
internal error). Errors become one line in :mod:`sim.cli.common`, once for
every command; ``--debug`` (anywhere) shows the traceback instead.

Each command lives in its own module and registers itself on :data:`app`.
"""

from sim.cli import app as _app  # noqa: F401  (registers `migsim app`)
from sim.cli import calibrate, check, compare, forecast, plan, run, sensitivity, solve, sweep  # noqa: F401  (registers the commands)
from sim.cli.common import EXIT_BAD_INPUT, EXIT_COULD_NOT_FINISH, EXIT_MISSED, EXIT_OK, app


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["EXIT_BAD_INPUT", "EXIT_COULD_NOT_FINISH", "EXIT_MISSED", "EXIT_OK", "app", "main"]
