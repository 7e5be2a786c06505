"""Which assumptions matter: tornado, rank correlation, Sobol indices, and what each risk costs.

A programme board asks "which of our guesses moves the finish date most?"::

    sens = sim.sensitivity(sc, params=["support.ticket_rate", "throttle.scale"])
    sens.table      # DataFrame: one row per key, biggest effect first
    sens.plot()     # the tornado: bars of days earlier / later than the base P50

and "what does each risk on the register cost us?"::

    sim.sensitivity(sc, method="risks").table   # days of P50 and P90, and P(meet), per risk

Every method measures one ``outcome``: ``"p50"`` (default) or ``"p90"``
completion, or ``"p_meet"`` (P(done by the deadline)). A quantile is always
the summary's (:func:`sim.experiments.results.completion_at`: the date by
which that share of replications finished, an observed day, never an
interpolation), so the tornado's zero line is the P50 its title states.

* ``tornado`` (default): each key (``params``, or every numeric plan key) is
  moved to a low and a high value: -20% / +20% of its value (``change``), or
  an uncertain key's P10 / P90. Every variant runs with the same seeds as the
  base (common random numbers), so a key with no effect shows exactly zero.
  A key fixed at 0 has no -20% / +20% and is left out (``base["left_out"]``).
  Columns: ``key, low, base, high, from_median`` (an uncertain key, whose
  bars are measured from the plan with it fixed at its median); the P50 and
  P90 completion (days from
  start; not completed counts as the horizon + 1) and P(meet) at each;
  ``days_low``/``days_high`` (the shift of the outcome's quantile, P90 for
  ``outcome="p90"`` and P50 otherwise; + is later), ``swing_days``;
  ``p_meet_change_low``/``_high`` and ``p_meet_swing``. Sorted by the
  outcome's swing.
* ``rank``: Spearman's rank correlation (with its p-value) of each uncertain
  key's draws (``runs`` columns ``param.<key>``) and of each risk's count of
  strikes (``risk.<name>``) with the replications' completion days (or, for
  ``p_meet``, with meeting the deadline): no extra simulation
  (:func:`rank_correlation` takes a ``runs`` table, e.g. ``sim.run(...).runs``).
* ``sobol``: first-order and total Sobol indices (SALib, Saltelli sampling)
  of the outcome over the uncertain keys' distributions (or, for a ``params``
  key that is not uncertain, a uniform -20% / +20% around its value).
  :func:`sobol_indices` takes any ``evaluate`` function, so it is tested on the
  Ishigami function, whose indices are known in closed form;
  :func:`sobol_warnings` says, in words, when the sample is too small for the
  intervals or an index is impossible.
* ``risks``: each risk of the register switched off (its probability or
  rate set to 0) against the plan with every risk on, on the same dice:
  replication ``i`` has the same seed in both, and each risk draws from its
  own stream, so switching one off changes no other draw. Columns: ``risk``,
  ``struck_share`` (replications it struck), P50 / P90 days and P(meet) with
  it on and off, and what it costs: ``p50_days_cost``, ``p90_days_cost``
  (days later with it), ``mean_days_cost`` (the mean of the paired
  per-replication differences, with its 95% t interval ``mean_days_cost_lo``
  / ``_hi``) and ``p_meet_cost`` (P(meet) lost).

The result is a :class:`Sensitivity`: ``.table`` (a DataFrame, also reached
directly: ``sens["key"]``, ``sens.columns``, ``sens.to_csv(...)``), ``.plot()``
(a matplotlib Figure), ``.warnings`` (sentences) and, in Jupyter, the table as
HTML. ``out=DIR`` writes ``sensitivity.parquet`` and ``tornado.png`` (for
rank, Sobol and risks the same file holds their bar chart), each atomically.
Errors name the Python argument (``params``, ``method``, ``outcome``,
``runs``); the command line renames them to its options.
"""

from __future__ import annotations

import time
import warnings as warnings_mod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.experiments.keys import numeric_key, numeric_keys, uncertain_distributions
from sim.experiments.metrics import QUANTILES, quantile_rank
from sim.experiments.results import completion_at, provenance
from sim.experiments.runner import check_before_running, default_workers, run
from sim.experiments.variants import Variants, completion_days
from sim.model.scenario import Scenario, ScenarioError, with_overrides
from sim.outputs.files import staged_folder, write_json, write_parquet, write_with

METHODS = ("tornado", "rank", "sobol", "risks")
OUTCOMES = ("p50", "p90", "p_meet")
DEFAULT_CHANGE = 0.2  # tornado: -20% / +20% of a fixed key's value
TORNADO_QUANTILES = (0.1, 0.9)  # tornado: an uncertain key's P10 / P90
SOBOL_SAMPLES = 64  # Saltelli base sample (a power of 2); N * (D + 2) model evaluations
SOBOL_STREAM = 0x50B  # keeps the Sobol sequence's scrambling apart from the replications'
SOBOL_CONF_LIMIT = 0.1  # a 95% half-width wider than this cannot rank indices near each other
SOBOL_ROUNDING = 0.005  # an index shown as 0.00 or 1.00 (two decimals) is not "outside [0, 1]"
PAIRED_LEVEL = 0.95  # risks: the interval of the mean paired difference in days
PARAM_PREFIX = "param."
RISK_PREFIX = "risk."
OUTPUT_FILES = ("sensitivity.parquet", "tornado.png", "provenance.json")


@dataclass
class Sensitivity:
    """The outcome of :func:`sensitivity`: a table, a plot, and how it was made."""

    method: str
    table: pd.DataFrame
    scenario: str = ""
    replications: int = 0
    seed: int = 0
    base: dict[str, Any] = field(default_factory=dict)  # the base outcome (tornado, risks)
    outcome: str = "p50"
    warnings: list[str] = field(default_factory=list)  # what not to trust, in words
    # How it was made (the summary's ``provenance``, plus the method's options).
    provenance: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        # "DataFrame + .plot()" (SPEC): sens["key"], sens.sort_values(...), sens.to_csv(...)
        # reach the table; only .plot() is the chart (pandas' own .plot would not be one).
        table = self.__dict__.get("table")
        if name.startswith("_") or table is None:
            raise AttributeError(name)
        return getattr(table, name)

    def __getitem__(self, key: Any) -> Any:
        return self.table[key]

    def __len__(self) -> int:
        return len(self.table)

    def plot(self, **kwargs):
        """The tornado (or sorted bars of rank, Sobol or risk costs): a Figure."""
        from sim.outputs.sensitivity_plot import sensitivity_figure

        return sensitivity_figure(self, **kwargs)

    def write(self, out: str | Path) -> list[Path]:
        """``sensitivity.parquet``, ``tornado.png`` and ``provenance.json`` in ``out``, the
        folder written whole (an earlier one is replaced only once all are there)."""
        figure = self.plot()
        with staged_folder(out, OUTPUT_FILES) as staging:
            write_with(
                staging / "tornado.png", lambda tmp: figure.savefig(tmp, format="png", dpi=120)
            )
            write_parquet(staging / "sensitivity.parquet", self.table)
            write_json(staging / "provenance.json", self.provenance)
        return [Path(out) / name for name in OUTPUT_FILES]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: method, outcome, scenario, base, warnings, the table's rows and
        the provenance."""
        rows = self.table.astype(object).where(self.table.notna(), None).to_dict(orient="records")
        return {
            "method": self.method,
            "outcome": self.outcome,
            "scenario": self.scenario,
            "replications": self.replications,
            "seed": self.seed,
            "base": self.base,
            "warnings": self.warnings,
            "rows": rows,
            "provenance": self.provenance,
        }

    def _repr_html_(self) -> str:
        notes = "".join(f"<p>&#9888; {w}</p>" for w in self.warnings)
        return f"<p><b>{self.method}</b> sensitivity of {self.scenario}</p>{notes}" + (
            self.table.to_html(index=False, float_format=lambda x: f"{x:,.4g}")
        )

    def __repr__(self) -> str:
        head = f"<Sensitivity {self.method} ({self.outcome}) of {self.scenario!r}: "
        head += f"{len(self.table)} rows>"
        notes = "".join(f"\nwarning: {w}" for w in self.warnings)
        return f"{head}{notes}\n{self.table}"


# --- what a variant's replications say --------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """One variant's outcome, every quantile the summary's (an observed replication)."""

    p50_days: float  # days from start; horizon + 1 when not completed
    p90_days: float
    p_meet: float | None  # None: the scenario has no deadline
    completion: dict[str, str | None]  # "p50" / "p90" dates, as in the summary

    def as_base(self, scenario: Scenario) -> dict[str, Any]:
        """The base every method reports (its dates, days from start and P(meet))."""
        return {
            "completion_p50": self.completion["p50"],
            "completion_p90": self.completion["p90"],
            "p50_days": self.p50_days,
            "p90_days": self.p90_days,
            "p_meet_deadline": self.p_meet,
            "start": scenario.scenario.start.isoformat(),
        }


def measure(scenario: Scenario, runs: pd.DataFrame) -> Measure:
    """P50 / P90 completion (days and dates) and P(meet) of one variant's ``runs``."""
    sc = scenario.scenario
    days = np.sort(completion_days(runs, sc.horizon_days))
    at = {name: float(days[quantile_rank(QUANTILES[name], len(days))]) for name in ("p50", "p90")}
    return Measure(
        p50_days=at["p50"],
        p90_days=at["p90"],
        p_meet=float(runs["met_deadline"].mean()) if sc.deadline is not None else None,
        completion={q: completion_at(runs["completion_date"], QUANTILES[q]) for q in at},
    )


def outcome_value(m: Measure, outcome: str) -> float:
    """The number ``outcome`` names: days for ``p50``/``p90``, a share for ``p_meet``."""
    if outcome == "p_meet":
        return np.nan if m.p_meet is None else m.p_meet
    return m.p50_days if outcome == "p50" else m.p90_days


def sensitivity(
    scenario: Scenario,
    params: Sequence[str] | None = None,
    method: str = "tornado",
    *,
    outcome: str = "p50",
    replications: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    dask: str | None = None,
    change: float = DEFAULT_CHANGE,
    samples: int = SOBOL_SAMPLES,
    runs: pd.DataFrame | None = None,
    out: str | Path | None = None,
    progress: Callable[[int], None] | None = None,
    source: str = "params",
    max_memory_gb: float | None = None,
) -> Sensitivity:
    """How much each key (or risk) moves the ``outcome``; see the module docstring.

    ``runs`` (rank only) is a ``runs`` table already simulated from this
    scenario (its ``param.*`` and ``risk.*`` columns must be this scenario's);
    without it, rank runs ``replications`` replications once. ``progress`` is
    called with the number of replications finished. Raises
    :class:`ScenarioError` for an unknown or non-numeric key, or a method with
    nothing to measure; like :func:`sim.run`, a plan that can never finish or
    needs more than ``max_memory_gb`` is refused before simulating. Sobol's
    warnings are also issued as Python warnings.
    """
    started = time.perf_counter()
    if method not in METHODS:
        raise ScenarioError("method", "", f"must be one of {', '.join(METHODS)} (got {method!r})")
    if outcome not in OUTCOMES:
        raise ScenarioError(
            "outcome", "", f"must be one of {', '.join(OUTCOMES)} (got {outcome!r})"
        )
    if outcome == "p_meet" and scenario.scenario.deadline is None:
        raise ScenarioError("outcome", "", "p_meet needs a deadline (scenario.deadline)")
    if not 0 < change < 1:
        raise ScenarioError("change", "", f"must be > 0 and < 1 (got {change})")
    for name, value in (("replications", replications), ("workers", workers)):
        if value is not None and value < 1:  # not "0 means the default": say so
            raise ScenarioError(name, "", f"must be >= 1 (got {value})")
    replications = replications or scenario.scenario.replications
    seed = scenario.scenario.seed if seed is None else seed
    for key in params or []:
        numeric_key(scenario, key, source)
    if runs is not None:
        if method != "rank":
            raise ScenarioError("runs", "", "is used by method='rank' only")
        check_runs_match(scenario, runs)
        if outcome == "p_meet" and "met_deadline" not in runs.columns:
            raise ScenarioError("runs", "", "has no met_deadline column to measure p_meet")
    if method == "rank" and runs is None and not _rankable(scenario):
        # Found before simulating: a plan with no distribution and no risk has nothing to rank.
        raise ScenarioError(
            "method",
            "",
            "rank needs uncertain keys (a distribution) or risks in the scenario: none found; "
            "use tornado, or sobol with params",
        )
    if method == "risks" and not scenario.risks:
        raise ScenarioError("method", "", "risks needs a risk register ([[risks]]): none found")
    if not (method == "rank" and runs is not None):  # rank on given runs simulates nothing
        check_before_running(scenario, workers or default_workers(), dask, max_memory_gb)
    variants = Variants(seed, replications, workers, dask, progress)
    base: dict[str, Any] = {}
    notes: list[str] = []
    if method == "tornado":
        table, base = _tornado(scenario, params, change, variants, source, outcome)
    elif method == "risks":
        table, base = _risks(scenario, variants, outcome)
    elif method == "rank":
        if runs is None:
            runs = run(
                scenario,
                replications,
                seed,
                workers,
                dask=dask,
                keep_daily=False,
                keep_mailboxes=False,
                progress=progress,
                max_memory_gb=max_memory_gb,
            ).runs
        else:
            replications = len(runs)
        table = rank_correlation(runs, scenario.scenario.horizon_days, outcome)
        if params:
            keep = table["key"].isin(params) | (table["kind"] == "risk")
            table = table[keep].reset_index(drop=True)
        if table.empty:
            raise ScenarioError(
                source,
                "",
                "rank needs uncertain keys (a distribution) or risks among the inputs: none found",
            )
    else:
        table = _sobol(scenario, params, change, samples, seed, variants, source, outcome)
        notes = sobol_warnings(table, samples)
        for note in notes:
            warnings_mod.warn(note, SobolWarning, stacklevel=2)
    made = provenance(
        scenario,
        seed=seed,
        replications=replications,  # of each variant
        wall_seconds=time.perf_counter() - started,
    )
    made["sensitivity"] = {
        "method": method,
        "outcome": outcome,
        "params": list(params) if params is not None else None,
        "change": change if method in ("tornado", "sobol") else None,
        "samples": samples if method == "sobol" else None,
        "runs_given": runs is not None,
    }
    result = Sensitivity(
        method, table, scenario.name, replications, seed, base, outcome, notes, made
    )
    if out is not None:
        result.write(out)
    return result


def _rankable(scenario: Scenario) -> bool:
    return bool(uncertain_distributions(scenario) or scenario.risks)


def check_runs_match(scenario: Scenario, runs: pd.DataFrame, source: str = "runs") -> None:
    """Refuse a ``runs`` table from another scenario: it must have ``days_to_complete``
    and exactly this scenario's ``param.*`` (uncertain keys) and ``risk.*`` (risk names)
    columns."""
    if "days_to_complete" not in runs.columns:
        raise ScenarioError(source, "", "not a runs table (no days_to_complete column)")
    expected = {PARAM_PREFIX + key for key in scenario.uncertain}
    expected |= {RISK_PREFIX + risk.name for risk in scenario.risks}
    found = {c for c in runs.columns if c.startswith((PARAM_PREFIX, RISK_PREFIX))}
    if found != expected:
        missing, extra = sorted(expected - found), sorted(found - expected)
        detail = "; ".join(
            part
            for part in (
                f"it lacks {', '.join(missing)}" if missing else "",
                f"it has {', '.join(extra)}, which {scenario.name!r} does not" if extra else "",
            )
            if part
        )
        raise ScenarioError(
            source, "", f"made from another scenario than {scenario.name!r}: {detail}"
        )


class SobolWarning(UserWarning):
    """Sobol indices that should not be trusted as they stand (see :func:`sobol_warnings`)."""


# --- tornado ----------------------------------------------------------------------------------


def tornado_values(
    scenario: Scenario, key: str, change: float = DEFAULT_CHANGE, source: str = "params"
) -> tuple[Any, Any, Any]:
    """(low, base, high) for ``key``: an uncertain key's P10 / median / P90, else -/+ ``change``."""
    spec = numeric_key(scenario, key, source)
    distribution = uncertain_distributions(scenario).get(key)
    if distribution is not None:
        low, mid, high = (
            float(distribution.ppf(q)) for q in (TORNADO_QUANTILES[0], 0.5, TORNADO_QUANTILES[1])
        )
        return spec.clip(low), spec.clip(mid), spec.clip(high)
    value = spec.value if spec.value is not None else 0
    low, high = value * (1 - change), value * (1 + change)
    if spec.integer and value:  # 20% of 2 agents rounds back to 2: move a whole one at least
        low, high = min(round(low), value - 1), max(round(high), value + 1)
    return spec.clip(low), value, spec.clip(high)


def _tornado(
    scenario: Scenario,
    params: Sequence[str] | None,
    change: float,
    variants: Variants,
    source: str,
    outcome: str,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    explicit = params is not None
    keys = list(params) if explicit else numeric_keys(scenario)
    moves: list[tuple[str, Any, Any, Any, int]] = []
    left_out: list[str] = []  # keys fixed at 0: -20% / +20% of nothing moves nothing
    variants_to_run: list[Scenario] = [scenario]
    uncertain = set(scenario.uncertain)
    for key in keys:
        try:
            low, base, high = tornado_values(scenario, key, change, source)
            if low == base == high == 0:
                left_out.append(key)
                continue
            low_sc = with_overrides(scenario, {key: low}, source=source)
            high_sc = with_overrides(scenario, {key: high}, source=source)
            # An uncertain key's P10 / P90 bars are measured from the key fixed at its
            # median, not from the plan where it still varies (whose P50 completion is not
            # the median world's, and may even lie beyond the P10 run's).
            mid_sc = (
                with_overrides(scenario, {key: base}, source=source) if key in uncertain else None
            )
        except ScenarioError:
            if explicit:
                raise
            continue  # e.g. organisations +20% above the mailbox count: not a plan one can have
        base_index = 0
        if mid_sc is not None:
            base_index = len(variants_to_run) + 2
        moves.append((key, low, base, high, base_index))
        variants_to_run += [low_sc, high_sc] + ([mid_sc] if mid_sc is not None else [])
    if not moves:
        why = f"every key is fixed at 0 ({', '.join(left_out)})" if left_out else "none found"
        raise ScenarioError(source, "", f"no numeric key to move: {why}")
    with variants:
        tables = variants.runs(variants_to_run)
    horizon = scenario.scenario.horizon_days
    base_m = measure(scenario, tables[0])
    shift = "p90" if outcome == "p90" else "p50"
    rows = []
    first = 1
    for key, low, base, high, base_index in moves:
        low_m, high_m = measure(scenario, tables[first]), measure(scenario, tables[first + 1])
        first += 3 if base_index else 2
        key_m = measure(scenario, tables[base_index]) if base_index else base_m
        trio = (low_m, key_m, high_m)
        days = [outcome_value(m, shift) for m in trio]
        p_meet = [m.p_meet for m in trio]
        row = {"key": key, "low": float(low), "base": float(base), "high": float(high)}
        row["from_median"] = bool(base_index)  # an uncertain key's bars start at its median
        for q in ("p50", "p90"):
            for side, m in zip(("low", "base", "high"), trio, strict=True):
                row[f"{q}_days_{side}"] = outcome_value(m, q)
        row.update(
            {
                "days_low": days[0] - days[1],
                "days_high": days[2] - days[1],
                "swing_days": abs(days[2] - days[0]),
                "p_meet_low": p_meet[0],
                "p_meet_base": p_meet[1],
                "p_meet_high": p_meet[2],
                "p_meet_change_low": _difference(p_meet[0], p_meet[1]),
                "p_meet_change_high": _difference(p_meet[2], p_meet[1]),
                "p_meet_swing": abs((p_meet[2] or 0.0) - (p_meet[0] or 0.0)),
                "beyond_horizon": bool(max(days) > horizon),
            }
        )
        rows.append(row)
    order = ["swing_days", "p_meet_swing"]
    if outcome == "p_meet":
        order.reverse()
    table = (
        pd.DataFrame(rows).sort_values(order, ascending=False, kind="stable").reset_index(drop=True)
    )
    base = {**base_m.as_base(scenario), "change": change, "left_out": left_out}
    return table, base


def _mean_with_interval(differences: np.ndarray) -> dict[str, float]:
    """The mean paired difference and its 95% t interval (a point when they are all equal)."""
    mean = float(np.mean(differences))
    if len(differences) < 2 or np.ptp(differences) == 0:
        low = high = mean
    else:
        interval = stats.ttest_1samp(differences, 0.0).confidence_interval(PAIRED_LEVEL)
        low, high = float(interval.low), float(interval.high)
    return {"mean_days_cost": mean, "mean_days_cost_lo": low, "mean_days_cost_hi": high}


def _difference(value: float | None, reference: float | None) -> float | None:
    return None if value is None or reference is None else value - reference


# --- what each risk costs ---------------------------------------------------------------------


def risk_switched_off(scenario: Scenario, name: str) -> Scenario:
    """``scenario`` with the risk ``name`` never striking: its probability (or rate) set to 0.

    The risk stays on the register, so its stream is drawn as before and no other
    risk's, key's or mailbox's draw changes: the same dice, one risk fewer.
    """
    if name not in {risk.name for risk in scenario.risks}:
        raise ScenarioError("risks", "", f"no risk is named {name!r}")
    risks = []
    for risk in scenario.risks:
        if risk.name == name:
            off = {"probability": 0.0} if risk.probability is not None else {"per_week": 0.0}
            risk = risk.model_copy(update=off)
        risks.append(risk)
    return scenario.model_copy(update={"risks": risks})  # keeps its uncertain keys


def _risks(
    scenario: Scenario, variants: Variants, outcome: str
) -> tuple[pd.DataFrame, dict[str, Any]]:
    names = [risk.name for risk in scenario.risks]
    with variants:
        tables = variants.runs([scenario, *(risk_switched_off(scenario, n) for n in names)])
    on_runs = tables[0]
    on = measure(scenario, on_runs)
    horizon = scenario.scenario.horizon_days
    on_days = completion_days(on_runs, horizon)
    rows = []
    for name, off_runs in zip(names, tables[1:], strict=True):
        off = measure(scenario, off_runs)
        rows.append(
            {
                "risk": name,
                "struck_share": float((on_runs[RISK_PREFIX + name] > 0).mean()),
                "p50_days_on": on.p50_days,
                "p50_days_off": off.p50_days,
                "p90_days_on": on.p90_days,
                "p90_days_off": off.p90_days,
                "p_meet_on": on.p_meet,
                "p_meet_off": off.p_meet,
                "p50_days_cost": on.p50_days - off.p50_days,
                "p90_days_cost": on.p90_days - off.p90_days,
                **_mean_with_interval(on_days - completion_days(off_runs, horizon)),
                "p_meet_cost": _difference(off.p_meet, on.p_meet),
            }
        )
    sort = {"p50": "p50_days_cost", "p90": "p90_days_cost", "p_meet": "p_meet_cost"}[outcome]
    order = [sort, "mean_days_cost"]
    table = (
        pd.DataFrame(rows).sort_values(order, ascending=False, kind="stable").reset_index(drop=True)
    )
    return table, on.as_base(scenario)


# --- rank correlation -------------------------------------------------------------------------


def rank_correlation(
    runs: pd.DataFrame, horizon_days: int | None = None, outcome: str = "p50"
) -> pd.DataFrame:
    """Spearman's rho (scipy.stats.spearmanr) of each ``param.*`` and ``risk.*`` column of
    ``runs`` with the replications' completion days (``outcome="p_meet"``: with
    ``met_deadline``).

    A replication that did not complete counts as ``horizon_days + 1`` (or one
    day past the latest completion), a tie beyond every finish. Columns: key
    (``risk.<name>`` for a risk), kind (``input`` or ``risk``), rho, p_value
    (two-sided, of no monotone association), n; sorted by |rho|, largest
    first. A column that never varies has rho and p_value NaN.
    """
    columns = [c for c in runs.columns if c.startswith((PARAM_PREFIX, RISK_PREFIX))]
    if outcome == "p_meet":
        target = runs["met_deadline"].to_numpy(dtype=float)
    else:
        days = runs["days_to_complete"].to_numpy(dtype=float)
        if horizon_days is None:
            finite = days[np.isfinite(days)]
            horizon_days = int(finite.max()) if len(finite) else 0
        target = np.where(np.isfinite(days), days, horizon_days + 1.0)
    rows = []
    for column in columns:
        draws = runs[column].to_numpy(dtype=float)
        if np.ptp(draws) == 0 or np.ptp(target) == 0:
            rho, p_value = np.nan, np.nan
        else:
            rho, p_value = stats.spearmanr(draws, target)
        is_risk = column.startswith(RISK_PREFIX)
        rows.append(
            {
                "key": column if is_risk else column[len(PARAM_PREFIX) :],
                "kind": "risk" if is_risk else "input",
                "rho": float(rho),
                "p_value": float(p_value),
                "n": len(draws),
            }
        )
    table = pd.DataFrame(rows, columns=["key", "kind", "rho", "p_value", "n"])
    order = table["rho"].abs().sort_values(ascending=False, na_position="last").index
    return table.loc[order].reset_index(drop=True)


# --- Sobol indices ----------------------------------------------------------------------------


def sobol_indices(
    distributions: Mapping[str, Any],
    evaluate: Callable[[pd.DataFrame], np.ndarray],
    samples: int = SOBOL_SAMPLES,
    seed: int = 0,
) -> pd.DataFrame:
    """First-order and total Sobol indices of ``evaluate`` over independent inputs.

    ``distributions`` maps a name to anything with a ``ppf`` (a scipy frozen
    distribution); ``evaluate`` takes a DataFrame (one column per name, one
    row per point) and returns one number per row. Saltelli's scheme draws
    ``samples * (D + 2)`` points on the unit cube (SALib), mapped through each
    ``ppf``. Columns: key, S1, S1_conf, ST, ST_conf (95% bootstrap half-widths).
    """
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    names = list(distributions)
    if not names:
        raise ValueError("sobol_indices needs at least one input")
    problem = {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}
    unit = sobol_sample.sample(
        problem, samples, calc_second_order=False, seed=np.random.default_rng([SOBOL_STREAM, seed])
    )
    # A Sobol point may sit on 0 or 1, where an unbounded ppf is infinite.
    unit = np.clip(unit, 1e-9, 1 - 1e-9)
    points = pd.DataFrame(
        {name: distributions[name].ppf(unit[:, j]) for j, name in enumerate(names)}
    )
    values = np.asarray(evaluate(points), dtype=float)
    if values.shape != (len(points),):
        raise ValueError(f"evaluate returned shape {values.shape}, expected ({len(points)},)")
    indices = sobol_analyze.analyze(
        problem,
        values,
        calc_second_order=False,
        seed=np.random.default_rng([SOBOL_STREAM, seed, 1]),
    )
    table = pd.DataFrame(
        {
            "key": names,
            "S1": indices["S1"],
            "S1_conf": indices["S1_conf"],
            "ST": indices["ST"],
            "ST_conf": indices["ST_conf"],
        }
    )
    return table.sort_values("ST", ascending=False, kind="stable").reset_index(drop=True)


def sobol_warnings(table: pd.DataFrame, samples: int) -> list[str]:
    """What not to trust in a Sobol table, in words (an empty list: nothing).

    * intervals too wide: a 95% half-width above ``SOBOL_CONF_LIMIT`` means
      the ``samples`` are too few to rank the keys (the width shrinks as
      1/sqrt(samples), so the sentence says how many would do);
    * an index outside [0, 1] (a share of variance cannot be);
    * ST below S1 beyond their intervals (a key's total effect includes its
      first-order effect, so this too is sampling error);
    * an outcome that never varied: there is no variance to share out.
    """
    notes: list[str] = []
    if table.empty:
        return notes
    if table[["S1", "ST"]].isna().all().all():
        return ["the outcome was the same at every sample point: no variance to attribute"]
    widest = table[["S1_conf", "ST_conf"]].max(axis=1)
    if widest.max() > SOBOL_CONF_LIMIT:
        row = table.loc[widest.idxmax()]
        index = "S1" if row["S1_conf"] >= row["ST_conf"] else "ST"
        needed = samples * (widest.max() / SOBOL_CONF_LIMIT) ** 2
        enough = 2 ** int(np.ceil(np.log2(max(needed, samples + 1))))
        notes.append(
            f"{samples} base samples are too few for the intervals: {index} of {row['key']} "
            f"is {row[index]:.2f} +/- {row[f'{index}_conf']:.2f} (95%); about {enough} "
            f"samples would bring every interval within +/- {SOBOL_CONF_LIMIT:g}"
        )
    for _, row in table.iterrows():
        for index in ("S1", "ST"):
            value = row[index]
            if np.isfinite(value) and not -SOBOL_ROUNDING <= value <= 1 + SOBOL_ROUNDING:
                notes.append(
                    f"{index} of {row['key']} is {value:.2f}, outside [0, 1]: impossible for a "
                    "share of variance, so it is sampling error; take more samples"
                )
        if row["ST"] + row["ST_conf"] < row["S1"] - row["S1_conf"]:
            notes.append(
                f"ST of {row['key']} ({row['ST']:.2f}) is below its S1 ({row['S1']:.2f}) beyond "
                "both intervals: a total effect cannot be smaller than the first-order one, "
                "so it is sampling error; take more samples"
            )
    return notes


def _sobol(
    scenario: Scenario,
    params: Sequence[str] | None,
    change: float,
    samples: int,
    seed: int,
    variants: Variants,
    source: str,
    outcome: str,
) -> pd.DataFrame:
    uncertain = uncertain_distributions(scenario)
    keys = list(params) if params else list(uncertain)
    if not keys:
        raise ScenarioError(
            source,
            "",
            "sobol needs uncertain keys (a distribution) or params to vary: none given",
        )
    distributions = {}
    specs = {key: numeric_key(scenario, key, source) for key in keys}
    for key in keys:
        if key in uncertain:
            distributions[key] = uncertain[key]
        else:
            low, _, high = tornado_values(scenario, key, change, source)
            distributions[key] = stats.uniform(low, max(high - low, 0.0))

    def evaluate(points: pd.DataFrame) -> np.ndarray:
        variants_to_run = [
            with_overrides(
                scenario,
                {key: specs[key].clip(float(row[key])) for key in keys},
                source=source,
            )
            for _, row in points.iterrows()
        ]
        with variants:
            tables = variants.runs(variants_to_run)
        return np.array([outcome_value(measure(scenario, t), outcome) for t in tables])

    return sobol_indices(distributions, evaluate, samples=samples, seed=seed)
