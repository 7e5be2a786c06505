"""Replications, spread over worker processes or a dask cluster.

``run(scenario, replications=200, seed=1, workers=2)`` gives replication ``i``
the ``i``-th child of ``SeedSequence(seed)``, whichever worker runs it, so the
result is the same for 1 worker, 2 workers or a cluster. Work is cut into
chunks of consecutive replications; each worker builds the :class:`Model`
(calendar, windows) once per chunk and keeps only what the summary needs,
except replication 0, which keeps its per-mailbox table.
"""

from __future__ import annotations

import ctypes
import gc
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from sim.experiments.results import Result, provenance, rectangular_daily, summarise
from sim.model.feasibility import check_feasible
from sim.model.replication import Replication
from sim.model.scenario import Scenario
from sim.model.simulation import Model

ProgressCallback = Callable[[int], None]
DASK_CONNECT_SECONDS = 5  # a wrong address should fail fast, not after dask's default 30 s
MAX_CHUNK = 10  # replications in a chunk at most
CHUNKS_PER_WORKER = 4  # a chunk is at most this fraction of a worker's share of what is left
# glibc's mallopt parameters (malloc.h) and what replications set them to: keep_freed_memory.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
KEEP_FREED_BYTES = 256 << 20  # blocks up to this size from the heap: a 2.1M array is ~17 MB
GLIBC_MMAP_THRESHOLD_MAX = 32 << 20  # where glibc's own adjustment of the threshold stops


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
    """Chunks that shrink as the work runs out: the first big enough to amortise a chunk's
    set-up (its Model) and show progress, the last single replications, so that no worker
    idles at the end while another finishes a long chunk (guided self-scheduling)."""
    chunks, first = [], 0
    while first < replications:
        left = replications - first
        size = max(1, min(MAX_CHUNK, -(-left // (CHUNKS_PER_WORKER * workers))))
        chunks.append(Chunk(first, size))
        first += size
    return chunks


DEFAULT_MAX_REPLICATIONS = 1000  # where --precision stops when not told


@dataclass(frozen=True)
class Precision:
    """``precision_days=``: add replications until the deciding date is this precise."""

    days: float
    max_replications: int
    quantile: float = 0.9  # the date that decides: P90 for run, the confidence for check

    @property
    def name(self) -> str:
        return f"p{round(self.quantile * 100, 4):g}"


def run(
    scenario: Scenario | str | os.PathLike,
    replications: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    *,
    dask: str | None = None,
    keep_daily: bool = True,
    keep_mailboxes: bool = True,
    progress: ProgressCallback | None = None,
    max_memory_gb: float | None = None,
    precision_days: float | None = None,
    max_replications: int | None = None,
    precision_quantile: float = 0.9,
) -> Result:
    """Run ``replications`` replications of ``scenario`` and summarise them.

    ``scenario`` is a :class:`Scenario` or the path of a scenario file.
    ``replications`` defaults to the scenario's, ``workers`` to the machine's
    cores; ``dask`` is a scheduler address or ``"local"`` for a LocalCluster.
    ``keep_daily`` and ``keep_mailboxes`` drop tables a caller does not need
    (the summary never needs them). ``progress`` is called with the number of
    replications finished each time a chunk finishes.

    With ``precision_days``, replications are added in blocks of
    ``replications`` until the 95% interval of the ``precision_quantile``
    completion date (P90) reaches no further than that many days from the date,
    or ``max_replications`` (default 1,000) have run; ``summary["precision"]``
    says which stopped it. Replication ``i`` always has the same seed, so the
    answer is the same on any number of workers.

    A plan that can never finish raises :class:`~sim.model.scenario.ScenarioError`
    before anything is simulated (``sim.model.feasibility``), and so does one
    whose replications would need more than ``max_memory_gb`` (default: this
    machine's memory). An unreachable ``dask`` scheduler raises :class:`ClusterError`.
    """
    scenario = scenario_argument(scenario)
    replications, seed, workers = checked_arguments(scenario, replications, seed, workers)
    precision = checked_precision(
        precision_days, max_replications, replications, precision_quantile
    )
    most = precision.max_replications if precision else replications
    check_before_running(scenario, min(workers, most), dask, max_memory_gb, replications=most)
    progress = progress or notebook_progress(most)
    started = time.perf_counter()
    job = Job(scenario, seed, replications, keep_daily, keep_mailboxes)
    with backend(min(workers, most), dask) as pool:
        reps, report = _replicate(pool, job, precision, progress)
    result = result_of(scenario, seed, reps, time.perf_counter() - started)
    if report is not None:
        result.summary = {**result.summary, "precision": report}
    return result


def _replicate(
    pool: Backend, job: Job, precision: Precision | None, progress: ProgressCallback | None
) -> tuple[list[Replication], dict[str, Any] | None]:
    """The job's replications in order; with ``precision``, block after block of
    ``job.replications`` until the deciding date is precise, and the report of what stopped."""
    block = job.replications
    reps: list[Replication] = []
    history: list[dict[str, Any]] = []  # each block's replications and width
    done, target = 0, block
    while True:
        job = replace(job, replications=target)  # child i of the seed whatever the total
        for _, finished in _execute(pool, [job], first=done):
            reps.extend(finished)
            if progress:
                progress(len(finished))
        done = target
        reps.sort(key=lambda r: r.metrics["replication"])
        if precision is None:
            return reps, None
        target, report, width = next_block(precision, reps, block)
        history.append({"replications": done, "half_width_days": width})
        if report is not None:
            return reps, {**report, "blocks": history}


def notebook_progress(total: int, label: str = "replications") -> ProgressCallback | None:
    """In Jupyter, a text progress bar for a run that takes a while; elsewhere none (the CLI
    draws its own)."""
    if "ipykernel" not in sys.modules:  # no Jupyter kernel: spare the run matplotlib's import
        return None
    from sim.outputs.notebook import TextProgress, in_notebook

    return TextProgress(total, label) if in_notebook() else None


def scenario_argument(scenario: Any) -> Scenario:
    """A :class:`Scenario`, or one loaded from a path; anything else is a TypeError."""
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, str | os.PathLike):
        from sim.model.scenario import load

        return load(scenario)
    raise TypeError(
        f"scenario must be a sim.Scenario (from sim.load) or the path of a scenario file, "
        f"not {type(scenario).__name__}"
    )


def _whole(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def checked_arguments(
    scenario: Scenario, replications: Any, seed: Any, workers: Any
) -> tuple[int, int, int]:
    """``replications``, ``seed`` and ``workers`` with their defaults, or a ValueError naming
    the argument: 0 replications or 0 workers is a mistake, not a request for the default."""
    if replications is None:
        replications = scenario.scenario.replications
    if not _whole(replications) or replications < 1:
        raise ValueError(f"replications must be a whole number >= 1 (got {replications!r})")
    if workers is None:
        workers = default_workers()
    if not _whole(workers) or workers < 1:
        raise ValueError(f"workers must be a whole number >= 1 (got {workers!r})")
    seed = scenario.scenario.seed if seed is None else seed
    if not _whole(seed) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0 (got {seed!r})")
    return int(replications), int(seed), int(workers)


def checked_precision(
    days: Any, max_replications: Any, replications: int, quantile: float
) -> Precision | None:
    """The precision asked for, or None; a ValueError naming the argument when it is wrong."""
    if days is None:
        if max_replications is not None:
            raise ValueError("max_replications needs precision_days")
        return None
    if isinstance(days, bool) or not isinstance(days, int | float) or not days > 0:
        raise ValueError(f"precision_days must be > 0 days (got {days!r})")
    if max_replications is None:
        max_replications = max(DEFAULT_MAX_REPLICATIONS, replications)
    if not _whole(max_replications) or max_replications < replications:
        raise ValueError(
            f"max_replications must be a whole number >= replications ({replications}) "
            f"(got {max_replications!r})"
        )
    return Precision(float(days), int(max_replications), quantile)


def next_block(
    precision: Precision, reps: list[Replication], block: int
) -> tuple[int, dict[str, Any] | None, float | None]:
    """How many replications to have after the next block, or the report that says stop,
    and how far the deciding date's interval reaches now (None: not yet known).

    The estimate of what is needed uses only the replications run, in order, so
    the blocks (and the answer) are the same on any backend.
    """
    from sim.experiments.results import half_width_days, replications_for_precision

    n = len(reps)
    completion = pd.Series([r.metrics["completion_date"] for r in reps])
    width = half_width_days(completion, precision.quantile)
    report = {
        "days": precision.days,
        "quantile": precision.name,
        "half_width_days": width if math.isfinite(width) else None,
        "replications": n,
        "max_replications": precision.max_replications,
    }
    known = report["half_width_days"]
    if width <= precision.days:
        return n, {**report, "stopped_by": "precision"}, known
    if n >= precision.max_replications:
        return n, {**report, "stopped_by": "max_replications"}, known
    needed = replications_for_precision(completion, precision.quantile, precision.days)
    wanted = 2 * n if needed is None else needed
    wanted = -(-wanted // block) * block  # whole blocks
    return min(precision.max_replications, max(wanted, n + block)), None, known


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


def execute(
    pool: Backend, jobs: list[Job], first: int = 0
) -> Iterator[tuple[int, list[Replication]]]:
    """Run replications ``first ..`` of every job on ``pool``: ``(job index, replications)``
    as each chunk finishes. Jobs share the pool, so several plans cost one start-up."""
    calls = []
    for index, job in enumerate(jobs):
        count = job.replications - first
        for chunk in chunks_for(count, pool.workers):
            calls.append((index, (run_chunk, job, Chunk(first + chunk.first, chunk.count))))
    for task, replications in pool.completed([call for _, call in calls]):
        yield calls[task][0], replications


_execute = execute  # where simulating starts (tests replace it to see nothing ran)


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
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be >= 1 (got {workers})")
    if workers == 1:
        with freed_memory_kept():
            yield Backend()
        return
    with (
        objects_frozen(),
        ProcessPoolExecutor(max_workers=workers, initializer=keep_freed_memory) as pool,
    ):
        yield PoolBackend(pool, workers)


@contextmanager
def objects_frozen() -> Iterator[None]:
    """The garbage collector leaves this process's objects alone while the pool's workers
    fork from it (``gc.freeze``), so a worker's first collections write to none of what it
    inherited (modules, the scenario): those pages stay shared instead of being copied
    one by one, ~9,000 fewer page faults and 0.3-0.6 s less kernel time in each worker's
    first replication of the reference scenario. Objects a caller froze stay frozen."""
    frozen_before = gc.get_freeze_count()
    gc.freeze()
    try:
        yield
    finally:
        if not frozen_before:
            gc.unfreeze()


def keep_freed_memory(keep_bytes: int = KEEP_FREED_BYTES) -> None:
    """Let the C allocator keep what a replication frees for the next (a pool's initializer).

    A replication allocates and frees arrays of millions of entries. By default glibc
    hands the largest back to the kernel (a fresh mmap each, and trimming the heap), so
    the next replication faults every page in again, zero-filled: 0.02-0.1 s of kernel
    time a replication of the reference scenario on the 2-core test machine (5-20% of its
    CPU time, more when the machine is busy). Kept, the memory is reused; a worker's peak
    grows a little (0-0.1 GB, the one holding replication 0's mailbox table). Elsewhere
    than glibc, nothing.
    """
    libc = _glibc()
    if libc is not None:
        libc.mallopt(M_MMAP_THRESHOLD, keep_bytes)
        libc.mallopt(M_TRIM_THRESHOLD, 2 * keep_bytes)


@contextmanager
def freed_memory_kept() -> Iterator[None]:
    """:func:`keep_freed_memory` in this process while replications run in it; then the
    ceiling glibc's own adjustment rises to anyway (blocks up to 32 MiB from the heap), and
    the free memory handed back to the kernel, so the caller's process keeps none of it."""
    keep_freed_memory()
    try:
        yield
    finally:
        keep_freed_memory(GLIBC_MMAP_THRESHOLD_MAX)
        libc = _glibc()
        if libc is not None:
            libc.malloc_trim(0)


def _glibc() -> ctypes.CDLL | None:
    """The C library, when it is glibc (whose allocator mallopt tunes); else None."""
    try:
        os.confstr("CS_GNU_LIBC_VERSION")
        return ctypes.CDLL(None)
    except (AttributeError, OSError, TypeError, ValueError):
        return None


@contextmanager
def dask_client(address: str):
    """A dask.distributed client: ``"local"`` starts a LocalCluster for the duration."""
    from distributed import Client, LocalCluster

    if address == "local":
        with (
            LocalCluster(n_workers=default_workers(), threads_per_worker=1, processes=True) as c,
            Client(c) as client,
        ):
            client.run(keep_freed_memory)  # its workers are this run's, like a pool's
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


def _dates_in_ns(frame: pd.DataFrame) -> pd.DataFrame:
    """Naive dates as datetime64[ns], the unit Parquet keeps, so a saved result reads back
    with the dtypes it had."""
    for column in frame.columns:
        dtype = frame[column].dtype
        if isinstance(dtype, np.dtype) and dtype.kind == "M" and dtype != np.dtype("M8[ns]"):
            frame[column] = frame[column].astype("datetime64[ns]")
    return frame


def result_of(scenario: Scenario, seed: int, reps: list[Replication], wall: float) -> Result:
    """The :class:`Result` of replications (in order): summary with provenance, tables."""
    runs = _dates_in_ns(pd.DataFrame([r.metrics for r in reps]))
    daily = _dates_in_ns(rectangular_daily(pd.concat([r.daily for r in reps], ignore_index=True)))
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
    summary["provenance"] = provenance(
        scenario, seed=seed, replications=len(runs), wall_seconds=wall
    )
    return Result(summary=summary, runs=runs, daily=daily, mailboxes=mailboxes, scenario=scenario)
