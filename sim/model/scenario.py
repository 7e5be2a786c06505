"""The scenario file: a migration plan as a validated, immutable object.

A planner writes a TOML file such as::

    [scenario]
    name = "One trust"
    start = 2024-03-04

    [population]
    mailboxes = 5_000

and every other key takes the default below. Each table of the file is one
pydantic model; unknown keys are errors, because a typo silently ignored (say
``weekday_batch`` for ``weekday``) would make a plan look safer than it is.

``load(path, overrides)`` applies dotted overrides (``batches.weekday=30000``,
the ``--set`` of the CLI) to the raw TOML before validation, so an override is
checked exactly like the file. Every failure raises :class:`ScenarioError`,
whose message is one line naming the file and the dotted key.
"""

from __future__ import annotations

import datetime as dt
import difflib
import tomllib
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import holidays
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60


class ScenarioError(ValueError):
    """Bad scenario input; ``str(error)`` is the one line a user sees."""

    def __init__(self, source: str, key: str, message: str) -> None:
        self.source = source
        self.key = key
        self.message = message
        where = f"{source}: {key}: " if key else f"{source}: "
        super().__init__(where + message)


def _parse_clock(value: Any) -> Any:
    """ "HH:MM" -> minutes after midnight ("24:00" is the end of the day)."""
    if isinstance(value, dt.time):
        return value.hour * 60 + value.minute
    if not isinstance(value, str):
        return value  # let pydantic report the wrong type
    hours, sep, minutes = value.partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f'must be a time "HH:MM" (got {value!r})')
    total = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or total > MINUTES_PER_DAY:
        raise ValueError(f'must be a time between "00:00" and "24:00" (got {value!r})')
    return total


def _format_clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


Clock = Annotated[
    int,
    BeforeValidator(_parse_clock),
    Field(ge=0, le=MINUTES_PER_DAY),
    PlainSerializer(_format_clock, return_type=str),
]
"""A local time of day, written "HH:MM", held as minutes after midnight."""

DayName = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ScenarioTable(_Table):
    name: str = Field(min_length=1)
    start: dt.date
    deadline: dt.date | None = None
    seed: int = Field(default=0, ge=0)
    replications: int = Field(default=100, ge=1)
    confidence: float = Field(default=0.9, gt=0, le=1)
    horizon_days: int = Field(default=730, ge=1)

    @model_validator(mode="after")
    def _deadline_after_start(self) -> ScenarioTable:
        if self.deadline is not None and self.deadline < self.start:
            raise _KeyedError("deadline", f"must not be before start ({self.start})")
        return self


class SizeGb(_Table):
    mean: float = Field(default=1.1, gt=0)
    sigma: float = Field(default=1.2, ge=0)
    max: float = Field(default=100.0, gt=0)


class Population(_Table):
    mailboxes: int = Field(ge=1)
    organisations: int = Field(default=1, ge=1)
    organisation_size_sigma: float = Field(default=1.5, ge=0)
    size_gb: SizeGb = SizeGb()
    legacy_client_share: float = Field(default=0.10, ge=0, le=1)

    @model_validator(mode="after")
    def _enough_mailboxes(self) -> Population:
        if self.organisations > self.mailboxes:
            raise _KeyedError(
                "organisations",
                f"must be <= population.mailboxes ({self.mailboxes}) (got {self.organisations})",
            )
        return self


class Blackout(_Table):
    from_: dt.date = Field(alias="from")
    to: dt.date
    reason: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Blackout:
        if self.to < self.from_:
            raise _KeyedError("to", f"must not be before from ({self.from_})")
        return self


class CalendarTable(_Table):
    holidays: str = "GB-ENG"
    weekend: list[DayName] = ["sat", "sun"]
    blackouts: list[Blackout] = []
    timezone: str = "Europe/London"

    @field_validator("holidays")
    @classmethod
    def _known_country(cls, value: str) -> str:
        if value.lower() == "none":
            return "none"
        country, _, subdivision = value.partition("-")
        supported = holidays.list_supported_countries()
        if country not in supported:
            raise ValueError(
                f"unknown country {country!r} for the holidays library "
                '(e.g. "GB-ENG", "US", "none")'
            )
        if subdivision and subdivision not in supported[country]:
            raise ValueError(f"unknown subdivision {subdivision!r} of {country}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/London)") from None
        return value


class Phase(_Table):
    from_: dt.date = Field(alias="from")
    weekday: int | None = Field(default=None, ge=0)
    weekend_day: int | None = Field(default=None, ge=0)


class Batches(_Table):
    weekday: int = Field(default=22_000, ge=0)
    weekend_day: int = Field(default=41_500, ge=0)
    selection: Literal["random", "by_organisation"] = "random"
    notice_days: int = Field(default=14, ge=0)
    cutover_time: Clock = 20 * 60
    phases: list[Phase] = []
    # An evening may take this share above its batch (for carried-over users).
    catch_up: float = Field(default=0.0, ge=0)

    @field_validator("phases")
    @classmethod
    def _phases_in_order(cls, phases: list[Phase]) -> list[Phase]:
        for i in range(1, len(phases)):
            if phases[i].from_ <= phases[i - 1].from_:
                raise _KeyedError(f"{i}.from", "phases must be in increasing date order")
        return phases


WindowDays = Literal["all", "weekdays", "weekend"] | list[DayName]


class Window(_Table):
    days: WindowDays = "all"
    from_: Clock = Field(alias="from")
    to: Clock
    gb_per_hour: float = Field(ge=0)

    @model_validator(mode="after")
    def _not_empty(self) -> Window:
        if self.from_ == self.to:
            raise _KeyedError("to", "must differ from `from` (use 00:00 to 24:00 for all day)")
        return self


DEFAULT_WINDOWS = (
    Window(days="weekdays", from_=8 * 60, to=18 * 60, gb_per_hour=400),
    Window(days="all", from_=0, to=MINUTES_PER_DAY, gb_per_hour=1_500),
)


class Throttle(_Table):
    presync_lead_days: float = Field(default=7, ge=0)
    concurrent_moves: int = Field(default=1_000, ge=1)
    per_move_gb_per_hour: float = Field(default=0.7, gt=0)
    scale: float = Field(default=1.0, ge=0)
    windows: list[Window] = list(DEFAULT_WINDOWS)
    holidays_as_weekend: bool = True


class Failures(_Table):
    rate: float = Field(default=0.003, ge=0, lt=1)
    retry_after_days: int = Field(default=3, ge=0)
    max_attempts: int = Field(default=3, ge=1)
    # Mailboxes that fail every attempt (corrupt or oversized items), then need remediation.
    persistent_share: float = Field(default=0.0, ge=0, le=1)


def _closed_if_empty(value: Any) -> Any:
    return None if value == [] else value


OpeningHours = Annotated[tuple[Clock, Clock] | None, BeforeValidator(_closed_if_empty)]
"""["08:00", "18:00"]; an empty list means closed."""


class DeskHours(_Table):
    weekdays: OpeningHours = (8 * 60, 18 * 60)
    weekend: OpeningHours = (9 * 60, 17 * 60)

    @model_validator(mode="after")
    def _ordered(self) -> DeskHours:
        for key in ("weekdays", "weekend"):
            span = getattr(self, key)
            if span is not None and span[1] <= span[0]:
                raise _KeyedError(key, "closing time must be after opening time")
        return self


class HandleMinutes(_Table):
    median: float = Field(default=15, gt=0)
    sigma: float = Field(default=0.8, ge=0)


# Most users meet a problem when they first open Outlook on their next working
# morning; the weights are relative ticket arrivals by local hour of that day.
DEFAULT_ARRIVAL_HOUR_WEIGHTS = (
    [0.0] * 7 + [4, 22, 20, 14, 10, 7, 6, 5, 4, 3, 2, 1, 1, 1] + [0.0] * 3
)


class Support(_Table):
    ticket_rate: float = Field(default=0.006, ge=0, le=1)
    legacy_ticket_rate: float = Field(default=0.04, ge=0, le=1)
    failed_cutover_ticket_rate: float = Field(default=0.5, ge=0, le=1)
    arrival_hour_weights: list[float] = Field(
        default=list(DEFAULT_ARRIVAL_HOUR_WEIGHTS), min_length=24, max_length=24
    )
    agents: int = Field(default=40, ge=0)
    hours: DeskHours = DeskHours()
    open_on_holidays: bool = False
    handle_minutes: HandleMinutes = HandleMinutes()
    pause_backlog: int = Field(default=5_000, ge=0)

    @field_validator("arrival_hour_weights")
    @classmethod
    def _weights(cls, weights: list[float]) -> list[float]:
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError("weights must be >= 0 with a positive sum")
        return weights


class Scenario(_Table):
    """A whole, validated migration plan. Immutable: use :func:`with_overrides`."""

    scenario: ScenarioTable
    population: Population
    calendar: CalendarTable = CalendarTable()
    batches: Batches = Batches()
    throttle: Throttle = Throttle()
    failures: Failures = Failures()
    support: Support = Support()

    @property
    def name(self) -> str:
        return self.scenario.name


class _KeyedError(ValueError):
    """A validator's error about a key other than the one being validated."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)


# --- loading ---------------------------------------------------------------------------------


def load(
    path: str | Path, overrides: Mapping[str, Any] | None = None, *, source: str | None = None
) -> Scenario:
    """Read, override and validate a scenario file.

    ``overrides`` maps dotted keys to values (already parsed, or TOML text via
    :func:`parse_override`). Raises :class:`ScenarioError` on any bad input.
    """
    path = Path(path)
    source = source or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(source, "", "no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(source, "", f"cannot read: {error}") from None
    return loads(text, overrides, source=source)


def loads(
    text: str, overrides: Mapping[str, Any] | None = None, *, source: str = "<scenario>"
) -> Scenario:
    """Like :func:`load`, from TOML text."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(source, "", f"not valid TOML: {error}") from None
    return from_dict(raw, overrides, source=source)


def from_dict(
    raw: Mapping[str, Any],
    overrides: Mapping[str, Any] | None = None,
    *,
    source: str = "<scenario>",
) -> Scenario:
    """Validate a nested dict (as TOML parses it) after applying dotted overrides."""
    data = _deep_copy(raw)
    for key, value in (overrides or {}).items():
        _set_dotted(data, key, value, source)
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        raise _as_scenario_error(error, source) from None


def with_overrides(scenario: Scenario, overrides: Mapping[str, Any], *, source: str) -> Scenario:
    """A copy of ``scenario`` with dotted overrides applied and validated again."""
    return from_dict(to_dict(scenario), overrides, source=source)


def to_dict(scenario: Scenario) -> dict[str, Any]:
    """The scenario as a TOML-shaped dict (aliases such as ``from``, times as "HH:MM")."""
    return scenario.model_dump(by_alias=True, mode="python")


def parse_override(assignment: str, source: str = "--set") -> tuple[str, Any]:
    """Split ``KEY=VALUE``; VALUE is a TOML value, or a bare string if it is not one."""
    key, sep, text = assignment.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ScenarioError(source, assignment, "expected KEY=VALUE, e.g. batches.weekday=30000")
    return key, parse_value(text.strip())


def parse_value(text: str) -> Any:
    """A TOML value from text (``30000``, ``2024-01-22``, ``[{from=...}]``), else the text."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def _deep_copy(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, Mapping) else v for k, v in raw.items()}


def _set_dotted(data: dict[str, Any], key: str, value: Any, source: str) -> None:
    parts = key.split(".")
    node: dict[str, Any] = data
    model: type[BaseModel] | None = Scenario
    for depth, part in enumerate(parts):
        model = _check_key(model, parts[: depth + 1], source)
        if depth == len(parts) - 1:
            node[part] = value
            return
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ScenarioError(source, ".".join(parts[: depth + 1]), "is not a table")
        node = child


def _check_key(
    model: type[BaseModel] | None, parts: list[str], source: str
) -> type[BaseModel] | None:
    """Reject an override key that the schema does not have, with a suggestion."""
    if model is None:
        return None
    names = {field.alias or name: field for name, field in model.model_fields.items()}
    part = parts[-1]
    if part not in names:
        raise ScenarioError(source, ".".join(parts), _unknown_key_message(part, names))
    annotation = names[part].annotation
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


def _unknown_key_message(part: str, known: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(part, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
    return "unknown key" + hint


def _as_scenario_error(error: ValidationError, source: str) -> ScenarioError:
    """The first pydantic error as one line: file, dotted key, plain message."""
    first = error.errors(include_url=False)[0]
    loc = [str(part) for part in first["loc"] if not str(part).startswith("function-")]
    # pydantic reports a union's failing branch in loc ("list[...]", "literal[...]"); drop it.
    loc = [part for part in loc if "[" not in part]
    context = first.get("ctx") or {}
    inner = context.get("error")
    if isinstance(inner, _KeyedError):
        loc = [*loc, *inner.key.split(".")]
    key = _dotted(loc)
    message = _message(first, error_input=first.get("input"))
    if first["type"] == "extra_forbidden":
        message = _unknown_key_message(loc[-1], _fields_at(loc[:-1]))
    return ScenarioError(source, key, message)


def _fields_at(loc: list[str]) -> dict[str, Any]:
    """The keys the schema allows in the table at ``loc`` (list indices skipped)."""
    model: Any = Scenario
    for part in loc:
        if part.isdigit():
            continue
        fields = {f.alias or n: f for n, f in model.model_fields.items()}
        annotation = fields[part].annotation
        args = getattr(annotation, "__args__", ())
        model = next((a for a in (annotation, *args) if _is_model(a)), None)
        if model is None:
            return {}
    return {f.alias or n: f for n, f in model.model_fields.items()}


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _dotted(loc: list[str]) -> str:
    key = ""
    for part in loc:
        key += f"[{part}]" if part.isdigit() else (f".{part}" if key else part)
    return key


_TYPE_NAMES = {
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "date_type": "a date (YYYY-MM-DD, unquoted)",
    "date_parsing": "a date (YYYY-MM-DD, unquoted)",
    "date_from_datetime_parsing": "a date (YYYY-MM-DD, unquoted)",
    "list_type": "a list",
    "tuple_type": "a list",
    "model_type": "a table",
    "dict_type": "a table",
}


def _message(detail: Mapping[str, Any], error_input: Any) -> str:
    kind = detail["type"]
    context = detail.get("ctx") or {}
    got = f" (got {error_input!r})"
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "unknown key"  # the caller adds a suggestion
    for bound, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if bound in context and kind.endswith(("than", "equal")):
            return f"must be {symbol} {context[bound]}{got}"
    if kind in _TYPE_NAMES:
        return f"must be {_TYPE_NAMES[kind]}{got}"
    if kind == "literal_error":
        return f"must be one of {context.get('expected')}{got}"
    if kind in ("too_short", "too_long"):
        return f"must have {context.get('min_length', context.get('max_length'))} items{got}"
    if kind == "value_error":
        inner = context.get("error")
        return str(inner) if inner else detail["msg"]
    return f"{detail['msg']}{got}"
