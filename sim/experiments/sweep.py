"""Sweeps: one scenario, many variants, the same random numbers at every point.

A planner asks "when do we finish with 15,000, 22,000 or 30,000 cutovers a
weekday, and 20 or 40 agents on the desk?"::

    sw = sim.sweep(sc, {"batches.weekday": [15000, 22000, 30000],
                        "support.agents": [20, 40]}, replications=50)
    sw.table    # 6 rows: point, batches.weekday, support.agents, completion_p10, ...

A grid is the product of the listed values (the first key varies slowest);
``"15000:30000:5000"`` lists 15000 to 30000 inclusive in steps of 5000.
``method="lhs"`` draws ``samples`` points by Latin hypercube over ranges
(``"15000:30000"``, or ``Range(15000, 30000)``), reproducibly from the seed.
Every point runs replication ``i`` from child ``i`` of ``SeedSequence(seed)``,
so differences between points come from the plan, not from the dice.

With ``out``, every finished point is saved atomically as
``out/points/point-00017.json`` and the whole table (``sweep.parquet``,
``sweep.csv``) is rewritten atomically, so a crash or a kill leaves a whole
table of the points done so far. ``resume=True`` recomputes only the missing
points, after checking that ``out/manifest.json`` describes the same sweep.

(``sim.sweep`` is this module's :func:`sweep`; import the module's other names
with ``from sim.experiments.sweep import ...``.)
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import qmc

from sim.experiments.results import summarise
from sim.experiments.runner import Chunk, Job, backend, run_chunk
from sim.model.scenario import Scenario, ScenarioError, parse_value, to_dict, with_overrides
from sim.outputs.files import write_csv, write_json, write_parquet

ProgressCallback = Callable[[int], None]

MANIFEST_FORMAT = 1
MAX_VALUES_PER_KEY = 10_000  # a typo such as a step of 0.0001 should fail, not run for a week
TASKS_PER_WORKER = 4  # enough pieces to keep every worker busy to the end
LHS_STREAM = 0x1A5  # keeps the Latin hypercube's draws apart from the replications'
FIXED_KEYS = {
    "scenario.seed": "--seed",
    "scenario.replications": "--replications",
}  # the same at every point, by design
NOT_METRICS = ("scenario", "seed", "replications", "start", "deadline", "wall_seconds")


@dataclass(frozen=True)
class Range:
    """``lo`` to ``hi`` inclusive; a grid needs ``step``, a Latin hypercube snaps to it."""

    lo: float
    hi: float
    step: float | None = None


VarySpec = Sequence[Any] | Range | str


@dataclass(frozen=True)
class Axis:
    """One varied key: listed values, or a numeric range."""

    key: str
    values: list[Any] | None = None
    range: Range | None = None
    integer: bool = False  # the scenario field holds whole numbers

    def grid(self, source: str) -> list[Any]:
        if self.values is not None:
            return self.values
        lo, hi, step = self.range.lo, self.range.hi, self.range.step
        if step is None:
            raise ScenarioError(
                source, self.key, f"a grid needs a step: {lo}:{hi}:STEP (or use --method lhs)"
            )
        count = math.floor((hi - lo) / step + 1e-9) + 1
        if count > MAX_VALUES_PER_KEY:
            raise ScenarioError(source, self.key, f"{count:,} values is too many (step {step})")
        return [self._tidy(lo + i * step) for i in range(count)]

    def at(self, unit: np.ndarray) -> list[Any]:
        """Values at positions ``unit`` in [0, 1) (a Latin hypercube column)."""
        if self.values is not None:
            picks = np.minimum((unit * len(self.values)).astype(int), len(self.values) - 1)
            return [self.values[i] for i in picks]
        lo, hi, step = self.range.lo, self.range.hi, self.range.step
        raw = lo + unit * (hi - lo)
        if step is not None:
            raw = np.minimum(lo + np.round((raw - lo) / step) * step, hi)
        return [self._tidy(float(x)) for x in raw]

    def describe(self) -> Any:
        if self.values is not None:
            return self.values
        return {"lo": self.range.lo, "hi": self.range.hi, "step": self.range.step}

    def _tidy(self, value: float) -> int | float:
        # 0.1 + 2 * 0.1 is 0.30000000000000004; a planner typed 0.3.
        return round(value) if self.integer else float(f"{value:.12g}")


# --- the sweep's definition ---------------------------------------------------------------


def parse_vary(assignment: str, source: str = "--vary") -> tuple[str, str]:
    """Split ``KEY=SPEC``; the spec is parsed against the scenario by :func:`plan_sweep`."""
    key, sep, text = assignment.partition("=")
    key, text = key.strip(), text.strip()
    if not sep or not key or not text:
        raise ScenarioError(
            source,
            assignment,
            "expected KEY=V1,V2,... or KEY=LO:HI:STEP, e.g. batches.weekday=1:9:2",
        )
    return key, text


def make_axis(scenario: Scenario, key: str, spec: VarySpec, source: str) -> Axis:
    """Read one key's values: a list, a :class:`Range`, or text ("A,B,C", "LO:HI[:STEP]")."""
    if key in FIXED_KEYS:
        raise ScenarioError(
            source, key, f"is the same at every point of a sweep; set it with {FIXED_KEYS[key]}"
        )
    current = _current_value(scenario, key)
    if isinstance(spec, str):
        spec = _parse_spec(spec, text_field=isinstance(current, str))
    if isinstance(spec, Range):
        return _range_axis(key, spec, current, source)
    if isinstance(spec, np.ndarray):
        spec = spec.tolist()
    if not isinstance(spec, Sequence):
        spec = [spec]
    if not spec:
        raise ScenarioError(source, key, "needs at least one value")
    return Axis(key, values=[v.item() if isinstance(v, np.generic) else v for v in spec])


def _parse_spec(text: str, text_field: bool) -> list[Any] | Range:
    if not text_field and "," not in text:
        parts = [parse_value(part.strip()) for part in text.split(":")]
        if len(parts) in (2, 3) and all(_is_number(p) for p in parts):
            return Range(*parts)
    as_array = parse_value(f"[{text}]")  # TOML first: "a","b" and [1,2],[3] parse whole
    if isinstance(as_array, list):
        return as_array
    return [parse_value(part.strip()) for part in text.split(",")]


def _range_axis(key: str, spec: Range, current: Any, source: str) -> Axis:
    bounds = [spec.lo, spec.hi] + ([spec.step] if spec.step is not None else [])
    if not all(_is_number(b) for b in bounds):
        raise ScenarioError(source, key, f"a range needs numbers (got {spec})")
    if spec.hi < spec.lo:
        raise ScenarioError(source, key, f"range {spec.lo}:{spec.hi} runs backwards")
    if spec.step is not None and spec.step <= 0:
        raise ScenarioError(source, key, f"step must be > 0 (got {spec.step})")
    integer = isinstance(current, int) and not isinstance(current, bool)
    if current is None:  # no current value to go by: whole-number bounds mean whole numbers
        integer = all(isinstance(b, int) for b in bounds)
    return Axis(key, range=spec, integer=integer)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _current_value(scenario: Scenario, key: str) -> Any:
    node: Any = to_dict(scenario)
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None  # an unknown key is reported when the points are validated
        node = node[part]
    return node


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
    ) -> SweepResult:
        """Simulate every point not already finished in ``out``; see :func:`sweep`."""
        started = time.perf_counter()
        folder = SweepFolder(Path(out)) if out is not None else None
        summaries = folder.start(self.definition(), resume) if folder else {}
        if progress and summaries:
            progress(len(summaries) * self.replications)
        todo = [i for i in range(len(self.points)) if i not in summaries]
        for index, summary in _simulate_points(self, todo, workers, dask, progress):
            summaries[index] = summary
            if folder:
                folder.save_point(index, self.points[index], summary)
                folder.save_table(sweep_table(self, summaries))
        table = sweep_table(self, summaries)
        if folder and not todo:
            folder.save_table(table)  # a resume with nothing left still leaves the table
        return SweepResult(
            table=table,
            summaries=[summaries[i] for i in range(len(self.points))],
            plan=self,
            out=folder.path if folder else None,
            computed=len(todo),
            wall_seconds=time.perf_counter() - started,
        )


def plan_sweep(
    scenario: Scenario,
    vary: Mapping[str, VarySpec],
    replications: int | None = None,
    seed: int | None = None,
    method: str = "grid",
    samples: int | None = None,
    source: str = "--vary",
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
) -> Iterator[tuple[int, dict]]:
    """(point, summary) as each point finishes, whichever backend runs the pieces."""
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
                yield index, _summary(plan, index, metrics.pop(index), seconds[index])


def _pieces(plan: SweepPlan, points: int, workers: int) -> list[Chunk]:
    """Many points: one piece each, so workers run whole points. Few: split the replications."""
    pieces = min(plan.replications, -(-TASKS_PER_WORKER * workers // points))
    size = -(-plan.replications // pieces)
    return [
        Chunk(first, min(size, plan.replications - first))
        for first in range(0, plan.replications, size)
    ]


def _summary(plan: SweepPlan, index: int, metrics: list[dict], seconds: float) -> dict:
    runs = pd.DataFrame(sorted(metrics, key=lambda row: row["replication"]))
    sc = plan.scenarios[index].scenario
    summary = summarise(
        runs,
        scenario_name=sc.name,
        seed=plan.seed,
        start=sc.start,
        deadline=sc.deadline,
        wall_seconds=seconds,
    )
    # As it will be read back from its point file, so a resumed table equals a fresh one.
    return _jsonable(summary)


# --- the table and the folder ---------------------------------------------------------------


def metric_columns(summary: Mapping[str, Any]) -> dict[str, Any]:
    """A point's summary as flat columns: ``completion_p50``, ``tickets_p50``, ..."""
    columns: dict[str, Any] = {}
    for key, value in summary.items():
        if key in NOT_METRICS:
            continue
        if key == "support":
            columns.update(metric_columns(value))
        elif key == "risks":  # the share of replications each risk struck
            columns.update({f"risk.{name}": share for name, share in value.items()})
        elif key == "uncertain":
            columns[key] = ", ".join(value)
        elif key == "p_meet_deadline_interval":
            lo, hi = value if value else (None, None)
            columns.update({"p_meet_deadline_lo": lo, "p_meet_deadline_hi": hi})
        elif isinstance(value, Mapping):
            columns.update({f"{key}_{q}": v for q, v in value.items()})
        else:
            columns[key] = value
    return columns


def sweep_table(plan: SweepPlan, summaries: Mapping[int, dict]) -> pd.DataFrame:
    """One row per finished point: ``point``, the varied keys, then the summary metrics."""
    rows = [
        {"point": i, **plan.points[i], **metric_columns(summaries[i])} for i in sorted(summaries)
    ]
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=["point", *plan.keys])
    for column in ("completion_p10", "completion_p50", "completion_p90"):
        table[column] = pd.to_datetime(table[column]).astype("datetime64[ms]")
    return table


@dataclass
class SweepResult:
    """The outcome of :func:`sweep`."""

    table: pd.DataFrame
    summaries: list[dict]  # per point, the shape of ``run --json``
    plan: SweepPlan = field(repr=False)
    out: Path | None = None
    computed: int = 0  # points simulated by this call; the rest were resumed
    wall_seconds: float = 0.0

    def __repr__(self) -> str:
        return (
            f"<SweepResult {self.plan.base.name!r}: {len(self.table)} points over "
            f"{', '.join(self.plan.keys)}; {self.plan.replications} replications each>"
        )


class SweepFolder:
    """``manifest.json``, ``points/point-NNNNN.json`` and the table, all written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.manifest = path / "manifest.json"
        self.points = path / "points"

    def start(self, definition: dict, resume: bool) -> dict[int, dict]:
        """Claim the folder; with ``resume``, the summaries of points already finished."""
        if self.manifest.exists():
            if not resume:
                raise ScenarioError(
                    str(self.path),
                    "",
                    "already holds a sweep: pass --resume to finish it, or choose another --out",
                )
            self._check_same(definition)
            self._remove_stale_temporaries()
            return self._finished(definition["points"])
        write_json(self.manifest, definition)
        return {}

    def save_point(self, index: int, parameters: dict, summary: dict) -> None:
        write_json(self._point_file(index), {"point": index, "parameters": parameters, **summary})

    def save_table(self, table: pd.DataFrame) -> None:
        write_parquet(self.path / "sweep.parquet", table)
        write_csv(self.path / "sweep.csv", table)

    def _point_file(self, index: int) -> Path:
        return self.points / f"point-{index:05d}.json"

    def _check_same(self, definition: dict) -> None:
        try:
            stored = json.loads(self.manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ScenarioError(str(self.manifest), "", f"cannot read: {error}") from None
        for key, value in definition.items():
            if stored.get(key) != value:
                raise ScenarioError(
                    str(self.manifest),
                    key,
                    f"this sweep was started with {_short(stored.get(key))}, not "
                    f"{_short(value)}: resume it with the same definition, or choose another --out",
                )

    def _finished(self, points: list[dict]) -> dict[int, dict]:
        done = {}
        for index, parameters in enumerate(points):
            try:
                record = json.loads(self._point_file(index).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # missing (or unreadable): simulate it again
            if record.pop("point", None) == index and record.pop("parameters", None) == parameters:
                done[index] = record
        return done

    def _remove_stale_temporaries(self) -> None:
        # A SIGKILL mid-write skips atomic_path's clean-up; these names are only ever ours.
        stale = [*self.points.glob(".point-*.json.*.tmp"), *self.path.glob(".sweep.*.tmp")]
        for path in stale:
            path.unlink(missing_ok=True)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


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
    Raises :class:`ScenarioError` for any bad key or value before simulating.
    """
    plan = plan_sweep(scenario, vary, replications, seed, method, samples)
    return plan.run(workers=workers, dask=dask, out=out, resume=resume, progress=progress)
