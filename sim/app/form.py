"""The page's form: a scenario's main inputs as widgets, and the edited scenario back.

A planner changes the weekday batch from 22,000 to 30,000 and adds a freeze;
:meth:`Form.scenario` turns the widgets into dotted overrides of the scenario
the page was opened with (``{"batches.weekday": 30000, "calendar.blackouts":
[...]}``) and validates them exactly as ``--set`` would. Only the fields a
planner changed become overrides, so an untouched page is the scenario itself
(an uncertain move speed stays the PERT the file gives until its range is
edited). A bad value is a message beside the field that owns its dotted key,
never an exception::

    form = Form(sim.load("scenarios/small-trust.toml"))
    form.field("batches.weekday").widgets[0].value = -5
    form.scenario()          # None; the field now says "batches.weekday: must be >= 0 (got -5)"
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import panel as pn

from sim.model.distributions import Distribution
from sim.model.feasibility import check_feasible
from sim.model.scenario import Scenario, ScenarioError, with_overrides

MAX_REPLICATIONS = 200  # a served page bounds the work one click can ask for
SOURCE = "the page"  # what errors blame, as the CLI blames --set
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


def _date(text: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise FieldError(f"{what}: must be a date YYYY-MM-DD (got {text!r})") from None


def _whole(text: str, what: str) -> int | None:
    if not text:
        return None
    try:
        return int(text.replace("_", "").replace(" ", ""))
    except ValueError:
        raise FieldError(f"{what}: must be a whole number (got {text!r})") from None


def _phase(parts: list[str]) -> dict[str, Any]:
    if len(parts) > 3:
        raise FieldError("expected: from date, weekday, weekend day")
    phase: dict[str, Any] = {"from": _date(parts[0], "from")}
    for name, text in zip(("weekday", "weekend_day"), parts[1:], strict=False):
        value = _whole(text, name)
        if value is not None:
            phase[name] = value
    return phase


def _freeze(parts: list[str]) -> dict[str, Any]:
    if len(parts) < 2:
        raise FieldError("expected: from date, to date, reason")
    freeze: dict[str, Any] = {"from": _date(parts[0], "from"), "to": _date(parts[1], "to")}
    reason = ", ".join(parts[2:]).strip()
    if reason:
        freeze["reason"] = reason
    return freeze


def _phase_lines(scenario: Scenario) -> str:
    def cell(value: int | None) -> str:
        return "" if value is None else str(value)

    return "\n".join(
        f"{p.from_}, {cell(p.weekday)}, {cell(p.weekend_day)}".rstrip(", ")
        for p in scenario.batches.phases
    )


def _freeze_lines(scenario: Scenario) -> str:
    return "\n".join(
        f"{b.from_}, {b.to}" + (f", {b.reason}" if b.reason else "")
        for b in scenario.calendar.blackouts
    )


def _span(scenario: Scenario, key: str, fixed: float) -> tuple[float, float]:
    """The range a key is shown with: its distribution's (P5-P95 when unbounded), or its value."""
    dist: Distribution | None = scenario.uncertain.get(key)
    if dist is None:
        return fixed, fixed
    low, high = dist.support()
    if not (math.isfinite(low) and math.isfinite(high)):
        low, high = (float(v) for v in dist.ppf([0.05, 0.95]))
    return float(f"{low:.6g}"), float(f"{high:.6g}")


# --- the form ----------------------------------------------------------------------------------


def build_fields(scenario: Scenario, max_replications: int = MAX_REPLICATIONS) -> list[Field]:
    """The main inputs of ``scenario``, pre-filled, in the order a planner reads a plan."""
    sc, batches, throttle, support = (
        scenario.scenario,
        scenario.batches,
        scenario.throttle,
        scenario.support,
    )
    speed = _span(scenario, "throttle.per_move_gb_per_hour", throttle.per_move_gb_per_hour)
    tickets = _span(scenario, "support.ticket_rate", support.ticket_rate)
    return [
        date_field("Deadline", "scenario.deadline", sc.deadline),
        number_field("Weekday batch", "batches.weekday", batches.weekday, integer=True,
                     help_text="users cut over each weekday evening at full pace"),
        number_field("Weekend-day batch", "batches.weekend_day", batches.weekend_day,
                     integer=True, help_text="per weekend day"),
        lines_field("Phases", "batches.phases", _phase_lines(scenario), _phase,
                    placeholder="2024-03-04, 50, 0",
                    help_text="one a line: from date, weekday, weekend day; "
                    "leave a number out for the full pace"),
        lines_field("Freezes (no cutovers)", "calendar.blackouts", _freeze_lines(scenario),
                    _freeze, placeholder="2024-12-19, 2025-01-03, Christmas freeze",
                    help_text="one a line: from date, to date (inclusive), reason"),
        number_field("Throttle scale", "throttle.scale", throttle.scale, integer=False,
                     help_text="multiplies every window's GB/hour"),
        number_field("Concurrent moves", "throttle.concurrent_moves", throttle.concurrent_moves,
                     integer=True),
        range_field("Move speed, GB/hour per move", "throttle.per_move_gb_per_hour", *speed,
                    help_text="uniform between from and to; equal for one value"),
        number_field("Desk agents", "support.agents", support.agents, integer=True),
        hours_field("Desk hours", "support.hours", support.hours),
        range_field("Tickets per migrated user", "support.ticket_rate", *tickets,
                    help_text="uniform between from and to, e.g. 0.003 to 0.01"),
        number_field("Replications", "scenario.replications",
                     min(sc.replications, max_replications), integer=True,
                     help_text=f"at most {max_replications} on this page"),
    ]  # fmt: skip


class Form:
    """The fields of one page, and the scenario they make."""

    def __init__(self, scenario: Scenario, max_replications: int = MAX_REPLICATIONS) -> None:
        self.base = scenario
        self.max_replications = max_replications
        self.fields = build_fields(scenario, max_replications)
        self.general = pn.pane.HTML(
            "", styles=ERROR_STYLE, visible=False, css_classes=["form-error"]
        )
        # The page opens with the scenario's own replications, capped for the page.
        self._replications = self.field("scenario.replications")
        self.panel = pn.Column(*(f.panel for f in self.fields), self.general, width=380)

    def field(self, key: str) -> Field:
        """The field that sets ``key``."""
        return next(f for f in self.fields if key in f.keys)

    @property
    def widgets(self) -> list[pn.widgets.Widget]:
        return [w for f in self.fields for w in f.widgets]

    def overrides(self) -> dict[str, Any]:
        """Every changed field's overrides; raises :class:`FieldError` naming the field."""
        out: dict[str, Any] = {}
        for f in self.fields:
            try:
                out.update(f.overrides())
            except FieldError as error:
                error.field = f  # type: ignore[attr-defined]
                raise
        if "scenario.replications" not in out:  # the cap applies to an untouched field too
            out["scenario.replications"] = self._replications.widgets[0].value
        return out

    def scenario(self) -> Scenario | None:
        """The edited scenario, or None with a message beside each field at fault."""
        for f in self.fields:
            f.show(None)
        self.general.visible = False
        try:
            overrides = self.overrides()
            replications = overrides["scenario.replications"]
            if isinstance(replications, int) and replications > self.max_replications:
                raise ScenarioError(
                    SOURCE,
                    "scenario.replications",
                    f"must be <= {self.max_replications} on this page (got {replications}); "
                    "run more with `migsim run`",
                )
            edited = with_overrides(self.base, overrides, source=SOURCE)
            check_feasible(edited)
        except FieldError as error:
            error.field.show(str(error))  # type: ignore[attr-defined]
            return None
        except ScenarioError as error:
            self.blame(error)
            return None
        return edited

    def blame(self, error: ScenarioError) -> None:
        """Show ``error`` beside the field owning its key (or under the form)."""
        text = f"{error.key}: {error.message}" if error.key else error.message
        owner = max(self.fields, key=lambda f: f.owns(error.key))
        if owner.owns(error.key):
            owner.show(text)
        else:
            self.general.object = html.escape(text)
            self.general.visible = True
