"""The actuals of a migration under way: what really happened, day by day.

Six weeks in, the migration team exports its daily counts::

    date,migrated,failed,tickets_opened
    2020-08-03,982,4,11
    2020-08-04,1003,2,9
    ...

``date`` and ``migrated`` (successful cutovers that day) are required; ``failed``
(failed cutover attempts) and ``tickets_opened`` (service-desk tickets raised) are
optional. The last date is the *as-of* day. Days without a row count as zero, so a
team may list only its cutover days.

A move report of the live migration (``Get-MoveRequestStatistics | Export-Csv``,
``sim.experiments.move_report``) is read as such counts: ``migrated`` = Completed
moves by the date of ``CompletionTimestamp``, ``failed`` = Failed moves by the
date of ``FailureTimestamp`` (else ``LastUpdateTimestamp``); the as-of day is the
report's last update.

Every problem is a :class:`~sim.model.scenario.ScenarioError` naming the file, the
row (counted as in a spreadsheet: the header is row 1) and the column::

    actuals.csv: row 7, migrated: must be a whole number >= 0 (got '-12')
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.model.calendar import Calendar
from sim.model.scenario import Scenario, ScenarioError, refuse_non_table

REQUIRED = ("date", "migrated")
OPTIONAL = ("failed", "tickets_opened")
COUNTS = ("migrated", *OPTIONAL)
FIRST_DATA_ROW = 2  # in a file the header is row 1
FIRST_ROW_ATTR = "migsim_first_row"  # read_actuals marks its frames: rows counted as in the file


@dataclass(frozen=True)
class Actuals:
    """Validated daily counts, one entry per calendar day from the scenario's start to as-of.

    ``failed`` and ``tickets_opened`` are None when the file did not give them.
    """

    table: pd.DataFrame  # the rows as given: date (datetime64) and the count columns
    start: dt.date
    as_of: dt.date
    migrated: np.ndarray  # int64 per day, start .. as_of
    failed: np.ndarray | None
    tickets_opened: np.ndarray | None

    @property
    def days(self) -> int:
        return len(self.migrated)

    @property
    def dates(self) -> pd.DatetimeIndex:
        return pd.date_range(self.start, self.as_of, freq="D")

    def cumulative(self) -> pd.DataFrame:
        """Date and cumulative migrated per day (for plots and comparisons)."""
        return pd.DataFrame({"date": self.dates, "cumulative_migrated": np.cumsum(self.migrated)})


def read_actuals(path: str | Path) -> pd.DataFrame:
    """Read an actuals CSV as text columns (validation, with row numbers, comes next).

    A move report is recognised by its header and turned into the daily counts.
    """
    path = Path(path)
    refuse_non_table(path, str(path))  # a folder or a workbook says what it is
    if _is_move_report(path):
        from sim.experiments.move_report import daily_counts, read_move_report

        return daily_counts(read_move_report(path))
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError:
        raise ScenarioError(str(path), "", "no such file") from None
    except pd.errors.EmptyDataError:
        raise ScenarioError(
            str(path), "", "is empty (expected a header date,migrated,...)"
        ) from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
        message = str(error).strip().splitlines()[-1]
        raise ScenarioError(str(path), "", f"not a readable CSV: {message}") from None
    frame.attrs[FIRST_ROW_ATTR] = FIRST_DATA_ROW
    return frame


def _is_move_report(path: Path) -> bool:
    from sim.experiments.move_report import is_move_report
    from sim.model.exchange import sniff_csv

    try:
        header, _, _ = sniff_csv(path)
    except (OSError, UnicodeDecodeError):
        return False  # read_csv below says what is wrong
    return is_move_report(header)


def validate_actuals(
    frame: pd.DataFrame, scenario: Scenario, calendar: Calendar, *, source: str = "actuals"
) -> Actuals:
    """Check the actuals against the scenario and put them on the calendar's days.

    A bad row is named as a person would find it: in a file read by :func:`read_actuals`,
    counted as a spreadsheet does (the header is row 1); in a DataFrame, by position
    (row 0 is the first row of data).
    """
    first = int(frame.attrs.get(FIRST_ROW_ATTR, 0))
    frame = frame.rename(columns=lambda c: str(c).strip())
    _check_columns(frame, source)
    if frame.empty:
        raise ScenarioError(source, "", "has no rows (expected one row per day up to as-of)")
    source = _Rows(source, first)
    dates = _dates(frame["date"], source)
    _check_order(dates, source)
    start = scenario.scenario.start
    last = calendar.date_of(calendar.last_cutover_index)
    _check_range(dates, start, last, source)
    counts = {c: _counts(frame[c], c, source) for c in COUNTS if c in frame.columns}
    population = scenario.population.mailboxes
    running = np.cumsum(counts["migrated"])
    _refuse_first(
        running > population,
        source,
        "migrated",
        lambda row: (
            f"cumulative migrated {running[row]:,} exceeds population.mailboxes ({population:,})"
        ),
    )
    as_of = dates[-1].date()
    offsets = (dates - pd.Timestamp(start)).days.to_numpy()
    days = (as_of - start).days + 1

    def per_day(column: str) -> np.ndarray | None:
        if column not in counts:
            return None
        return np.bincount(offsets, weights=counts[column], minlength=days).astype(np.int64)

    table = pd.DataFrame({"date": dates, **counts})
    return Actuals(
        table=table,
        start=start,
        as_of=as_of,
        migrated=per_day("migrated"),
        failed=per_day("failed"),
        tickets_opened=per_day("tickets_opened"),
    )


class _Rows(str):
    """The source's name, knowing how it numbers rows (``first``: the first data row's number)."""

    first: int

    def __new__(cls, source: str, first: int) -> _Rows:
        text = super().__new__(cls, source)
        text.first = first
        return text


def _where(position: int, column: str, source: str = "") -> str:
    first = getattr(source, "first", FIRST_DATA_ROW)
    return f"row {position + first}, {column}"


def _refuse_first(bad: np.ndarray, source: str, column: str, message: Callable[[int], str]) -> None:
    """Raise a ScenarioError naming the first data row where ``bad`` holds, if any.

    Every check of the actuals reports its first offending row the same way: the file,
    ``row N, column`` and ``message(position)`` (position 0 = the first data row).
    """
    rows = np.flatnonzero(bad)
    if len(rows):
        row = int(rows[0])
        raise ScenarioError(str(source), _where(row, column, source), message(row))


def _check_columns(frame: pd.DataFrame, source: str) -> None:
    known = (*REQUIRED, *OPTIONAL)
    for column in frame.columns:
        if column not in known:
            close = difflib.get_close_matches(column, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(known)}"
            raise ScenarioError(source, str(column), "unknown column" + hint)
    for column in REQUIRED:
        if column not in frame.columns:
            given = ", ".join(map(str, frame.columns)) or "none"
            raise ScenarioError(source, column, f"column is missing (columns given: {given})")


def _dates(column: pd.Series, source: str) -> pd.DatetimeIndex:
    if pd.api.types.is_datetime64_any_dtype(column):
        parsed = pd.to_datetime(column)
    else:
        text = column.astype(str).str.strip()
        parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
        _refuse_first(
            parsed.isna().to_numpy(),
            source,
            "date",
            lambda row: f"must be a date YYYY-MM-DD (got {text.iloc[row]!r})",
        )
    index = pd.DatetimeIndex(parsed)
    if index.tz is not None:
        index = index.tz_localize(None)
    _refuse_first(index.isna(), source, "date", lambda row: "must be a date YYYY-MM-DD (got NaT)")
    _refuse_first(
        index != index.normalize(), source, "date", lambda row: f"must be a day (got {index[row]})"
    )
    return index


def _check_order(dates: pd.DatetimeIndex, source: str) -> None:
    steps = np.diff(dates.asi8)
    bad = np.flatnonzero(steps <= 0)
    if len(bad):
        row = int(bad[0]) + 1
        what = "repeats" if steps[bad[0]] == 0 else "comes before"
        raise ScenarioError(
            str(source),
            _where(row, "date", source),
            f"{dates[row].date()} {what} the previous row's {dates[row - 1].date()} "
            "(one row per day, in order)",
        )


def _check_range(dates: pd.DatetimeIndex, start: dt.date, last: dt.date, source: str) -> None:
    _refuse_first(
        dates < pd.Timestamp(start),
        source,
        "date",
        lambda row: f"{dates[row].date()} is before the scenario's start ({start})",
    )
    _refuse_first(
        dates > pd.Timestamp(last),
        source,
        "date",
        lambda row: f"{dates[row].date()} is beyond the horizon (last cutover day {last})",
    )


def _counts(column: pd.Series, name: str, source: str) -> np.ndarray:
    text = column.astype(str).str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < 0) | (values != np.round(values))
    _refuse_first(
        bad, source, name, lambda row: f"must be a whole number >= 0 (got {text.iloc[row]!r})"
    )
    return values.astype(np.int64)
