"""The numeric keys of a scenario: what solve searches and a tornado moves.

``numeric_key(sc, "batches.weekday")`` says the key holds whole numbers, is
22,000 now and must be >= 0; ``numeric_keys(sc)`` lists every such key of the
scenario's tables (not ``scenario.*``, which is how it is run rather than the
plan, and not list items such as windows or phases, which have no dotted key).
"""

from __future__ import annotations

import difflib
import math
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from sim.model.scenario import Scenario, ScenarioError, to_dict

NOT_PLAN = ("scenario",)  # seed, replications, confidence, horizon: how a run is made


@dataclass(frozen=True)
class NumericKey:
    """A numeric scenario key: whole or real, its current value and its valid range."""

    key: str
    integer: bool
    value: float | int | None  # an uncertain key's median; None when unset
    lower: float = -math.inf
    upper: float = math.inf
    lower_open: bool = False  # lower itself is not allowed (gt rather than ge)
    upper_open: bool = False

    def clip(self, value: float) -> float | int:
        """``value`` moved inside the valid range (and rounded, for a whole-number key)."""
        lo = self.lower if not self.lower_open else _inside(self.lower, self.integer, +1)
        hi = self.upper if not self.upper_open else _inside(self.upper, self.integer, -1)
        value = min(max(value, lo), hi)
        if self.integer:
            whole = round(value)
            if math.isfinite(lo):
                whole = max(whole, math.ceil(lo))
            if math.isfinite(hi):
                whole = min(whole, math.floor(hi))
            return int(whole)
        return float(f"{value:.12g}")


def _inside(bound: float, integer: bool, sign: int) -> float:
    if integer:
        return bound + sign
    return bound + sign * max(abs(bound), 1.0) * 1e-9


def numeric_key(scenario: Scenario, key: str, source: str = "key") -> NumericKey:
    """Describe ``key``; :class:`ScenarioError` if it is unknown, not numeric or not the plan's."""
    parts = key.split(".")
    if not key or parts[0] in NOT_PLAN:
        raise ScenarioError(
            source, key, "is how the scenario is run, not part of the plan: choose a plan key"
        )
    model: Any = Scenario
    field = None
    for depth, part in enumerate(parts):
        fields = {f.alias or name: f for name, f in model.model_fields.items()}
        if part not in fields:
            close = difflib.get_close_matches(part, list(fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ScenarioError(source, ".".join(parts[: depth + 1]), "unknown key" + hint)
        field = fields[part]
        if depth < len(parts) - 1:
            model = _model_in(field.annotation)
            if model is None:
                raise ScenarioError(source, ".".join(parts[: depth + 1]), "is not a table")
    kinds = _scalar_types(field.annotation)
    if model is not None and _model_in(field.annotation) is not None and not kinds:
        raise ScenarioError(source, key, "is a table, not a number: name one of its keys")
    if not kinds & {int, float}:
        raise ScenarioError(source, key, "is not numeric: solve and sensitivity need a number")
    bounds: dict[str, float] = {}
    for constraint in field.metadata:
        for name in ("ge", "gt", "le", "lt"):
            if getattr(constraint, name, None) is not None:
                bounds[name] = float(getattr(constraint, name))
    current = _current(scenario, parts)
    if not _is_number(current):  # an uncertain key stands at its median
        distribution = uncertain_distributions(scenario).get(key)
        current = float(distribution.ppf(0.5)) if distribution is not None else None
    integer = int in kinds and float not in kinds
    return NumericKey(
        key=key,
        integer=integer,
        value=current if _is_number(current) else None,
        lower=bounds.get("ge", bounds.get("gt", -math.inf)),
        upper=bounds.get("le", bounds.get("lt", math.inf)),
        lower_open="gt" in bounds,
        upper_open="lt" in bounds,
    )


def numeric_keys(scenario: Scenario) -> list[str]:
    """Every numeric plan key that has a value in ``scenario``, in file order."""
    found: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        for name, value in node.items():
            key = f"{prefix}.{name}" if prefix else name
            if isinstance(value, dict) and "dist" not in value:
                walk(value, key)
            elif _is_number(value) or isinstance(value, dict):
                try:
                    numeric_key(scenario, key)
                except ScenarioError:
                    continue
                found.append(key)

    raw = to_dict(scenario)
    walk({k: v for k, v in raw.items() if k not in NOT_PLAN}, "")
    return found


def _current(scenario: Scenario, parts: list[str]) -> Any:
    node: Any = to_dict(scenario)
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _scalar_types(annotation: Any) -> set[type]:
    """The plain scalar types an annotation accepts (``int | None`` -> {int})."""
    if annotation in (int, float, bool, str):
        return {annotation}
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        out: set[type] = set()
        for arg in typing.get_args(annotation):
            out |= _scalar_types(arg)
        return out
    if origin is typing.Annotated:
        return _scalar_types(typing.get_args(annotation)[0])
    return set()


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        model = _model_in(arg)
        if model is not None:
            return model
    return None


def uncertain_distributions(scenario: Scenario) -> dict[str, Any]:
    """Dotted key -> scipy frozen distribution for the scenario's uncertain keys ({} if none),
    each within its key's range (a truncated normal is cut where the key's range ends)."""
    from sim.model.distributions import range_of
    from sim.model.uncertainty import uncertain_keys

    return {
        key: dist.frozen(range_of(Scenario, key).bounds)
        for key, dist in uncertain_keys(scenario).items()
    }
