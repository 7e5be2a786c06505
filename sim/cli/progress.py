"""Progress of long work: a bar for a person at a terminal, a steady line for a CI log.

On a terminal, ``progress_bar`` draws a rich bar on stderr. Without one (a CI
job, a pipe) there is no bar, but a long job must still show a sign of life:
one plain line on stderr every :data:`PROGRESS_EVERY_SECONDS`, e.g.::

    replications: 40 of 100 (40%) after 20 s; about 30 s left

Nothing is said for work that ends within the first interval.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sim.cli.errors import stderr
from sim.model.feasibility import duration


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
