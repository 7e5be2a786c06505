"""What a planner reads: the summary of many replications, and the result object.

Every summary quantile is taken across replications of a per-replication
number (each replication's completion date, its ticket count, its 90th
percentile ticket wait, ...). Completion dates use the inverted empirical CDF
with "not completed" as later than any date, so ``completion.p90`` is null when
fewer than 90% of replications completed within the horizon.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from sim.experiments.metrics import (
    LANE_PREFIX,
    METRICS,
    QUANTILES,
    Metric,
    lane_names,
    quantile_rank,
)

MONTE_CARLO_LEVEL = 0.95  # the Wilson interval of P(meet deadline): Monte Carlo error only


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

    def _repr_html_(self) -> str:
        """Jupyter's view: verdict, P10/P50/P90 against the deadline, P(meet), desk load."""
        from sim.outputs.notebook import headline_html

        return headline_html(self)

    @property
    def plot(self) -> Any:
        """The charts as methods returning Figures: ``res.plot.progress()``, ``.desk()``, ..."""
        from sim.outputs.notebook import PlotAccessor

        return PlotAccessor(self)


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


def quantiles(
    values: pd.Series, names: tuple[str, ...] = tuple(QUANTILES), *, missing_is_late: bool = False
) -> dict[str, float | int | None]:
    """Quantiles across replications, as plain numbers (ints for integer columns).

    Missing values are dropped, unless ``missing_is_late``: then they count as
    later than any value, and a quantile they reach is None.
    """
    array = values.to_numpy(dtype=float)
    whole = pd.api.types.is_integer_dtype(values.dtype) or missing_is_late
    if missing_is_late:
        array = np.sort(np.where(np.isfinite(array), array, np.inf))
    else:
        array = np.sort(array[np.isfinite(array)])
    out: dict[str, float | int | None] = {}
    for name in names:
        if not len(array):
            out[name] = None
        elif whole:  # a count: an observed value, at the same rank as a completion date
            value = array[quantile_rank(QUANTILES[name], len(array))]
            out[name] = int(value) if np.isfinite(value) else None
        else:
            out[name] = round(float(np.quantile(array, QUANTILES[name])), 3)
    return out


def wilson_interval(successes: int, trials: int) -> tuple[float, float]:
    """The Wilson score interval (``MONTE_CARLO_LEVEL``) of a binomial proportion."""
    ci = binomtest(int(successes), int(trials)).proportion_ci(
        confidence_level=MONTE_CARLO_LEVEL, method="wilson"
    )
    return float(ci.low), float(ci.high)


def p_meet_interval(met: int, replications: int) -> list[float] | None:
    """Wilson interval of P(meet deadline) from ``met`` of ``replications`` (Monte Carlo
    error), rounded as the summary reports it."""
    if replications < 1:
        return None
    low, high = wilson_interval(met, replications)
    return [round(low, 4), round(high, 4)]


def uncertainty_summary(runs: pd.DataFrame) -> dict[str, Any]:
    """``uncertain``: the keys drawn per replication; ``risks``: the share each risk hit."""
    params = [c.removeprefix("param.") for c in runs.columns if c.startswith("param.")]
    risks = {
        c.removeprefix("risk."): round(float((runs[c] > 0).mean()), 4)
        for c in runs.columns
        if c.startswith("risk.")
    }
    return {"uncertain": params, "risks": risks}


def lanes_summary(runs: pd.DataFrame) -> dict[str, Any]:
    """``lanes``: per lane ("main" is [batches]), completion P10/P50/P90 and migrated P50."""
    out = {}
    for name in lane_names(runs.columns):
        migrated = runs[f"{LANE_PREFIX}{name}.migrated"]
        out[name] = {
            "completion": completion_quantiles(runs[f"{LANE_PREFIX}{name}.completion_date"]),
            "migrated": quantiles(migrated, ("p50",)),
        }
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
    """The SPEC's summary dict (``run --json``) from the per-replication table.

    Every metric of :data:`~sim.experiments.metrics.METRICS` that ``runs`` has
    is summarised where its record says; the rest of the dict says what was run.
    """
    summary: dict[str, Any] = {
        "scenario": scenario_name,
        "seed": seed,
        "replications": len(runs),
        "start": start.isoformat(),
        "deadline": deadline.isoformat() if deadline else None,
    }
    for m in METRICS:
        if m.name not in runs:
            continue
        node = summary
        for part in m.at[:-1]:
            node = node.setdefault(part, {})
        node[m.key] = summarise_metric(m, runs[m.name], has_deadline=deadline is not None)
    if deadline is not None and "met_deadline" in runs:
        interval = p_meet_interval(int(runs["met_deadline"].sum()), len(runs))
        summary = _insert_after(summary, "p_meet_deadline", "p_meet_deadline_interval", interval)
    summary.update(uncertainty_summary(runs))
    summary["lanes"] = lanes_summary(runs)
    summary["wall_seconds"] = round(wall_seconds, 3)
    return summary


def _insert_after(mapping: dict[str, Any], after: str, key: str, value: Any) -> dict[str, Any]:
    """A copy of ``mapping`` with ``key`` placed right after ``after`` (JSON reads in order)."""
    out: dict[str, Any] = {}
    for name, item in mapping.items():
        out[name] = item
        if name == after:
            out[key] = value
    out.setdefault(key, value)
    return out


def summarise_metric(m: Metric, values: pd.Series, *, has_deadline: bool = True) -> Any:
    """One metric across replications, as its record says."""
    if m.kind == "share":
        if m.needs_deadline and not has_deadline:
            return None
        return round(float(values.astype(bool).mean()), 4) if len(values) else 0.0
    if m.kind == "date":
        return completion_quantiles(values)
    return quantiles(values, m.quantiles, missing_is_late=m.missing_is_late)
