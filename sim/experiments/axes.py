"""The axes of a sweep: which keys vary, over which values.

``--vary batches.weekday=15000,22000,30000`` lists values;
``--vary throttle.scale=0.5:1.0:0.1`` is a range (a grid needs its step; a
Latin hypercube snaps to it when given). In Python the same specs are text,
lists, or a :class:`Range`::

    make_axis(sc, "batches.weekday", Range(15000, 30000, 5000), source="vary")
    Axis("batches.weekday", range=Range(15000, 30000, 5000), integer=True)

Every bad spec raises :class:`~sim.model.scenario.ScenarioError` naming the
key, before anything runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.model.scenario import Scenario, ScenarioError, parse_value, to_dict

MAX_VALUES_PER_KEY = 10_000  # a typo such as a step of 0.0001 should fail, not run for a week
FIXED_KEYS = ("scenario.seed", "scenario.replications")  # the same at every point, by design


@dataclass(frozen=True)
class Range:
    """``lo`` to ``hi`` inclusive; a grid needs ``step``, a Latin hypercube snaps to it."""

    lo: float
    hi: float
    step: float | None = None


VarySpec = Sequence[Any] | Range | str


@dataclass(frozen=True)
class Axis:
    """One varied key: listed values, or a numeric range."""

    key: str
    values: list[Any] | None = None
    range: Range | None = None
    integer: bool = False  # the scenario field holds whole numbers

    def grid(self, source: str) -> list[Any]:
        if self.values is not None:
            return self.values
        lo, hi, step = self.range.lo, self.range.hi, self.range.step
        if step is None:
            raise ScenarioError(
                source, self.key, f"a grid needs a step: {lo}:{hi}:STEP (or method lhs)"
            )
        count = math.floor((hi - lo) / step + 1e-9) + 1
        if count > MAX_VALUES_PER_KEY:
            raise ScenarioError(source, self.key, f"{count:,} values is too many (step {step})")
        return [self._tidy(lo + i * step) for i in range(count)]

    def at(self, unit: np.ndarray) -> list[Any]:
        """Values at positions ``unit`` in [0, 1) (a Latin hypercube column)."""
        if self.values is not None:
            picks = np.minimum((unit * len(self.values)).astype(int), len(self.values) - 1)
            return [self.values[i] for i in picks]
        lo, hi, step = self.range.lo, self.range.hi, self.range.step
        raw = lo + unit * (hi - lo)
        if step is not None:
            raw = np.minimum(lo + np.round((raw - lo) / step) * step, hi)
        return [self._tidy(float(x)) for x in raw]

    def describe(self) -> Any:
        if self.values is not None:
            return self.values
        return {"lo": self.range.lo, "hi": self.range.hi, "step": self.range.step}

    def _tidy(self, value: float) -> int | float:
        # 0.1 + 2 * 0.1 is 0.30000000000000004; a planner typed 0.3.
        return round(value) if self.integer else float(f"{value:.12g}")


def parse_vary(assignment: str, source: str = "--vary") -> tuple[str, str]:
    """Split ``KEY=SPEC``; the spec is read against the scenario by :func:`make_axis`."""
    key, sep, text = assignment.partition("=")
    key, text = key.strip(), text.strip()
    if not sep or not key or not text:
        raise ScenarioError(
            source,
            assignment,
            "expected KEY=V1,V2,... or KEY=LO:HI:STEP, e.g. batches.weekday=1:9:2",
        )
    return key, text


def make_axis(scenario: Scenario, key: str, spec: VarySpec, source: str) -> Axis:
    """Read one key's values: a list, a :class:`Range`, or text ("A,B,C", "LO:HI[:STEP]")."""
    if key in FIXED_KEYS:
        name = key.split(".")[1]
        raise ScenarioError(
            source, key, f"is the same at every point of a sweep: set {name} for the whole sweep"
        )
    current = _current_value(scenario, key)
    if isinstance(spec, str):
        spec = _parse_spec(spec, text_field=isinstance(current, str))
    if isinstance(spec, Range):
        return _range_axis(key, spec, current, source)
    if isinstance(spec, np.ndarray):
        spec = spec.tolist()
    if not isinstance(spec, Sequence):
        spec = [spec]
    if not spec:
        raise ScenarioError(source, key, "needs at least one value")
    return Axis(key, values=[v.item() if isinstance(v, np.generic) else v for v in spec])


def _parse_spec(text: str, text_field: bool) -> list[Any] | Range:
    if not text_field and "," not in text:
        parts = [parse_value(part.strip()) for part in text.split(":")]
        if len(parts) in (2, 3) and all(_is_number(p) for p in parts):
            return Range(*parts)
    as_array = parse_value(f"[{text}]")  # TOML first: "a","b" and [1,2],[3] parse whole
    if isinstance(as_array, list):
        return as_array
    return [parse_value(part.strip()) for part in text.split(",")]


def _range_axis(key: str, spec: Range, current: Any, source: str) -> Axis:
    bounds = [spec.lo, spec.hi] + ([spec.step] if spec.step is not None else [])
    if not all(_is_number(b) for b in bounds):
        raise ScenarioError(source, key, f"a range needs numbers (got {spec})")
    if spec.hi < spec.lo:
        raise ScenarioError(source, key, f"range {spec.lo}:{spec.hi} runs backwards")
    if spec.step is not None and spec.step <= 0:
        raise ScenarioError(source, key, f"step must be > 0 (got {spec.step})")
    integer = isinstance(current, int) and not isinstance(current, bool)
    if current is None:  # no current value to go by: whole-number bounds mean whole numbers
        integer = all(isinstance(b, int) for b in bounds)
    return Axis(key, range=spec, integer=integer)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _current_value(scenario: Scenario, key: str) -> Any:
    node: Any = to_dict(scenario)
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None  # an unknown key is reported when the points are validated
        node = node[part]
    return node
