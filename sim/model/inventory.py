"""The real mailbox list: an export of mailbox statistics, read with pyarrow.

Once a planner holds the list of mailboxes, the forecast should use it rather
than drawn sizes. The file is CSV or Parquet with one row per mailbox::

    mailbox,organisation,size_gb,item_count,legacy
    jane.smith@nhs.net,Northfield Practice,1.42,18230,false
    raj.patel3@nhs.net,St Elsewhere NHS Foundation Trust,0.31,4115,true

``mailbox`` (an id or e-mail address, unique, compared without ASCII case) and
``size_gb`` (>= 0) are required; ``organisation``, ``item_count`` (whole,
>= 0), ``legacy`` (true/false, yes/no or 1/0) and ``kind`` (user, shared,
room, ...; default user) are optional. Column names are matched without case;
other columns are ignored.

Exchange's own exports are inventories too, recognised by their header
(``sim.model.exchange``): a ``Get-MailboxStatistics`` /
``Get-EXOMailboxStatistics`` export and the Microsoft 365 mailbox usage report,
with a ``#TYPE`` first line, a BOM, ``,`` or ``;``. Their sizes are bytes
(``size_gb`` = bytes / 1024^3, Exchange's GB); without
``population.organisation_column`` their organisation is the e-mail domain.

A bad file raises :class:`InventoryError`, one line naming the file, the row
and the column. Rows are numbered as a spreadsheet shows them: the header is
row 1, so the first mailbox is row 2.

For the model, organisations become integer codes (names in alphabetical
order kept beside them) and the rows are grouped by organisation (stably, so
file order is kept within one); :func:`load_inventory` caches what it read
per file, so a run reads the file once per process: worker processes forked
after the scenario was loaded read it not at all.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from sim.model.exchange import (
    GB,
    ExportError,
    Shape,
    bytes_of,
    domains_of,
    expected_columns,
    kinds_of,
    recognise_exchange,
    sniff_csv,
    whole_numbers,
)

REQUIRED = ("mailbox", "size_gb")
OPTIONAL = ("organisation", "item_count", "legacy", "kind")
PLAIN = "migsim inventory"
FIRST_DATA_ROW = 2  # spreadsheet numbering: the header is row 1
TRUE_VALUES = ("true", "yes", "1", "y", "t")
FALSE_VALUES = ("false", "no", "0", "n", "f")
_CSV_TYPES = {
    "mailbox": pa.string(),
    "organisation": pa.dictionary(pa.int32(), pa.string()),
    "size_gb": pa.float64(),
    "item_count": pa.int64(),
    "legacy": pa.bool_(),
    "kind": pa.dictionary(pa.int32(), pa.string()),
}


class InventoryError(ValueError):
    """A bad inventory file; ``str(error)`` is one line naming the file, row and column."""

    def __init__(self, path: str, message: str, *, row: int | None = None, column: str = ""):
        self.path, self.row, self.column, self.message = path, row, column, message
        super().__init__(f"{path}: {self.where}: {message}" if self.where else f"{path}: {message}")

    @property
    def where(self) -> str:
        """ "row 17, column size_gb" (either part left out when unknown)."""
        parts = [
            f"row {self.row}" if self.row is not None else "",
            self.column and f"column {self.column}",
        ]
        return ", ".join(p for p in parts if p)


@dataclass(frozen=True)
class Inventory:
    """The mailboxes of an inventory file, grouped by organisation.

    ``row`` maps each entry back to its spreadsheet row in the file.
    """

    mailbox: pa.Array  # string ids as written (trimmed)
    size_gb: np.ndarray  # float64
    organisation: np.ndarray  # int32 codes 0..k-1, non-decreasing
    organisation_names: np.ndarray  # object array of k names ("" where the file had none)
    item_count: np.ndarray | None  # int64, or None without the column
    legacy: np.ndarray | None  # bool, or None without the column
    row: np.ndarray  # int64 spreadsheet row of each entry
    kind: np.ndarray | None = None  # object array of str ("user", "shared", ...) per entry
    format: str = PLAIN  # which shape the file was read as

    def __post_init__(self) -> None:
        if self.kind is None:  # built by hand without kinds: every mailbox a user
            object.__setattr__(self, "kind", np.full(len(self.size_gb), "user", dtype=object))

    def __len__(self) -> int:
        return len(self.size_gb)


def load_inventory(
    path: str | Path, *, display: str | None = None, organisation_column: str | None = None
) -> Inventory:
    """Read and check an inventory (cached per file, its size and its modification time).

    ``organisation_column`` (``population.organisation_column``) names the column
    that gives each mailbox's organisation.
    """
    path = Path(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise InventoryError(display or str(path), "no such file") from None
    except OSError as error:
        raise InventoryError(display or str(path), f"cannot read: {error}") from None
    try:
        return _load_cached(str(path), stat.st_mtime_ns, stat.st_size, organisation_column)
    except InventoryError as error:
        shown = display or str(path)
        raise InventoryError(shown, error.message, row=error.row, column=error.column) from None


@functools.lru_cache(maxsize=4)
def _load_cached(
    path: str, _mtime_ns: int, _size: int, organisation_column: str | None
) -> Inventory:
    return read_inventory(path, organisation_column=organisation_column)


def read_inventory(
    path: str | Path, *, display: str | None = None, organisation_column: str | None = None
) -> Inventory:
    """Read and check an inventory file (no cache); ``display`` names it in errors."""
    path = Path(path)
    name = display or str(path)
    if not path.is_file():
        raise InventoryError(name, "no such file")
    parquet = _is_parquet(path)
    if parquet:
        header, delimiter, skip = _parquet_header(path, name), ",", 0
    else:
        header, delimiter, skip = _csv_header(path, name)
    shape = _shape(header, name, organisation_column)
    try:
        if shape.name == PLAIN:
            table = (
                _read_parquet(path, name, shape) if parquet else _read_csv(path, name, shape, skip)
            )
        else:
            table = _read_exchange(path, name, shape, delimiter, skip, parquet)
        inventory = _check(table, name, shape, skip)
    except InventoryError as error:
        if error.row is None or not skip:
            raise
        raise InventoryError(
            name, error.message, row=error.row + skip, column=error.column
        ) from None
    if skip:
        row = inventory.row + skip
        row.setflags(write=False)
        inventory = dataclasses.replace(inventory, row=row)
    return inventory


def _is_parquet(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(4) == b"PAR1"


# --- reading ---------------------------------------------------------------------------------


def _shape(header: list[str], name: str, organisation_column: str | None) -> Shape:
    """Which format the header is, and which of its columns play which part."""
    by_lower = {c.strip().lower(): c for c in header}
    if any(c in by_lower for c in REQUIRED) or not header:
        columns = _columns(header, name)
        shape = Shape(PLAIN, mailbox=columns.pop("mailbox"), extra=columns)
    else:
        shape = recognise_exchange(header)
        if shape is None:
            expected = f"expected the columns {expected_columns()}"
            shown = ", ".join(header)
            raise InventoryError(name, f"unknown format: {expected} (the file has: {shown})")
    if organisation_column is None:
        return shape
    organisation = by_lower.get(organisation_column.strip().lower())
    if organisation is None:
        raise InventoryError(
            name,
            "is named by population.organisation_column but missing "
            f"(the file has: {', '.join(header)})",
            column=organisation_column,
        )
    if shape.name == PLAIN:
        return dataclasses.replace(shape, extra={**shape.extra, "organisation": organisation})
    return dataclasses.replace(shape, organisation=organisation)


def _columns(found: list[str], name: str) -> dict[str, str]:
    """Our column name -> the file's spelling; a required column missing is an error."""
    by_lower = {c.strip().lower(): c for c in found}
    for column in REQUIRED:
        if column not in by_lower:
            shown = ", ".join(found) if found else "none"
            raise InventoryError(name, f"is required (the file has: {shown})", column=column)
    return {c: by_lower[c] for c in (*REQUIRED, *OPTIONAL) if c in by_lower}


def _plain_columns(shape: Shape) -> dict[str, str]:
    return {"mailbox": shape.mailbox, **shape.extra}


def _parquet_header(path: Path, name: str) -> list[str]:
    try:
        return pq.read_schema(path).names
    except (pa.ArrowException, OSError) as error:
        raise InventoryError(name, f"not a readable Parquet file: {_first_line(error)}") from None


def _read_parquet(path: Path, name: str, shape: Shape) -> pa.Table:
    columns = _plain_columns(shape)
    try:
        encoded = [columns[c] for c in ("organisation", "kind") if c in columns]
        table = pq.read_table(path, columns=list(columns.values()), read_dictionary=encoded)
    except (pa.ArrowException, OSError) as error:
        raise InventoryError(name, f"not a readable Parquet file: {_first_line(error)}") from None
    return pa.table([table[c] for c in columns.values()], names=list(columns))


def _read_csv(path: Path, name: str, shape: Shape, skip: int = 0) -> pa.Table:
    columns = _plain_columns(shape)
    delimiter = _csv_header(path, name)[1]
    skipped = pa_csv.ReadOptions(skip_rows=skip)
    parse = pa_csv.ParseOptions(delimiter=delimiter)
    typed = {columns[c]: _CSV_TYPES[c] for c in columns}
    options = pa_csv.ConvertOptions(
        column_types=typed,
        include_columns=list(dict.fromkeys(columns.values())),
        true_values=[*TRUE_VALUES, *(v.upper() for v in TRUE_VALUES), "True", "Yes"],
        false_values=[*FALSE_VALUES, *(v.upper() for v in FALSE_VALUES), "False", "No"],
        strings_can_be_null=True,
        decimal_point="," if delimiter == ";" else ".",  # European Excel: 1,5;2,25
    )
    try:
        table = pa_csv.read_csv(
            path, read_options=skipped, parse_options=parse, convert_options=options
        )
    except pa.ArrowInvalid:
        # Only on error: read every column as text to name the first bad row and column.
        table = _read_csv_as_text(path, name, parse, columns, skip)
    except (pa.ArrowException, OSError) as error:
        raise InventoryError(name, f"not a readable CSV file: {_first_line(error)}") from None
    return pa.table([table[c] for c in columns.values()], names=list(columns))


def _read_exchange(
    path: Path, name: str, shape: Shape, delimiter: str, skip: int, parquet: bool
) -> pa.Table:
    """An Exchange export's columns as our inventory table: sizes in GB, counts summed."""
    wanted = shape.columns
    if parquet:
        try:
            table = pq.read_table(path, columns=wanted)
        except (pa.ArrowException, OSError) as error:
            raise InventoryError(
                name, f"not a readable Parquet file: {_first_line(error)}"
            ) from None
    else:
        table = _read_text_columns(path, name, wanted, delimiter, skip)
    try:
        ids = pc.utf8_trim_whitespace(_as_text(table[shape.mailbox]).combine_chunks())
        total = sum(bytes_of(table[c], c) for c in shape.size_bytes)
        items = [whole_numbers(table[c], c) for c in shape.item_count]
        kind = kinds_of(table[shape.kind] if shape.kind else None, table.num_rows)
    except ExportError as error:
        row = None if error.index is None else error.index + FIRST_DATA_ROW
        raise InventoryError(name, error.message, row=row, column=error.column) from None
    organisation = domains_of(ids) if shape.organisation is None else table[shape.organisation]
    columns = {
        "mailbox": ids,
        "size_gb": pa.array(np.asarray(total, dtype=np.int64) / GB),  # exact: GB is 2^30
        "organisation": organisation,
        "kind": pa.array(kind, type=pa.string()),
    }
    if items:
        columns["item_count"] = pa.array(np.sum(items, axis=0, dtype=np.int64))
    return pa.table(columns)


def _read_text_columns(
    path: Path, name: str, wanted: list[str], delimiter: str, skip: int
) -> pa.Table:
    parse = pa_csv.ParseOptions(delimiter=delimiter)
    options = pa_csv.ConvertOptions(
        column_types={c: pa.string() for c in wanted},
        include_columns=wanted,
        strings_can_be_null=True,
    )
    try:
        return pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(skip_rows=skip),
            parse_options=parse,
            convert_options=options,
        )
    except pa.ArrowInvalid as error:
        row = _bad_field_count_row(path, delimiter, skip)
        row = None if row is None else row - skip  # read_inventory adds the skipped lines
        raise InventoryError(name, f"not a valid CSV row: {_first_line(error)}", row=row) from None
    except UnicodeDecodeError:
        raise InventoryError(name, "not a UTF-8 text file (save the export as CSV UTF-8)") from None
    except (pa.ArrowException, OSError) as error:
        raise InventoryError(name, f"not a readable CSV file: {_first_line(error)}") from None


def _csv_header(path: Path, name: str) -> tuple[list[str], str, int]:
    """The header, the separator and how many lines precede the header (a ``#TYPE`` line)."""
    try:
        return sniff_csv(path)  # as pyarrow names the columns; _columns matches them trimmed
    except UnicodeDecodeError:
        raise InventoryError(name, "not a UTF-8 text file (save the export as CSV UTF-8)") from None


def _read_csv_as_text(
    path: Path, name: str, parse: pa_csv.ParseOptions, columns: dict[str, str], skip: int = 0
) -> pa.Table:
    options = pa_csv.ConvertOptions(
        column_types={c: pa.string() for c in columns.values()},
        include_columns=list(dict.fromkeys(columns.values())),
        strings_can_be_null=True,
    )
    try:
        table = pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(skip_rows=skip),
            parse_options=parse,
            convert_options=options,
        )
    except pa.ArrowInvalid as error:
        row = _bad_field_count_row(path, parse.delimiter, skip)
        row = None if row is None else row - skip  # read_inventory adds the skipped lines
        raise InventoryError(name, f"not a valid CSV row: {_first_line(error)}", row=row) from None
    except UnicodeDecodeError:
        raise InventoryError(name, "not a UTF-8 text file (save the export as CSV UTF-8)") from None
    if parse.delimiter != ";":
        return table
    for column in ("size_gb", "item_count"):
        if column in columns:
            index = table.column_names.index(columns[column])
            decimal = pc.replace_substring(table[columns[column]], ",", ".")
            table = table.set_column(index, columns[column], decimal)
    return table


def _bad_field_count_row(path: Path, delimiter: str, skip: int = 0) -> int | None:
    """The spreadsheet row of the first record whose field count differs from the header's."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as file:
        for _ in range(skip):
            file.readline()
        reader = csv.reader(file, delimiter=delimiter)
        width = len(next(reader, []))
        for index, record in enumerate(reader):
            if record and len(record) != width:
                return index + FIRST_DATA_ROW + skip
    return None


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


# --- checking --------------------------------------------------------------------------------


def _check(table: pa.Table, name: str, shape: Shape, skip: int = 0) -> Inventory:
    n = table.num_rows
    # One contiguous array first: pyarrow 26's ascii kernels corrupt chunks that share a
    # buffer with their neighbours (as a cast Parquet column's do).
    ids = pc.ascii_trim_whitespace(_as_text(table["mailbox"]).combine_chunks())
    id_label = "mailbox" if shape.name == PLAIN else shape.mailbox
    _no_empty(ids, name, id_label)
    _unique(ids, name, id_label, skip)
    size_gb = _numbers(table["size_gb"], name, "size_gb")
    item_count = None
    if "item_count" in table.column_names:
        items = _numbers(table["item_count"], name, "item_count")
        _whole(items, name, "item_count")
        item_count = items.astype(np.int64)
    legacy = _booleans(table["legacy"], name) if "legacy" in table.column_names else None
    if "organisation" in table.column_names:
        codes, org_names = _organisations(table["organisation"])
    else:
        codes = np.zeros(n, dtype=np.int32)
        org_names = np.asarray([""], dtype=object)
    kind = kinds_of(table["kind"] if "kind" in table.column_names else None, n)
    row = np.arange(n, dtype=np.int64) + FIRST_DATA_ROW
    # The model wants each organisation's mailboxes together; keep file order within one.
    if n and np.any(np.diff(codes) < 0):
        # numpy's stable sort is a linear-time radix sort for 16-bit keys.
        keys = codes.astype(np.uint16) if len(org_names) <= 1 << 16 else codes
        order = np.argsort(keys, kind="stable")
        ids = ids.take(pa.array(order))
        codes, size_gb, row = codes[order], size_gb[order], row[order]
        item_count = item_count[order] if item_count is not None else None
        legacy = legacy[order] if legacy is not None else None
        kind = kind[order]
    arrays = (size_gb, codes, item_count, legacy, row, kind)
    for array in arrays:
        if array is not None:
            array.setflags(write=False)  # shared by every replication in the process
    return Inventory(
        mailbox=ids,
        size_gb=size_gb,
        organisation=codes,
        organisation_names=org_names,
        item_count=item_count,
        legacy=legacy,
        row=row,
        kind=kind,
        format=shape.name,
    )


def _organisations(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Codes (by name, alphabetical) and names; an empty cell is the organisation ""."""
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    column = column.unify_dictionaries()  # CSV blocks each bring their own dictionary
    chunks = [chunk for chunk in column.chunks if len(chunk)]
    if not chunks:
        return np.zeros(0, dtype=np.int32), np.asarray([""], dtype=object)
    indices = pa.chunked_array([c.indices for c in chunks]).combine_chunks()
    entries = pc.fill_null(pc.utf8_trim_whitespace(_as_text(chunks[0].dictionary)), "")
    # Only the (small) dictionary is worked on: trimmed names that now agree are merged.
    names, entry_code = np.unique(
        np.asarray([*entries.to_pylist(), ""], dtype=object), return_inverse=True
    )
    codes = entry_code[pc.fill_null(indices, len(entries)).to_numpy()].astype(np.int32)
    used = np.bincount(codes, minlength=len(names)) > 0
    if not used.all():  # drop the "" added for empty cells when there were none
        renumber = np.cumsum(used) - 1
        codes, names = renumber[codes].astype(np.int32), names[used]
    return codes, names


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_string(column.type):
        return column
    return pc.cast(column, pa.string())  # also large_string, as pandas writes Parquet


def _fail(name: str, column: str, index: int, message: str) -> InventoryError:
    return InventoryError(name, message, row=int(index) + FIRST_DATA_ROW, column=column)


def _no_empty(ids: pa.Array, name: str, column: str) -> None:
    empty = pc.or_kleene(pc.is_null(ids), pc.equal(pc.utf8_length(ids), 0))
    if pc.any(empty).as_py():
        index = int(np.flatnonzero(empty.to_numpy(zero_copy_only=False).astype(bool))[0])
        raise _fail(name, column, index, "is empty")


def _unique(ids: pa.Array, name: str, column: str = "mailbox", skip: int = 0) -> None:
    """Mailbox ids are unique; e-mail addresses compare without (ASCII) case.

    ``skip``: lines before the header (a ``#TYPE`` line), for the earlier row's number.
    """
    folded = pc.ascii_lower(ids)
    n = len(folded)
    # Exports often come sorted by address: strictly increasing is unique, no hashing needed.
    if n < 2 or pc.all(pc.less(folded.slice(0, n - 1), folded.slice(1))).as_py():
        return
    if len(pc.unique(folded)) == n:
        return
    keys = pd.Series(folded.to_numpy(zero_copy_only=False))
    later = int(np.flatnonzero(keys.duplicated().to_numpy())[0])
    first = int(np.flatnonzero((keys == keys.iloc[later]).to_numpy())[0])
    spelling, earlier = ids[later].as_py(), ids[first].as_py()
    same = f"{spelling!r}" if spelling == earlier else f"{spelling!r} is {earlier!r} without case"
    raise _fail(name, column, later, f"duplicate of row {first + FIRST_DATA_ROW + skip} ({same})")


def _numbers(column: pa.ChunkedArray, name: str, key: str) -> np.ndarray:
    """Finite numbers >= 0 as float64; the first bad cell is an error."""
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        values = pc.cast(column, pa.float64()).to_numpy()
        raw = None
    else:
        raw = _as_text(column).to_numpy(zero_copy_only=False)
        values = pd.to_numeric(pd.Series(raw), errors="coerce").to_numpy(dtype=float)
    # A null is NaN here; NaN >= 0 is False, so one test finds every bad cell.
    bad = ~(values >= 0) | ~np.isfinite(values)
    if not bad.any():
        return values
    index = int(np.flatnonzero(bad)[0])
    cell = raw[index] if raw is not None else column[index].as_py()
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        raise _fail(name, key, index, "is empty")
    if not np.isfinite(values[index]):
        raise _fail(name, key, index, f"must be a number (got {_shown(cell)})")
    raise _fail(name, key, index, f"must be >= 0 (got {_shown(cell)})")


def _shown(cell: object) -> str:
    """A cell as the user wrote it: 2 not 2.0, text quoted."""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return repr(cell) if isinstance(cell, str) else str(cell)


def _whole(values: np.ndarray, name: str, key: str) -> None:
    fractional = np.flatnonzero(values != np.floor(values))
    if len(fractional):
        index = int(fractional[0])
        raise _fail(name, key, index, f"must be a whole number (got {float(values[index])})")


def _booleans(column: pa.ChunkedArray, name: str) -> np.ndarray:
    if pa.types.is_boolean(column.type) and column.null_count == 0:
        return column.to_numpy()
    text = pc.utf8_lower(pc.utf8_trim_whitespace(_as_text(column)))
    truthy = _member(text, TRUE_VALUES)
    falsy = _member(text, FALSE_VALUES)
    bad = np.flatnonzero(~(truthy | falsy))
    if len(bad):
        index = int(bad[0])
        cell = column[index].as_py()
        if cell is None or cell == "":
            raise _fail(name, "legacy", index, "is empty (must be true or false)")
        raise _fail(name, "legacy", index, f"must be true or false (got {cell!r})")
    return truthy


def _member(text: pa.ChunkedArray, values: tuple[str, ...]) -> np.ndarray:
    found = pc.fill_null(pc.is_in(text, value_set=pa.array(values)), False)
    return found.to_numpy(zero_copy_only=False).astype(bool)


def describe(path: str | Path) -> str:
    """``path`` as a user would type it: relative to the working folder when inside it."""
    relative = os.path.relpath(path)
    return relative if not relative.startswith("..") else str(path)
