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

import html
import math
from typing import Any

import panel as pn

from sim.app.fields import (
    ERROR_STYLE,
    Field,
    FieldError,
    date_field,
    hours_field,
    lines_field,
    number_field,
    parse_date,
    parse_whole,
    range_field,
)
from sim.model.distributions import Distribution
from sim.model.feasibility import check_feasible
from sim.model.scenario import MAIN_LANE, Lane, Scenario, ScenarioError, with_overrides

MAX_REPLICATIONS = 200  # a served page bounds the work one click can ask for
SOURCE = "the page"  # what errors blame, as the CLI blames --set


# --- the plan's lists, one item a line ---------------------------------------------------------


def _phase(parts: list[str]) -> dict[str, Any]:
    if len(parts) > 3:
        raise FieldError("expected: from date, weekday, weekend day")
    phase: dict[str, Any] = {"from": parse_date(parts[0], "from")}
    for name, text in zip(("weekday", "weekend_day"), parts[1:], strict=False):
        value = parse_whole(text, name)
        if value is not None:
            phase[name] = value
    return phase


def _freeze(parts: list[str]) -> dict[str, Any]:
    if len(parts) < 2:
        raise FieldError("expected: from date, to date, reason")
    freeze: dict[str, Any] = {"from": parse_date(parts[0], "from")}
    freeze["to"] = parse_date(parts[1], "to")
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


def _range_help(scenario: Scenario, key: str, how: str) -> str:
    """A range field's help: the file's own distribution, when it is not the uniform the
    page would make of from and to (a planner should not think the pert is a uniform)."""
    dist: Distribution | None = scenario.uncertain.get(key)
    if dist is None or dist.dist == "uniform":
        return how
    values = dist.model_dump(by_alias=True)
    order = ("low", "mode", "high", "median", "sigma", "mean", "sd", "alpha", "beta")
    params = ", ".join(
        f"{name} {values[name]:g}"
        for name in order
        if isinstance(values.get(name), int | float) and not isinstance(values[name], bool)
    )
    return f"the file's {dist.dist} ({params}) until you change it; then {how}"


def _span(scenario: Scenario, key: str, fixed: float) -> tuple[float, float]:
    """The range a key is shown with: its distribution's (P5-P95 when unbounded), or its value."""
    dist: Distribution | None = scenario.uncertain.get(key)
    if dist is None:
        return fixed, fixed
    low, high = dist.support()
    if not (math.isfinite(low) and math.isfinite(high)):
        low, high = (float(v) for v in dist.ppf([0.05, 0.95]))
    return float(f"{low:.6g}"), float(f"{high:.6g}")


# --- the lanes the form does not edit -----------------------------------------------------------


def _kinds_text(kinds: list[str], shares: dict[str, float] | None) -> str:
    text = ", ".join(kinds)
    if shares is not None:
        text += f": {sum(shares.get(k, 0.0) for k in kinds):.0%} of the mailboxes"
    return text


def _lane_schedule(lane: Lane) -> str:
    """``2,000 a weekday and 0 a weekend day from 2020-10-26; 11,500 a weekday and ...``."""

    def pace(weekday: int | None, weekend_day: int | None) -> str:
        return (
            f"{lane.weekday if weekday is None else weekday:,} a weekday and "
            f"{lane.weekend_day if weekend_day is None else weekend_day:,} a weekend day"
        )

    steps = [f"{pace(None, None)} from {lane.from_}"]
    steps += [f"{pace(p.weekday, p.weekend_day)} from {p.from_}" for p in lane.phases]
    if lane.ticket_rate is not None:
        steps.append(f"{lane.ticket_rate:g} tickets per mailbox")
    return "; ".join(steps)


def lanes_note(scenario: Scenario) -> str:
    """What the page says when the plan has ``[[lanes]]``: the form sets the main lane only.

    Empty for a plan with one lane (every mailbox moves in ``[batches]``).
    """
    if not scenario.lanes:
        return ""
    population = scenario.population
    shares = None if population.inventory is not None else population.kind_shares()
    named = {kind for lane in scenario.lanes for kind in lane.kinds}
    if shares is None:
        main = "every kind no other lane names"
    else:
        main = _kinds_text([k for k in shares if k not in named], shares)
    others = "".join(
        f"<li><b>{html.escape(lane.name)}</b> ({html.escape(_kinds_text(lane.kinds, shares))}): "
        f"{html.escape(_lane_schedule(lane))}</li>"
        for lane in scenario.lanes
    )
    return (
        f"<b>{len(scenario.lanes) + 1} lanes.</b> The batches and phases below are lane "
        f"<b>{MAIN_LANE}</b> ({html.escape(main)}). The other lanes keep the scenario "
        f"file's own schedule (not edited on this page):<ul style='margin:0.2em 0'>{others}</ul>"
        "All lanes share the freezes, the throttle, the failure rules and the desk; the plan "
        "is done when its last lane is."
    )


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
                     help_text=f"{'lane main: ' if scenario.lanes else ''}users cut over "
                     "each weekday evening at full pace"),
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
                    help_text=_range_help(scenario, "throttle.per_move_gb_per_hour",
                                          "uniform between from and to; equal for one value")),
        number_field("Desk agents", "support.agents", support.agents, integer=True),
        hours_field("Desk hours", "support.hours", support.hours),
        range_field("Tickets per migrated user", "support.ticket_rate", *tickets,
                    help_text=_range_help(scenario, "support.ticket_rate",
                                          "uniform between from and to, e.g. 0.003 to 0.01")),
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
        # Read-only: the lanes the form does not edit, so a planner is not misled.
        note = lanes_note(scenario)
        self.lanes = pn.pane.HTML(
            note,
            visible=bool(note),
            css_classes=["lanes-note"],
            styles={"font-size": "0.9em", "background": "#f3f6fa", "padding": "0 0.5em"},
            width=360,
        )
        # The page opens with the scenario's own replications, capped for the page.
        self._replications = self.field("scenario.replications")
        self.panel = pn.Column(self.lanes, *(f.panel for f in self.fields), self.general, width=380)

    def field(self, key: str) -> Field:
        """The field that sets ``key``."""
        return next(f for f in self.fields if key in f.keys)

    @property
    def widgets(self) -> list[pn.widgets.Widget]:
        return [w for f in self.fields for w in f.widgets]

    def overrides(self) -> dict[str, Any]:
        """Every changed field's overrides; raises :class:`FieldError` for unreadable text."""
        out: dict[str, Any] = {}
        for f in self.fields:
            out.update(f.overrides())
        if "scenario.replications" not in out:  # the cap applies to an untouched field too
            out["scenario.replications"] = self._replications.widgets[0].value
        return out

    def scenario(self) -> Scenario | None:
        """The edited scenario, or None with a message beside each field at fault.

        Each changed field is first checked on its own against the scenario, so that
        every field at fault says so at once; then all of them together, and whether
        the plan can finish (zero agents while tickets are expected, no cutover day).
        """
        for f in self.fields:
            f.show(None)
        self.general.visible = False
        faults = 0
        for f in self.fields:
            try:
                alone = f.overrides()
                if alone:
                    self._replications_capped(alone)
                    with_overrides(self.base, alone, source=SOURCE)
            except FieldError as error:
                f.show(str(error))
                faults += 1
            except ScenarioError as error:
                self.blame(error)
                faults += 1
        if faults:
            return None
        try:
            overrides = self.overrides()
            self._replications_capped(overrides)
            edited = with_overrides(self.base, overrides, source=SOURCE)
            check_feasible(edited)
        except ScenarioError as error:
            self.blame(error)
            return None
        return edited

    def _replications_capped(self, overrides: dict[str, Any]) -> None:
        replications = overrides.get("scenario.replications")
        if isinstance(replications, int) and replications > self.max_replications:
            raise ScenarioError(
                SOURCE,
                "scenario.replications",
                f"must be <= {self.max_replications} on this page (got {replications}); "
                "run more with `migsim run`",
            )

    def blame(self, error: ScenarioError) -> None:
        """Show ``error`` beside the field owning its key (or under the form)."""
        text = f"{error.key}: {error.message}" if error.key else error.message
        owner = max(self.fields, key=lambda f: f.owns(error.key))
        if owner.owns(error.key):
            owner.show(text)
        else:
            self.general.object = html.escape(text)
            self.general.visible = True
