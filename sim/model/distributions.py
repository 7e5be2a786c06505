"""Uncertain numbers: a planner's "somewhere between 0.4 and 1.1 GB/h".

Wherever the scenario takes a number (except ``scenario.*``, dates and
times), a table with ``dist`` may stand instead::

    ticket_rate = { dist = "pert", low = 0.003, mode = 0.006, high = 0.02 }
    per_move_gb_per_hour = { dist = "uniform", low = 0.4, high = 1.1 }
    agents = { dist = "triangular", low = 20, mode = 25, high = 30 }   # ints are rounded

Each distribution is a small pydantic model whose :meth:`frozen` is the scipy
distribution (scipy does the sampling, quantiles and moments). A value is drawn
by inversion, ``ppf(u)`` of one uniform, so a zero-width distribution gives
exactly its one value and every key needs exactly one uniform per replication.

:func:`extract_uncertain` takes the distributions out of a raw scenario dict
(``{dotted key: Distribution}``), checks each one's support against its key's
valid range, and leaves the median in its place so the rest of the schema is
validated as usual.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args, get_origin

import numpy as np
from annotated_types import Ge, Gt, Le, Lt
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from scipy import stats

from sim.model.numbers import NumberError, strict_numbers

U_EDGE = 2.0**-40  # probabilities closer to 0 or 1 than this are drawn as this
DIST_NAMES = ("uniform", "triangular", "pert", "lognormal", "normal", "beta")


class _Dist(BaseModel):
    # Parameters are finite numbers, never true/false or quoted text (sim.model.numbers).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _numbers_are_numbers(cls, data: Any) -> Any:
        return strict_numbers(cls, data)

    def frozen(self, bounds: tuple[float, float] = (-math.inf, math.inf)):
        """The scipy frozen distribution (``bounds`` matter only to a truncated normal)."""
        raise NotImplementedError

    def point(self) -> float | None:
        """The one value of a zero-width distribution, else None."""
        return None

    def support(self, bounds: tuple[float, float] = (-math.inf, math.inf)) -> tuple[float, float]:
        """The smallest and largest values a draw can take."""
        value = self.point()
        if value is not None:
            return value, value
        lo, hi = self.frozen(bounds).support()
        return float(lo), float(hi)

    def ppf(self, u: np.ndarray | float, bounds=(-math.inf, math.inf)) -> np.ndarray:
        """Values at probabilities ``u`` (the inverse CDF), exact for a zero-width one."""
        value = self.point()
        if value is not None:
            return np.full(np.shape(u), value, dtype=float)
        # scipy's beta ppf gives NaN for subnormal u; a draw that far out (2**-40) is moot.
        u = np.clip(u, U_EDGE, 1.0 - U_EDGE)
        return np.asarray(self.frozen(bounds).ppf(u), dtype=float)

    def median(self, bounds=(-math.inf, math.inf)) -> float:
        return float(self.ppf(0.5, bounds))


class _Ranged(_Dist):
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self):
        if self.high < self.low:
            raise ValueError(f"low must be <= high (got low={self.low}, high={self.high})")
        mode = getattr(self, "mode", None)
        if mode is not None and not self.low <= mode <= self.high:
            raise ValueError(f"mode must lie in [low, high] (got mode={mode})")
        return self

    def point(self) -> float | None:
        return self.low if self.low == self.high else None


class Uniform(_Ranged):
    dist: Literal["uniform"]

    def frozen(self, bounds=(-math.inf, math.inf)):
        return stats.uniform(loc=self.low, scale=self.high - self.low)


class Triangular(_Ranged):
    dist: Literal["triangular"]
    mode: float

    def frozen(self, bounds=(-math.inf, math.inf)):
        width = self.high - self.low
        return stats.triang(c=(self.mode - self.low) / width, loc=self.low, scale=width)


class Pert(_Ranged):
    """Beta-PERT: a beta on [low, high] with mean (low + 4 mode + high) / 6."""

    dist: Literal["pert"]
    mode: float

    def frozen(self, bounds=(-math.inf, math.inf)):
        width = self.high - self.low
        a = 1 + 4 * (self.mode - self.low) / width
        b = 1 + 4 * (self.high - self.mode) / width
        return stats.beta(a, b, loc=self.low, scale=width)


class Lognormal(_Dist):
    dist: Literal["lognormal"]
    median_: float = Field(alias="median", gt=0)
    sigma: float = Field(ge=0)
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )

    def point(self) -> float | None:
        return self.median_ if self.sigma == 0 else None

    def frozen(self, bounds=(-math.inf, math.inf)):
        return stats.lognorm(s=self.sigma, scale=self.median_)


class Normal(_Dist):
    dist: Literal["normal"]
    mean: float
    sd: float = Field(ge=0)
    truncate: bool = False  # truncate to the key's valid range

    def point(self) -> float | None:
        return self.mean if self.sd == 0 else None

    def frozen(self, bounds=(-math.inf, math.inf)):
        if not self.truncate:
            return stats.norm(loc=self.mean, scale=self.sd)
        lo, hi = bounds
        return stats.truncnorm(
            (lo - self.mean) / self.sd, (hi - self.mean) / self.sd, loc=self.mean, scale=self.sd
        )


class Beta(_Dist):
    dist: Literal["beta"]
    alpha: float = Field(gt=0)
    beta: float = Field(gt=0)

    def frozen(self, bounds=(-math.inf, math.inf)):
        return stats.beta(self.alpha, self.beta)


Distribution = Annotated[
    Uniform | Triangular | Pert | Lognormal | Normal | Beta, Field(discriminator="dist")
]
_ADAPTER: TypeAdapter = TypeAdapter(Distribution)


class DistributionError(ValueError):
    """A bad distribution table; ``key`` is the sub-key at fault ("" for the table)."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)


def parse_distribution(table: Mapping[str, Any]) -> Uniform | Triangular | Pert | Lognormal:
    """A distribution from its TOML table; :class:`DistributionError` says what is wrong."""
    name = table.get("dist")
    if name not in DIST_NAMES:
        raise DistributionError(
            "dist", f"unknown distribution {name!r} (one of {', '.join(DIST_NAMES)})"
        )
    try:
        return _ADAPTER.validate_python(dict(table))
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        loc = [str(p) for p in first["loc"][1:]]  # drop the union tag
        key = ".".join(loc)
        if first["type"] == "missing":
            return _raise(key, "is required")
        if first["type"] == "extra_forbidden":
            return _raise(key, f"unknown parameter for a {name} distribution")
        context = first.get("ctx") or {}
        inner = context.get("error")
        if isinstance(inner, NumberError):  # said of the parameter, with what was given
            return _raise(join_parts([*loc, inner.key]), str(inner))
        if first["type"] == "finite_number":
            return _raise(key, f"must be a finite number (got {first.get('input')!r})")
        got = f" (got {first.get('input')!r})" if key else ""
        return _raise(key, (str(inner) if inner else first["msg"]) + got)


def _raise(key: str, message: str):
    raise DistributionError(key, message)


# --- a key's valid range, from the schema -------------------------------------------------------


@dataclass(frozen=True)
class FieldRange:
    """Where a numeric key's values may lie, and whether it holds whole numbers."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False  # gt rather than ge
    high_open: bool = False
    integer: bool = False

    @property
    def bounds(self) -> tuple[float, float]:
        return self.low, self.high

    def describe(self) -> str:
        lo = f"{'(' if self.low_open else '['}{_num(self.low)}"
        hi = f"{_num(self.high)}{')' if self.high_open else ']'}"
        return f"{lo}, {hi}"

    def admits(self, lo: float, hi: float, zero_width: bool) -> bool:
        """Does a support [lo, hi] stay in range? An open bound may be touched by a
        continuous distribution (with probability zero), not by a point."""
        low_ok = lo > self.low or (lo == self.low and (not self.low_open or not zero_width))
        high_ok = hi < self.high or (hi == self.high and (not self.high_open or not zero_width))
        return low_ok and high_ok

    def clip(self, values: np.ndarray) -> np.ndarray:
        """Values forced inside the range (an open bound is never reached)."""
        lo = np.nextafter(self.low, math.inf) if self.low_open else self.low
        hi = np.nextafter(self.high, -math.inf) if self.high_open else self.high
        values = np.clip(values, lo, hi)
        if self.integer:
            values = np.round(values)
        return values


def _num(value: float) -> str:
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:g}"


def field_range(field) -> FieldRange | None:
    """The range of a numeric pydantic field, or None if the field is not a plain number.

    A number-or-distribution field (``Annotated[int, Field(ge=1)] | Distribution``)
    takes its range from the number's annotation.
    """
    annotation = field.annotation
    metadata = list(field.metadata)
    args = []
    for arg in getattr(annotation, "__args__", (annotation,)):
        if arg is type(None) or _is_distribution_type(arg):
            continue
        if get_origin(arg) is Annotated:
            arg, *extra = get_args(arg)
            for item in extra:
                metadata += list(getattr(item, "metadata", [item]))
        args.append(arg)
    if len(args) != 1 or args[0] not in (int, float):
        return None
    if any(isinstance(m, BeforeValidator) for m in metadata):
        return None  # a time written "HH:MM", not a number
    lo, hi, lo_open, hi_open = -math.inf, math.inf, False, False
    for meta in metadata:
        if isinstance(meta, Ge):
            lo = meta.ge
        elif isinstance(meta, Gt):
            lo, lo_open = meta.gt, True
        elif isinstance(meta, Le):
            hi = meta.le
        elif isinstance(meta, Lt):
            hi, hi_open = meta.lt, True
    return FieldRange(lo, hi, lo_open, hi_open, integer=args[0] is int)


def check_in_range(dist, spec: FieldRange) -> None:
    """Raise :class:`DistributionError` if ``dist`` can draw outside ``spec``."""
    bounded = math.isfinite(spec.low) or math.isfinite(spec.high)
    if isinstance(dist, Normal) and dist.sd > 0 and not dist.truncate and bounded:
        raise DistributionError(
            "",
            f"a normal distribution leaves the valid range {spec.describe()}: "
            "add truncate = true, or use a bounded distribution",
        )
    if isinstance(dist, Normal) and dist.truncate and dist.sd > 0:
        if not spec.low <= dist.mean <= spec.high:
            raise DistributionError(
                "mean", f"must lie in the valid range {spec.describe()} (got {dist.mean})"
            )
        return
    lo, hi = dist.support(spec.bounds)
    if spec.integer:
        lo, hi = round(lo), round(hi)
    if not spec.admits(lo, hi, zero_width=dist.point() is not None or lo == hi):
        raise DistributionError(
            "",
            f"the distribution's support [{_num(lo)}, {_num(hi)}] leaves "
            f"the valid range {spec.describe()}",
        )


def representative(dist, spec: FieldRange) -> float | int:
    """The value that stands in for a distribution when the schema is validated: its median."""
    value = float(spec.clip(np.asarray(dist.median(spec.bounds)))[()])
    return int(value) if spec.integer else value


# --- dotted keys ----------------------------------------------------------------------------

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def key_parts(key: str) -> list[str | int]:
    """``"throttle.windows[0].gb_per_hour"`` -> ``["throttle", "windows", 0, "gb_per_hour"]``."""
    return [int(index) if index else name for name, index in _PART.findall(key)]


def join_parts(parts: list[str | int]) -> str:
    key = ""
    for part in parts:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else part)
    return key


def _is_distribution_type(annotation: Any) -> bool:
    """Is ``annotation`` the :data:`Distribution` union (a number-or-distribution field)?"""
    pending, seen = [annotation], 0
    while pending and seen < 50:
        item, seen = pending.pop(), seen + 1
        if isinstance(item, type) and issubclass(item, _Dist):
            return True
        pending += list(getattr(item, "__args__", ()))
        origin = getattr(item, "__origin__", None)  # Annotated[X, ...] holds X here
        if origin is not None:
            pending.append(origin)
    return False


def _fields(model: type[BaseModel]) -> dict[str, Any]:
    return {field.alias or name: field for name, field in model.model_fields.items()}


def _submodel(field) -> type[BaseModel] | None:
    """The model a table field holds (directly, in a list, or optional)."""
    annotation = field.annotation
    candidates = [annotation, *getattr(annotation, "__args__", ())]
    for candidate in list(candidates):
        candidates += list(getattr(candidate, "__args__", ()))
    for candidate in candidates:
        if (
            isinstance(candidate, type)
            and issubclass(candidate, BaseModel)
            and not issubclass(candidate, _Dist)
        ):
            return candidate
    return None


def range_of(root: type[BaseModel], key: str) -> FieldRange | None:
    """The valid range of the numeric key ``key`` in schema ``root`` (None if not numeric)."""
    model: type[BaseModel] | None = root
    field = None
    for part in key_parts(key):
        if isinstance(part, int):
            continue
        if model is None or part not in _fields(model):
            return None
        field = _fields(model)[part]
        model = _submodel(field)
    return field_range(field) if field is not None else None


# --- taking the distributions out of a raw scenario ------------------------------------------


def is_distribution_table(value: Any) -> bool:
    return isinstance(value, Mapping) and "dist" in value


def extract_uncertain(
    raw: Mapping[str, Any], root: type[BaseModel], *, fixed_tables: tuple[str, ...] = ()
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Replace each ``{dist = ...}`` at a numeric key by its median.

    Returns ``(data, uncertain)``: a new dict (``raw`` is not changed) and
    ``{dotted key: Distribution}``. Tables named in ``fixed_tables`` may not
    hold distributions. A model with ``inline_distributions = True`` (the risk
    register) keeps its distributions in place, checked, as parsed objects.
    Raises :class:`DistributionError` with ``key`` the full dotted key.
    """
    uncertain: dict[str, Any] = {}

    def walk(node: Any, model: type[BaseModel] | None, path: list[str | int]) -> Any:
        if isinstance(node, list):
            return [walk(item, model, [*path, i]) for i, item in enumerate(node)]
        if not isinstance(node, Mapping):
            return node
        if is_distribution_table(node):
            return take(node, path)
        fields = _fields(model) if model is not None else {}
        return {
            name: walk(value, _submodel(fields[name]) if name in fields else None, [*path, name])
            for name, value in node.items()
        }

    def take(table: Mapping[str, Any], path: list[str | int]) -> Any:
        key = join_parts(path)
        if path and path[0] in fixed_tables:
            raise DistributionError(key, "cannot be a distribution")
        spec = range_of(root, key)
        if spec is None:
            raise DistributionError(key, "only a number can be a distribution")
        try:
            dist = parse_distribution(table)
            check_in_range(dist, spec)
        except DistributionError as error:
            where = join_parts([*path, *key_parts(error.key)])
            raise DistributionError(where, str(error)) from None
        owner = _owner(root, path)
        if getattr(owner, "inline_distributions", False):
            annotation = _fields(owner)[path[-1]].annotation
            if not any(_is_distribution_type(a) for a in getattr(annotation, "__args__", ())):
                raise DistributionError(key, "cannot be a distribution here")
            return dist
        uncertain[key] = dist
        return representative(dist, spec)

    data = walk(raw, root, [])
    return data, uncertain


def _owner(root: type[BaseModel], path: list[str | int]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = root
    for part in path[:-1]:
        if isinstance(part, int):
            continue
        model = _submodel(_fields(model)[part]) if model and part in _fields(model) else None
    return model


def set_at(data: dict[str, Any], parts: list[str | int], value: Any) -> None:
    """Put ``value`` at a dotted key's place in a nested dict (lists indexed)."""
    node: Any = data
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value


__all__ = [
    "Beta",
    "Distribution",
    "DistributionError",
    "FieldRange",
    "Lognormal",
    "Normal",
    "Pert",
    "Triangular",
    "Uniform",
    "check_in_range",
    "extract_uncertain",
    "field_range",
    "key_parts",
    "parse_distribution",
    "range_of",
]
