"""Exchange's own exports, recognised by their header and read cell by cell with pyarrow.

A planner rarely writes an inventory by hand: they run, in Windows PowerShell::

    Get-Mailbox -ResultSize Unlimited | Get-MailboxStatistics |
        Export-Csv mailboxes.csv -Encoding UTF8

and get a ``#TYPE`` first line, every field quoted, and sizes as Exchange prints
them: ``1.234 GB (1,325,123,456 bytes)``. The leading figure is rounded; the
byte count in brackets is exact and is what is read. Exchange's GB is 1024^3
bytes, and so is migsim's ``size_gb`` read from bytes (the per-move rates that
``migsim calibrate`` fits from byte counts use the same GB, so hours agree).

This module knows the shapes (:data:`SHAPES`), which column plays which part,
and how to read Exchange's cells: sizes (:func:`bytes_of`), counts
(:func:`whole_numbers`) and recipient types (:func:`kinds_of`). A bad cell is
an :class:`ExportError` naming the data row (0 = the first) and the column as
the file spells it; the callers add the file and the spreadsheet row number.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

GB = 1024**3  # Exchange's GB: the export's "1.234 GB" is 1.234 x 1024^3 bytes

# The first of these columns present is the mailbox id (SPEC order).
EXPORT_ID_COLUMNS = ("PrimarySmtpAddress", "UserPrincipalName", "MailboxGuid", "DisplayName")
EXPORT_KIND_COLUMNS = ("RecipientTypeDetails", "MailboxTypeDetail")
KINDS = {
    "usermailbox": "user",
    "sharedmailbox": "shared",
    "roommailbox": "room",
    "equipmentmailbox": "equipment",
}
UNLIMITED = "unlimited"


class ExportError(ValueError):
    """A bad cell or column: ``index`` is the data row (0 = first) or None, ``column`` as spelt."""

    def __init__(self, message: str, *, index: int | None = None, column: str = "") -> None:
        self.message, self.index, self.column = message, index, column
        super().__init__(message)


@dataclass(frozen=True)
class Shape:
    """Which file column plays which part; sizes and counts may be sums of columns."""

    name: str
    mailbox: str
    size_bytes: tuple[str, ...] = ()  # summed; empty for the plain format (size_gb)
    item_count: tuple[str, ...] = ()  # summed
    kind: str | None = None
    organisation: str | None = None  # None: the e-mail domain of the id
    extra: dict[str, str] = field(default_factory=dict)  # plain format: size_gb, legacy, ...

    @property
    def columns(self) -> list[str]:
        """Every file column to read, once each, in a stable order."""
        named = [self.mailbox, *self.size_bytes, *self.item_count, self.kind, self.organisation]
        named += list(self.extra.values())
        return list(dict.fromkeys(c for c in named if c))


@dataclass(frozen=True)
class _Known:
    name: str
    required: tuple[str, ...]  # every one must be present (lower-cased match)
    one_of: tuple[str, ...] = ()  # at least one must be present


SHAPES = (
    _Known("mailbox statistics export", ("TotalItemSize",), EXPORT_ID_COLUMNS),
    _Known("Microsoft 365 mailbox usage report", ("User Principal Name", "Storage Used (Byte)")),
)


def expected_columns() -> str:
    """What a header must hold, for the 'unknown format' message."""
    shapes = ["mailbox,size_gb (migsim's own)"]
    for known in SHAPES:
        wanted = ",".join(known.required)
        if known.one_of:
            wanted += " and one of " + "/".join(known.one_of)
        shapes.append(f"{wanted} ({known.name})")
    return "; or ".join(shapes)


def recognise_exchange(header: Sequence[str]) -> Shape | None:
    """The Exchange shape of this header (None when it is none of them)."""
    by_lower = {c.strip().lower(): c for c in header}

    def find(*names: str) -> str | None:
        return next((by_lower[n.lower()] for n in names if n.lower() in by_lower), None)

    def present(*names: str) -> tuple[str, ...]:
        return tuple(c for c in (find(n) for n in names) if c)

    statistics, usage = SHAPES
    if find("TotalItemSize") and find(*EXPORT_ID_COLUMNS):
        return Shape(
            statistics.name,
            mailbox=find(*EXPORT_ID_COLUMNS),
            size_bytes=present("TotalItemSize", "TotalDeletedItemSize"),
            item_count=present("ItemCount", "DeletedItemCount"),
            kind=find(*EXPORT_KIND_COLUMNS),
        )
    if find(*usage.required) and all(find(n) for n in usage.required):
        return Shape(
            usage.name,
            mailbox=find("User Principal Name"),
            size_bytes=present("Storage Used (Byte)", "Deleted Item Size (Byte)"),
            item_count=present("Item Count", "Deleted Item Count"),
            kind=find("Recipient Type"),
        )
    return None


def sniff_csv(path: Path) -> tuple[list[str], str, int]:
    """The header, the separator and the lines before the header (a ``#TYPE`` line: 1).

    Raises UnicodeDecodeError for a file that is not UTF-8 (a BOM is fine).
    """
    with path.open(encoding="utf-8-sig", newline="") as file:
        first = file.readline()
        skip = 0
        if first.startswith("#"):  # Windows PowerShell's "#TYPE ..." line
            first, skip = file.readline(), 1
    delimiter = ","
    if "," not in first:  # Export-Csv -UseCulture writes the list separator, often ";"
        delimiter = next((d for d in (";", "\t") if d in first), ",")
    header = next(csv.reader([first], delimiter=delimiter), [])
    return header, delimiter, skip


# --- cells ----------------------------------------------------------------------------------


def _combined(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One contiguous string array (the file's cells as they are)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if not pa.types.is_string(column.type):
        column = pc.cast(column, pa.string())
    return column


def _text(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    return pc.utf8_trim_whitespace(_combined(column))


def _first(mask: pa.Array | np.ndarray) -> int | None:
    values = np.asarray(mask.to_numpy(zero_copy_only=False) if hasattr(mask, "to_numpy") else mask)
    hits = np.flatnonzero(values.astype(bool))
    return int(hits[0]) if len(hits) else None


def _empty(text: pa.Array) -> pa.Array:
    return pc.fill_null(pc.equal(pc.binary_length(text), 0), True)


def _int64(text: pa.Array) -> np.ndarray | None:
    """``text`` cast to int64, or None if some cell is not a plain whole number."""
    if text.null_count:
        return None
    try:
        return pc.cast(text, pa.int64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        return None


def _bracketed_bytes(cells: pa.Array) -> np.ndarray | None:
    """The fast path for a column of Exchange text sizes ``... (1,325,123,456 bytes)``."""
    parts = pc.split_pattern(cells, "(", max_splits=1)
    if cells.null_count or pc.min(pc.list_value_length(parts)).as_py() != 2:
        return None
    figures = pc.replace_substring(pc.list_element(parts, 1), " bytes)", "")
    return _int64(pc.replace_substring(figures, ",", ""))


def bytes_of(column: pa.ChunkedArray | pa.Array, label: str) -> np.ndarray:
    """Bytes (int64) from bytes or Exchange's ``1.234 GB (1,325,123,456 bytes)``.

    Only the figure in brackets is read (digit-group separators ``,`` ``.`` ``'``
    and spaces dropped); a cell without brackets must be whole bytes.
    """
    cells = _combined(column)
    # A whole column is of one form, as exports are: try the one its first cells show.
    sample = pc.any(pc.match_substring(cells.slice(0, 100), "(")).as_py()
    for fast in (_bracketed_bytes, _int64) if sample else (_int64, _bracketed_bytes):
        values = fast(cells)
        if values is not None and (len(values) == 0 or values.min() >= 0):
            return values
    text = pc.utf8_trim_whitespace(cells)
    n = len(text)
    if (index := _first(_empty(text))) is not None:
        raise ExportError(
            "is empty (expected bytes or e.g. '1.2 GB (1,288,490,189 bytes)')",
            index=index,
            column=label,
        )
    # The text after the last "(": "1,325,123,456 bytes)"; a cell without one stays whole.
    parts = pc.split_pattern(text, "(", max_splits=1, reverse=True)
    ends = np.cumsum(pc.list_value_length(parts).to_numpy()) - 1
    tail = pc.list_flatten(parts).take(pa.array(ends if n else np.zeros(0, np.int64)))
    bracketed = pc.match_substring(text, "(")
    figures = pc.replace_substring_regex(tail, r"\s*bytes\)$|[,.'\s\x{a0}\x{202f}]", "")
    digits = pc.if_else(bracketed, figures, text)
    try:
        return pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        pass
    bad = pc.invert(pc.match_substring_regex(digits, r"^[0-9]{1,18}$"))
    index = _first(bad)
    if index is None:  # pragma: no cover - the cast failed, so some cell is bad
        raise ExportError("cannot be read as bytes", column=label)
    cell = text[index].as_py()
    if cell.lower() == UNLIMITED:
        raise ExportError(
            "is 'Unlimited', not a size (expected bytes or e.g. '1.2 GB (1,288,490,189 bytes)')",
            index=index,
            column=label,
        )
    raise ExportError(
        f"must be bytes or e.g. '1.2 GB (1,288,490,189 bytes)' (got {cell!r})",
        index=index,
        column=label,
    )


def whole_numbers(column: pa.ChunkedArray | pa.Array, label: str) -> np.ndarray:
    """Counts (int64, >= 0); an empty cell or anything else is an :class:`ExportError`."""
    values = _int64(_combined(column))
    if values is None:
        text = _text(column)
        if (index := _first(_empty(text))) is not None:
            raise ExportError("is empty", index=index, column=label)
        try:
            values = pc.cast(text, pa.int64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:
            good = pc.match_substring_regex(text, r"^[0-9]{1,18}$")
            index = _first(pc.invert(good))
            raise ExportError(
                f"must be a whole number >= 0 (got {text[index].as_py()!r})",
                index=index,
                column=label,
            ) from None
    if (index := _first(values < 0)) is not None:
        raise ExportError(f"must be >= 0 (got {values[index]})", index=index, column=label)
    return values


def kinds_of(column: pa.ChunkedArray | pa.Array | None, n: int) -> np.ndarray:
    """Kinds (object array of str) from RecipientTypeDetails-like names; empty = "user".

    ``UserMailbox`` -> user, ``SharedMailbox`` -> shared, ``RoomMailbox`` -> room,
    ``EquipmentMailbox`` -> equipment; any other name lower-cased.
    """
    if column is None:
        return np.full(n, "user", dtype=object)
    encoded = pc.dictionary_encode(pc.fill_null(_combined(column), ""))
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    names = [str(v).strip().lower() for v in encoded.dictionary.to_pylist()]
    kinds = np.asarray([KINDS.get(v, v) or "user" for v in names], dtype=object)
    return kinds[encoded.indices.to_numpy(zero_copy_only=False)]


def domains_of(ids: pa.Array) -> pa.Array:
    """The lower-cased e-mail domain of each id ("" where an id has no ``@``)."""
    parts = pc.split_pattern(ids, "@", max_splits=1, reverse=True)
    lengths = pc.list_value_length(parts).to_numpy()
    ends = np.cumsum(lengths) - 1
    tail = pc.list_flatten(parts).take(pa.array(ends if len(ids) else np.zeros(0, np.int64)))
    domain = pc.if_else(pa.array(lengths > 1), pc.ascii_lower(tail), pa.scalar(""))
    return pc.dictionary_encode(domain)
