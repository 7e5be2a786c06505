"""Shared helpers: small scenarios built in code, so each test states its plan."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from sim.model.scenario import Scenario, from_dict

BASE: dict[str, Any] = {
    "scenario": {"name": "test", "start": dt.date(2024, 1, 8), "horizon_days": 120},
    "population": {"mailboxes": 1000, "organisations": 10, "size_gb": {"mean": 1.0, "sigma": 0}},
    "calendar": {"holidays": "none", "weekend": ["sat", "sun"]},
    "batches": {"weekday": 100, "weekend_day": 0, "notice_days": 14, "cutover_time": "20:00"},
    # Ample throttle: every initial sync done long before its cutover.
    "throttle": {
        "presync_lead_days": 7,
        "concurrent_moves": 10_000,
        "per_move_gb_per_hour": 100.0,
        "windows": [{"days": "all", "from": "00:00", "to": "24:00", "gb_per_hour": 1e6}],
    },
    "failures": {"rate": 0.0},
    "support": {
        "ticket_rate": 0.0,
        "legacy_ticket_rate": 0.0,
        "failed_cutover_ticket_rate": 0.0,
        "pause_backlog": 0,
    },
}


def scenario(overrides: dict[str, Any] | None = None, **tables: Any) -> Scenario:
    """BASE with whole tables merged (``batches={...}``) and dotted ``overrides``."""
    raw = {k: dict(v) for k, v in BASE.items()}
    for table, values in tables.items():
        raw[table] = {**raw.get(table, {}), **values}
    return from_dict(raw, overrides or {}, source="test.toml")


@pytest.fixture
def make_scenario():
    return scenario


def nth_weekday_after(start: dt.date, n: int, skip: set[dt.date] = frozenset()) -> dt.date:
    """The n-th (1-based) Monday-Friday day on or after ``start``, skipping ``skip``."""
    day, count = start, 0
    while True:
        if day.weekday() < 5 and day not in skip:
            count += 1
            if count == n:
                return day
        day += dt.timedelta(days=1)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
