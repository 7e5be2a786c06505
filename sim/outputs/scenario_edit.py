"""Replacing a few keys of a scenario file, leaving every other line as it was.

``migsim calibrate --out`` writes the planner's own file back with the fitted
keys replaced: their comments, layout and every other key survive, and each
replaced key says why it changed::

    [throttle]
    # was: per_move_gb_per_hour = 0.66 # vendor average
    per_move_gb_per_hour = { dist = "lognormal", ... }  # pilot-moves.csv: 160 moves ...

The edit is line-based (a key's value is one line in TOML for the numbers and
inline tables written here) and then checked: the new text must parse, hold the
new values, and hold everything else exactly as before; otherwise a ValueError.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from typing import Any

TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-]+)\s*\]\s*(#.*)?$")
ARRAY_TABLE = re.compile(r"^\s*\[\[")


def toml_value(value: Any) -> str:
    """A number, string, bool, date, array or table as a TOML value (inline)."""
    if isinstance(value, dict):
        inner = ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def replace_keys(text: str, changes: dict[str, tuple[Any, str]]) -> str:
    """``text`` with each dotted ``table.key`` set to its value, with a comment.

    An existing key's line is kept as a ``# was:`` comment above the new one; a
    missing key is added at the end of its table; a missing table at the end.
    """
    lines = text.splitlines()
    for dotted, (value, comment) in changes.items():
        table, _, key = dotted.rpartition(".")
        new_line = f"{key} = {toml_value(value)}  # {comment}"
        lines = _set(lines, table, key, new_line)
    new_text = "\n".join(lines) + "\n"
    _check(text, new_text, {k: v for k, (v, _) in changes.items()})
    return new_text


def _set(lines: list[str], table: str, key: str, new_line: str) -> list[str]:
    current, start, end = "", None, None
    key_line = re.compile(rf"^(\s*){re.escape(key)}\s*=")
    for i, line in enumerate(lines):
        header = TABLE.match(line)
        if header or ARRAY_TABLE.match(line):
            if current == table and start is not None and end is None:
                end = i
            current = header.group(1) if header else "[[array]]"
            if current == table:
                start = i
            continue
        if current == table and (match := key_line.match(line)):
            indent = match.group(1)
            return [
                *lines[:i],
                f"{indent}# was: {line.strip()}",
                indent + new_line,
                *lines[i + 1 :],
            ]
    if start is None:
        return [*lines, "", f"[{table}]", new_line]
    end = len(lines) if end is None else end
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1  # after the table's last line, before the blank lines that end it
    return [*lines[:end], new_line, *lines[end:]]


def _check(old: str, new: str, values: dict[str, Any]) -> None:
    before = tomllib.loads(old)
    try:
        after = tomllib.loads(new)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"could not write the new values as TOML ({error})") from None
    for dotted, value in values.items():
        *tables, key = dotted.split(".")
        node_after, node_before = after, before
        for table in tables:
            node_after = node_after.get(table, {})
            node_before = node_before.setdefault(table, {})
        if node_after.get(key) != value:
            raise ValueError(f"could not set {dotted} in the scenario file: edit it by hand")
        node_before[key] = value
    if before != after:
        raise ValueError("editing the scenario file would change other keys: edit it by hand")
