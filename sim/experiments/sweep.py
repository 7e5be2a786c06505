"""Sweeps: one scenario, many variants, the same random numbers at every point.

A planner asks "when do we finish with 15,000, 22,000 or 30,000 cutovers a
weekday, and 20 or 40 agents on the desk?"::

    sw = sim.sweep(sc, {"batches.weekday": [15000, 22000, 30000],
                        "support.agents": [20, 40]}, replications=50)
    sw.table    # 6 rows: point, batches.weekday, support.agents, completion_p10, ...
    sw.runs     # 6 x 50 rows: point, its parameters, then one replication's metrics
    sw.plot(x="batches.weekday", hue="support.agents")   # P50 completion, bars P10-P90
    sw.plot()   # two varied keys: a heatmap of P(meet the deadline)

A grid is the product of the listed values (the first key varies slowest);
``"15000:30000:5000"`` lists 15000 to 30000 inclusive in steps of 5000.
``method="lhs"`` draws ``samples`` points by Latin hypercube over ranges
(``"15000:30000"``, or ``Range(15000, 30000)``), reproducibly from the seed.
Every point runs replication ``i`` from child ``i`` of ``SeedSequence(seed)``,
so differences between points come from the plan, not from the dice.

The axes are read by ``sim.experiments.axes``; this module plans the points,
runs them and tabulates them (``sim.outputs.sweep_plot`` draws them). With
``out``, every finished point is saved as it finishes, its summary and its
replications (``sim.outputs.sweep_folder``), so a crash or a kill leaves a
whole table of the points done so far; ``resume=True`` recomputes only the
missing points, after checking that the folder describes the same sweep. The
finished sweep also leaves ``runs.parquet`` (``sw.runs``) and
``provenance.json`` (``sw.provenance``); each point's summary has its own
``provenance``, as a run's does.

(``sim.sweep`` is this module's :func:`sweep`; import the module's other names
with ``from sim.experiments.sweep import ...``.)
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import qmc

from sim.experiments.axes import Axis, Range, VarySpec, make_axis
from sim.experiments.metrics import METRICS
from sim.experiments.results import provenance, summarise
from sim.experiments.runner import (
    Chunk,
    Job,
    backend,
    check_before_running,
    default_workers,
    run_chunk,
)
from sim.model.scenario import Scenario, to_dict, with_overrides
from sim.outputs.sweep_folder import SweepFolder

ProgressCallback = Callable[[int], None]

MANIFEST_FORMAT = 1
TASKS_PER_WORKER = 4  # enough pieces to keep every worker busy to the end
LHS_STREAM = 0x1A5  # keeps the Latin hypercube's draws apart from the replications'

__all__ = [
    "Axis",
    "Range",
    "SweepPlan",
    "SweepResult",
    "plan_sweep",
    "sweep",
    "sweep_runs",
    "sweep_table",
]


@dataclass
class SweepPlan:
    """A validated sweep: its points, one scenario per point, and its definition."""

    base: Scenario
    axes: list[Axis]
    points: list[dict[str, Any]]
    scenarios: list[Scenario] = field(repr=False)
    method: str
    samples: int | None
    replications: int
    seed: int

    @property
    def keys(self) -> list[str]:
        return [axis.key for axis in self.axes]

    def definition(self) -> dict[str, Any]:
        """What must match for ``resume`` to reuse finished points (JSON-ready)."""
        # to_dict, not model_dump: it keeps uncertain numbers as their distributions.
        canonical = json.dumps(to_dict(self.base), default=str, sort_keys=True).encode()
        return _jsonable(
            {
                "format": MANIFEST_FORMAT,
                "scenario": self.base.name,
                "scenario_sha256": hashlib.sha256(canonical).hexdigest(),
                "method": self.method,
                "samples": self.samples,
                "vary": {axis.key: axis.describe() for axis in self.axes},
                "replications": self.replications,
                "seed": self.seed,
                "points": self.points,
            }
        )

    def run(
        self,
        workers: int | None = None,
        dask: str | None = None,
        out: str | Path | None = None,
        resume: bool = False,
        progress: ProgressCallback | None = None,
        max_memory_gb: float | None = None,
    ) -> SweepResult:
        """Simulate every point not already finished in ``out``; see :func:`sweep`."""
        started = time.perf_counter()
        folder = SweepFolder(Path(out)) if out is not None else None
        if folder:
            folder.check()
        for scenario in self.scenarios:
            check_before_running(scenario, workers or default_workers(), dask, max_memory_gb)
        created = folder is not None and not folder.path.exists()
        finished = folder.start(self.definition(), resume) if folder else {}
        summaries = {i: summary for i, (summary, _) in finished.items()}
        runs = {i: point_runs for i, (_, point_runs) in finished.items()}
        if progress and summaries:
            progress(len(summaries) * self.replications)
        todo = [i for i in range(len(self.points)) if i not in summaries]
        saved = 0
        try:
            for index, summary, point_runs in _simulate_points(self, todo, workers, dask, progress):
                summaries[index], runs[index] = summary, point_runs
                if folder:
                    folder.save_point(index, self.points[index], summary, point_runs)
                    folder.save_table(sweep_table(self, summaries))
                    saved += 1
        except BaseException:
            if created and not saved:  # e.g. an unreachable cluster: leave no empty sweep behind
                shutil.rmtree(folder.path, ignore_errors=True)
            raise
        table = sweep_table(self, summaries)
        all_runs = sweep_runs(self, runs)
        wall = time.perf_counter() - started
        made = self.provenance(wall)
        if folder:
            if not todo:
                folder.save_table(table)  # a resume with nothing left still leaves the table
            folder.save_runs(all_runs)
            folder.save_provenance(made)
        return SweepResult(
            table=table,
            summaries=[summaries[i] for i in range(len(self.points))],
            plan=self,
            out=folder.path if folder else None,
            computed=len(todo),
            wall_seconds=wall,
            runs=all_runs,
            provenance=made,
        )

    def provenance(self, wall_seconds: float) -> dict[str, Any]:
        """How the sweep was made: the base scenario's provenance (``replications`` is
        each point's) and what was varied. Each point's summary has its own."""
        made = provenance(
            self.base, seed=self.seed, replications=self.replications, wall_seconds=wall_seconds
        )
        made["sweep"] = _jsonable(
            {
                "method": self.method,
                "samples": self.samples,
                "vary": {axis.key: axis.describe() for axis in self.axes},
                "points": len(self.points),
            }
        )
        return made


def plan_sweep(
    scenario: Scenario,
    vary: Mapping[str, VarySpec],
    replications: int | None = None,
    seed: int | None = None,
    method: str = "grid",
    samples: int | None = None,
    source: str = "vary",
) -> SweepPlan:
    """Check a sweep and list its points; every bad value raises before any work starts."""
    if method not in ("grid", "lhs"):
        raise ValueError(f"method must be 'grid' or 'lhs' (got {method!r})")
    if (method == "lhs") != (samples is not None):
        raise ValueError("samples is required by method='lhs' and used by it only")
    if samples is not None and samples < 1:
        raise ValueError(f"samples must be >= 1 (got {samples})")
    if not vary:
        raise ValueError("vary needs at least one key")
    replications = replications or scenario.scenario.replications
    seed = scenario.scenario.seed if seed is None else seed
    axes = [make_axis(scenario, key, spec, source) for key, spec in vary.items()]
    if method == "grid":
        grids = [axis.grid(source) for axis in axes]
        points = [dict(zip(vary, values, strict=True)) for values in itertools.product(*grids)]
    else:
        rng = np.random.default_rng([LHS_STREAM, seed])
        unit = qmc.LatinHypercube(d=len(axes), rng=rng).random(samples)
        columns = [axis.at(unit[:, j]) for j, axis in enumerate(axes)]
        points = [dict(zip(vary, values, strict=True)) for values in zip(*columns, strict=True)]
    scenarios = [with_overrides(scenario, point, source=source) for point in points]
    return SweepPlan(scenario, axes, points, scenarios, method, samples, replications, seed)


# --- simulating points ---------------------------------------------------------------------


def replicate_metrics(
    scenario: Scenario, seed: int, replications: int, chunk: Chunk
) -> tuple[list[dict], float]:
    """One piece of a point in a worker: per-replication metrics (no tables) and its seconds."""
    started = time.perf_counter()
    job = Job(scenario, seed, replications, keep_daily=False, keep_mailboxes=False)
    metrics = [replication.metrics for replication in run_chunk(job, chunk)]
    return metrics, time.perf_counter() - started


def _simulate_points(
    plan: SweepPlan, todo: list[int], workers: int | None, dask: str | None, progress
) -> Iterator[tuple[int, dict, pd.DataFrame]]:
    """(point, summary, runs) as each point finishes, whichever backend runs the pieces."""
    if not todo:
        return
    with backend(workers, dask) as pool:
        pieces = _pieces(plan, len(todo), pool.workers)
        tasks = [(i, chunk) for i in todo for chunk in pieces]
        waiting = dict.fromkeys(todo, len(pieces))
        metrics: dict[int, list[dict]] = {i: [] for i in todo}
        seconds = dict.fromkeys(todo, 0.0)
        calls = [
            (replicate_metrics, plan.scenarios[i], plan.seed, plan.replications, chunk)
            for i, chunk in tasks
        ]
        for task, (rows, spent) in pool.completed(calls):
            index, chunk = tasks[task]
            metrics[index].extend(rows)
            seconds[index] += spent
            waiting[index] -= 1
            if progress:
                progress(chunk.count)
            if not waiting[index]:
                runs = pd.DataFrame(sorted(metrics.pop(index), key=lambda row: row["replication"]))
                yield index, _summary(plan, index, runs, seconds[index]), runs


def _pieces(plan: SweepPlan, points: int, workers: int) -> list[Chunk]:
    """Many points: one piece each, so workers run whole points. Few: split the replications."""
    pieces = min(plan.replications, -(-TASKS_PER_WORKER * workers // points))
    size = -(-plan.replications // pieces)
    return [
        Chunk(first, min(size, plan.replications - first))
        for first in range(0, plan.replications, size)
    ]


def _summary(plan: SweepPlan, index: int, runs: pd.DataFrame, seconds: float) -> dict:
    sc = plan.scenarios[index].scenario
    summary = summarise(
        runs,
        scenario_name=sc.name,
        seed=plan.seed,
        start=sc.start,
        deadline=sc.deadline,
        wall_seconds=seconds,
    )
    summary["provenance"] = provenance(
        plan.scenarios[index], seed=plan.seed, replications=len(runs), wall_seconds=seconds
    )
    # As it will be read back from its point file, so a resumed table equals a fresh one.
    return _jsonable(summary)


# --- the table ------------------------------------------------------------------------------


def metric_columns(summary: Mapping[str, Any]) -> dict[str, Any]:
    """A point's summary as flat columns (``completion_p50``, ``tickets_p50``, ...).

    The columns and their order come from the metrics record
    (:data:`~sim.experiments.metrics.METRICS`).
    """
    columns: dict[str, Any] = {}
    for m in METRICS:
        try:
            value = m.read(summary)
        except KeyError:
            continue  # a metric this point's model did not produce
        if m.kind == "share":
            columns[m.column()] = value
        else:
            columns.update({m.column(q): value[q] for q in m.quantiles})
    # What the point's uncertainty was, and how often each risk struck.
    interval = summary.get("p_meet_deadline_interval")
    if "p_meet_deadline" in columns:
        lo, hi = interval if interval else (None, None)
        columns.update({"p_meet_deadline_lo": lo, "p_meet_deadline_hi": hi})
    if summary.get("uncertain"):
        columns["uncertain"] = ", ".join(summary["uncertain"])
    for name, share in (summary.get("risks") or {}).items():
        columns[f"risk.{name}"] = share
    return columns


def sweep_table(plan: SweepPlan, summaries: Mapping[int, dict]) -> pd.DataFrame:
    """One row per finished point: ``point``, the varied keys, then the summary metrics."""
    rows = [
        {"point": i, **plan.points[i], **metric_columns(summaries[i])} for i in sorted(summaries)
    ]
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=["point", *plan.keys])
    for m in METRICS:
        if m.kind == "date":
            for column in m.columns():
                table[column] = pd.to_datetime(table[column]).astype("datetime64[ms]")
    return table


def sweep_runs(plan: SweepPlan, runs: Mapping[int, pd.DataFrame]) -> pd.DataFrame:
    """Every replication of every finished point: ``point``, the varied keys, then the
    point's ``runs`` columns (``replication``, the metrics, ``param.*``, ``risk.*``)."""
    frames = []
    for i in sorted(runs):
        frame = runs[i].copy()
        front = {"point": i, **plan.points[i]}
        for position, (column, value) in enumerate(front.items()):
            frame.insert(position, column, value)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["point", *plan.keys, "replication"])
    runs_table = pd.concat(frames, ignore_index=True)
    for column in runs_table.columns:
        # Parquet keeps milliseconds: the same dtype fresh, resumed or read back from the file.
        if pd.api.types.is_datetime64_any_dtype(runs_table[column]):
            runs_table[column] = runs_table[column].dt.as_unit("ms")
    return runs_table


@dataclass
class SweepResult:
    """The outcome of :func:`sweep`: ``table`` (a row per point), ``runs`` (a row per
    replication of each point) and ``plot`` (see :func:`sim.outputs.sweep_plot.sweep_figure`)."""

    table: pd.DataFrame
    summaries: list[dict]  # per point, the shape of ``run --json``
    plan: SweepPlan = field(repr=False)
    out: Path | None = None
    computed: int = 0  # points simulated by this call; the rest were resumed
    wall_seconds: float = 0.0
    runs: pd.DataFrame | None = field(default=None, repr=False)
    provenance: dict[str, Any] = field(default_factory=dict, repr=False)  # the whole sweep's

    def plot(
        self,
        x: str | None = None,
        hue: str | None = None,
        *,
        y: str | None = None,
        kind: str | None = None,
        metric: str = "completion_date",
        where: Mapping[str, Any] | None = None,
        ax: Any = None,
    ):
        """A matplotlib Figure of the sweep.

        ``kind="line"``: the P50 of ``metric`` (default the completion date),
        with bars from P10 to P90, against the varied key ``x``, one series per
        value of ``hue``. ``kind="heatmap"``: P(meet the deadline) over ``x``
        and ``y`` (or ``hue``). Without ``kind``, a sweep over two keys with no
        ``hue`` draws the heatmap, any other the lines. ``where`` fixes other
        varied keys at one value each (a slice of a bigger grid). ``ax`` draws
        into an existing Axes (its figure is returned).
        """
        from sim.outputs.sweep_plot import sweep_figure

        return sweep_figure(self, x=x, hue=hue, y=y, kind=kind, metric=metric, where=where, ax=ax)

    def __repr__(self) -> str:
        return (
            f"<SweepResult {self.plan.base.name!r}: {len(self.table)} points over "
            f"{', '.join(self.plan.keys)}; {self.plan.replications} replications each>"
        )


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


# --- the one call ---------------------------------------------------------------------------


def sweep(
    scenario: Scenario,
    vary: Mapping[str, VarySpec],
    replications: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    dask: str | None = None,
    method: str = "grid",
    samples: int | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    progress: ProgressCallback | None = None,
    max_memory_gb: float | None = None,
) -> SweepResult:
    """Run ``scenario`` at every point of a grid or a Latin hypercube.

    ``vary`` maps dotted keys to values: a list (``[15000, 22000]``), a
    :class:`Range`, or text as ``--vary`` takes it (``"15000:30000:5000"``).
    Every point uses the same ``seed`` (default: the scenario's) and
    ``replications``. ``workers``/``dask`` as for :func:`sim.run`; with many
    points each worker runs whole points. ``out`` saves points and the table
    as they finish; ``resume`` continues the sweep saved there (without it, a
    folder that already holds a sweep is an error, so nothing is overwritten by
    mistake; with it, a different definition is an error). ``progress`` is
    called with the number of replications finished (resumed points at once).
    Raises :class:`~sim.model.scenario.ScenarioError` for any bad key or value,
    or a point that can never finish, and
    :class:`~sim.outputs.files.OutputError` for an ``out`` that cannot be used,
    before simulating. ``max_memory_gb`` as for :func:`sim.run`.
    """
    plan = plan_sweep(scenario, vary, replications, seed, method, samples)
    return plan.run(
        workers=workers,
        dask=dask,
        out=out,
        resume=resume,
        progress=progress,
        max_memory_gb=max_memory_gb,
    )
