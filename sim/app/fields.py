"""The form's building blocks: one input, its widgets, and the message beside it.

A :class:`Field` shows one part of a plan (the weekday batch; the freezes, one
a line; the move speed as a range) and turns what a planner typed back into
dotted overrides: ``{"batches.weekday": 30000}``. Text that cannot be read (a
date that is not a date) raises :class:`FieldError` naming the key and the
line; the form (:mod:`sim.app.form`) shows it beside the field.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable, Sequence
from typing import Any

import panel as pn

ERROR_STYLE = {"color": "#b00020", "font-size": "0.9em"}


class FieldError(ValueError):
    """A field's text that cannot be read (a date that is not a date, a missing number)."""


class Field:
    """One input of the form: its widgets, the dotted keys it sets and a message beside it.

    ``read`` turns the widgets' values into ``{dotted key: value}`` (or raises
    :class:`FieldError`); errors about any key under ``keys`` are shown here.
    """

    def __init__(
        self,
        label: str,
        keys: Sequence[str],
        widgets: Sequence[pn.widgets.Widget],
        read: Callable[[], dict[str, Any]],
        help_text: str = "",
    ) -> None:
        self.label, self.keys, self.widgets, self._read = label, tuple(keys), list(widgets), read
        self._initial = self.values()
        for index, widget in enumerate(self.widgets):  # a handle for browser tests and styling
            widget.css_classes = [*widget.css_classes, f"{css_name(self.keys[0])}-{index}"]
        self.message = pn.pane.HTML(
            "",
            styles=ERROR_STYLE,
            visible=False,
            css_classes=["field-error", f"{css_name(self.keys[0])}-error"],
            margin=(0, 10),
        )
        heading = f"<b>{html.escape(label)}</b>"
        if help_text:
            heading += f" <span style='color:#555'>({html.escape(help_text)})</span>"
        self.panel = pn.Column(
            pn.pane.HTML(heading, margin=(8, 10, 0, 10)),
            pn.Row(*self.widgets),
            self.message,
            css_classes=["form-field"],
        )

    def values(self) -> tuple[Any, ...]:
        return tuple(w.value for w in self.widgets)

    @property
    def changed(self) -> bool:
        return self.values() != self._initial

    def overrides(self) -> dict[str, Any]:
        """The dotted overrides this field makes ({} when untouched)."""
        return self._read() if self.changed else {}

    def owns(self, key: str) -> int:
        """How closely an error about ``key`` belongs here (0: not at all)."""
        best = 0
        for mine in self.keys:
            if key == mine or key.startswith((mine + ".", mine + "[")):
                best = max(best, len(mine))
        return best

    def show(self, message: str | None) -> None:
        self.message.object = html.escape(message or "")
        self.message.visible = bool(message)


def css_name(key: str) -> str:
    """``batches.weekday`` -> ``key-batches-weekday``: its widgets' class, suffixed -0, -1."""
    return "key-" + re.sub(r"[^a-z0-9]+", "-", key.lower())


# --- the widgets of each kind of field ---------------------------------------------------------


def _required(value: Any, what: str) -> Any:
    if value is None:
        raise FieldError(f"{what}: is required")
    return value


def number_field(label: str, key: str, value: Any, *, integer: bool, help_text: str = "") -> Field:
    """One number (an uncertain key shows its median)."""
    kind = pn.widgets.IntInput if integer else pn.widgets.FloatInput
    widget = kind(label="", value=value, width=160)
    return Field(label, [key], [widget], lambda: {key: _required(widget.value, key)}, help_text)


def range_field(label: str, key: str, low: float, high: float, help_text: str = "") -> Field:
    """A number a planner knows only as a range: drawn uniformly once per replication."""
    lo = pn.widgets.FloatInput(label="from", value=low, width=110)
    hi = pn.widgets.FloatInput(label="to", value=high, width=110)

    def read() -> dict[str, Any]:
        a, b = _required(lo.value, f"{key} (from)"), _required(hi.value, f"{key} (to)")
        if a == b:
            return {key: a}
        return {key: {"dist": "uniform", "low": a, "high": b}}

    return Field(label, [key], [lo, hi], read, help_text)


def date_field(label: str, key: str, value: dt.date | None, help_text: str = "") -> Field:
    widget = pn.widgets.DatePicker(label="", value=value, width=160)
    return Field(label, [key], [widget], lambda: {key: _required(widget.value, key)}, help_text)


def lines_field(
    label: str,
    key: str,
    text: str,
    parse_line: Callable[[list[str]], dict[str, Any]],
    *,
    placeholder: str,
    help_text: str,
) -> Field:
    """A list of tables, one a line of comma-separated values (phases, freezes)."""
    widget = pn.widgets.TextAreaInput(
        label="", value=text, placeholder=placeholder, width=330, height=110
    )

    def read() -> dict[str, Any]:
        items = []
        for number, line in enumerate(widget.value.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append(parse_line([part.strip() for part in line.split(",")]))
            except FieldError as error:
                raise FieldError(f"{key}, line {number}: {error}") from None
        return {key: items}

    return Field(label, [key], [widget], read, help_text)


def hours_field(label: str, key: str, hours: Any) -> Field:
    """Desk opening hours, weekdays and weekend: "08:00-18:00" or "closed"."""
    widgets = {
        part: pn.widgets.TextInput(label=part, value=_hours_text(getattr(hours, part)), width=110)
        for part in ("weekdays", "weekend")
    }

    def read() -> dict[str, Any]:
        out = {}
        for part, widget in widgets.items():
            text = widget.value.strip().lower()
            if text in ("closed", ""):
                out[f"{key}.{part}"] = []
                continue
            match = re.fullmatch(r"(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})", text)
            if not match:
                raise FieldError(
                    f'{key}.{part}: must be "HH:MM-HH:MM" or "closed" (got {widget.value!r})'
                )
            out[f"{key}.{part}"] = [match[1].zfill(5), match[2].zfill(5)]
        return out

    return Field(label, [key], list(widgets.values()), read, 'e.g. "08:00-18:00", or "closed"')


def _hours_text(span: tuple[int, int] | None) -> str:
    if span is None:
        return "closed"
    return "-".join(f"{m // 60:02d}:{m % 60:02d}" for m in span)


def parse_date(text: str, what: str) -> dt.date:
    """A date YYYY-MM-DD, or :class:`FieldError` naming ``what``."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise FieldError(f"{what}: must be a date YYYY-MM-DD (got {text!r})") from None


def parse_whole(text: str, what: str) -> int | None:
    """A whole number (``30_000`` and ``30 000`` too), None for empty text."""
    if not text:
        return None
    try:
        return int(text.replace("_", "").replace(" ", ""))
    except ValueError:
        raise FieldError(f"{what}: must be a whole number (got {text!r})") from None
