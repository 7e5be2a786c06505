"""Replications, spread over worker processes or a dask cluster.

``run(scenario, replications=200, seed=1, workers=2)`` gives replication ``i``
the ``i``-th child of ``SeedSequence(seed)``, whichever worker runs it, so the
result is the same for 1 worker, 2 workers or a cluster. Work is cut into
chunks of consecutive replications; each worker builds the :class:`Model`
(calendar, windows) once per chunk and keeps only what the summary needs,
except replication 0, which keeps its per-mailbox table.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.experiments.results import Result, summarise
from sim.model.feasibility import check_feasible
from sim.model.replication import Model, Replication
from sim.model.scenario import Scenario

ProgressCallback = Callable[[int], None]
DASK_CONNECT_SECONDS = 5  # a wrong address should fail fast, not after dask's default 30 s


class ClusterError(RuntimeError):
    """The dask scheduler could not be reached (or was lost): the run could not finish."""


@dataclass(frozen=True)
class Chunk:
    """Replications ``first .. first + count - 1`` of a seed."""

    first: int
    count: int


def replication_seeds(seed: int, replications: int) -> list[np.random.SeedSequence]:
    """One child seed sequence per replication, independent of how work is split."""
    return np.random.SeedSequence(seed).spawn(replications)


@dataclass(frozen=True)
class Job:
    """What every chunk of one run shares."""

    scenario: Scenario
    seed: int
    replications: int
    keep_daily: bool = True
    keep_mailboxes: bool = True  # replication 0's per-mailbox table


def run_chunk(job: Job, chunk: Chunk) -> list[Replication]:
    """Run one chunk of replications in this process (the unit of work for every pool)."""
    model = Model(job.scenario)
    seeds = replication_seeds(job.seed, job.replications)
    out = []
    for i in range(chunk.first, chunk.first + chunk.count):
        keep = job.keep_mailboxes and i == 0
        rep = model.replicate(seeds[i], keep_mailboxes=keep, replication=i)
        if not job.keep_daily:
            rep.daily = rep.daily.iloc[0:0]
        out.append(rep)
    return out


def default_workers() -> int:
    return os.cpu_count() or 1


def chunks_for(replications: int, workers: int) -> list[Chunk]:
    """Chunks small enough to balance load and show progress, big enough to amortise set-up."""
    size = max(1, min(10, -(-replications // (workers * 8))))
    return [Chunk(i, min(size, replications - i)) for i in range(0, replications, size)]


def run(
    scenario: Scenario,
    replications: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    *,
    dask: str | None = None,
    keep_daily: bool = True,
    keep_mailboxes: bool = True,
    progress: ProgressCallback | None = None,
    max_memory_gb: float | None = None,
) -> Result:
    """Run ``replications`` replications of ``scenario`` and summarise them.

    ``workers`` defaults to the machine's cores; ``dask`` is a scheduler
    address or ``"local"`` for a LocalCluster. ``keep_daily`` and
    ``keep_mailboxes`` drop tables a caller does not need (the summary never
    needs them). ``progress`` is called with the number of replications
    finished each time a chunk finishes.

    A plan that can never finish raises :class:`~sim.model.scenario.ScenarioError`
    before anything is simulated (``sim.model.feasibility``), and so does one
    whose replications would need more than ``max_memory_gb`` (default: this
    machine's memory). An unreachable ``dask`` scheduler raises :class:`ClusterError`.
    """
    replications = replications or scenario.scenario.replications
    seed = scenario.scenario.seed if seed is None else seed
    workers = workers or default_workers()
    if replications < 1 or workers < 1:
        raise ValueError("replications and workers must be >= 1")
    if seed < 0:
        raise ValueError(f"seed must be >= 0 (got {seed})")
    check_before_running(
        scenario, min(workers, replications), dask, max_memory_gb, replications=replications
    )
    started = time.perf_counter()
    job = Job(scenario, seed, replications, keep_daily, keep_mailboxes)
    reps: list[Replication] = []
    for done in _execute(job, workers, dask):
        reps.extend(done)
        if progress:
            progress(len(done))
    reps.sort(key=lambda r: r.metrics["replication"])
    return _result(scenario, seed, reps, time.perf_counter() - started)


def check_before_running(
    scenario: Scenario,
    workers: int,
    dask: str | None,
    max_memory_gb: float | None,
    replications: int | None = None,
) -> None:
    """Refuse a plan that can never finish, or that would not fit in memory here.

    The one check every command makes before simulating (``run``, ``check``,
    ``report``, ``sweep``, ``solve``, ``sensitivity``, ``forecast``; ``compare``
    and the app should call it too): :func:`sim.model.feasibility.check_feasible`
    over the whole support of the uncertain numbers, then memory for ``workers``
    (one table on a remote ``dask`` cluster) and ``replications``.
    """
    check_feasible(
        scenario,
        workers=workers,
        replications=replications,
        max_memory_gb=max_memory_gb,
        remote=bool(dask and dask != "local"),
    )


def _execute(job: Job, workers: int, dask: str | None) -> Iterator[list[Replication]]:
    local_workers = min(workers, job.replications)  # one replication needs no pool
    with backend(local_workers, dask) as pool:
        chunks = chunks_for(job.replications, pool.workers)
        for _, replications in pool.completed([(run_chunk, job, chunk) for chunk in chunks]):
            yield replications


# --- where calls run: this process, a process pool, or a dask cluster -------------------------


class Backend:
    """Runs calls ``(function, *args)``; yields ``(call index, result)`` as each finishes."""

    workers = 1

    def completed(self, calls: list[tuple]) -> Iterator[tuple[int, Any]]:
        for index, (function, *args) in enumerate(calls):
            yield index, function(*args)


class PoolBackend(Backend):
    def __init__(self, pool: ProcessPoolExecutor, workers: int) -> None:
        self.pool, self.workers = pool, workers

    def completed(self, calls):
        futures = {self.pool.submit(*call): i for i, call in enumerate(calls)}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        except BaseException:  # an interrupt or a failed write: start nothing new
            for future in futures:
                future.cancel()
            raise


class DaskBackend(Backend):
    def __init__(self, client) -> None:
        self.client = client
        self.workers = max(1, sum(client.nthreads().values()))

    def completed(self, calls):
        from distributed import as_completed as dask_completed

        futures = [self.client.submit(*call, pure=False) for call in calls]
        index = {future.key: i for i, future in enumerate(futures)}
        try:
            for future in dask_completed(futures):
                yield index[future.key], future.result()
        except BaseException:
            self.client.cancel(futures)
            raise


@contextmanager
def backend(workers: int | None, dask: str | None) -> Iterator[Backend]:
    """Where runs and sweeps send their calls: dask if given, else ``workers`` processes."""
    if dask:
        with dask_client(dask) as client:
            yield DaskBackend(client)
        return
    workers = workers or default_workers()
    if workers < 1:
        raise ValueError(f"workers must be >= 1 (got {workers})")
    if workers == 1:
        yield Backend()
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield PoolBackend(pool, workers)


@contextmanager
def dask_client(address: str):
    """A dask.distributed client: ``"local"`` starts a LocalCluster for the duration."""
    from distributed import Client, LocalCluster

    if address == "local":
        with (
            LocalCluster(n_workers=default_workers(), threads_per_worker=1, processes=True) as c,
            Client(c) as client,
        ):
            yield client
    else:
        try:
            client = Client(address, timeout=f"{DASK_CONNECT_SECONDS}s")
        except (OSError, TimeoutError, ValueError) as error:
            raise ClusterError(
                f"cannot reach the dask scheduler at {address} "
                f"within {DASK_CONNECT_SECONDS} s: {error}"
            ) from None
        with client:
            yield client


def _result(scenario: Scenario, seed: int, reps: list[Replication], wall: float) -> Result:
    runs = pd.DataFrame([r.metrics for r in reps])
    daily = pd.concat([r.daily for r in reps], ignore_index=True)
    mailboxes = next((r.mailboxes for r in reps if r.mailboxes is not None), None)
    sc = scenario.scenario
    summary = summarise(
        runs,
        scenario_name=sc.name,
        seed=seed,
        start=sc.start,
        deadline=sc.deadline,
        wall_seconds=wall,
    )
    return Result(summary=summary, runs=runs, daily=daily, mailboxes=mailboxes, scenario=scenario)
