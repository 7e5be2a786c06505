"""The batch plan on disk, as the migration team loads it.

``write_plan(out_dir, frame)`` writes::

    out_dir/plan.csv                   mailbox,organisation,size_gb,planned_date,notice_date
    out_dir/batches/2024-03-04.csv     EmailAddress   (one file per cutover evening)

The folder is written whole or not at all: everything goes to a hidden
sibling folder first, which then takes the place of ``out_dir`` by rename. A
previous plan in ``out_dir`` is replaced as a whole (no stale evening's file
survives); a folder holding anything else is refused rather than overwritten.
Files are 0644 and folders 0755, readable by the team like any tool's output.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from sim.experiments.batch_plan import PLAN_COLUMNS

FILE_MODE, FOLDER_MODE = 0o644, 0o755
PLAN_FILE, BATCHES_FOLDER = "plan.csv", "batches"
BATCH_COLUMN = "EmailAddress"  # the column migration batch tools import


class PlanFolderError(ValueError):
    """``out_dir`` cannot take a plan (it holds other files, or cannot be written)."""


def write_plan(out_dir: str | Path, frame: pd.DataFrame) -> list[Path]:
    """Write ``plan.csv`` and ``batches/YYYY-MM-DD.csv`` into ``out_dir`` atomically.

    Returns the files written (final paths). Raises :class:`PlanFolderError`
    when ``out_dir`` holds something other than an earlier plan.
    """
    out = Path(out_dir)
    _check_replaceable(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    except OSError as error:
        raise PlanFolderError(f"{out}: cannot write: {error.strerror or error}") from None
    try:
        names = _write_files(staging, frame)
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [out / name for name in names]


def _write_files(folder: Path, frame: pd.DataFrame) -> list[str]:
    os.chmod(folder, FOLDER_MODE)
    batches = folder / BATCHES_FOLDER
    batches.mkdir(mode=FOLDER_MODE)
    os.chmod(batches, FOLDER_MODE)
    # Evenings in date order (a stable sort keeps the plan's order within one).
    dates = frame["planned_date"].to_numpy(dtype="datetime64[D]")
    order = np.argsort(dates, kind="stable")  # NaT (not planned) sorts last
    table = _plan_table(frame).take(pa.array(order))
    dates = dates[order]
    names = [PLAN_FILE]
    _write_csv(folder / PLAN_FILE, table)
    days, first = np.unique(dates[~np.isnat(dates)], return_index=True)
    ends = np.append(first[1:], np.count_nonzero(~np.isnat(dates)))
    mailbox = table.column("mailbox")
    for day, start, end in zip(days, first, ends, strict=True):
        name = f"{BATCHES_FOLDER}/{day}.csv"
        _write_csv(folder / name, pa.table({BATCH_COLUMN: mailbox.slice(start, end - start)}))
        names.append(name)
    return names


def _plan_table(frame: pd.DataFrame) -> pa.Table:
    """The plan's columns as Arrow, without a Python object per mailbox."""
    columns = {}
    for name in PLAN_COLUMNS:
        column = frame[name]
        if name.endswith("_date"):
            columns[name] = pa.array(column.to_numpy(dtype="datetime64[D]"), pa.date32())
        elif name == "size_gb":
            columns[name] = pa.array(column.to_numpy(dtype=float))
        else:
            values = pa.array(column.array)
            if pa.types.is_dictionary(values.type):
                values = values.dictionary_decode()
            columns[name] = values
    return pa.table(columns)


def _write_csv(path: Path, table: pa.Table) -> None:
    """Plain CSV: a bare header and values quoted only when one holds a comma or quote."""
    header = ",".join(table.column_names) + "\n"
    for quoting in ("none", "needed"):  # pyarrow's "needed" quotes every string
        try:
            with path.open("wb") as file:
                file.write(header.encode())
                options = pa_csv.WriteOptions(include_header=False, quoting_style=quoting)
                pa_csv.write_csv(table, file, options)
            break
        except pa.ArrowInvalid:
            continue
    os.chmod(path, FILE_MODE)


def _check_replaceable(out: Path) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise PlanFolderError(f"{out}: exists and is not a folder")
    others = sorted(p.name for p in out.iterdir() if p.name not in (PLAN_FILE, BATCHES_FOLDER))
    if others:
        raise PlanFolderError(
            f"{out}: holds files other than a batch plan ({', '.join(others[:3])}"
            f"{', ...' if len(others) > 3 else ''}); choose a new or empty folder"
        )


def _swap_in(staging: Path, out: Path) -> None:
    """Put ``staging`` where ``out`` is: one rename, or two with the old plan set aside."""
    if not out.exists():
        os.rename(staging, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    os.rmdir(old)
    os.rename(out, old)
    try:
        os.rename(staging, out)
    except BaseException:
        os.rename(old, out)  # put the previous plan back
        raise
    shutil.rmtree(old, ignore_errors=True)
