"""Replications spread over workers: same seed, same answer, however the work is split.

Replication ``i`` is child ``i`` of ``SeedSequence(seed)``, so the results must not
depend on the number of workers, on a dask cluster, or on how many replications
were asked for; and two scenarios run with one seed must share their random
numbers (common random numbers).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.experiments.results import QUANTILES, completion_quantiles
from sim.experiments.runner import chunks_for, replication_seeds
from sim.model.scenario import with_overrides
from sim.model.simulation import simulate

SMALL = Path(__file__).resolve().parents[1] / "scenarios" / "small-trust.toml"
REPLICATIONS = 12


@pytest.fixture(scope="module")
def small():
    # Without the pilot phases, batches.weekday is the plan's pace (used by the CRN tests).
    return sim.load(SMALL, overrides={"batches.phases": []})


@pytest.fixture(scope="module")
def one_worker(small):
    return sim.run(small, REPLICATIONS, seed=11, workers=1)


def assert_same_result(a, b) -> None:
    pd.testing.assert_frame_equal(a.runs, b.runs)
    pd.testing.assert_frame_equal(a.daily, b.daily)
    pd.testing.assert_frame_equal(a.mailboxes, b.mailboxes)
    drop = {"wall_seconds", "provenance"}  # how long it took differs run to run
    assert {k: v for k, v in a.summary.items() if k not in drop} == {
        k: v for k, v in b.summary.items() if k not in drop
    }


def test_one_and_two_workers_give_identical_results(small, one_worker):
    two = sim.run(small, REPLICATIONS, seed=11, workers=2)
    assert len(chunks_for(REPLICATIONS, 2)) > 1  # the pool really splits the work
    assert_same_result(one_worker, two)


def test_dask_local_cluster_gives_the_local_pools_results(small, one_worker):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        on_dask = sim.run(small, REPLICATIONS, seed=11, dask=cluster.scheduler_address)
    assert_same_result(one_worker, on_dask)


@given(replications=st.integers(1, 3000), workers=st.integers(1, 16))
def test_chunks_cover_every_replication_once_in_order_and_shrink_to_single_ones(
    replications, workers
):
    chunks = chunks_for(replications, workers)
    sizes = [chunk.count for chunk in chunks]
    assert [chunk.first for chunk in chunks] == [sum(sizes[:i]) for i in range(len(sizes))]
    assert sum(sizes) == replications
    # Big first (few Model builds), single replications last (no worker idles at the end).
    assert sizes == sorted(sizes, reverse=True) and max(sizes) <= 10 and sizes[-1] == 1


def test_off_glibc_the_allocator_is_left_alone(monkeypatch):
    from sim.experiments import runner as runner_mod

    def not_glibc(name):
        raise ValueError(f"unrecognized configuration name {name!r}")  # as on macOS or musl

    monkeypatch.setattr(runner_mod.os, "confstr", not_glibc)
    assert runner_mod._glibc() is None
    runner_mod.keep_freed_memory()  # a pool's initializer: nothing to do, no error
    with runner_mod.freed_memory_kept():
        pass


def test_a_run_outside_jupyter_does_not_import_the_plotting_for_its_progress_bar():
    import subprocess
    import sys

    check = (
        "import sys; from sim.experiments.runner import notebook_progress; "
        "assert notebook_progress(100) is None; assert 'matplotlib' not in sys.modules"
    )
    root = Path(__file__).resolve().parents[1]  # this checkout's sim, whatever is installed
    subprocess.run([sys.executable, "-c", check], check=True, cwd=root)


def test_in_jupyter_a_run_gets_the_text_progress_bar(monkeypatch):
    import sys
    import types

    from sim.experiments.runner import notebook_progress
    from sim.outputs.notebook import TextProgress

    class ZMQInteractiveShell:  # what get_ipython() is in a Jupyter kernel
        pass

    ipython = types.SimpleNamespace(get_ipython=ZMQInteractiveShell)
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    assert isinstance(notebook_progress(100), TextProgress)


def test_the_collector_is_frozen_only_while_a_pool_runs():
    import gc

    from sim.experiments.runner import backend

    assert gc.get_freeze_count() == 0
    with backend(2, None):
        assert gc.get_freeze_count() > 0  # the workers fork with every object frozen
    assert gc.get_freeze_count() == 0
    gc.freeze()  # a caller's own freeze outlives the pool
    try:
        with backend(2, None):
            pass
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_replication_i_is_child_i_of_the_seed(small, one_worker):
    third = simulate(small, replication_seeds(11, REPLICATIONS)[2], replication=2)
    row = one_worker.runs.iloc[2].to_dict()
    assert third.metrics == row


def test_a_replication_does_not_depend_on_how_many_were_asked_for(small, one_worker):
    fewer = sim.run(small, 5, seed=11, workers=1)
    pd.testing.assert_frame_equal(fewer.runs, one_worker.runs.iloc[:5])


def test_different_seeds_give_different_replications(small, one_worker):
    other = sim.run(small, REPLICATIONS, seed=12, workers=1)
    assert not other.runs["tickets"].equals(one_worker.runs["tickets"])


def test_same_seed_same_population_across_scenarios(small):
    """Common random numbers: a different plan meets the same mailboxes and users."""
    faster = with_overrides(small, {"batches.weekday": 600, "support.agents": 5}, source="test")
    seed = replication_seeds(5, 1)[0]
    base, other = simulate(small, seed), simulate(faster, seed)
    for column in ("organisation", "size_gb", "legacy"):
        pd.testing.assert_series_equal(base.mailboxes[column], other.mailboxes[column])
    assert base.metrics["completion_date"] != other.metrics["completion_date"]  # plans differ


def test_runner_quantiles_are_ordered(small, one_worker):
    summary = one_worker.summary
    dates = [summary["completion"][q] for q in QUANTILES]
    assert None not in dates and dates == sorted(dates)
    blocks = [
        v
        for k, v in summary.items()
        if isinstance(v, dict) and "p10" in v and k != "completion_interval"
    ]
    blocks += [v for v in summary["support"].values()]
    assert len(blocks) > 8
    for block in blocks:
        values = [block[q] for q in QUANTILES]
        assert values == sorted(values), block


@settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    days=st.lists(st.one_of(st.none(), st.integers(0, 400)), min_size=1, max_size=60),
)
def test_completion_quantiles_are_ordered_and_null_only_when_too_few_completed(days):
    base = np.datetime64("2024-03-04")
    completion = pd.Series([pd.NaT if d is None else base + np.timedelta64(d, "D") for d in days])
    quantiles = completion_quantiles(completion)
    done = sum(d is not None for d in days)
    reached = [quantiles[q] for q in QUANTILES if quantiles[q] is not None]
    assert reached == sorted(reached)
    for name, q in QUANTILES.items():
        # Null exactly when fewer than a share q of replications completed.
        assert (quantiles[name] is None) == (done < q * len(days) - 1e-9), (name, done)


def test_the_runner_builds_one_model_per_chunk_not_per_replication(small, monkeypatch):
    from sim.experiments import runner as runner_mod

    built = []

    class Counted(runner_mod.Model):
        def __init__(self, scenario) -> None:
            built.append(1)
            super().__init__(scenario)

    monkeypatch.setattr(runner_mod, "Model", Counted)
    sim.run(small, REPLICATIONS, seed=11, workers=1)
    assert len(built) == len(chunks_for(REPLICATIONS, 1)) < REPLICATIONS


def test_a_reused_model_gives_each_replication_what_a_fresh_model_gives(small):
    from sim.model.simulation import Model

    first, second = replication_seeds(5, 2)
    model = Model(small)
    a = model.replicate(first, keep_mailboxes=True)
    b = model.replicate(second, keep_mailboxes=True)
    again = model.replicate(first, keep_mailboxes=True)  # after b ran on the same model
    fresh = Model(small).replicate(first, keep_mailboxes=True)
    for other in (again, fresh):
        assert other.metrics == a.metrics
        pd.testing.assert_frame_equal(other.daily, a.daily)
        pd.testing.assert_frame_equal(other.mailboxes, a.mailboxes)
    assert not np.array_equal(a.mailboxes["size_gb"], b.mailboxes["size_gb"])


def test_days_to_complete_counts_unfinished_replications_as_late():
    from sim.experiments.results import summarise

    start = pd.Timestamp("2024-01-08")
    # 30 replications: 2 finish on days 10 and 12, 28 never do.
    days = [10.0, 12.0] + [np.nan] * 28
    runs = pd.DataFrame(
        {
            "completion_date": [
                start + pd.Timedelta(days=d - 1) if d == d else pd.NaT for d in days
            ],
            "days_to_complete": days,
        }
    )
    summary = summarise(
        runs, scenario_name="t", seed=0, start=start.date(), deadline=None, wall_seconds=0
    )
    assert summary["days_to_complete"] == {"p10": None, "p50": None, "p90": None}
    assert summary["completion"] == {"p10": None, "p50": None, "p90": None}
    # With 10 of 30 done, P10 is the 3rd smallest (rank ceil(0.1 * 30) = 3) and P50 is null.
    days = [5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0] + [np.nan] * 20
    runs = pd.DataFrame({"days_to_complete": days})
    summary = summarise(
        runs, scenario_name="t", seed=0, start=start.date(), deadline=None, wall_seconds=0
    )
    assert summary["days_to_complete"] == {"p10": 7, "p50": None, "p90": None}


def test_days_to_complete_agrees_with_the_completion_dates(small, one_worker):
    s = one_worker.summary
    start = pd.Timestamp(s["start"])
    for q, days in s["days_to_complete"].items():
        assert (pd.Timestamp(s["completion"][q]) - start).days + 1 == days


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(1, 400)), min_size=1, max_size=40))
def test_days_to_complete_quantiles_are_the_completion_date_quantiles_in_days(days):
    from sim.experiments.results import quantiles

    start = pd.Timestamp("2024-01-08")
    values = pd.Series([np.nan if d is None else float(d) for d in days])
    dates = pd.Series([pd.NaT if d is None else start + pd.Timedelta(days=d - 1) for d in days])
    by_days = quantiles(values, missing_is_late=True)
    by_dates = completion_quantiles(dates)
    for q in QUANTILES:
        expected = None if by_dates[q] is None else (pd.Timestamp(by_dates[q]) - start).days + 1
        assert by_days[q] == expected
