"""Writing results to disk, atomically.

A planner's ``--out`` folder may already hold last week's results. Every file
is written to a temporary name in the same folder and moved into place with
``os.replace``, so an error or a Ctrl-C mid-write leaves the old file whole
and no half-written one behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside ``path``; on success move it onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_with(path: str | Path, writer: Callable[[Path], None]) -> Path:
    """Run ``writer(tmp_path)`` and move the result onto ``path`` atomically."""
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


def write_json(path: str | Path, data: Any) -> Path:
    text = json.dumps(data, indent=2, default=str) + "\n"
    return write_with(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_text(path: str | Path, text: str) -> Path:
    return write_with(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_parquet(path: str | Path, frame: pd.DataFrame) -> Path:
    return write_with(path, lambda tmp: frame.to_parquet(tmp, index=False))


def write_csv(path: str | Path, frame: pd.DataFrame) -> Path:
    return write_with(path, lambda tmp: frame.to_csv(tmp, index=False))


def write_result(out_dir: str | Path, result) -> list[Path]:
    """``summary.json``, ``runs.parquet``, ``daily.parquet`` and ``mailboxes.parquet``."""
    out = Path(out_dir)
    written = [
        write_parquet(out / "runs.parquet", result.runs),
        write_parquet(out / "daily.parquet", result.daily),
    ]
    if result.mailboxes is not None:
        written.append(write_parquet(out / "mailboxes.parquet", result.mailboxes))
    # The summary last: its presence says the folder is complete.
    written.append(write_json(out / "summary.json", result.summary))
    return written
