"""The world of one replication: uncertain inputs drawn, variation in time, risks.

A planner who writes::

    [support]
    ticket_rate = { dist = "pert", low = 0.002, mode = 0.004, high = 0.008 }

    [throttle]
    daily_variation = 0.15      # the service's health, day to day
    per_move_sigma = 0.4        # each mailbox's own move speed

    [[risks]]
    name = "national emergency: cutovers halted"
    probability = 0.1
    between = [2020-10-01, 2021-01-31]
    pause_days = { dist = "triangular", low = 3, mode = 7, high = 14 }

gets, in each replication, one ticket rate ("in this world it is 0.0051"), a
capacity factor for every day, a speed factor for every mailbox and, perhaps,
an emergency. :class:`Uncertainty` draws them, then runs the concrete scenario's
plain model (``sim.model.replication``) in that :class:`~sim.model.world.World`.

Common random numbers: every uncertain key draws from its own stream, named
by its dotted key and derived from the replication's ``SeedSequence``; each
risk and each kind of variation has its own stream too. So making one key
uncertain changes no other key's draw and no mailbox's draw, and two scenarios
run with the same seed live in the same worlds as far as their inputs agree.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from sim.model.calendar import Calendar
from sim.model.distributions import FieldRange, field_range, key_parts, range_of
from sim.model.replication import PlainModel, Replication
from sim.model.scenario import Risk, Scenario
from sim.model.throttle import build_capacity
from sim.model.world import World

# Stream families (spawn-key words that the mailbox streams 0..7 never use).
KEY_STREAMS = 0x756E63  # "unc": one stream per uncertain dotted key
RISK_STREAMS = 0x7269736B  # "risk": one stream per risk, by name
VARIATION_STREAMS = 0x766172  # "var": daily capacity factors, per-mailbox speed factors
DAYS_PER_WEEK = 7
SPEED_LEVELS = 4096  # per-mailbox speed factors: lognormal quantiles at (k + 0.5) / 4096
RISK_EFFECTS = ("pause_days", "throttle_factor", "failure_factor", "days")


def uncertain_keys(scenario: Scenario) -> dict[str, Any]:
    """Dotted key -> distribution of every number drawn once per replication (may be empty)."""
    return scenario.uncertain


def has_uncertainty(scenario: Scenario) -> bool:
    """Does anything vary between replications beyond the per-mailbox dice?"""
    throttle = scenario.throttle
    return bool(
        scenario.uncertain
        or scenario.risks
        or throttle.daily_variation > 0
        or throttle.per_move_sigma > 0
    )


def nominal(scenario: Scenario) -> Scenario:
    """The plan as written, without its doubt: every uncertain number at its median (the
    value the field holds), no risks, no variation in time. What "the plan expected"."""
    if not has_uncertainty(scenario):
        return scenario
    throttle = scenario.throttle.model_copy(update={"daily_variation": 0.0, "per_move_sigma": 0.0})
    plain = scenario.model_copy(update={"throttle": throttle, "risks": []})
    plain._uncertain = {}
    return plain


def named_stream(seed: np.random.SeedSequence, family: int, name: str) -> np.random.Generator:
    """A generator for ``name`` that depends only on the replication's seed and the name."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    word = int.from_bytes(digest, "little")
    child = np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, family, word))
    return np.random.default_rng(child)


def draw_value(dist, spec: FieldRange, rng: np.random.Generator) -> float | int:
    """One draw by inversion, kept inside the key's range (ints rounded)."""
    value = float(spec.clip(dist.ppf(rng.random(), spec.bounds))[()])
    return int(value) if spec.integer else value


@dataclass
class Draw:
    """What one replication's world is: the concrete scenario's model and what varies in time."""

    model: PlainModel
    world: World
    params: dict[str, float | int] = field(default_factory=dict)
    struck: dict[str, int] = field(default_factory=dict)


class Uncertainty:
    """A scenario's uncertainty, compiled once per model and shared by its replications:
    each replication draws its world and concrete scenario, then runs the plain model."""

    def __init__(self, base: PlainModel) -> None:
        sc = base.scenario
        self.base = base
        self.keys = _compiled_keys(sc)
        self.risk_ranges = {name: field_range(Risk.model_fields[name]) for name in RISK_EFFECTS}

    # --- one replication ---------------------------------------------------------------------

    def replicate(
        self,
        seed: np.random.SeedSequence,
        *,
        keep_mailboxes: bool = False,
        replication: int = 0,
        world: World | None = None,
    ) -> Replication:
        """Draw this replication's world, then run the concrete scenario in it."""
        drawn = self.draw(seed)
        if world is not None:
            # The caller's days are the base plan's; an uncertain lead time or notice
            # period moves the concrete calendar's first day (same dates, other indices).
            world = realigned(world, self.base.calendar, drawn.model.calendar)
        rep = drawn.model.replicate(
            seed,
            keep_mailboxes=keep_mailboxes,
            replication=replication,
            world=merge_worlds(drawn.world, world),
        )
        rep.metrics.update({f"param.{key}": value for key, value in drawn.params.items()})
        rep.metrics.update({f"risk.{name}": count for name, count in drawn.struck.items()})
        return rep

    def draw(self, seed: np.random.SeedSequence) -> Draw:
        """The inputs of one replication, each from its own stream."""
        concrete, params = _concrete(self.base.scenario, self.keys, seed)
        model = self.concrete_model(concrete)
        cal = model.calendar  # the concrete plan's days (an uncertain lead time moves them)
        throttle = concrete.throttle
        throttle_factor = failure_factor = paused = None
        if throttle.daily_variation > 0:
            throttle_factor = np.exp(throttle.daily_variation * _daily_normals(seed, cal))
        struck = {}
        for risk in concrete.risks:
            rng = named_stream(seed, RISK_STREAMS, risk.name)
            starts, sizes = self._occurrences(risk, model, rng)
            struck[risk.name] = len(starts)
            for start, size in zip(starts, sizes, strict=True):
                if "pause_days" in size:
                    paused = np.zeros(cal.days, bool) if paused is None else paused
                    paused[_within(start, size["pause_days"], cal.days)] = True
                span = _within(start, size.get("days", 0), cal.days)
                if "throttle_factor" in size:
                    if throttle_factor is None:
                        throttle_factor = np.ones(cal.days)
                    throttle_factor[span] *= size["throttle_factor"]
                if "failure_factor" in size:
                    failure_factor = np.ones(cal.days) if failure_factor is None else failure_factor
                    failure_factor[span] *= size["failure_factor"]
        move_speed = None
        if throttle.per_move_sigma > 0:
            rng = named_stream(seed, VARIATION_STREAMS, "throttle.per_move_sigma")
            # Inversion on a fine grid of probabilities: a third of the time of 2.1M normals.
            levels = rng.integers(0, SPEED_LEVELS, concrete.population.mailboxes, dtype=np.uint16)
            move_speed = _speed_quantiles(throttle.per_move_sigma)[levels]
        world = World(
            throttle_factor_by_day=throttle_factor,
            paused_by_day=paused,
            failure_factor_by_day=failure_factor,
            move_speed_factor=move_speed,
        )
        return Draw(model, world, params, struck)

    def _occurrences(
        self, risk: Risk, model: PlainModel, rng: np.random.Generator
    ) -> tuple[list[int], list[dict]]:
        """Start days (calendar indices) and effect sizes of a risk in one replication."""
        first, last = risk_window(risk, model)
        if risk.probability is not None:
            # Both uniforms drawn always: a changed probability keeps the same start day.
            happens = rng.random() < risk.probability
            start = first + int(rng.random() * (last - first + 1))
            starts = [start] if happens else []
        else:
            count = rng.poisson(risk.per_week / DAYS_PER_WEEK * (last - first + 1))
            starts = sorted(int(s) for s in rng.integers(first, last + 1, size=count))
        sizes = []
        for _ in starts:
            size = {}
            for name in RISK_EFFECTS:
                value = getattr(risk, name)
                if value is None:
                    continue
                if not isinstance(value, int | float):
                    value = draw_value(value, self.risk_ranges[name], rng)
                size[name] = value
            sizes.append(size)
        return starts, sizes

    # --- the model of a concrete scenario ----------------------------------------------------

    def concrete_model(self, concrete: Scenario) -> PlainModel:
        """A plain model of ``concrete``, reusing what the draws did not change."""
        base = self.base
        if concrete is base.scenario:
            return base
        if not _same_calendar(base.scenario, concrete):
            return PlainModel(concrete)  # e.g. an uncertain batch size: a new plan
        model = copy.copy(base)
        model.scenario = concrete
        if _capacity_inputs(base.scenario) != _capacity_inputs(concrete):
            model.capacity = build_capacity(model.calendar, concrete.throttle)
        return model


def concrete_scenario(
    scenario: Scenario, seed: np.random.SeedSequence
) -> tuple[Scenario, dict[str, float | int]]:
    """The scenario a replication with ``seed`` runs: every uncertain number drawn (and
    the values drawn, by dotted key). ``scenario`` itself when nothing is uncertain."""
    return _concrete(scenario, _compiled_keys(scenario), seed)


def _compiled_keys(scenario: Scenario) -> list[tuple]:
    return [
        (key, dist, range_of(Scenario, key), key_parts(key))
        for key, dist in scenario.uncertain.items()
    ]


def _concrete(
    scenario: Scenario, keys: list[tuple], seed: np.random.SeedSequence
) -> tuple[Scenario, dict[str, float | int]]:
    params = {
        key: draw_value(dist, spec, named_stream(seed, KEY_STREAMS, key))
        for key, dist, spec, _ in keys
    }
    concrete = scenario
    for (_, _, _, parts), value in zip(keys, params.values(), strict=True):
        concrete = replaced(concrete, parts, value)
    if params:
        concrete = concrete.model_copy()
        concrete._uncertain = {}
    return concrete, params


def risk_window(risk: Risk, model: PlainModel) -> tuple[int, int]:
    """Calendar days a risk may strike on: ``between``, else start to deadline (or horizon).

    Indices of the model's calendar, not clipped to it: a risk that strikes before the
    calendar's first day is felt only for what is left of it on the calendar (a pause of
    60 days from 1 June still holds in July), one after its last day not at all.
    """
    cal = model.calendar
    if risk.between is not None:
        first, last = (cal.index_of(day) for day in risk.between)
    else:
        first = cal.start_index
        last = model.deadline_index if model.deadline_index is not None else cal.last_cutover_index
    return first, max(last, first)


def _daily_normals(seed: np.random.SeedSequence, cal: Calendar) -> np.ndarray:
    """One standard normal per calendar day, by date: the start day and the days after it
    from one stream, the days before it (the lead) from another, backwards. So a plan
    whose calendar starts earlier (a longer lead time or notice) has the same service
    health on every date: common random numbers for solve and the tornado on those keys."""
    after = named_stream(seed, VARIATION_STREAMS, "throttle.daily_variation")
    before = named_stream(seed, VARIATION_STREAMS, "throttle.daily_variation:before")
    return np.concatenate(
        [
            before.standard_normal(cal.start_index)[::-1],
            after.standard_normal(cal.days - cal.start_index),
        ]
    )


def _within(start: int, days: int, calendar_days: int) -> slice:
    """The calendar days of ``days`` days from day ``start`` (empty when none is on it)."""
    first = min(max(start, 0), calendar_days)
    return slice(first, min(max(start + days, first), calendar_days))


@functools.lru_cache(maxsize=16)
def _speed_quantiles(sigma: float) -> np.ndarray:
    """Lognormal (median 1) quantiles at the midpoints of SPEED_LEVELS equal probabilities."""
    midpoints = (np.arange(SPEED_LEVELS) + 0.5) / SPEED_LEVELS
    return stats.lognorm(s=sigma).ppf(midpoints).astype(np.float32)


def merge_worlds(drawn: World, given: World | None) -> World:
    """The drawn world with a caller's world on top (factors multiply, pauses add)."""
    if given is None:
        return drawn

    def combine(a, b, op):
        if a is None or b is None:
            return b if a is None else a
        return op(a, b)

    return World(
        throttle_factor_by_day=combine(
            drawn.throttle_factor_by_day, given.throttle_factor_by_day, np.multiply
        ),
        paused_by_day=combine(drawn.paused_by_day, given.paused_by_day, np.logical_or),
        failure_factor_by_day=combine(
            drawn.failure_factor_by_day, given.failure_factor_by_day, np.multiply
        ),
        move_speed_factor=combine(drawn.move_speed_factor, given.move_speed_factor, np.multiply),
        initial_ticket_backlog=given.initial_ticket_backlog,
    )


def realigned(world: World, base: Calendar, concrete: Calendar) -> World:
    """``world``'s per-day arrays, indexed by ``base``'s days, on ``concrete``'s days (by
    date). Days ``base`` does not cover get the nominal factor 1 and no pause."""
    shift = (base.first_day - concrete.first_day).days
    if shift == 0 and base.days == concrete.days:
        return world

    def moved(values: np.ndarray | None, fill) -> np.ndarray | None:
        if values is None:
            return None
        values = np.asarray(values)
        out = np.full(concrete.days, fill, dtype=values.dtype)
        first, last = max(shift, 0), min(shift + len(values), concrete.days)
        if first < last:
            out[first:last] = values[first - shift : last - shift]
        return out

    return dataclasses.replace(
        world,
        throttle_factor_by_day=moved(world.throttle_factor_by_day, 1.0),
        paused_by_day=moved(world.paused_by_day, False),
        failure_factor_by_day=moved(world.failure_factor_by_day, 1.0),
    )


def _same_calendar(a: Scenario, b: Scenario) -> bool:
    """Do two scenarios make the same calendar, cutover plan and desk hours?"""
    return (
        a.scenario == b.scenario
        and a.calendar == b.calendar
        and a.batches == b.batches
        and a.lanes == b.lanes
        and a.support.hours == b.support.hours
        and a.support.open_on_holidays == b.support.open_on_holidays
        and a.support.arrival_hour_weights == b.support.arrival_hour_weights
        and a.throttle.presync_lead_days == b.throttle.presync_lead_days
    )


def _capacity_inputs(sc: Scenario) -> tuple:
    t = sc.throttle
    return (t.windows, t.scale, t.concurrent_moves, t.per_move_gb_per_hour, t.holidays_as_weekend)


def replaced(model: Any, parts: list[str | int], value: Any) -> Any:
    """A copy of a (frozen) pydantic model with the value at ``parts`` replaced."""
    head, rest = parts[0], parts[1:]
    if isinstance(model, list):
        items = list(model)
        items[head] = replaced(items[head], rest, value) if rest else value
        return items
    name = _field_name(type(model), head)
    current = getattr(model, name)
    return model.model_copy(update={name: replaced(current, rest, value) if rest else value})


def _field_name(model: type, alias: str) -> str:
    for name, info in model.model_fields.items():
        if alias in (name, info.alias):
            return name
    raise KeyError(alias)


__all__ = [
    "Draw",
    "Uncertainty",
    "concrete_scenario",
    "draw_value",
    "has_uncertainty",
    "merge_worlds",
    "named_stream",
    "realigned",
    "replaced",
    "risk_window",
    "uncertain_keys",
]
