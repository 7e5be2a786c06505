"""Which assumptions matter: tornado, rank correlation and Sobol indices.

A programme board asks "which of our guesses moves the finish date most?"::

    sens = sim.sensitivity(sc, params=["support.ticket_rate", "throttle.scale"])
    sens.table      # DataFrame: one row per key, biggest effect first
    sens.plot()     # the tornado: bars of days earlier / later than the base P50

Three methods:

* ``tornado`` (default): each key (``params``, or every numeric plan key) is
  moved to a low and a high value: -20% / +20% of its value (``change``), or
  an uncertain key's P10 / P90. Every variant runs with the same seeds as the
  base (common random numbers), so a key with no effect shows exactly zero.
  Columns: ``key, low, base, high``, the P50 completion (days from start; not
  completed counts as the horizon + 1) at each, ``days_low``/``days_high``
  (the shift from the base P50, + is later), ``swing_days``, and P(meet) at
  each. Sorted by ``swing_days``, then by the swing in P(meet).
* ``rank``: Spearman's rank correlation of each uncertain key's draws
  (``runs`` columns ``param.<key>``) with the completion days of the same
  replications: no extra simulation (:func:`rank_correlation` takes a
  ``runs`` table, e.g. ``sim.run(...).runs``).
* ``sobol``: first-order and total Sobol indices (SALib, Saltelli sampling)
  of the P50 completion days over the uncertain keys' distributions (or,
  for a ``params`` key that is not uncertain, a uniform -20% / +20% around
  its value). :func:`sobol_indices` takes any ``evaluate`` function, so it is
  tested on the Ishigami function, whose indices are known in closed form.

The result is a :class:`Sensitivity`: ``.table`` (a DataFrame, also reached
directly: ``sens["key"]``, ``sens.columns``, ``sens.to_csv(...)``), ``.plot()`` (a
matplotlib Figure) and, in Jupyter, the table as HTML. ``out=DIR`` writes
``sensitivity.parquet`` and ``tornado.png`` (for rank and Sobol the same file
holds their bar chart), each atomically.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.experiments.keys import numeric_key, numeric_keys, uncertain_distributions
from sim.experiments.runner import check_before_running, default_workers, run
from sim.experiments.variants import Variants, completion_days, outcome
from sim.model.scenario import Scenario, ScenarioError, with_overrides
from sim.outputs.files import staged_folder, write_parquet, write_with

METHODS = ("tornado", "rank", "sobol")
DEFAULT_CHANGE = 0.2  # tornado: -20% / +20% of a fixed key's value
TORNADO_QUANTILES = (0.1, 0.9)  # tornado: an uncertain key's P10 / P90
SOBOL_SAMPLES = 64  # Saltelli base sample (a power of 2); N * (D + 2) model evaluations
SOBOL_STREAM = 0x50B  # keeps the Sobol sequence's scrambling apart from the replications'
PARAM_PREFIX = "param."
OUTPUT_FILES = ("sensitivity.parquet", "tornado.png")


@dataclass
class Sensitivity:
    """The outcome of :func:`sensitivity`: a table, a plot, and how it was made."""

    method: str
    table: pd.DataFrame
    scenario: str = ""
    replications: int = 0
    seed: int = 0
    base: dict[str, Any] = field(default_factory=dict)  # tornado: the base outcome

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
        """The tornado (or, for rank and Sobol, sorted bars of the indices): a Figure."""
        from sim.outputs.sensitivity_plot import sensitivity_figure

        return sensitivity_figure(self, **kwargs)

    def write(self, out: str | Path) -> list[Path]:
        """``sensitivity.parquet`` and ``tornado.png`` in ``out``, the folder written whole
        (an earlier one is replaced only once both files are there)."""
        figure = self.plot()
        with staged_folder(out, OUTPUT_FILES) as staging:
            write_with(
                staging / "tornado.png", lambda tmp: figure.savefig(tmp, format="png", dpi=120)
            )
            write_parquet(staging / "sensitivity.parquet", self.table)
        return [Path(out) / name for name in OUTPUT_FILES]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: method, scenario, base, and the table's rows."""
        rows = self.table.replace({np.nan: None}).to_dict(orient="records")
        return {
            "method": self.method,
            "scenario": self.scenario,
            "replications": self.replications,
            "seed": self.seed,
            "base": self.base,
            "rows": rows,
        }

    def _repr_html_(self) -> str:
        return f"<p><b>{self.method}</b> sensitivity of {self.scenario}</p>" + (
            self.table.to_html(index=False, float_format=lambda x: f"{x:,.4g}")
        )

    def __repr__(self) -> str:
        head = f"<Sensitivity {self.method} of {self.scenario!r}: {len(self.table)} keys>"
        return f"{head}\n{self.table}"


def sensitivity(
    scenario: Scenario,
    params: Sequence[str] | None = None,
    method: str = "tornado",
    *,
    replications: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    dask: str | None = None,
    change: float = DEFAULT_CHANGE,
    samples: int = SOBOL_SAMPLES,
    runs: pd.DataFrame | None = None,
    out: str | Path | None = None,
    progress: Callable[[int], None] | None = None,
    source: str = "--params",
    max_memory_gb: float | None = None,
) -> Sensitivity:
    """How much each key moves P50 completion (and P(meet)); see the module docstring.

    ``runs`` (rank only) is a ``runs`` table already simulated; without it,
    rank runs ``replications`` replications once. ``progress`` is called with
    the number of replications finished. Raises :class:`ScenarioError` for
    an unknown or non-numeric key, or a method with nothing to measure; like
    :func:`sim.run`, a plan that can never finish or needs more than
    ``max_memory_gb`` is refused before simulating.
    """
    if method not in METHODS:
        raise ScenarioError("--method", "", f"must be one of {', '.join(METHODS)} (got {method!r})")
    if not 0 < change < 1:
        raise ScenarioError("--change", "", f"must be > 0 and < 1 (got {change})")
    replications = replications or scenario.scenario.replications
    seed = scenario.scenario.seed if seed is None else seed
    for key in params or []:
        numeric_key(scenario, key, source)
    if not (method == "rank" and runs is not None):  # rank on given runs simulates nothing
        check_before_running(scenario, workers or default_workers(), dask, max_memory_gb)
    if method == "tornado":
        table, base = _tornado(
            scenario, params, change, Variants(seed, replications, workers, dask, progress), source
        )
    elif method == "rank":
        base = {}
        if runs is None and not uncertain_distributions(scenario):
            # Found before simulating: a plan with no distribution has nothing to rank.
            raise ScenarioError(
                "--method",
                "",
                "rank needs uncertain keys (a distribution) in the scenario: none found; "
                "use tornado, or sobol with --params",
            )
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
        table = rank_correlation(runs, horizon_days=scenario.scenario.horizon_days)
        if params:
            table = table[table["key"].isin(params)].reset_index(drop=True)
        if table.empty:
            raise ScenarioError(
                source,
                "",
                "rank needs uncertain keys (a distribution) among the inputs: none found",
            )
    else:
        base = {}
        table = _sobol(
            scenario,
            params,
            change,
            samples,
            seed,
            Variants(seed, replications, workers, dask, progress),
            source,
        )
    result = Sensitivity(method, table, scenario.name, replications, seed, base)
    if out is not None:
        result.write(out)
    return result


# --- tornado ----------------------------------------------------------------------------------


def tornado_values(
    scenario: Scenario, key: str, change: float = DEFAULT_CHANGE, source: str = "--params"
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
) -> tuple[pd.DataFrame, dict[str, Any]]:
    explicit = params is not None
    keys = list(params) if explicit else numeric_keys(scenario)
    moves: list[tuple[str, Any, Any, Any, int]] = []
    variants_to_run: list[Scenario] = [scenario]
    uncertain = set(scenario.uncertain)
    for key in keys:
        try:
            low, base, high = tornado_values(scenario, key, change, source)
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
        raise ScenarioError(source, "", "no numeric key to move")
    with variants:
        tables = variants.runs(variants_to_run)
    horizon = scenario.scenario.horizon_days
    base_out = outcome(scenario, tables[0])
    rows = []
    first = 1
    for key, low, base, high, base_index in moves:
        low_out = outcome(scenario, tables[first])
        high_out = outcome(scenario, tables[first + 1])
        first += 3 if base_index else 2
        key_base = outcome(scenario, tables[base_index]) if base_index else base_out
        days = [o.completion_days_p50 for o in (low_out, key_base, high_out)]
        p_meet = [o.p_meet_deadline for o in (low_out, key_base, high_out)]
        rows.append(
            {
                "key": key,
                "low": float(low),
                "base": float(base),
                "high": float(high),
                "p50_days_low": days[0],
                "p50_days_base": days[1],
                "p50_days_high": days[2],
                "days_low": days[0] - days[1],
                "days_high": days[2] - days[1],
                "swing_days": abs(days[2] - days[0]),
                "p_meet_low": p_meet[0],
                "p_meet_base": p_meet[1],
                "p_meet_high": p_meet[2],
                "p_meet_swing": abs((p_meet[2] or 0.0) - (p_meet[0] or 0.0)),
                "beyond_horizon": bool(max(days) > horizon),
            }
        )
    table = (
        pd.DataFrame(rows)
        .sort_values(["swing_days", "p_meet_swing"], ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    base = {
        "completion_p50": base_out.completion["p50"],
        "p50_days": base_out.completion_days_p50,
        "p_meet_deadline": base_out.p_meet_deadline,
        "start": scenario.scenario.start.isoformat(),
        "change": change,
    }
    return table, base


# --- rank correlation -------------------------------------------------------------------------


def rank_correlation(runs: pd.DataFrame, horizon_days: int | None = None) -> pd.DataFrame:
    """Spearman's rho of each ``param.*`` column of ``runs`` with completion days.

    A replication that did not complete counts as ``horizon_days + 1`` (or one
    day past the latest completion), a tie beyond every finish. Columns: key,
    rho, p_value, n; sorted by |rho|, largest first. A column that never
    varies has rho NaN.
    """
    columns = [c for c in runs.columns if c.startswith(PARAM_PREFIX)]
    days = runs["days_to_complete"].to_numpy(dtype=float)
    if horizon_days is None:
        finite = days[np.isfinite(days)]
        horizon_days = int(finite.max()) if len(finite) else 0
    days = np.where(np.isfinite(days), days, horizon_days + 1.0)
    rows = []
    for column in columns:
        draws = runs[column].to_numpy(dtype=float)
        if np.ptp(draws) == 0 or np.ptp(days) == 0:
            rho, p_value = np.nan, np.nan
        else:
            rho, p_value = stats.spearmanr(draws, days)
        rows.append(
            {
                "key": column[len(PARAM_PREFIX) :],
                "rho": float(rho),
                "p_value": float(p_value),
                "n": len(draws),
            }
        )
    table = pd.DataFrame(rows, columns=["key", "rho", "p_value", "n"])
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


def _sobol(
    scenario: Scenario,
    params: Sequence[str] | None,
    change: float,
    samples: int,
    seed: int,
    variants: Variants,
    source: str,
) -> pd.DataFrame:
    uncertain = uncertain_distributions(scenario)
    keys = list(params) if params else list(uncertain)
    if not keys:
        raise ScenarioError(
            source,
            "",
            "sobol needs uncertain keys (a distribution) or --params to vary: none given",
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
        horizon = scenario.scenario.horizon_days
        return np.array([np.median(completion_days(t, horizon)) for t in tables])

    return sobol_indices(distributions, evaluate, samples=samples, seed=seed)
