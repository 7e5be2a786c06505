"""A move report: what each mailbox move of a pilot (or of the live migration) did.

After a pilot batch the migration team runs, in Windows PowerShell::

    Get-MoveRequest -BatchName Pilot | Get-MoveRequestStatistics |
        Export-Csv pilot-moves.csv -Encoding UTF8

and gets one row per move::

    "DisplayName","Status","TotalMailboxSize","TotalMailboxItemCount","BytesTransferred",
    "TotalInProgressDuration","CompletionTimestamp",...
    "Jane Smith","Completed","1.093 GB (1,173,364,982 bytes)","28744",
    "1.093 GB (1,173,364,982 bytes)","05:02:04","14/02/2024 23:02:03",...

Read here: the move's name (``DisplayName``, else ``Identity``), ``Status``
(``Completed``; ``Failed``; ``Synced`` and ``AutoSuspended`` count as synced),
``BytesTransferred`` and ``TotalInProgressDuration`` (``d.hh:mm:ss`` or
``hh:mm:ss``, fractions of a second allowed), and where present
``TotalMailboxSize``, ``TotalMailboxItemCount``, ``BytesTransferredPerMinute``,
``StatusDetail`` and the timestamps ``StartTimestamp``, ``CompletionTimestamp``,
``FailureTimestamp``, ``LastUpdateTimestamp`` (ISO ``2024-02-14 23:02:03``, or
the culture formats ``14/02/2024 23:02:03`` and ``2/14/2024 11:02:03 PM``).
Sizes are bytes or Exchange's text, the byte count in brackets being the truth.

A bad cell is a :class:`~sim.model.scenario.ScenarioError` naming the file, the
row as a spreadsheet shows it (a ``#TYPE`` line is row 1, then the header) and
the column: ``pilot.csv: row 7, column TotalInProgressDuration: ...``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from sim.model.exchange import GB, ExportError, bytes_of, sniff_csv, whole_numbers
from sim.model.scenario import ScenarioError, refuse_non_table

NAME_COLUMNS = ("DisplayName", "Identity")
REQUIRED = ("Status", "BytesTransferred", "TotalInProgressDuration")
OPTIONAL = (
    "TotalMailboxSize",
    "TotalMailboxItemCount",
    "BytesTransferredPerMinute",
    "StatusDetail",
    "StartTimestamp",
    "CompletionTimestamp",
    "FailureTimestamp",
    "LastUpdateTimestamp",
)
TIMESTAMPS = ("StartTimestamp", "CompletionTimestamp", "FailureTimestamp", "LastUpdateTimestamp")
STATUSES = {"completed": "completed", "failed": "failed", "synced": "synced"}
SYNCED = ("synced", "autosuspended")
# .NET TimeSpan as PowerShell prints it: [d.]hh:mm:ss[.fffffff]
DURATION = r"^(?:(?P<d>[0-9]+)\.)?(?P<h>[0-9]{1,2}):(?P<m>[0-9]{2}):(?P<s>[0-9]{2}(?:\.[0-9]+)?)$"
TIME_FORMATS = ("ISO8601", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%m/%d/%Y %I:%M:%S %p")


def is_move_report(header: list[str]) -> bool:
    """Does this header look like ``Get-MoveRequestStatistics | Export-Csv``?"""
    names = {c.strip().lower() for c in header}
    return {"status", "totalinprogressduration"} <= names or {
        "status",
        "completiontimestamp",
    } <= names


@dataclass(frozen=True)
class MoveReport:
    """One entry per move, in file order; sizes in bytes, durations in hours.

    ``status`` is "completed", "failed", "synced" or the report's own word lower-cased
    ("inprogress", "queued", ...). Missing numbers are NaN, missing times NaT.
    """

    source: str
    name: np.ndarray  # object: DisplayName or Identity
    status: np.ndarray  # object
    bytes_transferred: np.ndarray  # float64 (NaN = empty cell)
    hours: np.ndarray  # float64 TotalInProgressDuration
    size_bytes: np.ndarray | None  # TotalMailboxSize
    items: np.ndarray | None  # TotalMailboxItemCount, float64 (NaN = empty)
    bytes_per_minute: np.ndarray | None  # BytesTransferredPerMinute (not fitted: a check)
    status_detail: np.ndarray | None  # object: StatusDetail, e.g. StalledDueToTarget_Processor
    times: pd.DataFrame  # one datetime64 column per timestamp present
    row: np.ndarray  # spreadsheet row of each move

    def __len__(self) -> int:
        return len(self.status)

    def counts(self) -> dict[str, int]:
        """Moves per status, most common first."""
        values, counts = np.unique(self.status.astype(str), return_counts=True)
        order = np.argsort(-counts, kind="stable")
        return {str(values[i]): int(counts[i]) for i in order}


def read_move_report(path: str | Path | pd.DataFrame, *, display: str | None = None) -> MoveReport:
    """Read and check a move report (a CSV, or a DataFrame of its columns); errors name
    the file (``display``), the row and the column."""
    if isinstance(path, pd.DataFrame):
        return _from_frame(path, display or "moves")
    path = Path(path)
    source = display or str(path)
    refuse_non_table(path, source)  # a folder or a workbook says what it is
    if not path.is_file():
        raise ScenarioError(source, "", "no such file")
    try:
        header, delimiter, skip = sniff_csv(path)
    except UnicodeDecodeError:
        raise ScenarioError(source, "", "not a UTF-8 text file (save it as CSV UTF-8)") from None
    columns = _columns(header, source)
    try:
        table = pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(skip_rows=skip),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter),
            convert_options=pa_csv.ConvertOptions(
                column_types={c: pa.string() for c in columns.values()},
                include_columns=list(columns.values()),
                strings_can_be_null=True,
            ),
        )
    except (pa.ArrowException, OSError, UnicodeDecodeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ScenarioError(source, "", f"not a readable CSV file: {first}") from None
    return _checked(table, columns, source, first_row=2 + skip)


def _from_frame(frame: pd.DataFrame, source: str) -> MoveReport:
    """A DataFrame as if read from a CSV: every cell as text, missing ones empty."""
    header = [str(c) for c in frame.columns]
    columns = _columns(header, source)
    text = {
        column: pa.array(
            [None if pd.isna(v) or v == "" else str(v) for v in frame[column].tolist()],
            type=pa.string(),
        )
        for column in dict.fromkeys(columns.values())
    }
    return _checked(pa.table(text), columns, source, first_row=2)


def _checked(table: pa.Table, columns: dict[str, str], source: str, first_row: int) -> MoveReport:
    try:
        return _moves(table, columns, source, first_row)
    except ExportError as error:
        where = f"column {error.column}"
        if error.index is not None:
            where = f"row {error.index + first_row}, {where}"
        raise ScenarioError(source, where, error.message) from None


def _columns(header: list[str], source: str) -> dict[str, str]:
    """Our part -> the file's column; a missing required column is one line."""
    by_lower = {c.strip().lower(): c for c in header}
    shown = ", ".join(header) if header else "none"
    found = {}
    name = next((by_lower[c.lower()] for c in NAME_COLUMNS if c.lower() in by_lower), None)
    if name is None or not all(c.lower() in by_lower for c in REQUIRED):
        missing = [c for c in REQUIRED if c.lower() not in by_lower]
        if name is None:
            missing.insert(0, "DisplayName or Identity")
        raise ScenarioError(
            source,
            f"column {missing[0]}",
            "is required in a move report (Get-MoveRequestStatistics | Export-Csv; expected "
            f"{', '.join(('DisplayName', *REQUIRED))}, optional {', '.join(OPTIONAL[:2])}; "
            f"the file has: {shown})",
        )
    found["name"] = name
    for column in (*REQUIRED, *OPTIONAL):
        if column.lower() in by_lower:
            found[column] = by_lower[column.lower()]
    return found


def _text(column: pa.ChunkedArray) -> pa.Array:
    return pc.utf8_trim_whitespace(column.combine_chunks())


def _empty(text: pa.Array) -> np.ndarray:
    mask = pc.fill_null(pc.equal(pc.utf8_length(text), 0), True)
    return mask.to_numpy(zero_copy_only=False).astype(bool)


def _optional_bytes(column: pa.ChunkedArray, label: str) -> np.ndarray:
    text = _text(column)
    empty = _empty(text)
    filled = pc.if_else(pa.array(empty), pa.scalar("0"), text)
    values = bytes_of(filled, label).astype(float)
    values[empty] = np.nan
    return values


def _optional_counts(column: pa.ChunkedArray, label: str) -> np.ndarray:
    text = _text(column)
    empty = _empty(text)
    values = whole_numbers(pc.if_else(pa.array(empty), pa.scalar("0"), text), label).astype(float)
    values[empty] = np.nan
    return values


def duration_hours(column: pa.ChunkedArray | pa.Array, label: str) -> np.ndarray:
    """Hours from ``d.hh:mm:ss`` / ``hh:mm:ss`` (NaN where empty)."""
    text = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    text = pc.utf8_trim_whitespace(text)
    empty = _empty(text)
    parts = pc.extract_regex(pc.if_else(pa.array(empty), pa.scalar("0:00:00"), text), DURATION)
    bad = ~pc.is_valid(parts).to_numpy(zero_copy_only=False) & ~empty
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        raise ExportError(
            f"must be a duration d.hh:mm:ss or hh:mm:ss (got {text[index].as_py()!r})",
            index=index,
            column=label,
        )

    def number(field: str) -> np.ndarray:
        raw = pc.struct_field(parts, [list(parts.type.names).index(field)])
        raw = pc.if_else(pc.equal(pc.utf8_length(raw), 0), pa.scalar("0"), raw)
        return pc.cast(pc.fill_null(raw, "0"), pa.float64()).to_numpy(zero_copy_only=False)

    minutes, seconds = number("m"), number("s")
    if (minutes >= 60).any() or (seconds >= 60).any():
        index = int(np.flatnonzero((minutes >= 60) | (seconds >= 60))[0])
        raise ExportError(
            f"must be a duration d.hh:mm:ss or hh:mm:ss (got {text[index].as_py()!r})",
            index=index,
            column=label,
        )
    hours = number("d") * 24 + number("h") + minutes / 60 + seconds / 3600
    hours[empty] = np.nan
    return hours


def timestamps(column: pa.ChunkedArray, label: str) -> pd.Series:
    """Datetimes (NaT where empty) in ISO or one of the culture formats of :data:`TIME_FORMATS`."""
    text = pd.Series(_text(column).to_numpy(zero_copy_only=False), dtype=object).fillna("")
    given = text != ""
    best, best_count = None, -1
    for fmt in TIME_FORMATS:
        parsed = pd.to_datetime(text.where(given), format=fmt, errors="coerce")
        count = int(parsed[given].notna().sum())
        if count > best_count:
            best, best_count = parsed, count
        if count == int(given.sum()):
            break
    bad = given & best.isna()
    if bad.any():
        index = int(np.flatnonzero(bad.to_numpy())[0])
        raise ExportError(
            f"must be a date and time, e.g. 2024-02-14 23:02:03 (got {text.iloc[index]!r})",
            index=index,
            column=label,
        )
    if getattr(best.dt, "tz", None) is not None:
        best = best.dt.tz_localize(None)
    return best


def _moves(table: pa.Table, columns: dict[str, str], source: str, first_row: int) -> MoveReport:
    n = table.num_rows
    names = _text(table[columns["name"]]).to_numpy(zero_copy_only=False)
    status_text = pc.utf8_lower(pc.fill_null(_text(table[columns["Status"]]), ""))
    status = np.asarray(status_text.to_numpy(zero_copy_only=False), dtype=object)
    status[np.isin(status, SYNCED)] = "synced"
    status[status == "completedwithwarning"] = "completed"
    empty_status = np.flatnonzero(status == "")
    if len(empty_status):
        raise ExportError("is empty", index=int(empty_status[0]), column=columns["Status"])
    transferred = _optional_bytes(table[columns["BytesTransferred"]], columns["BytesTransferred"])
    hours = duration_hours(
        table[columns["TotalInProgressDuration"]], columns["TotalInProgressDuration"]
    )
    moved = np.isin(status, ("completed", "synced"))
    for label, values in (
        (columns["BytesTransferred"], transferred),
        (columns["TotalInProgressDuration"], hours),
    ):
        missing = np.flatnonzero(moved & np.isnan(values))
        if len(missing):
            raise ExportError(
                f"is empty for a {status[missing[0]]} move", index=int(missing[0]), column=label
            )
    size = None
    if "TotalMailboxSize" in columns:
        size = _optional_bytes(table[columns["TotalMailboxSize"]], columns["TotalMailboxSize"])
    items = None
    if "TotalMailboxItemCount" in columns:
        label = columns["TotalMailboxItemCount"]
        items = _optional_counts(table[label], label)
    per_minute = None
    if "BytesTransferredPerMinute" in columns:
        label = columns["BytesTransferredPerMinute"]
        per_minute = _optional_bytes(table[label], label)
    detail = None
    if "StatusDetail" in columns:
        text = pc.fill_null(_text(table[columns["StatusDetail"]]), "")
        detail = np.asarray(text.to_numpy(zero_copy_only=False), dtype=object)
    times = pd.DataFrame(
        {c: timestamps(table[columns[c]], columns[c]) for c in TIMESTAMPS if c in columns}
    )
    return MoveReport(
        source=source,
        name=np.asarray(names, dtype=object),
        status=status,
        bytes_transferred=transferred,
        hours=hours,
        size_bytes=size,
        items=items,
        bytes_per_minute=per_minute,
        status_detail=detail,
        times=times,
        row=np.arange(n, dtype=np.int64) + first_row,
    )


def gb(values: np.ndarray) -> np.ndarray:
    """Bytes as migsim's GB (Exchange's, 1024^3 bytes)."""
    return values / GB


def daily_counts(report: MoveReport) -> pd.DataFrame:
    """The actuals a move report encodes: ``date,migrated,failed`` per day with an event.

    ``migrated`` counts Completed moves by the date of ``CompletionTimestamp``;
    ``failed`` the Failed ones by ``FailureTimestamp`` (else ``LastUpdateTimestamp``).
    The last row is the as-of day: the report's last update, if later than any event.
    """
    times = report.times
    source = report.source
    if "CompletionTimestamp" not in times:
        raise ScenarioError(
            source, "column CompletionTimestamp", "is required to read a move report as actuals"
        )
    completed = report.status == "completed"
    done = times["CompletionTimestamp"]
    missing = np.flatnonzero(completed & done.isna().to_numpy())
    if len(missing):
        raise ScenarioError(
            source,
            f"row {report.row[missing[0]]}, column CompletionTimestamp",
            "is empty for a Completed move",
        )
    failed = report.status == "failed"
    failed_at = pd.Series(pd.NaT, index=times.index, dtype="datetime64[ns]")
    for column in ("LastUpdateTimestamp", "FailureTimestamp"):  # the failure time wins
        if column in times:
            failed_at = times[column].where(times[column].notna(), failed_at)
    missing = np.flatnonzero(failed & failed_at.isna().to_numpy())
    if len(missing):
        raise ScenarioError(
            source,
            f"row {report.row[missing[0]]}, column FailureTimestamp",
            "is empty for a Failed move (and so is LastUpdateTimestamp)",
        )
    days = {
        "migrated": done[completed].dt.normalize().value_counts(),
        "failed": failed_at[failed].dt.normalize().value_counts(),
    }
    frame = pd.DataFrame(days).fillna(0).astype(np.int64)
    last = [frame.index.max()] if len(frame) else []
    if "LastUpdateTimestamp" in times and times["LastUpdateTimestamp"].notna().any():
        last.append(times["LastUpdateTimestamp"].max().normalize())
    if not last:
        raise ScenarioError(source, "column Status", "has no Completed or Failed move")
    as_of = max(last)
    if as_of not in frame.index:
        frame.loc[as_of] = 0
    frame = frame.sort_index()
    frame.index.name = "date"
    out = frame.reset_index()
    out["date"] = out["date"].dt.strftime("%Y-%m-%d")
    return out[["date", "migrated", "failed"]]
