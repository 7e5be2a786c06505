"""What a planner reads: the summary of many replications, and the result object.

Every summary quantile is taken across replications of a per-replication
number (each replication's completion date, its ticket count, its 90th
percentile ticket wait, ...). Completion dates use the inverted empirical CDF
with "not completed" as later than any date, so ``completion.p90`` is null when
fewer than 90% of replications completed within the horizon.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

QUANTILES = {"p10": 0.1, "p50": 0.5, "p90": 0.9}


@dataclass
class Result:
    """The outcome of :func:`sim.run`: the summary and the tables behind it."""

    summary: dict[str, Any]
    runs: pd.DataFrame
    daily: pd.DataFrame
    mailboxes: pd.DataFrame | None = None
    scenario: Any = field(default=None, repr=False)

    def __repr__(self) -> str:
        c = self.summary["completion"]
        return (
            f"<Result {self.summary['scenario']!r}: {self.summary['replications']} replications, "
            f"completion p10/p50/p90 {c['p10']} / {c['p50']} / {c['p90']}, "
            f"P(meet deadline) {self.summary['p_meet_deadline']}>"
        )


def quantile_rank(q: float, n: int) -> int:
    """The 0-based rank of the ``q`` quantile of ``n`` sorted values (inverted empirical CDF).

    The slack keeps ``q * n`` that rounding puts a hair above a whole number
    (0.7 * 10 = 7.000000000000001) on that number.
    """
    return max(math.ceil(q * n - 1e-9) - 1, 0)


def completion_at(completion: pd.Series, q: float) -> str | None:
    """The date by which a share ``q`` of replications completed (None: not within the horizon)."""
    order = np.sort(completion.to_numpy(dtype="datetime64[D]"))  # NaT (not completed) sorts last
    if not len(order):
        return None
    value = order[quantile_rank(q, len(order))]
    return None if np.isnat(value) else str(value)


def completion_quantiles(completion: pd.Series) -> dict[str, str | None]:
    """P10/P50/P90 of completion dates; None where too few replications completed."""
    return {name: completion_at(completion, q) for name, q in QUANTILES.items()}


def quantiles(values: pd.Series, names: tuple[str, ...] = ("p10", "p50", "p90")) -> dict:
    """Quantiles across replications, as plain floats (ints stay ints where whole)."""
    whole = pd.api.types.is_integer_dtype(values.dtype)
    array = values.to_numpy(dtype=float)
    array = array[np.isfinite(array)]
    out: dict[str, float | int | None] = {}
    for name in names:
        if not len(array):
            out[name] = None
        elif whole:  # a count: report an observed value, not an interpolated one
            out[name] = int(np.quantile(array, QUANTILES[name], method="inverted_cdf"))
        else:
            out[name] = round(float(np.quantile(array, QUANTILES[name])), 3)
    return out


def summarise(
    runs: pd.DataFrame,
    *,
    scenario_name: str,
    seed: int,
    start: dt.date,
    deadline: dt.date | None,
    wall_seconds: float,
) -> dict[str, Any]:
    """The SPEC's summary dict (``run --json``) from the per-replication table."""
    completed = runs["completed"].to_numpy(dtype=bool)
    return {
        "scenario": scenario_name,
        "seed": seed,
        "replications": len(runs),
        "start": start.isoformat(),
        "deadline": deadline.isoformat() if deadline else None,
        "completion": completion_quantiles(runs["completion_date"]),
        "completed_share": round(float(completed.mean()), 4) if len(runs) else 0.0,
        "p_meet_deadline": (
            round(float(runs["met_deadline"].mean()), 4) if deadline is not None else None
        ),
        "days_to_complete": quantiles(runs["days_to_complete"]),
        "migrated": quantiles(runs["migrated"]),
        "needs_remediation": quantiles(runs["needs_remediation"]),
        "not_migrated": quantiles(runs["not_migrated"]),
        "data_tb": quantiles(runs["data_tb"]),
        "support": {
            "tickets": quantiles(runs["tickets"]),
            "users_needing_support_pct": quantiles(runs["users_needing_support_pct"]),
            "peak_backlog": quantiles(runs["peak_backlog"]),
            "wait_hours": quantiles(runs["wait_hours_p90"]),
            "mean_wait_hours": quantiles(runs["wait_hours_mean"]),
        },
        "paused_days": quantiles(runs["paused_days"]),
        "cutover_failures": quantiles(runs["cutover_failures"]),
        "deferred_users": quantiles(runs["deferred_users"]),
        "slipped_users": quantiles(runs["slipped_users"]),
        "wall_seconds": round(wall_seconds, 3),
    }
