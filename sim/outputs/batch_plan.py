"""The batch plan on disk, as the migration team loads it.

``write_plan(out_dir, frame)`` writes::

    out_dir/plan.csv               mailbox,organisation,kind,lane,size_gb,scheduled_date,notice_date
    out_dir/batches/2024-03-04.csv EmailAddress   (one file per cutover evening)
    out_dir/provenance.json        how it was made (when given): scenario, seed, versions

The folder is written whole or not at all, by the one staged-folder writer of
:mod:`sim.outputs.files`: a previous plan in ``out_dir`` is replaced as a
whole (no stale evening's file survives); a folder holding anything else is
refused rather than overwritten; files are readable by the team (0644).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from sim.experiments.batch_plan import PLAN_COLUMNS
from sim.outputs.files import staged_folder, write_json

PLAN_FILE, BATCHES_FOLDER, PROVENANCE_FILE = "plan.csv", "batches", "provenance.json"
BATCH_COLUMN = "EmailAddress"  # the column migration batch tools import


def write_plan(
    out_dir: str | Path, frame: pd.DataFrame, provenance: dict | None = None
) -> list[Path]:
    """Write ``plan.csv`` and ``batches/YYYY-MM-DD.csv`` (and ``provenance.json`` when
    given) into ``out_dir`` atomically.

    Returns the files written (final paths). Raises
    :class:`~sim.outputs.files.OutputError` when ``out_dir`` holds something
    other than an earlier plan or cannot be written.
    """
    with staged_folder(out_dir, (PLAN_FILE, BATCHES_FOLDER, PROVENANCE_FILE)) as staging:
        names = _write_files(staging, frame)
        if provenance is not None:
            write_json(staging / PROVENANCE_FILE, provenance)
            names.append(PROVENANCE_FILE)
    return [Path(out_dir) / name for name in names]


def _write_files(folder: Path, frame: pd.DataFrame) -> list[str]:
    (folder / BATCHES_FOLDER).mkdir()
    # Evenings in date order (a stable sort keeps the plan's order within one).
    dates = local_days(frame["scheduled_date"])
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


def local_days(column: pd.Series) -> np.ndarray:
    """The local calendar days of a date column (tz-aware local midnights, or naive)."""
    if getattr(column.dt, "tz", None) is not None:
        column = column.dt.tz_localize(None)
    return column.to_numpy(dtype="datetime64[D]")


def _plan_table(frame: pd.DataFrame) -> pa.Table:
    """The plan's columns as Arrow, without a Python object per mailbox."""
    columns = {}
    for name in PLAN_COLUMNS:
        column = frame[name]
        if name.endswith("_date"):
            columns[name] = pa.array(local_days(column), pa.date32())
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
