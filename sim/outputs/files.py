"""Writing results to disk: whole or not at all, readable by others.

A planner's ``--out`` folder may already hold last week's results. Two rules
keep them safe:

* a file is written under a temporary name beside its target and moved into
  place with ``os.replace`` (:func:`write_with`, the one writer every output
  goes through), so an error or a Ctrl-C mid-write leaves the old file whole;
* a folder of results is built in a temporary folder beside its target and
  moved into place at the end (:func:`staged_folder`), so a run interrupted
  while writing leaves the earlier folder exactly as it was, never new
  ``runs.parquet`` beside an old ``summary.json``;
* a path that is a symbolic link (a shared drive) is written where it points,
  atomically there, and the link is left as it was (:func:`resolved`).

Files are created ``0666`` and folders ``0777`` less the umask (``0644`` and
``0755`` with the usual umask), like any tool's output: ``mkstemp`` alone
would make them private to their owner.
"""

from __future__ import annotations

import fnmatch
import glob
import json
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

RESULT_FILES = ("summary.json", "runs.parquet", "daily.parquet", "mailboxes.parquet")


class OutputError(Exception):
    """An output path that cannot be used (not a folder, not writable, holds other files).

    ``str(error)`` is one line naming the path, in Python's words; ``cli`` is
    the same in the command line's (``--resume`` rather than ``resume=True``).
    """

    def __init__(self, message: str, *, cli: str | None = None) -> None:
        super().__init__(message)
        self.cli = cli or message


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a new file gets from ``open()``: 0666 less the umask."""
    return 0o666 & ~_umask()


def folder_mode() -> int:
    """The mode a new folder gets from ``mkdir``: 0777 less the umask."""
    return 0o777 & ~_umask()


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it onto ``path``.

    On any failure (or an interrupt) the temporary file is removed and
    ``path`` is left as it was.
    """
    path = resolved(path)  # through a link: the file is replaced where the link points
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def resolved(path: str | Path) -> Path:
    """``path`` with every symbolic link followed (a team's shared drive, say).

    Outputs are written where a link points, never over the link: replacing the
    link with a local file or folder would leave the shared copy stale.
    """
    return Path(os.path.realpath(path))


def write_with(path: str | Path, writer: Callable[[Path], None]) -> Path:
    """Run ``writer(tmp_path)`` and move the result onto ``path`` atomically."""
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_with(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: str | Path, data: Any) -> Path:
    """Write ``data`` as indented JSON (dates as ISO text) atomically."""
    return write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def write_parquet(path: str | Path, frame: pd.DataFrame) -> Path:
    """Write ``frame`` as Parquet (no index) atomically."""
    return write_with(path, lambda tmp: frame.to_parquet(tmp, index=False))


def write_csv(path: str | Path, frame: pd.DataFrame) -> Path:
    """Write ``frame`` as CSV (no index) atomically."""
    return write_with(path, lambda tmp: frame.to_csv(tmp, index=False))


def append_text(path: str | Path, text: str) -> Path:
    """Append ``text`` to a file someone else owns (e.g. ``$GITHUB_STEP_SUMMARY``).

    Appending is the contract of such files, so it is not a replace; a new
    file gets the usual mode.
    """
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)
    return Path(path)


# --- folders ----------------------------------------------------------------------------------


def check_writable_file(path: str | Path) -> None:
    """Raise :class:`OutputError` unless a file can be written at ``path`` (nothing is left)."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a folder, not a file")
    parent = _nearest_existing(resolved(path).parent)
    if not parent.is_dir():
        raise OutputError(f"{path}: {parent} is not a folder")
    _probe(path, parent)


def _probe(path: Path, folder: Path) -> None:
    """Raise :class:`OutputError` unless a file can really be made in ``folder`` (none is left).

    ``os.access`` says yes to root everywhere and knows nothing of read-only or
    pseudo file systems (``/proc``); making a file is the only honest test.
    """
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise OutputError(f"{path}: cannot write in {folder}: {error.strerror or error}") from None


def check_folder_target(
    path: str | Path, expected: Iterable[str] = (), *, replace: bool = True
) -> None:
    """Raise :class:`OutputError` unless ``path`` can become a results folder.

    ``path`` may be missing, or a folder holding only names matching
    ``expected`` (earlier results, which will be replaced); anything else
    there is refused, because replacing the folder would lose it. With
    ``replace=False`` the folder is written into, not replaced.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: exists and is not a folder")
    if path.is_dir():
        others = sorted(
            entry.name
            for entry in path.iterdir()
            if not any(fnmatch.fnmatch(entry.name, pattern) for pattern in expected)
        )
        if others:
            shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
            raise OutputError(
                f"{path}: holds files that are not these results ({shown}); "
                "choose a new or empty folder"
            )
        if not replace:
            _probe(path, path)
            return
    parent = _nearest_existing(resolved(path).parent)
    if not parent.is_dir():
        raise OutputError(f"{path}: {parent} is not a folder")
    _probe(path, parent)


@contextmanager
def staged_folder(target: str | Path, expected: Iterable[str] = ()) -> Iterator[Path]:
    """Yield an empty folder beside ``target``; on success it replaces ``target`` whole.

    The staging folder is made at once, so an unwritable place fails before
    any work. An earlier ``target`` is replaced only at the very end; on any
    failure or interrupt the staging folder is removed and ``target`` is left
    untouched. Every file in the finished folder is made readable by others.
    """
    check_folder_target(target, expected)
    # "." or "results/" has a name and a parent; a link is followed, so the folder is
    # replaced where it points (atomically there) and the link itself stays as it was.
    target = resolved(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_abandoned_staging(target)
        staging = Path(tempfile.mkdtemp(prefix=_staging_prefix(target), dir=target.parent))
    except OSError as error:
        raise OutputError(f"{target}: cannot write: {error.strerror or error}") from None
    try:
        os.chmod(staging, folder_mode())
        yield staging
        _normalise_modes(staging)
        with _interrupts_deferred():
            _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap_into_place(staging: Path, target: Path) -> None:
    if not target.exists():
        os.replace(staging, target)
        return
    old = Path(tempfile.mkdtemp(prefix=_staging_prefix(target), suffix=".old", dir=target.parent))
    os.rmdir(old)
    os.replace(target, old)
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(old, target)  # put the earlier results back
        raise
    shutil.rmtree(old, ignore_errors=True)


def _staging_prefix(target: Path) -> str:
    # The process id in the name tells a staging folder abandoned by a killed run from a live one.
    return f".{target.name}.staging-{os.getpid()}-"


def _remove_abandoned_staging(target: Path) -> None:
    """Remove staging folders of ``target`` left by runs that were killed (SIGKILL, power)."""
    for path in target.parent.glob(f".{glob.escape(target.name)}.staging-*-*"):
        pid = path.name.removeprefix(f".{target.name}.staging-").split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _normalise_modes(folder: Path) -> None:
    """Writers outside this module (matplotlib, pyarrow, mkstemp) may make private files."""
    files, folders = file_mode(), folder_mode()
    for root, dirs, names in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(root, name), folders)
        for name in names:
            os.chmod(os.path.join(root, name), files)


@contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold a Ctrl-C until the two renames of a swap are both done."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[tuple] = []
    previous = signal.signal(signal.SIGINT, lambda *args: caught.append(args))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught and callable(previous):
            previous(*caught[0])


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def write_result(out_dir: str | Path, result) -> list[Path]:
    """``summary.json``, ``runs.parquet``, ``daily.parquet`` and ``mailboxes.parquet``.

    Writes into ``out_dir`` as it is; use :func:`save_result` to replace a
    results folder whole.
    """
    out = Path(out_dir)
    written = [
        write_parquet(out / "runs.parquet", result.runs),
        write_parquet(out / "daily.parquet", result.daily),
    ]
    if result.mailboxes is not None:
        written.append(write_parquet(out / "mailboxes.parquet", result.mailboxes))
    written.append(write_json(out / "summary.json", result.summary))
    return written


def save_result(out_dir: str | Path, result) -> Path:
    """Replace the results folder ``out_dir`` whole with ``result``'s files."""
    with staged_folder(out_dir, RESULT_FILES) as staging:
        write_result(staging, result)
    return Path(out_dir)
