"""What counts as a number in a scenario: no true/false, no quoted text, nothing endless.

Pydantic's lax mode would read ``weekday = true`` as 1, ``rate = "0.3"`` as
0.3 and a 23-digit integer as itself, and none of them is what a planner
meant::

    [batches]
    weekday = true          # refused: must be a whole number, not true/false
    weekend_day = "41500"   # refused: must be a whole number without quotes
    [throttle]
    scale = inf             # refused by pydantic (allow_inf_nan=False): must be a finite number

:func:`strict_numbers` is a model-wide before-validator: every table of the
schema (``sim.model.scenario``) and every distribution (``sim.model.distributions``)
runs it, so a table added to the schema is strict without saying so. It reads
each field's annotation: wherever the schema takes a number (and not a
boolean, or text), a boolean or a string is refused, and so is an integer
beyond :data:`MAX_INT`, past which a float cannot hold every whole number and
numpy's int64 arithmetic is one product away from overflowing.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, BeforeValidator

MAX_INT = 2**53  # every whole number up to here is exact as a float


class NumberError(ValueError):
    """A value that is not a number where the schema takes one; ``key`` is the field (dotted)."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)


def _members(annotation: Any) -> list[Any]:
    """The alternatives of a union (``int | None`` -> [int, None]), Annotated unwrapped.

    An Annotated type with a before-validator (a time "HH:MM") converts its input
    itself, so it counts as no number here.
    """
    if get_origin(annotation) is Annotated:
        inner, *extra = get_args(annotation)
        if any(isinstance(item, BeforeValidator) for item in extra):
            return [object]
        return _members(inner)
    if get_origin(annotation) in (typing.Union, types.UnionType):
        return [m for arg in get_args(annotation) for m in _members(arg)]
    return [annotation]


def _number_kind(members: list[Any]) -> str | None:
    """'whole number' / 'number' when the field takes a number but not a bool or text."""
    if bool in members or str in members or object in members:
        return None
    if int in members and float not in members:
        return "whole number"
    if float in members:
        return "number"
    return None


def _is_number_text(text: str) -> bool:
    try:
        float(text.replace("_", ""))
    except ValueError:
        return False
    return True


def _scalar(value: Any) -> bool:
    return isinstance(value, int | float | str)


def _items(members: list[Any]) -> Any | None:
    """The item annotation of a ``list[X]`` or ``tuple[X, ...]`` member, if any."""
    for member in members:
        if get_origin(member) in (list, tuple) and get_args(member):
            return get_args(member)[0]
    return None


def _mapping_values(members: list[Any]) -> Any | None:
    """The value annotation of a ``dict[K, V]`` member, if any (``population.kinds``)."""
    for member in members:
        if get_origin(member) is dict and len(get_args(member)) == 2:
            return get_args(member)[1]
    return None


def check_number(value: Any, annotation: Any, key: str) -> None:
    """Raise :class:`NumberError` if ``value`` is no number where ``annotation`` takes one."""
    members = _members(annotation)
    only_bool = bool in members and not ({int, float, str, object} & set(members))
    if only_bool and not isinstance(value, bool) and _scalar(value):
        raise NumberError(key, f"must be true or false (got {value!r})")
    kind = _number_kind(members)
    if kind is not None:
        if isinstance(value, bool):
            raise NumberError(key, f"must be a {kind}, not true/false (got {str(value).lower()})")
        if isinstance(value, str):
            quoted = " without quotes" if _is_number_text(value) else ""
            hint = ""
            percent = value.strip().removesuffix("%")
            if value.strip().endswith("%") and _is_number_text(percent):
                hint = f": a share, so {percent}% is {float(percent) / 100:g}"
            raise NumberError(key, f"must be a {kind}{quoted} (got {value!r}){hint}")
        if isinstance(value, int) and abs(value) > MAX_INT:
            raise NumberError(key, f"must be at most {MAX_INT:,} in size (got {value:,})")
    item = _items(members)
    if item is not None and isinstance(value, list):
        for index, element in enumerate(value):
            check_number(element, item, f"{key}.{index}")
    values = _mapping_values(members)
    if values is not None and isinstance(value, Mapping):
        for name, element in value.items():
            check_number(element, values, f"{key}.{name}")


def strict_numbers(model: type[BaseModel], data: Any) -> Any:
    """Before-validator of a whole model: refuse booleans, text and endless integers as numbers."""
    if not isinstance(data, Mapping):
        return data
    for name, field in model.model_fields.items():
        key = field.alias or name
        if any(isinstance(item, BeforeValidator) for item in field.metadata):
            continue  # converts its own input (a time "HH:MM")
        for given in {key, name}:
            if given in data:
                check_number(data[given], field.annotation, given)
    return data
