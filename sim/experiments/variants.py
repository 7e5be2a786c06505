"""Variants of one scenario, simulated with common random numbers on one backend.

``solve`` asks "does 14,000 a weekday make it? and 13,000?" one variant at a
time; a tornado asks about fifty variants at once. Both need the same thing:
each variant run with the same seed and replications (so replication ``i``
draws the same dice in every variant, and differences come from the plan),
on workers or a dask cluster that stay up between questions::

    with Variants(seed=1, replications=50, workers=2) as variants:
        base, faster = variants.runs([sc, with_overrides(sc, {"throttle.scale": 2.0}, ...)])

Each answer is the variant's ``runs`` table (one row per replication, no
daily or per-mailbox tables), from which any summary follows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.experiments.results import completion_at
from sim.experiments.runner import Backend, Chunk, backend
from sim.experiments.sweep import replicate_metrics
from sim.model.scenario import Scenario

ProgressCallback = Callable[[int], None]
TASKS_PER_WORKER = 4  # enough pieces to keep every worker busy to the end of each question
# runs_until cuts a variant into the pieces of this many workers, whatever the backend has,
# so that an early verdict reads the same replications on 1 worker, 2 or a cluster.
DECISION_WORKERS = 4


class Variants:
    """A backend kept open while variants of a scenario are simulated (a context manager)."""

    def __init__(
        self,
        seed: int,
        replications: int,
        workers: int | None = None,
        dask: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        if replications < 1:
            raise ValueError(f"replications must be >= 1 (got {replications})")
        self.seed, self.replications = seed, replications
        self.workers, self.dask = workers, dask
        self.progress = progress
        self._stack = ExitStack()
        self._pool: Backend | None = None

    def __enter__(self) -> Variants:
        self._pool = self._stack.enter_context(backend(self.workers, self.dask))
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()
        self._pool = None

    def runs(self, scenarios: Sequence[Scenario]) -> list[pd.DataFrame]:
        """Each scenario's ``runs`` table, replication ``i`` from child ``i`` of the seed."""
        if self._pool is None:
            with self:
                return self.runs(scenarios)
        pieces = _pieces(self.replications, len(scenarios), self._pool.workers)
        tasks = [(i, chunk) for i in range(len(scenarios)) for chunk in pieces]
        calls = [
            (replicate_metrics, scenarios[i], self.seed, self.replications, chunk)
            for i, chunk in tasks
        ]
        rows: list[list[dict]] = [[] for _ in scenarios]
        for task, (metrics, _seconds) in self._pool.completed(calls):
            index, chunk = tasks[task]
            rows[index].extend(metrics)
            if self.progress:
                self.progress(chunk.count)
        return [pd.DataFrame(sorted(r, key=lambda row: row["replication"])) for r in rows]

    def runs_until(
        self,
        scenario: Scenario,
        decided: Callable[[list[dict]], bool],
        chunks: Sequence[Chunk] | None = None,
    ) -> tuple[pd.DataFrame, list[Chunk]]:
        """Run ``scenario``'s replications until ``decided(rows so far)`` is true.

        Returns the rows run (a ``runs`` table of the replications finished)
        and the chunks not run, which a later call may pass as ``chunks`` to
        finish the variant: replication ``i`` is the same whichever call runs it.
        Work already started on a worker when the answer is decided is wasted,
        not waited for in the answer.
        """
        if self._pool is None:
            with self:
                return self.runs_until(scenario, decided, chunks)
        if chunks is None:
            # As many pieces whatever the workers, and decided on in replication order:
            # the verdict, and the rows it came from, are the same on any backend.
            chunks = _pieces(self.replications, 1, DECISION_WORKERS)
        calls = [
            (replicate_metrics, scenario, self.seed, self.replications, chunk) for chunk in chunks
        ]
        rows: list[dict] = []
        done: dict[int, list[dict]] = {}
        ready = 0  # chunks[:ready] are in rows
        finished = self._pool.completed(calls)
        try:
            for task, (metrics, _seconds) in finished:
                done[task] = metrics
                if self.progress:
                    self.progress(chunks[task].count)
                stop = False
                while ready in done and not stop:
                    rows.extend(done.pop(ready))
                    ready += 1
                    stop = ready < len(chunks) and decided(rows)
                if stop:
                    break
        finally:
            finished.close()  # cancels what has not started
        remaining = list(chunks[ready:])
        return pd.DataFrame(sorted(rows, key=lambda row: row["replication"])), remaining


def _pieces(replications: int, variants: int, workers: int) -> list[Chunk]:
    """Few variants: split each variant's replications so every worker has work."""
    pieces = max(1, min(replications, -(-TASKS_PER_WORKER * workers // max(variants, 1))))
    size = -(-replications // pieces)
    return [Chunk(first, min(size, replications - first)) for first in range(0, replications, size)]


@dataclass(frozen=True)
class Outcome:
    """What solve and the tornado read from one variant's replications."""

    p_meet_deadline: float | None  # None: the scenario has no deadline
    completion: dict[str, str | None]  # p10 / p50 / p90 dates (None: not within the horizon)
    wait_hours_p90: float  # the P90 across replications of each replication's P90 wait
    completion_at_confidence: str | None = None


def outcome(scenario: Scenario, runs: pd.DataFrame, confidence: float = 0.9) -> Outcome:
    """Summarise one variant's ``runs`` the way solve and sensitivity need it."""
    sc = scenario.scenario
    p_meet = float(runs["met_deadline"].mean()) if sc.deadline is not None else None
    completion = {
        name: completion_at(runs["completion_date"], q)
        for name, q in (("p10", 0.1), ("p50", 0.5), ("p90", 0.9))
    }
    return Outcome(
        p_meet_deadline=p_meet,
        completion=completion,
        wait_hours_p90=float(np.quantile(runs["wait_hours_90th_pct"].to_numpy(dtype=float), 0.9)),
        completion_at_confidence=completion_at(runs["completion_date"], confidence),
    )


def completion_days(runs: pd.DataFrame, horizon_days: int) -> np.ndarray:
    """Days from start to completion per replication; not completed counts as ``horizon + 1``."""
    days = runs["days_to_complete"].to_numpy(dtype=float)
    return np.where(np.isfinite(days), days, horizon_days + 1.0)
