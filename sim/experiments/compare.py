"""Is plan B better than plan A, and how sure are we? Plans compared on the same dice.

A programme board asks for the difference, not two forecasts::

    cmp = sim.compare({"plan": sc, "30k a weekday": sim.load(path, overrides={...})},
                      replications=100)
    cmp.summary["alternatives"][0]["days_earlier"]   # {"p10": 6, "p50": 8, "p90": 9}
    cmp.table        # one row per plan
    cmp.paired       # one row per alternative and replication: the two completion dates
    cmp.plot.completion()

Every plan runs replication ``i`` from child ``i`` of the same seed (common
random numbers): the same mailboxes, the same failures, the same risks struck
on the same days. So the per-replication difference of completion days is the
plans' own (400 against 600 a day finishes 8 days earlier in every replication,
where two independent runs would blur that into their own noise).

``days_earlier`` is base minus alternative, in days (positive: the alternative
finishes earlier); a replication that does not complete within the horizon is
later than any that does (two that both do not complete are a tie).
``p_meet_difference`` is the alternative's P(meet deadline) minus the base's,
with Newcombe's hybrid score interval for paired proportions (his method 10:
the Wilson intervals of the two shares, combined with the correlation of the
paired outcomes; Newcombe 1998, Statistics in Medicine 17:2635), which the
pairing narrows as the plans agree replication by replication.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.experiments.metrics import QUANTILES, quantile_rank
from sim.experiments.results import Result, provenance, wilson_interval
from sim.experiments.runner import (
    Job,
    ProgressCallback,
    backend,
    check_before_running,
    checked_arguments,
    execute,
    notebook_progress,
    result_of,
    scenario_argument,
)
from sim.model.replication import Replication
from sim.model.scenario import Scenario

INTERVAL_METHOD = "Newcombe hybrid score interval for paired proportions (method 10), 95%"


@dataclass
class Comparison:
    """Plans run on common random numbers; the first is the base.

    ``results`` maps each plan's name to its :class:`Result` (in the order given).
    """

    results: dict[str, Result]
    summary: dict[str, Any]
    paired: pd.DataFrame = field(repr=False)

    @property
    def base(self) -> str:
        return next(iter(self.results))

    @property
    def alternatives(self) -> list[str]:
        return list(self.results)[1:]

    def __repr__(self) -> str:
        parts = [
            f"{a['name']!r}: {_signed(a['days_earlier']['p50'])} days earlier (P50), "
            f"P(earlier) {a['p_earlier']:.0%}"
            for a in self.summary["alternatives"]
        ]
        return f"<Comparison against {self.base!r}: {'; '.join(parts)}>"

    @cached_property
    def table(self) -> pd.DataFrame:
        """One row per plan: completion P10/P50/P90 (datetime64), P(meet), and against the
        base: days earlier P10/P50/P90, P(earlier), the P(meet) difference and its interval."""
        rows = []
        base = self.results[self.base].summary
        rows.append(_table_row(self.base, base, None))
        for alt in self.summary["alternatives"]:
            rows.append(_table_row(alt["name"], self.results[alt["name"]].summary, alt))
        table = pd.DataFrame(rows).set_index("scenario")
        for q in QUANTILES:
            table[f"completion_{q}"] = pd.to_datetime(table[f"completion_{q}"])
        return table

    @cached_property
    def long(self) -> pd.DataFrame:
        """Every plan's per-replication numbers, long: scenario, replication, metric, value."""
        frames = []
        for name, res in self.results.items():
            runs = res.runs.drop(columns=["completion_date"], errors="ignore")
            numeric = runs.select_dtypes(include=["number", "bool"]).astype(float)
            numeric["replication"] = res.runs["replication"].to_numpy()
            melted = numeric.melt(id_vars="replication", var_name="metric", value_name="value")
            melted.insert(0, "scenario", name)
            frames.append(melted)
        out = pd.concat(frames, ignore_index=True)
        out["scenario"] = out["scenario"].astype("category")
        out["metric"] = out["metric"].astype("category")
        return out

    def _repr_html_(self) -> str:
        from sim.outputs.notebook import comparison_html

        return comparison_html(self)

    @property
    def plot(self) -> Any:
        """``cmp.plot.completion()`` and ``cmp.plot.progress()``: the plans overlaid,
        one colour and one legend entry each."""
        from sim.outputs.notebook import ComparisonPlots

        return ComparisonPlots(self)

    def save(self, out_dir: str | os.PathLike) -> Any:
        """Write what ``migsim compare --out`` writes: summary.json, comparison.parquet
        (the long table) and compare.png, replacing the folder whole."""
        from sim.outputs.files import staged_folder

        with staged_folder(out_dir, COMPARE_FILES) as staging:
            write_comparison(staging, self)
        return Path(out_dir)


COMPARE_FILES = ("summary.json", "comparison.parquet", "compare.png")


def write_comparison(out_dir: str | os.PathLike, comparison: Comparison) -> list[Path]:
    """``summary.json``, ``comparison.parquet`` (long) and ``compare.png`` into ``out_dir``,
    each written atomically."""
    from sim.outputs.files import write_json, write_parquet, write_with

    out = Path(out_dir)
    figure = comparison.plot.both()
    return [
        write_parquet(out / "comparison.parquet", comparison.long),
        write_with(out / "compare.png", lambda tmp: figure.savefig(tmp, format="png", dpi=100)),
        write_json(out / "summary.json", comparison.summary),
    ]


def compare(
    scenarios: Mapping[str, Scenario | str | os.PathLike] | Sequence[Scenario | str | os.PathLike],
    replications: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    *,
    dask: str | None = None,
    keep_daily: bool = True,
    progress: ProgressCallback | None = None,
    max_memory_gb: float | None = None,
) -> Comparison:
    """Run every plan on the same replication seeds and compare each with the first.

    ``scenarios`` maps names to scenarios (or scenario file paths); a list names
    them by their ``scenario.name``. ``replications`` and ``seed`` default to
    the first plan's, and every plan uses them. The plans share one pool of
    ``workers``, so comparing two costs about what running them does.
    """
    named = _named(scenarios)
    if len(named) < 2:
        raise ValueError(f"scenarios must name at least two plans (got {len(named)})")
    base = next(iter(named.values()))
    replications, seed, workers = checked_arguments(base, replications, seed, workers)
    for sc in named.values():
        check_before_running(sc, min(workers, replications), dask, max_memory_gb)
    progress = progress or notebook_progress(replications * len(named))
    started = time.perf_counter()
    jobs = [Job(sc, seed, replications, keep_daily, i == 0) for i, sc in enumerate(named.values())]
    reps: list[list[Replication]] = [[] for _ in jobs]
    with backend(min(workers, replications * len(jobs)), dask) as pool:
        for index, done in execute(pool, jobs):
            reps[index].extend(done)
            if progress:
                progress(len(done))
    wall = time.perf_counter() - started
    results = {}
    for (name, sc), rows in zip(named.items(), reps, strict=True):
        rows.sort(key=lambda r: r.metrics["replication"])
        results[name] = result_of(sc, seed, rows, wall / len(jobs))
    return comparison_of(results, seed=seed, wall_seconds=wall)


def comparison_of(
    results: Mapping[str, Result], *, seed: int, wall_seconds: float = 0.0
) -> Comparison:
    """Compare results already run on the same seeds (the first is the base)."""
    results = dict(results)
    names = list(results)
    base = results[names[0]]
    paired = pd.concat(
        [paired_table(base, results[name], name) for name in names[1:]], ignore_index=True
    )
    alternatives = [
        alternative_summary(name, results[name], paired[paired["alternative"] == name])
        for name in names[1:]
    ]
    base_sc = base.scenario
    summary = {
        "base": names[0],
        "replications": len(base.runs),
        "seed": seed,
        "deadline": base.summary.get("deadline"),
        "completion": base.summary["completion"],
        "completion_interval": base.summary.get("completion_interval"),
        "p_meet_deadline": base.summary.get("p_meet_deadline"),
        "alternatives": alternatives,
        "p_meet_difference_method": INTERVAL_METHOD,
        "wall_seconds": round(wall_seconds, 3),
        "provenance": {
            **provenance(
                base_sc, seed=seed, replications=len(base.runs), wall_seconds=wall_seconds
            ),
            "alternatives": {
                name: {
                    "scenario_sha256": results[name]
                    .summary.get("provenance", {})
                    .get("scenario_sha256"),
                    "overrides": results[name].summary.get("provenance", {}).get("overrides"),
                }
                for name in names[1:]
            },
        },
    }
    return Comparison(results=results, summary=summary, paired=paired)


def paired_table(base: Result, alt: Result, name: str) -> pd.DataFrame:
    """One row per replication: both completion dates, days earlier, both deadline outcomes."""
    a = base.runs.set_index("replication")
    b = alt.runs.set_index("replication")
    if not a.index.equals(b.index):
        raise ValueError("the plans were not run on the same replications")
    base_date = pd.to_datetime(a["completion_date"])
    alt_date = pd.to_datetime(b["completion_date"])
    return pd.DataFrame(
        {
            "alternative": name,
            "replication": a.index.to_numpy(),
            "base_completion_date": base_date.to_numpy(),
            "completion_date": alt_date.to_numpy(),
            "days_earlier": days_earlier(base_date, alt_date),
            "base_met_deadline": a["met_deadline"].astype(bool).to_numpy(),
            "met_deadline": b["met_deadline"].astype(bool).to_numpy(),
        }
    )


def days_earlier(base: pd.Series, alt: pd.Series) -> np.ndarray:
    """Base minus alternative completion, in days; +inf when only the alternative completed,
    -inf when only the base did, 0 when neither did (a tie: neither is known)."""
    base_day = base.to_numpy(dtype="datetime64[D]").astype("int64").astype(float)
    alt_day = alt.to_numpy(dtype="datetime64[D]").astype("int64").astype(float)
    base_done, alt_done = base.notna().to_numpy(), alt.notna().to_numpy()
    out = base_day - alt_day
    out[~base_done & alt_done] = math.inf
    out[base_done & ~alt_done] = -math.inf
    out[~base_done & ~alt_done] = 0.0
    return out


def difference_quantiles(values: np.ndarray) -> dict[str, int | None]:
    """P10/P50/P90 of per-replication day differences, at the summary's ranks; None where
    the quantile falls on a replication that one plan did not complete."""
    order = np.sort(values)
    out: dict[str, int | None] = {}
    for name, q in QUANTILES.items():
        value = order[quantile_rank(q, len(order))] if len(order) else math.nan
        out[name] = int(value) if np.isfinite(value) else None
    return out


def paired_difference_interval(
    base_met: np.ndarray, alt_met: np.ndarray
) -> tuple[float, float] | None:
    """Newcombe's method-10 interval of P(alt) - P(base) from paired true/false outcomes."""
    base_met, alt_met = np.asarray(base_met, bool), np.asarray(alt_met, bool)
    n = len(base_met)
    if n == 0:
        return None
    both = int(np.sum(base_met & alt_met))
    only_base = int(np.sum(base_met & ~alt_met))
    only_alt = int(np.sum(~base_met & alt_met))
    neither = n - both - only_base - only_alt
    p_base, p_alt = (both + only_base) / n, (both + only_alt) / n
    low_b, high_b = wilson_interval(both + only_base, n)
    low_a, high_a = wilson_interval(both + only_alt, n)
    margins = (both + only_base) * (only_alt + neither) * (both + only_alt) * (only_base + neither)
    phi = (both * neither - only_base * only_alt) / math.sqrt(margins) if margins else 0.0
    d_low_a, d_high_a = p_alt - low_a, high_a - p_alt
    d_low_b, d_high_b = p_base - low_b, high_b - p_base
    diff = p_alt - p_base
    below = math.sqrt(max(d_low_a**2 - 2 * phi * d_low_a * d_high_b + d_high_b**2, 0.0))
    above = math.sqrt(max(d_high_a**2 - 2 * phi * d_high_a * d_low_b + d_low_b**2, 0.0))
    return max(-1.0, diff - below), min(1.0, diff + above)


def alternative_summary(name: str, result: Result, paired: pd.DataFrame) -> dict[str, Any]:
    """The SPEC's entry for one alternative."""
    differences = paired["days_earlier"].to_numpy(dtype=float)
    has_deadline = result.summary.get("p_meet_deadline") is not None
    difference = interval = None
    if has_deadline and len(paired):
        difference = round(
            float(paired["met_deadline"].mean() - paired["base_met_deadline"].mean()), 4
        )
        bounds = paired_difference_interval(paired["base_met_deadline"], paired["met_deadline"])
        interval = [round(bounds[0], 4), round(bounds[1], 4)] if bounds else None
    return {
        "name": name,
        "completion": result.summary["completion"],
        "completion_interval": result.summary.get("completion_interval"),
        "p_meet_deadline": result.summary.get("p_meet_deadline"),
        "days_earlier": difference_quantiles(differences),
        "p_earlier": round(float(np.mean(differences > 0)), 4) if len(differences) else None,
        "p_meet_difference": difference,
        "p_meet_difference_interval": interval,
    }


def _named(scenarios: Any) -> dict[str, Scenario]:
    if isinstance(scenarios, Mapping):
        items = [(str(name), scenario_argument(sc)) for name, sc in scenarios.items()]
    elif isinstance(scenarios, Sequence) and not isinstance(scenarios, str):
        items = [(None, scenario_argument(sc)) for sc in scenarios]
        items = [(sc.name, sc) for _, sc in items]
    else:
        raise TypeError(
            "scenarios must be a dict of name -> scenario (or a list of scenarios), "
            f"not {type(scenarios).__name__}"
        )
    named: dict[str, Scenario] = {}
    for name, sc in items:
        if name in named:
            raise ValueError(f"scenarios: two plans are named {name!r}; name them apart")
        named[name] = sc
    return named


def _table_row(name: str, summary: Mapping[str, Any], alt: Mapping[str, Any] | None) -> dict:
    row: dict[str, Any] = {"scenario": name}
    for q in QUANTILES:
        row[f"completion_{q}"] = summary["completion"][q]
    row["p_meet_deadline"] = summary.get("p_meet_deadline")
    for q in QUANTILES:
        row[f"days_earlier_{q}"] = alt["days_earlier"][q] if alt else None
    row["p_earlier"] = alt["p_earlier"] if alt else None
    row["p_meet_difference"] = alt["p_meet_difference"] if alt else None
    interval = alt["p_meet_difference_interval"] if alt else None
    row["p_meet_difference_low"] = interval[0] if interval else None
    row["p_meet_difference_high"] = interval[1] if interval else None
    return row


def _signed(days: int | None) -> str:
    return "?" if days is None else f"{days:+d}"
