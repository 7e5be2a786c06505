"""What a planner reads: the summary of many replications, and the result object.

Every summary quantile is taken across replications of a per-replication
number (each replication's completion date, its ticket count, its 90th
percentile ticket wait, ...). Completion dates use the inverted empirical CDF
with "not completed" as later than any date, so ``completion.p90`` is null when
fewer than 90% of replications completed within the horizon.

Each completion quantile has a 95% distribution-free interval
(``completion_interval``): two order statistics of the completion dates whose
ranks come from the binomial distribution of how many replications fall below
the true quantile (:func:`order_statistic_ranks`). It is the Monte Carlo error
of the date, what more replications would shrink; ``--precision`` adds
replications until it is narrow enough.

Every summary records how it was made (:func:`provenance`), and a result
saved with :meth:`Result.save` reads back with :func:`read_result`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binom, binomtest

from sim.experiments.metrics import (
    LANE_PREFIX,
    METRICS,
    QUANTILES,
    Metric,
    lane_names,
    quantile_rank,
)

MONTE_CARLO_LEVEL = 0.95  # the Wilson interval of P(meet deadline): Monte Carlo error only
INTERVAL_LEVEL = 0.95  # the order-statistic interval of each completion quantile
DEFAULT_PRECISION_DAYS = 3.0  # the precision the "too few replications" warning aims at
RESULT_LAYOUT = 2  # summary["provenance"]["layout"]: what read_result understands
# Levels carried forward after a replication finishes; every other count is a flow (0).
LEVEL_COLUMNS = ("cumulative_migrated", "ticket_backlog")


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

    def save(self, out_dir: str | Path) -> Path:
        """Write what ``migsim run --out`` writes (summary.json with its provenance,
        runs/daily/mailboxes.parquet), replacing the folder whole; read back with
        :func:`read_result`."""
        from sim.outputs.files import save_result

        return save_result(out_dir, self)

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


def order_statistic_ranks(
    q: float, n: int, level: float = INTERVAL_LEVEL
) -> tuple[int, int] | None:
    """0-based ranks ``(r, s)`` of sorted values bracketing the ``q`` quantile with
    probability at least ``level``, whatever the distribution; None when ``n`` is too small.

    The number of replications below the true quantile is Binomial(n, q), so
    P(X_(r) <= x_q <= X_(s)) >= F(s - 1) - F(r - 1) (1-based ranks, F its CDF); the
    ranks cut ``(1 - level) / 2`` from each tail.
    """
    if n < 1:
        return None
    tail = (1.0 - level) / 2.0
    low = int(binom.ppf(tail, n, q))  # 1-based rank r: F(r - 1) < tail
    high = int(binom.ppf(1.0 - tail, n, q)) + 1  # 1-based rank s: F(s - 1) >= 1 - tail
    if low < 1 or high > n:
        return None
    return low - 1, high - 1


def order_statistic_coverage(q: float, n: int, level: float = INTERVAL_LEVEL) -> float | None:
    """The exact coverage of :func:`order_statistic_ranks`' interval for a continuous quantity."""
    ranks = order_statistic_ranks(q, n, level)
    if ranks is None:
        return None
    r, s = ranks[0] + 1, ranks[1] + 1
    return float(binom.cdf(s - 1, n, q) - binom.cdf(r - 1, n, q))


def completion_interval_at(completion: pd.Series, q: float) -> list[str | None] | None:
    """The 95% interval ``[low, high]`` (ISO dates) of the ``q`` completion quantile.

    None when the replications are too few for it, or its low end did not complete;
    ``high`` is None when the replication at that rank did not complete within the horizon.
    """
    order = np.sort(completion.to_numpy(dtype="datetime64[D]"))  # NaT (not completed) last
    ranks = order_statistic_ranks(q, len(order))
    if ranks is None or np.isnat(order[ranks[0]]):
        return None
    low, high = order[ranks[0]], order[ranks[1]]
    return [str(low), None if np.isnat(high) else str(high)]


def completion_intervals(completion: pd.Series) -> dict[str, list[str | None] | None]:
    """``completion_interval``: the 95% interval of P10, P50 and P90 completion."""
    return {name: completion_interval_at(completion, q) for name, q in QUANTILES.items()}


def half_width_days(completion: pd.Series, q: float) -> float:
    """How far the 95% interval of the ``q`` completion date reaches from the date, in days
    (the larger side); infinite when the interval is null or open-ended."""
    point = completion_at(completion, q)
    interval = completion_interval_at(completion, q)
    if point is None or interval is None or interval[1] is None:
        return math.inf
    day = dt.date.fromisoformat(point)
    low, high = (dt.date.fromisoformat(d) for d in interval)
    return float(max((day - low).days, (high - day).days))


def replications_for_precision(completion: pd.Series, q: float, days: float) -> int | None:
    """About how many replications put the ``q`` completion date within +-``days``.

    An order-statistic interval narrows as 1 / sqrt(n); None when the current interval
    says nothing yet (too few replications, or not completed within the horizon).
    """
    n = len(completion)
    width = half_width_days(completion, q)
    if not math.isfinite(width):
        return None
    if width <= days:
        return n
    return math.ceil(n * (width / days) ** 2)


def precision_advice(
    completion: pd.Series, q: float, days: float = DEFAULT_PRECISION_DAYS
) -> str | None:
    """How precise the ``q`` completion date is, and about how many more replications would
    bring its 95% interval within +-``days``; None when it already is or nothing is known."""
    width = half_width_days(completion, q)
    needed = replications_for_precision(completion, q, days)
    if needed is None or width <= days:
        return None
    more = needed - len(completion)
    level = f"{round(q * 100, 4):g}%"
    return (
        f"the date at {level} confidence is known to +-{width:g} days (95% interval); "
        f"about {more:,} more replications would bring it within +-{days:g} days "
        f"(precision {days:g})."
    )


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
        if m.name == "completion_date":
            summary["completion_interval"] = completion_intervals(runs[m.name])
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


# --- how a result was made, and reading one back -----------------------------------------------


def migsim_version() -> str:
    try:
        return metadata.version("migsim")
    except metadata.PackageNotFoundError:
        return "unknown"


def scenario_record(scenario: Any) -> tuple[dict[str, Any], str]:
    """The scenario as run (a JSON-ready, TOML-shaped dict) and the SHA-256 of its
    canonical JSON: the same plan gives the same digest wherever its values came from."""
    from sim.model.scenario import to_dict

    record = json.loads(json.dumps(to_dict(scenario), default=str))
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    return record, hashlib.sha256(canonical).hexdigest()


def overrides_of(scenario: Any) -> dict[str, str]:
    """Each dotted key that did not come from the scenario file, and where it came from."""
    sources = getattr(scenario, "_sources", {}) or {}
    file = sources.get("", "")
    return {key: source for key, source in sorted(sources.items()) if key and source != file}


def provenance(scenario: Any, *, seed: int, replications: int, wall_seconds: float) -> dict:
    """How a result was made: enough to make it again, and to know whether it can be."""
    record, digest = scenario_record(scenario) if scenario is not None else (None, None)
    return {
        "layout": RESULT_LAYOUT,
        "migsim": migsim_version(),
        "scenario": record,
        "scenario_sha256": digest,
        "overrides": overrides_of(scenario) if scenario is not None else {},
        "seed": seed,
        "replications": replications,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cores": os.cpu_count() or 1,
        "wall_seconds": round(wall_seconds, 3),
    }


def rectangular_daily(daily: pd.DataFrame) -> pd.DataFrame:
    """One row per replication and date, from the first date of any replication to the last.

    A replication's table stops when it finishes; after that its levels
    (``cumulative_migrated``, ``ticket_backlog``) are carried forward, its flows
    are 0, nothing is paused and the throttle's capacity is unknown (NaN). Before
    its first row everything is 0. So ``daily.groupby("date")`` compares like with like.
    """
    if daily.empty:
        return daily
    dates = pd.DatetimeIndex(np.sort(daily["date"].unique()))
    full = pd.date_range(dates[0], dates[-1], freq="D", unit=dates.unit)
    reps = np.sort(daily["replication"].unique())
    index = pd.MultiIndex.from_product([reps, full], names=["replication", "date"])
    wide = daily.set_index(["replication", "date"]).reindex(index)
    present = wide.notna().any(axis=1)
    for column in wide.columns:
        original = daily[column].dtype
        if column in LEVEL_COLUMNS:
            filled = wide[column].groupby(level="replication").ffill().fillna(0)
        elif column == "throttle_capacity_gb":
            filled = wide[column]
        elif column == "paused":
            filled = wide[column].where(present, False)
        else:
            filled = wide[column].fillna(0)
        if column != "throttle_capacity_gb":
            filled = filled.astype(original)
        wide[column] = filled
    out = wide.reset_index()
    out["replication"] = out["replication"].astype(daily["replication"].dtype)
    return out[list(daily.columns)]


class ResultFolderError(ValueError):
    """A folder that is not a result :func:`read_result` can read (one line naming it)."""


def read_result(folder: str | Path) -> Result:
    """The :class:`Result` saved in ``folder`` by :meth:`Result.save` or ``migsim run --out``.

    Its summary, tables and scenario (rebuilt from the provenance) are as they
    were, so ``res.plot.*`` and the Jupyter headline work. A folder written by an
    older migsim (no provenance) or missing a file raises :class:`ResultFolderError`.
    """
    from sim.model.scenario import ScenarioError, from_dict

    path = Path(folder)
    if not path.is_dir():
        raise ResultFolderError(f"{path}: no such folder")
    try:
        summary = json.loads((path / "summary.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultFolderError(f"{path}: no summary.json: not a migsim results folder") from None
    except (OSError, ValueError) as error:
        raise ResultFolderError(f"{path}/summary.json: cannot read: {error}") from None
    record = summary.get("provenance") if isinstance(summary, dict) else None
    if not isinstance(record, dict) or record.get("layout") != RESULT_LAYOUT:
        raise ResultFolderError(
            f"{path}: written by an older migsim (summary.json has no provenance of layout "
            f"{RESULT_LAYOUT}); run the scenario again to read it here"
        )
    tables = {}
    for name in ("runs", "daily", "mailboxes"):
        file = path / f"{name}.parquet"
        if not file.exists():
            if name == "mailboxes":
                tables[name] = None
                continue
            raise ResultFolderError(f"{path}: {file.name} is missing; run the scenario again")
        tables[name] = pd.read_parquet(file)
    scenario = None
    if record.get("scenario") is not None:
        try:
            scenario = from_dict(record["scenario"], source=str(path / "summary.json"))
        except (ScenarioError, OSError):
            scenario = None  # e.g. an inventory no longer where it was: tables still read
    return Result(summary=summary, scenario=scenario, **tables)
