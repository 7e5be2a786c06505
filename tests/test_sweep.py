"""Sweeps: the grid and the Latin hypercube, common random numbers, and resuming after a kill."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.experiments.sweep import Range, plan_sweep, sweep
from sim.model.scenario import ScenarioError, with_overrides
from sim.outputs.files import OutputError

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "scenarios" / "small-trust.toml"
NO_PILOT = {"batches.phases": []}  # so that batches.weekday is the plan's pace
REPLICATIONS = 6


@pytest.fixture(scope="module")
def small():
    return sim.load(SMALL, overrides=NO_PILOT)


@pytest.fixture(scope="module")
def grid(small):
    vary = {"batches.weekday": [300, 500], "support.agents": "2:4:1"}
    return sweep(small, vary, replications=REPLICATIONS, seed=3, workers=1)


def without_wall(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in ("wall_seconds", "provenance")}


# -- the grid ----------------------------------------------------------------------------------


def test_grid_rows_are_the_product_of_the_values_first_key_slowest(grid):
    table = grid.table
    expected = list(itertools.product([300, 500], [2, 3, 4]))
    assert list(table["point"]) == list(range(6))
    assert list(zip(table["batches.weekday"], table["support.agents"], strict=True)) == expected
    assert list(table.columns[:3]) == ["point", "batches.weekday", "support.agents"]
    assert table["support.agents"].dtype.kind == "i"  # an int field stays int


def test_table_has_the_summary_metrics_with_completion_as_dates(grid):
    table = grid.table
    for column in (
        "completion_p10",
        "completion_p50",
        "completion_p90",
        "completed_share",
        "p_meet_deadline",
        "tickets_p50",
        "users_needing_support_pct_p50",
        "peak_backlog_p90",
        "wait_hours_p90",
        "paused_days_p50",
    ):
        assert column in table.columns, column
    assert pd.api.types.is_datetime64_any_dtype(table["completion_p50"])
    assert (table["completion_p10"] <= table["completion_p50"]).all()
    assert (table["completion_p50"] <= table["completion_p90"]).all()
    # The plan's pace matters: more a day finishes sooner.
    by_pace = table.groupby("batches.weekday")["completion_p50"].max()
    assert by_pace[500] < by_pace[300]


def test_every_point_uses_the_same_seeds_as_a_plain_run(small, grid):
    """Common random numbers: point i is exactly sim.run of its scenario with the sweep's seed."""
    for index in (0, 4):
        point = grid.plan.points[index]
        alone = sim.run(
            with_overrides(small, point, source="test"), REPLICATIONS, seed=3, workers=1
        )
        assert without_wall(grid.summaries[index]) == json.loads(
            json.dumps(without_wall(alone.summary), default=str)
        )


def test_two_workers_agree_with_one(small, grid):
    vary = {"batches.weekday": [300, 500], "support.agents": "2:4:1"}
    two = sweep(small, vary, replications=REPLICATIONS, seed=3, workers=2)
    pd.testing.assert_frame_equal(two.table, grid.table)


def test_many_points_run_whole_on_the_workers_with_the_same_result(small):
    chunks = []
    vary = {"support.agents": "1:8:1"}  # 8 points: 4 a worker
    one = sweep(small, vary, replications=4, seed=3, workers=1)
    two = sweep(small, vary, replications=4, seed=3, workers=2, progress=chunks.append)
    pd.testing.assert_frame_equal(one.table, two.table)
    assert chunks == [4] * 8  # one task per point


def test_a_single_point_is_split_over_the_workers_with_the_same_result(small):
    chunks = []
    vary = {"support.agents": [3]}
    one = sweep(small, vary, replications=REPLICATIONS, seed=3, workers=1)
    two = sweep(small, vary, replications=REPLICATIONS, seed=3, workers=2, progress=chunks.append)
    pd.testing.assert_frame_equal(one.table, two.table)
    assert len(chunks) > 1 and sum(chunks) == REPLICATIONS


@pytest.mark.parametrize(
    ("spec", "values"),
    [
        ("300:500:100", [300, 400, 500]),  # inclusive of HI
        ("300:550:100", [300, 400, 500]),
        ("300,450, 600", [300, 450, 600]),
        (Range(300, 400, 50), [300, 350, 400]),
        ([300, 400], [300, 400]),
        (np.array([300, 400]), [300, 400]),
        ("350", [350]),
    ],
)
def test_weekday_values(small, spec, values):
    plan = plan_sweep(small, {"batches.weekday": spec})
    assert [p["batches.weekday"] for p in plan.points] == values
    assert all(type(p["batches.weekday"]) is int for p in plan.points)


def test_float_ranges_have_no_rounding_noise(small):
    plan = plan_sweep(small, {"throttle.scale": "0.5:1.0:0.1"})
    assert [p["throttle.scale"] for p in plan.points] == [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]


@pytest.mark.parametrize(
    ("key", "spec", "values"),
    [
        ("batches.selection", "random,by_organisation", ["random", "by_organisation"]),
        ("batches.cutover_time", "19:00,20:30", ["19:00", "20:30"]),
        ("batches.cutover_time", "20:30", ["20:30"]),  # a time, not a range 20 to 30
        ("batches.cutover_time", '"19:00", "21:00"', ["19:00", "21:00"]),
        ("calendar.weekend", '["sun"], ["sat", "sun"]', [["sun"], ["sat", "sun"]]),
    ],
)
def test_text_and_list_values(small, key, spec, values):
    plan = plan_sweep(small, {key: spec})
    assert [p[key] for p in plan.points] == values


# -- bad input, before any work ----------------------------------------------------------------


def test_an_invalid_value_at_any_point_fails_naming_the_key_before_any_work(small, tmp_path):
    calls = []
    with pytest.raises(ScenarioError) as error:
        sweep(
            small,
            {"support.agents": [2, 3], "batches.weekday": [300, -5]},
            replications=2,
            out=tmp_path / "out",
            progress=calls.append,
        )
    assert error.value.key == "batches.weekday"
    assert "-5" in str(error.value)
    assert calls == [] and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("vary", "method", "samples", "key", "words"),
    [
        ({"batches.weekdy": [1]}, "grid", None, "batches.weekdy", "did you mean 'weekday'"),
        ({"batches.weekday": "300:200:10"}, "grid", None, "batches.weekday", "backwards"),
        ({"batches.weekday": "300:500:0"}, "grid", None, "batches.weekday", "step"),
        ({"batches.weekday": "300:500"}, "grid", None, "batches.weekday", "needs a step"),
        ({"batches.weekday": "1:1e9:1"}, "grid", None, "batches.weekday", "too many"),
        ({"batches.weekday": []}, "grid", None, "batches.weekday", "at least one"),
        ({"scenario.seed": [1, 2]}, "grid", None, "scenario.seed", "set seed for the whole sweep"),
        ({"throttle.scale": "a:b"}, "lhs", 4, "throttle.scale", "must be a number"),
    ],
)
def test_bad_sweep_definitions_name_the_key(small, vary, method, samples, key, words):
    with pytest.raises(ScenarioError) as error:
        plan_sweep(small, vary, method=method, samples=samples)
    assert error.value.key == key
    assert words in str(error.value)


# -- Latin hypercube -------------------------------------------------------------------------


LHS = {"throttle.scale": "0.5:1.5", "failures.rate": "0:0.05", "batches.weekday": "200:600"}


def test_lhs_is_stratified_within_ranges_and_keeps_integers(small):
    plan = plan_sweep(small, LHS, method="lhs", samples=10, seed=4)
    assert len(plan.points) == 10
    for key, lo, hi in (("throttle.scale", 0.5, 1.5), ("failures.rate", 0.0, 0.05)):
        values = np.array([p[key] for p in plan.points])
        assert ((values >= lo) & (values <= hi)).all()
        strata = np.floor((values - lo) / (hi - lo) * 10).astype(int)
        assert sorted(strata) == list(range(10)), key  # one point in each tenth of the range
    weekdays = [p["batches.weekday"] for p in plan.points]
    assert all(type(w) is int and 200 <= w <= 600 for w in weekdays)


def test_lhs_is_reproducible_from_the_seed(small):
    first = plan_sweep(small, LHS, method="lhs", samples=5, seed=4).points
    again = plan_sweep(small, LHS, method="lhs", samples=5, seed=4).points
    other = plan_sweep(small, LHS, method="lhs", samples=5, seed=5).points
    assert first == again
    assert first != other


def test_lhs_over_a_list_takes_each_value_equally_often(small):
    plan = plan_sweep(small, {"support.agents": [2, 3, 4]}, method="lhs", samples=6, seed=1)
    assert sorted(p["support.agents"] for p in plan.points) == [2, 2, 3, 3, 4, 4]


def test_lhs_snaps_to_the_step(small):
    plan = plan_sweep(small, {"batches.weekday": "200:600:100"}, method="lhs", samples=8, seed=2)
    assert {p["batches.weekday"] for p in plan.points} <= {200, 300, 400, 500, 600}


# -- the output folder and resuming ----------------------------------------------------------


def test_out_writes_the_table_as_parquet_and_csv(small, grid, tmp_path):
    vary = {"batches.weekday": [300, 500], "support.agents": "2:4:1"}
    sweep(small, vary, replications=REPLICATIONS, seed=3, workers=1, out=tmp_path)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "sweep.parquet"), grid.table)
    csv = pd.read_csv(tmp_path / "sweep.csv")
    assert list(csv.columns) == list(grid.table.columns)
    assert list(csv["completion_p50"]) == [
        d.date().isoformat() for d in grid.table["completion_p50"]
    ]
    assert sorted(p.name for p in (tmp_path / "points").iterdir()) == sorted(
        [f"point-{i:05d}.json" for i in range(6)]
        + [f"point-{i:05d}.runs.parquet" for i in range(6)]
    )
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "runs.parquet"), grid.runs)


def test_resume_recomputes_only_the_missing_points(small, grid, tmp_path):
    vary = {"batches.weekday": [300, 500], "support.agents": "2:4:1"}
    sweep(small, vary, replications=REPLICATIONS, seed=3, workers=1, out=tmp_path)
    files = sorted((tmp_path / "points").glob("point-*.json"))
    files[1].unlink()
    files[4].unlink()
    kept = {f: f.stat().st_mtime_ns for f in files if f.exists()}
    resumed = sweep(small, vary, replications=REPLICATIONS, seed=3, out=tmp_path, resume=True)
    assert resumed.computed == 2
    assert {f: f.stat().st_mtime_ns for f in kept} == kept
    pd.testing.assert_frame_equal(resumed.table, grid.table)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "sweep.parquet"), grid.table)
    # The resumed points' replications are read back: the runs are the whole sweep's.
    pd.testing.assert_frame_equal(resumed.runs, grid.runs)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "runs.parquet"), grid.runs)


def test_resuming_a_different_sweep_is_an_error_and_changes_nothing(small, tmp_path):
    vary = {"support.agents": [2, 3]}
    sweep(small, vary, replications=2, seed=3, workers=1, out=tmp_path)
    manifest = (tmp_path / "manifest.json").read_text()
    with pytest.raises(OutputError, match=r"manifest\.json: replications: this sweep was started"):
        sweep(small, vary, replications=3, seed=3, out=tmp_path, resume=True)
    with pytest.raises(OutputError, match=r"manifest\.json: scenario_sha256: "):
        other = with_overrides(small, {"support.ticket_rate": 0.02}, source="test")
        sweep(other, vary, replications=2, seed=3, out=tmp_path, resume=True)
    with pytest.raises(OutputError, match="already holds a sweep: pass resume=True"):
        sweep(small, vary, replications=2, seed=3, out=tmp_path)  # the API speaks Python
    assert (tmp_path / "manifest.json").read_text() == manifest


def test_a_killed_sweep_resumes_to_the_whole_table(tmp_path):
    """SIGKILL the CLI after its first points; --resume finishes an identical table."""
    out = tmp_path / "sweep"
    args = [
        "sweep",
        str(SMALL),
        "--set",
        "batches.phases=[]",
        "--vary",
        "batches.weekday=250:600:50",
        "--vary",
        "support.agents=2,3",
        "--replications",
        "6",
        "--workers",
        "1",
        "--seed",
        "9",
        "--out",
        str(out),
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "sim", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "CI": "1"},
    )
    points = out / "points"
    give_up = time.monotonic() + 60
    while not (out / "sweep.parquet").exists():  # written just after the first point's file
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < give_up, "no point finished within 60 s"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stderr.close()
    finished = len(list(points.glob("point-*.json")))
    assert 1 <= finished < 16, "the kill came too late to test anything"
    partial = pd.read_parquet(out / "sweep.parquet")  # whole, if partial
    assert 1 <= len(partial) <= finished

    result = CliRunner().invoke(app, [*args, "--resume"])
    assert result.exit_code == 0, result.output
    assert "resumed" in result.output

    small = sim.load(SMALL, overrides=NO_PILOT)
    vary = {"batches.weekday": "250:600:50", "support.agents": [2, 3]}
    whole = sweep(small, vary, replications=6, seed=9, workers=1).table
    pd.testing.assert_frame_equal(pd.read_parquet(out / "sweep.parquet"), whole)
    pd.testing.assert_frame_equal(
        pd.read_csv(out / "sweep.csv"), pd.read_csv(_csv_of(whole, tmp_path))
    )
    assert not list(out.rglob("*.tmp"))


def _csv_of(table: pd.DataFrame, folder: Path) -> Path:
    path = folder / "expected.csv"
    table.to_csv(path, index=False)
    return path


# -- dask ------------------------------------------------------------------------------------


def test_a_sweep_on_a_dask_cluster_agrees_with_the_local_pool(small, grid):
    distributed = pytest.importorskip("distributed")
    vary = {"batches.weekday": [300, 500], "support.agents": "2:4:1"}
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        on_dask = sweep(
            small, vary, replications=REPLICATIONS, seed=3, dask=cluster.scheduler_address
        )
    pd.testing.assert_frame_equal(on_dask.table, grid.table)


# -- the command line ------------------------------------------------------------------------


def test_cli_sweep_prints_the_points_and_writes_the_table(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "sweep",
            str(SMALL),
            "--vary",
            "support.agents=2,3",
            "-n",
            "3",
            "-w",
            "1",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "support.agents" in result.stdout and "done P50" in result.stdout
    assert len(pd.read_parquet(tmp_path / "sweep.parquet")) == 2
    runs = pd.read_parquet(tmp_path / "runs.parquet")  # 2 points x 3 replications
    assert list(zip(runs["support.agents"], runs["replication"], strict=True)) == [
        (2, 0), (2, 1), (2, 2), (3, 0), (3, 1), (3, 2)
    ]  # fmt: skip
    assert "runs.parquet" in result.stdout


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--vary", "batches.weekday=-5,300"], "batches.weekday: must be >= 0 (got -5)"),
        (["--vary", "batches.weekday"], "--vary: batches.weekday: expected KEY="),
        (["--vary", "support.agents=2", "--vary", "support.agents=3"], "given twice"),
        (["--vary", "support.agents=2", "--resume"], "--resume: needs --out"),
        (["--vary", "support.agents=2", "--samples", "4"], "--samples"),
        (["--vary", "support.agents=2:4", "--method", "lhs"], "--samples"),
        (["--vary", "support.agents=2", "--method", "sobol"], "--method"),
    ],
)
def test_cli_sweep_bad_input_is_one_line_and_exit_2(extra, words):
    result = CliRunner().invoke(app, ["sweep", str(SMALL), "-n", "2", *extra])
    assert result.exit_code == 2, result.output
    assert words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


# -- every replication, and the charts ---------------------------------------------------------


def test_runs_has_every_replication_of_every_point_with_its_parameters(small, grid):
    runs = grid.runs
    assert len(runs) == REPLICATIONS * len(grid.table)
    assert list(runs.columns[:4]) == ["point", "batches.weekday", "support.agents", "replication"]
    for point, rows in runs.groupby("point"):
        parameters = grid.plan.points[point]
        assert (rows["batches.weekday"] == parameters["batches.weekday"]).all()
        assert (rows["support.agents"] == parameters["support.agents"]).all()
        assert list(rows["replication"]) == list(range(REPLICATIONS))
    # A point's replications are a plain run of that point's scenario, with the same seeds.
    point = runs[runs["point"] == 4].drop(columns=["point", "batches.weekday", "support.agents"])
    plain = sim.run(grid.plan.scenarios[4], replications=REPLICATIONS, seed=3, workers=1).runs
    pd.testing.assert_frame_equal(
        point.reset_index(drop=True), plain[point.columns], check_dtype=False
    )  # the sweep's dates are in milliseconds, as Parquet keeps them
    # And the table's P50 is the summary's quantile of those replications.
    table = grid.table.set_index("point")
    for point, rows in runs.groupby("point"):
        finish = np.sort(rows["completion_date"].to_numpy(dtype="datetime64[D]"))
        assert finish[(REPLICATIONS + 1) // 2 - 1] == np.datetime64(
            table.loc[point, "completion_p50"], "D"
        )


def series(figure) -> int:
    """The error-bar series drawn on the figure's first Axes."""
    from matplotlib.container import ErrorbarContainer

    return sum(isinstance(c, ErrorbarContainer) for c in figure.axes[0].containers)


def test_plot_draws_one_series_per_hue_value_with_p10_p90_bars(grid):
    from matplotlib.figure import Figure

    figure = grid.plot(x="batches.weekday", hue="support.agents")
    assert isinstance(figure, Figure)
    assert series(figure) == 3  # agents 2, 3 and 4
    assert series(grid.plot(x="support.agents", hue="batches.weekday")) == 2
    ax = figure.axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert [label for label in labels if label.startswith("support.agents")] == [
        "support.agents = 2",
        "support.agents = 3",
        "support.agents = 4",
    ]
    # Each series' middle point is the table's P50, its bar ends the P10 and the P90.
    import matplotlib.dates as mdates

    container = ax.containers[0]
    rows = grid.table[grid.table["support.agents"] == 2].sort_values("batches.weekday")
    p50 = mdates.date2num(rows["completion_p50"].to_numpy())
    np.testing.assert_allclose(container.lines[0].get_ydata(), p50)


def test_plot_of_a_sweep_over_two_keys_is_a_p_meet_heatmap(grid):
    figure = grid.plot()
    ax = figure.axes[0]
    (image,) = ax.images
    shares = grid.table.pivot(
        index="support.agents", columns="batches.weekday", values="p_meet_deadline"
    )
    np.testing.assert_array_equal(image.get_array(), shares.to_numpy(dtype=float))
    assert "deadline" in ax.get_title()
    assert len(ax.texts) == len(grid.table)  # every cell says its share
    same = grid.plot(x="batches.weekday", y="support.agents", kind="heatmap")
    np.testing.assert_array_equal(same.axes[0].images[0].get_array(), image.get_array())


def test_plot_draws_into_a_given_axes_and_refuses_unknown_keys(grid):
    from matplotlib.figure import Figure

    figure = Figure()
    left, right = figure.subplots(1, 2)
    assert grid.plot(x="batches.weekday", hue="support.agents", ax=left) is figure
    assert grid.plot(ax=right) is figure
    assert series(figure) == 3 and right.images
    with pytest.raises(ValueError, match=r"^x: 'support\.ticket_rate' is not a key this sweep"):
        grid.plot(x="support.ticket_rate")
    with pytest.raises(ValueError, match=r"^metric: "):
        grid.plot(x="batches.weekday", hue="support.agents", metric="no_such_metric")


def test_plot_of_another_metric_reads_its_quantile_columns(grid):
    figure = grid.plot(x="support.agents", hue="batches.weekday", metric="peak_backlog")
    rows = grid.table[grid.table["batches.weekday"] == 300].sort_values("support.agents")
    ydata = figure.axes[0].containers[0].lines[0].get_ydata()
    np.testing.assert_allclose(ydata, rows["peak_backlog_p50"].to_numpy(dtype=float))


def test_plot_of_one_key_is_one_series_and_of_a_latin_hypercube_a_scatter(small):
    one = sweep(small, {"support.agents": [2, 3]}, replications=2, seed=3, workers=1)
    assert series(one.plot()) == 1
    lhs = sweep(
        small,
        {"batches.weekday": "300:500", "support.agents": "2:4"},
        method="lhs",
        samples=4,
        replications=2,
        seed=3,
        workers=1,
    )
    ax = lhs.plot().axes[0]
    (dots,) = ax.collections  # one coloured dot per point: no grid to fill
    np.testing.assert_array_equal(dots.get_array(), lhs.table["p_meet_deadline"].to_numpy())


def test_where_slices_a_bigger_grid_and_more_keys_without_it_are_refused(small):
    three = sweep(
        small,
        {"batches.weekday": [300, 500], "support.agents": [2, 3], "support.ticket_rate": [0.01]},
        replications=2,
        seed=3,
        workers=1,
    )
    with pytest.raises(ValueError, match=r"^hue: .*where=\{key: value\}"):
        three.plot(x="batches.weekday")
    fixed = {"support.ticket_rate": 0.01}
    figure = three.plot(x="batches.weekday", hue="support.agents", where=fixed)
    assert series(figure) == 2
    assert three.plot(where=fixed).axes[0].images  # two keys left: the heatmap
    with pytest.raises(ValueError, match=r"^where: support\.agents: 7 is not one of its values"):
        three.plot(where={"support.agents": 7})
