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
import os
import re
import tomllib
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import holidays
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from sim.model.distributions import (
    Distribution,
    DistributionError,
    extract_uncertain,
    join_parts,
    key_parts,
    set_at,
)
from sim.model.numbers import NumberError, strict_numbers

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60
# Ten years of days: longer than any migration, and the model holds arrays of this many days.
MAX_HORIZON_DAYS = 3_653
# Practical limits of the model: the calendar starts this many days before the start at
# most, and the desk runs one SimPy process per agent.
MAX_LEAD_DAYS = 366
MAX_AGENTS = 10_000
# Dates a migration can have, with its horizon and lead inside what timestamps hold (to 2262).
EARLIEST_DATE, LATEST_DATE = dt.date(1990, 1, 1), dt.date(2200, 12, 31)


class ScenarioError(ValueError):
    """Bad scenario input; ``str(error)`` is the one line a user sees.

    ``problems`` lists every problem found at once (this one first), for a
    command such as ``validate`` that reports them all.
    """

    def __init__(self, source: str, key: str, message: str) -> None:
        self.source = source
        self.key = key
        self.message = message
        self.problems: list[ScenarioError] = [self]
        where = f"{source}: {key}: " if key else f"{source}: "
        super().__init__(where + message)


def _parse_clock(value: Any) -> Any:
    """ "HH:MM" -> minutes after midnight ("24:00" is the end of the day)."""
    if isinstance(value, dt.time):
        return value.hour * 60 + value.minute
    if isinstance(value, bool | float):  # an int is minutes, as the schema holds it
        shown = str(value).lower() if isinstance(value, bool) else value
        raise ValueError(f'must be a time "HH:MM" in quotes (got {shown})')
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
    # Numbers are finite (no inf/nan), never true/false or quoted text (sim.model.numbers).
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )

    @model_validator(mode="before")
    @classmethod
    def _numbers_are_numbers(cls, data: Any) -> Any:
        return strict_numbers(cls, data)


class ScenarioTable(_Table):
    name: str = Field(min_length=1)
    start: dt.date
    deadline: dt.date | None = None
    seed: int = Field(default=0, ge=0)
    replications: int = Field(default=100, ge=1)
    confidence: float = Field(default=0.9, gt=0, le=1)
    horizon_days: int = Field(default=730, ge=1, le=MAX_HORIZON_DAYS)

    @model_validator(mode="after")
    def _deadline_after_start(self) -> ScenarioTable:
        for key in ("start", "deadline"):
            day = getattr(self, key)
            if day is not None and not EARLIEST_DATE <= day <= LATEST_DATE:
                raise _KeyedError(
                    key, f"must be between {EARLIEST_DATE} and {LATEST_DATE} (got {day})"
                )
        if self.deadline is not None and self.deadline < self.start:
            raise _KeyedError("deadline", f"must not be before start ({self.start})")
        return self


class SizeGb(_Table):
    mean: float = Field(default=1.1, gt=0)
    sigma: float = Field(default=1.2, ge=0)
    max: float = Field(default=100.0, gt=0)


# Keys that describe a drawn population; an inventory lists the real one instead.
DRAWN_POPULATION_KEYS = (
    "mailboxes",
    "organisations",
    "organisation_size_sigma",
    "size_gb",
    "kinds",
)


class Population(_Table):
    """Drawn (``mailboxes``, ``size_gb``, ...) or read from an ``inventory`` file.

    With an inventory, ``mailboxes`` and ``organisations`` are filled in from
    the file when the scenario is loaded, so code reading them needs no case.
    """

    mailboxes: int | None = Field(default=None, ge=1)
    organisations: int = Field(default=1, ge=1)
    organisation_size_sigma: float = Field(default=1.5, ge=0)
    # The inventory column that gives each mailbox's organisation (an Exchange export's
    # "Department", say); without it an export's organisation is the e-mail domain.
    organisation_column: str | None = Field(default=None, min_length=1)
    size_gb: SizeGb = SizeGb()
    legacy_client_share: float = Field(default=0.10, ge=0, le=1)
    inventory: str | None = Field(default=None, min_length=1)
    # Shares of drawn mailboxes by kind ("user", "shared", "application", ...); default all
    # users. An inventory gives each mailbox's kind in its own `kind` column instead.
    kinds: dict[str, float] | None = None

    @field_validator("kinds")
    @classmethod
    def _kind_shares(cls, kinds: dict[str, float] | None) -> dict[str, float] | None:
        return None if kinds is None else _check_kind_shares(kinds)

    def kind_shares(self) -> dict[str, float]:
        """The drawn population's kinds and their shares (default: all users)."""
        return dict(self.kinds) if self.kinds is not None else {DEFAULT_KIND: 1.0}

    @model_validator(mode="before")
    @classmethod
    def _inventory_or_drawn(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("inventory") is not None:
            for key in DRAWN_POPULATION_KEYS:
                if key in data:
                    raise _KeyedError(
                        key,
                        "must not be given with population.inventory (it lists the mailboxes)",
                    )
        return data

    @model_validator(mode="after")
    def _enough_mailboxes(self) -> Population:
        if self.inventory is not None:
            return self
        if self.organisation_column is not None:
            raise _KeyedError("organisation_column", "must be given with population.inventory")
        if self.mailboxes is None:
            raise _KeyedError("mailboxes", "is required (or give population.inventory)")
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
    notice_days: int = Field(default=14, ge=0, le=MAX_LEAD_DAYS)
    cutover_time: Clock = 20 * 60
    phases: list[Phase] = []
    # An evening may take this share above its batch (for carried-over users).
    catch_up: float = Field(default=0.0, ge=0)
    # Who goes first on an evening: users carried over from earlier evenings ("first"),
    # or the day's planned cohort, carried-over users taking only the places left ("spare").
    carried_over: Literal["first", "spare"] = "first"

    @field_validator("phases")
    @classmethod
    def _phases_in_order(cls, phases: list[Phase]) -> list[Phase]:
        return _phases_in_order(phases)


def _phases_in_order(phases: list[Phase]) -> list[Phase]:
    for i in range(1, len(phases)):
        if phases[i].from_ <= phases[i - 1].from_:
            raise _KeyedError(f"{i}.from", "phases must be in increasing date order")
    return phases


# --- lanes and kinds of mailbox ---------------------------------------------------------------

MAIN_LANE = "main"  # the lane of [batches]: every kind that no [[lanes]] names
DEFAULT_KIND = "user"


class Lane(_Table):
    """A schedule of its own for some kinds of mailbox (``[[lanes]]``).

    Shared, room and application mailboxes often move "gradually" beside the
    users: a lane has its own first day, batch sizes (and phases, as in
    ``[batches]``), notices and ticket rate; it shares the tenant throttle, the
    failure rules and the service desk with the others.
    """

    name: str = Field(min_length=1)
    kinds: list[str] = Field(min_length=1)
    from_: dt.date = Field(alias="from")
    weekday: int = Field(ge=0)
    weekend_day: int = Field(default=0, ge=0)
    phases: list[Phase] = []
    # Days of warning; 0 = no user notices at all (nobody reads an application mailbox).
    # Default: [batches].notice_days.
    notice_days: int | None = Field(default=None, ge=0)
    # Tickets per migrated mailbox of this lane; default: [support]'s rates.
    ticket_rate: float | None = Field(default=None, ge=0, le=1)

    @field_validator("phases")
    @classmethod
    def _phases_in_order(cls, phases: list[Phase]) -> list[Phase]:
        return _phases_in_order(phases)

    @field_validator("kinds")
    @classmethod
    def _kinds_once(cls, kinds: list[str]) -> list[str]:
        for i, kind in enumerate(kinds):
            if not kind:
                raise _KeyedError(str(i), "a kind must not be empty")
            if kind in kinds[:i]:
                raise _KeyedError(str(i), f"names kind {kind!r} twice")
        return kinds

    @field_validator("name")
    @classmethod
    def _not_main(cls, name: str) -> str:
        if name == MAIN_LANE:
            raise ValueError(f"{MAIN_LANE!r} is the lane of [batches]; name this lane otherwise")
        return name


def _check_kind_shares(kinds: dict[str, float]) -> dict[str, float]:
    for kind, share in kinds.items():
        if not kind:
            raise ValueError("a kind must not be empty")
        if not 0 <= share <= 1:
            raise _KeyedError(kind, f"must be a share between 0 and 1 (got {share!r})")
    total = sum(kinds.values())
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"the shares must add up to 1 (got {total:g})")
    return kinds


def check_lanes(lanes: list[Lane], population: Population) -> None:
    """Every kind moves in one lane: no kind in two lanes, none that the population lacks."""
    owner: dict[str, str] = {}
    drawn_kinds = None if population.inventory is not None else population.kind_shares()
    for i, lane in enumerate(lanes):
        for j, kind in enumerate(lane.kinds):
            if kind in owner:
                raise _KeyedError(
                    f"lanes.{i}.kinds.{j}",
                    f"kind {kind!r} is already moved by lane {owner[kind]!r}",
                )
            if drawn_kinds is not None and kind not in drawn_kinds:
                raise _KeyedError(
                    f"lanes.{i}.kinds.{j}",
                    f"no mailbox is of kind {kind!r}: population.kinds names "
                    f"{', '.join(map(repr, drawn_kinds))}",
                )
            owner[kind] = lane.name
        if any(lane.name == other.name for other in lanes[:i]):
            raise _KeyedError(f"lanes.{i}.name", f"another lane is named {lane.name!r}")


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
    presync_lead_days: float = Field(default=7, ge=0, le=MAX_LEAD_DAYS)
    concurrent_moves: int = Field(default=1_000, ge=1)
    per_move_gb_per_hour: float = Field(default=0.7, gt=0)
    scale: float = Field(default=1.0, ge=0)
    windows: list[Window] = list(DEFAULT_WINDOWS)
    # With the inventory's item counts, a move needs max(size / GB rate, items / this) hours.
    per_move_items_per_hour: float | None = Field(default=None, gt=0)
    holidays_as_weekend: bool = True
    # Variation in time (sim.model.uncertainty): sigma of a lognormal factor, median 1,
    # on each day's tenant capacity (service health), and on each mailbox's move speed.
    daily_variation: float = Field(default=0.0, ge=0)
    per_move_sigma: float = Field(default=0.0, ge=0)


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
    agents: int = Field(default=40, ge=0, le=MAX_AGENTS)
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


class Risk(_Table):
    """An event that may strike in a replication (``[[risks]]``; see sim.model.uncertainty).

    One-off (``probability``, starting on a uniform day of ``between``) or
    recurring (``per_week`` expected occurrences, Poisson). Effects: no
    cutovers for ``pause_days`` calendar days (counting the day it strikes),
    tenant capacity times ``throttle_factor`` and/or ``failures.rate`` times
    ``failure_factor`` for ``days`` days. Effect sizes may be distributions,
    drawn for each occurrence from the risk's own stream.
    """

    inline_distributions: ClassVar[bool] = True

    name: str = Field(min_length=1)
    probability: float | None = Field(default=None, ge=0, le=1)
    per_week: float | None = Field(default=None, ge=0)
    between: tuple[dt.date, dt.date] | None = None
    pause_days: Annotated[int, Field(ge=1)] | Distribution | None = None
    throttle_factor: Annotated[float, Field(ge=0)] | Distribution | None = None
    failure_factor: Annotated[float, Field(ge=0)] | Distribution | None = None
    days: Annotated[int, Field(ge=1)] | Distribution | None = None

    @model_validator(mode="after")
    def _complete(self) -> Risk:
        if self.probability is None and self.per_week is None:
            raise _KeyedError(
                "probability",
                "missing: give probability (a chance per replication) or per_week (recurring)",
            )
        if self.probability is not None and self.per_week is not None:
            raise _KeyedError("per_week", "give probability or per_week, not both")
        if self.between is not None and self.between[1] < self.between[0]:
            raise _KeyedError("between", "the second date must not be before the first")
        if self.pause_days is None and self.throttle_factor is None and self.failure_factor is None:
            raise _KeyedError(
                "pause_days",
                "a risk needs an effect: pause_days, throttle_factor or failure_factor",
            )
        lasting = self.throttle_factor is not None or self.failure_factor is not None
        if lasting and self.days is None:
            raise _KeyedError("days", "is required with throttle_factor or failure_factor")
        if self.days is not None and not lasting:
            raise _KeyedError("days", "goes with throttle_factor or failure_factor")
        return self


class Scenario(_Table):
    """A whole, validated migration plan. Immutable: use :func:`with_overrides`.

    Numbers given as distributions are held in :attr:`uncertain` (dotted key ->
    distribution); the fields themselves hold each distribution's median.
    """

    scenario: ScenarioTable
    population: Population
    calendar: CalendarTable = CalendarTable()
    batches: Batches = Batches()
    throttle: Throttle = Throttle()
    failures: Failures = Failures()
    support: Support = Support()
    risks: list[Risk] = []
    lanes: list[Lane] = []

    # Where each value came from, to blame the right place: "" -> the file, key -> an override.
    _sources: dict[str, str] = PrivateAttr(default_factory=dict)
    _uncertain: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def uncertain(self) -> dict[str, Any]:
        """Dotted key -> distribution, for every number drawn once per replication."""
        return dict(self._uncertain)

    @field_validator("risks")
    @classmethod
    def _unique_risk_names(cls, risks: list[Risk]) -> list[Risk]:
        names = [risk.name for risk in risks]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise _KeyedError(f"{i}.name", f"another risk is named {name!r}")
        return risks

    @model_validator(mode="after")
    def _lanes_move_known_kinds(self) -> Scenario:
        check_lanes(self.lanes, self.population)
        return self

    def source_of(self, key: str) -> str:
        """The file or option (``--set``) that gave ``key`` its value."""
        return _blame(self._sources, key)

    def __eq__(self, other: object) -> bool:
        # Two plans with the same values are the same plan, wherever their values came from.
        if not isinstance(other, Scenario):
            return NotImplemented
        return self.__dict__ == other.__dict__ and self._uncertain == other._uncertain

    __hash__ = None  # type: ignore[assignment]  # tables hold lists: not hashable


class _KeyedError(ValueError):
    """A validator's error about a key other than the one being validated."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)


# --- loading ---------------------------------------------------------------------------------


def load(
    path: str | Path,
    overrides: Mapping[str, Any] | None = None,
    *,
    source: str | None = None,
    override_source: str | None = None,
) -> Scenario:
    """Read, override and validate a scenario file.

    ``overrides`` maps dotted keys to values (already parsed, or TOML text via
    :func:`parse_override`). Raises :class:`ScenarioError` on any bad input.
    """
    path = Path(path)
    source = source or str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # Notepad may save a byte-order mark
    except FileNotFoundError:
        raise ScenarioError(source, "", "no such file") from None
    except IsADirectoryError:
        raise ScenarioError(source, "", "is a folder, not a scenario file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(source, "", f"cannot read: {error}") from None
    return loads(
        text, overrides, source=source, override_source=override_source, base_dir=path.parent
    )


def loads(
    text: str,
    overrides: Mapping[str, Any] | None = None,
    *,
    source: str = "<scenario>",
    override_source: str | None = None,
    base_dir: str | Path | None = None,
) -> Scenario:
    """Like :func:`load`, from TOML text; ``base_dir`` is the folder that relative
    paths in it (``population.inventory``) are relative to (default: the working folder)."""
    try:
        raw = tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(source, "", f"not valid TOML: {error}") from None
    return from_dict(
        raw, overrides, source=source, override_source=override_source, base_dir=base_dir
    )


def from_dict(
    raw: Mapping[str, Any],
    overrides: Mapping[str, Any] | None = None,
    *,
    source: str = "<scenario>",
    override_source: str | None = None,
    sources: Mapping[str, str] | None = None,
    base_dir: str | Path | None = None,
) -> Scenario:
    """Validate a nested dict (as TOML parses it) after applying dotted overrides.

    An error caused by an override is blamed on ``override_source`` (e.g.
    ``--set``; default ``source``), any other on ``source``. An inventory file
    (``population.inventory``, relative to ``base_dir``) is read and checked
    here, so a bad one is bad input before anything runs.
    """
    override_source = override_source or source
    known = {"": source, **(sources or {})}
    known.update(dict.fromkeys(overrides or {}, override_source))
    data = _deep_copy(raw)
    for key, value in (overrides or {}).items():
        _set_dotted(data, key, value, override_source)
    try:
        data, uncertain = extract_uncertain(data, Scenario, fixed_tables=("scenario",))
    except DistributionError as error:
        raise ScenarioError(_blame(known, error.key), error.key, str(error)) from None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        broken_by_overrides = bool(overrides) and _validates(raw)
        found = []
        # An unknown key first: a typo ("form") is the cause of the missing key ("from").
        details = sorted(
            error.errors(include_url=False), key=lambda d: d["type"] != "extra_forbidden"
        )
        for detail in details:
            each = _as_scenario_error(detail, source)
            blamed = _blame(known, each.key)
            if blamed == source and broken_by_overrides:
                blamed = override_source  # valid without the overrides: they broke it
            found.append(ScenarioError(blamed, each.key, each.message))
        first = found[0]
        first.problems = list({str(e): e for e in found}.values())
        raise first from None
    if scenario.population.inventory is not None:
        scenario = _with_inventory(
            scenario, data["population"], _blame(known, "population.inventory"), base_dir
        )
    scenario._sources = known
    scenario._uncertain = uncertain
    return scenario


def _validates(raw: Mapping[str, Any]) -> bool:
    try:
        data, _ = extract_uncertain(_deep_copy(raw), Scenario, fixed_tables=("scenario",))
        Scenario.model_validate(data)
    except (ValidationError, DistributionError):
        return False
    return True


def _blame(sources: Mapping[str, str], key: str) -> str:
    """The source of the longest override key that ``key`` is in (or holds), else the file's."""
    related = [
        k
        for k in sources
        if k and (key == k or key.startswith((k + ".", k + "[")) or k.startswith(key + "."))
    ]
    if related:
        return sources[max(related, key=len)]
    return sources.get("", "<scenario>")


def _with_inventory(
    scenario: Scenario, raw_population: Mapping[str, Any], source: str, base_dir: str | Path | None
) -> Scenario:
    """Resolve and read the inventory; fill in ``mailboxes`` and ``organisations`` from it."""
    from sim.model.inventory import InventoryError, describe, load_inventory

    population = scenario.population
    path = Path(base_dir or ".") / Path(population.inventory).expanduser()
    path = Path(os.path.abspath(path))
    key = "population.inventory"
    if not path.exists():
        raise ScenarioError(source, key, f"no such file: {describe(path)}")
    refuse_non_table(path, source, key, describe(path), kinds="CSV or Parquet")
    try:
        inventory = load_inventory(
            path, display=describe(path), organisation_column=population.organisation_column
        )
    except InventoryError as error:
        raise ScenarioError(error.path, error.where, error.message) from None
    if inventory.legacy is not None and "legacy_client_share" in raw_population:
        raise ScenarioError(
            source,
            "population.legacy_client_share",
            f"must not be given: the inventory {describe(path)} has a legacy column",
        )
    if not len(inventory):
        raise ScenarioError(source, key, f"{describe(path)} lists no mailboxes")
    filled = population.model_copy(
        update={
            "inventory": str(path),
            "mailboxes": len(inventory),
            "organisations": len(inventory.organisation_names),
        }
    )
    return scenario.model_copy(update={"population": filled})


ZIP_MAGIC = b"PK\x03\x04"  # an Excel workbook (.xlsx) is a zip archive


def refuse_non_table(
    path: str | Path, source: str, key: str = "", shown: str | None = None, kinds: str = "CSV"
) -> None:
    """A folder or an Excel workbook where a table file (``kinds``) belongs: one line saying
    what it is, naming ``source`` and ``key`` (for an inventory, actuals or a move report)."""
    path = Path(path)
    shown = shown or str(path)
    subject = "" if shown == source and not key else f"{shown} "  # say the name once
    if path.is_dir():
        raise ScenarioError(source, key, f"{subject}is a folder, not a {kinds} file")
    try:
        with open(path, "rb") as handle:
            magic = handle.read(len(ZIP_MAGIC))
    except FileNotFoundError:
        return  # the caller says "no such file" in its own words
    except OSError as error:
        raise ScenarioError(source, key, f"{subject}cannot be read: {error.strerror}") from None
    if magic == ZIP_MAGIC:
        raise ScenarioError(
            source,
            key,
            f"{subject}is an Excel workbook (or another zip file), not {kinds}: "
            "save it as CSV (File > Save As > CSV UTF-8) and name that file",
        )


def with_overrides(scenario: Scenario, overrides: Mapping[str, Any], *, source: str) -> Scenario:
    """A copy of ``scenario`` with dotted overrides (from ``source``) applied and validated."""
    sources = dict(scenario._sources)
    return from_dict(
        to_dict(scenario),
        overrides,
        source=sources.pop("", "<scenario>"),
        override_source=source,
        sources=sources,
    )


def to_dict(scenario: Scenario) -> dict[str, Any]:
    """The scenario as a TOML-shaped dict (aliases such as ``from``, times as "HH:MM"),
    uncertain numbers as their ``{dist = ...}`` tables.

    With an inventory, the population keys filled in from it are left out, so
    the dict loads again as the same scenario.
    """
    data = scenario.model_dump(by_alias=True, mode="python")
    population = data["population"]
    if population.get("inventory") is not None:
        for key in DRAWN_POPULATION_KEYS:
            population.pop(key, None)
        if _has_legacy(scenario):
            population.pop("legacy_client_share", None)
    else:  # keep the dict of a scenario without an inventory as it was
        population.pop("inventory", None)
    if population.get("organisation_column") is None:
        population.pop("organisation_column", None)
    if data["throttle"].get("per_move_items_per_hour") is None:
        data["throttle"].pop("per_move_items_per_hour", None)
    if population.get("kinds", 0) is None:
        population.pop("kinds")
    if not data.get("lanes"):
        data.pop("lanes", None)
    for lane in data.get("lanes", []):
        for key in ("notice_days", "ticket_rate"):
            if lane.get(key) is None:
                lane.pop(key, None)
    for key, dist in scenario.uncertain.items():
        set_at(data, key_parts(key), dist.model_dump(by_alias=True))
    return data


def _has_legacy(scenario: Scenario) -> bool:
    from sim.model.inventory import load_inventory

    population = scenario.population
    inventory = load_inventory(
        population.inventory, organisation_column=population.organisation_column
    )
    return inventory.legacy is not None


def parse_override(assignment: str, source: str = "--set") -> tuple[str, Any]:
    """Split ``KEY=VALUE``; VALUE is a TOML value, or a bare string if it is not one."""
    key, sep, text = assignment.partition("=")
    key, text = key.strip(), text.strip()
    if not sep or not key:
        raise ScenarioError(source, assignment, "expected KEY=VALUE, e.g. batches.weekday=30000")
    if text[:1] in ("{", "["):  # meant as an inline table or array: say why it is not one
        try:
            tomllib.loads(f"value = {text}")
        except tomllib.TOMLDecodeError as error:
            kind = "inline table" if text[0] == "{" else "array"
            reason = str(error).split(" (at ")[0]
            raise ScenarioError(
                source, key, f"not a valid TOML {kind} ({reason}): {text}"
            ) from None
    return key, parse_value(text)


def parse_value(text: str) -> Any:
    """A TOML value from text (``30000``, ``2024-01-22``, ``[{from=...}]``), else the text."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def _deep_copy(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, Mapping) else v for k, v in raw.items()}


_DOTTED_KEY = re.compile(r"[A-Za-z_]\w*(\[\d+\])*(\.[A-Za-z_]\w*(\[\d+\])*)*")


def _set_dotted(data: dict[str, Any], key: str, value: Any, source: str) -> None:
    """Put an override at its dotted key; list items by index (``throttle.windows[0].to``),
    as errors name them. Unknown keys and missing items are errors naming the key."""
    if not _DOTTED_KEY.fullmatch(key):
        raise ScenarioError(
            source, key, "is not a dotted key (e.g. batches.weekday, throttle.windows[0].to)"
        )
    parts = key_parts(key)
    node: Any = data
    model: type[BaseModel] | None = Scenario
    for depth, part in enumerate(parts):
        shown = join_parts(parts[: depth + 1])
        last = depth == len(parts) - 1
        if isinstance(part, int):
            if part >= len(node):
                raise ScenarioError(
                    source, shown, f"no such item: {join_parts(parts[:depth])} has {len(node)}"
                )
        else:
            model, is_list = _check_key(model, part, shown, source)
        if last:
            node[part] = value
            return
        if isinstance(parts[depth + 1], int):
            child = node.get(part) if isinstance(part, str) else node[part]
            if isinstance(part, int) or not is_list:
                raise ScenarioError(source, shown, "is not a list")
            if not isinstance(child, list):
                raise ScenarioError(
                    source, shown, f"is not in the file: give the whole list, --set '{shown}=[...]'"
                )
        elif isinstance(part, int):
            child = node[part]
        else:
            child = node.setdefault(part, {})
        if not isinstance(child, dict | list):
            raise ScenarioError(source, shown, "is not a table")
        node = child


def _check_key(
    model: type[BaseModel] | None, part: str, shown: str, source: str
) -> tuple[type[BaseModel] | None, bool]:
    """Reject an override key that the schema does not have, with a suggestion. Return the
    model of the table (or of the list's items) it names, if any, and whether it is a list."""
    if model is None:
        return None, True  # below a key the schema does not describe: let validation say
    names = {field.alias or name: field for name, field in model.model_fields.items()}
    if part not in names:
        raise ScenarioError(source, shown, _unknown_key_message(part, names))
    annotation = names[part].annotation
    candidates = [annotation, *getattr(annotation, "__args__", ())]
    is_list = any(getattr(c, "__origin__", None) in (list, tuple) for c in candidates)
    return next((c for c in candidates if _is_model(c)), None), is_list


def _unknown_key_message(part: str, known: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(part, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
    return "unknown key" + hint


def _as_scenario_error(first: Mapping[str, Any], source: str) -> ScenarioError:
    """A pydantic error (one of ``ValidationError.errors()``) as one line: file, dotted key,
    plain message."""
    loc = [str(part) for part in first["loc"] if not str(part).startswith("function-")]
    # pydantic reports a union's failing branch in loc ("list[...]", "literal[...]"); drop it.
    loc = [part for part in loc if "[" not in part and not part.startswith("constrained-")]
    context = first.get("ctx") or {}
    inner = context.get("error")
    if isinstance(inner, _KeyedError | NumberError):
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
    "finite_number": "a finite number",
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
            hint = ""
            if bound in ("le", "lt") and context[bound] == 1 and 1 < error_input <= 100:
                hint = f": a share, so {error_input}% is {error_input / 100:g}"
            return f"must be {symbol} {context[bound]}{got}{hint}"
    if kind == "string_too_short":
        return f"must not be empty{got}"
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
