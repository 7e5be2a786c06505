"""Results that save and reload; tables an analyst cannot misuse; API errors in Python's words."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import sim
from tests.conftest import scenario

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "scenarios" / "small-trust.toml"


@pytest.fixture(scope="module")
def result():
    sc = scenario(
        {
            "batches.weekday": {"dist": "uniform", "low": 60, "high": 160},
            "support.ticket_rate": 0.05,
            "support.agents": 2,
            "scenario.deadline": "2024-02-09",
        }
    )
    return sim.run(sc, replications=12, seed=4, workers=1)


def assert_same(a, b) -> None:
    assert a.summary == b.summary
    pd.testing.assert_frame_equal(a.runs, b.runs)
    pd.testing.assert_frame_equal(a.daily, b.daily)
    pd.testing.assert_frame_equal(a.mailboxes, b.mailboxes)
    assert a.scenario == b.scenario


def test_read_result_of_save_equals_the_result(result, tmp_path):
    result.save(tmp_path / "res")
    back = sim.read_result(tmp_path / "res")
    assert_same(back, result)


def test_a_read_result_draws_and_shows_its_headline(result, tmp_path):
    back = sim.read_result(result.save(tmp_path / "res"))
    for name in back.plot.names:
        assert isinstance(getattr(back.plot, name)(), Figure)
    assert "95% interval" in back._repr_html_()


def test_save_writes_what_run_out_writes(tmp_path):
    out = tmp_path / "cli"
    done = subprocess.run(
        [sys.executable, "-m", "sim", "run", str(SMALL), "-n", "3", "-w", "1", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    api = sim.run(sim.load(SMALL), replications=3, workers=1).save(tmp_path / "api")
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in api.iterdir())
    from_cli, from_api = sim.read_result(out), sim.read_result(api)
    pd.testing.assert_frame_equal(from_cli.runs, from_api.runs)
    pd.testing.assert_frame_equal(from_cli.daily, from_api.daily)
    assert (
        from_cli.summary["provenance"]["scenario_sha256"]
        == (from_api.summary["provenance"]["scenario_sha256"])
    )


def test_an_older_layout_is_a_clear_error(result, tmp_path):
    folder = result.save(tmp_path / "old")
    summary = json.loads((folder / "summary.json").read_text())
    del summary["provenance"]
    (folder / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(sim.ResultFolderError, match=r"older migsim.*provenance"):
        sim.read_result(folder)


def test_a_missing_table_is_a_clear_error(result, tmp_path):
    folder = result.save(tmp_path / "partial")
    (folder / "daily.parquet").unlink()
    with pytest.raises(sim.ResultFolderError, match=r"daily\.parquet is missing"):
        sim.read_result(folder)
    with pytest.raises(sim.ResultFolderError, match=r"no summary\.json"):
        sim.read_result(tmp_path)


# --- provenance ------------------------------------------------------------------------------


def test_provenance_says_how_the_result_was_made():
    sc = sim.load(SMALL, overrides={"batches.weekday": 450}, override_source="--set")
    res = sim.run(sc, replications=2, seed=9, workers=1)
    made = res.summary["provenance"]
    assert made["seed"] == 9 and made["replications"] == 2
    assert made["scenario"]["batches"]["weekday"] == 450  # as run, with its overrides
    assert made["overrides"] == {"batches.weekday": "--set"}
    assert len(made["scenario_sha256"]) == 64
    assert {"migsim", "python", "numpy", "cores", "wall_seconds"} <= set(made)
    same = sim.run(sim.load(SMALL, overrides={"batches.weekday": 450}), 2, 9, 1)
    other = sim.run(sim.load(SMALL), 2, 9, 1)
    assert same.summary["provenance"]["scenario_sha256"] == made["scenario_sha256"]
    assert other.summary["provenance"]["scenario_sha256"] != made["scenario_sha256"]


# --- the daily table -------------------------------------------------------------------------


def test_daily_is_rectangular_and_its_medians_by_date_never_fall(result):
    daily = result.daily
    counts = daily.groupby("replication")["date"].agg(["min", "max", "count"])
    assert counts["min"].nunique() == counts["max"].nunique() == counts["count"].nunique() == 1
    assert not daily.duplicated(["replication", "date"]).any()
    lasts = result.runs["completion_date"]
    assert lasts.nunique() > 1  # replications really finish on different days
    by_date = daily.groupby("date")["cumulative_migrated"]
    for stat in (by_date.median(), by_date.quantile(0.1), by_date.quantile(0.9)):
        assert stat.is_monotonic_increasing


def test_daily_after_a_replication_finishes_carries_levels_and_zeroes_flows(result):
    daily = result.daily
    first = result.runs.loc[result.runs["completion_date"].idxmin()]
    rep = daily[daily["replication"] == first["replication"]].set_index("date")
    after = rep[rep.index > rep.index[rep["cutover_ok"] > 0].max()]
    assert len(after)
    assert (after["cutover_ok"] == 0).all() and (after["scheduled"] == 0).all()
    assert (after["cumulative_migrated"] == rep["cumulative_migrated"].max()).all()
    assert daily["paused"].dtype == bool
    assert str(daily["date"].dtype).startswith("datetime64")


# --- API hygiene -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"replications": 0}, "replications"),
        ({"replications": -3}, "replications"),
        ({"replications": 2.5}, "replications"),
        ({"workers": 0}, "workers"),
        ({"seed": -1}, "seed"),
    ],
)
def test_run_refuses_zero_and_names_the_python_argument(kwargs, named):
    with pytest.raises(ValueError, match=f"^{named} must") as error:
        sim.run(scenario(), **{"replications": 1, "workers": 1, **kwargs})
    assert "--" not in str(error.value)


def test_run_accepts_a_path_and_refuses_anything_else():
    res = sim.run(str(SMALL), replications=1, workers=1)
    assert res.summary["scenario"] == "One trust, 5,000 users"
    pd.testing.assert_frame_equal(sim.run(SMALL, replications=1, workers=1).runs, res.runs)
    with pytest.raises(TypeError, match="scenario must be"):
        sim.run({"scenario": {}}, replications=1, workers=1)
    with pytest.raises(sim.ScenarioError, match="no such file"):
        sim.run("no-such.toml", replications=1)


def test_scheduled_date_and_cutover_at_compare(result):
    mb = result.mailboxes
    done = mb["cutover_at"].notna()
    # the same local day, or later when slipped: comparable without a TypeError
    assert (mb.loc[done, "cutover_at"].dt.normalize() >= mb.loc[done, "scheduled_date"]).all()


def test_dates_are_datetime64_in_every_table(result):
    assert str(result.runs["completion_date"].dtype).startswith("datetime64")
    assert str(result.daily["date"].dtype).startswith("datetime64")
    for column in ("scheduled_date", "cutover_at", "ticket_opened_at"):
        assert str(result.mailboxes[column].dtype).startswith("datetime64"), column
    assert np.issubdtype(result.runs["days_to_complete"].dtype, np.number)


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda sc: sim.forecast(sc, ACTUALS, replications=0, workers=1), "replications"),
        (lambda sc: sim.forecast(sc, ACTUALS, replications=2, workers=0), "workers"),
        (lambda sc: sim.solve(sc, "batches.weekday", replications=0, workers=1), "replications"),
        (lambda sc: sim.solve(sc, "batches.weekday", replications=2, workers=0), "workers"),
        (lambda sc: sim.compare({"a": sc, "b": sc}, replications=2, workers=0), "workers"),
    ],
)
def test_every_api_refuses_zero_replications_or_workers(call, named):
    with pytest.raises(ValueError, match=f"^{named} must"):
        call(sim.load(SMALL))


ACTUALS = ROOT / "scenarios" / "small-trust-actuals.csv"


def test_the_plan_folder_records_its_provenance(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim",
            "plan",
            str(SMALL),
            "--seed",
            "5",
            "--out",
            str(tmp_path / "p"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    made = json.loads((tmp_path / "p" / "provenance.json").read_text())
    assert made["seed"] == 5 and made["scenario"]["scenario"]["name"] == "One trust, 5,000 users"


def test_dataframe_actuals_are_blamed_on_their_position_and_files_on_their_line(tmp_path):
    sc = sim.load(SMALL)
    frame = pd.DataFrame({"date": ["2024-03-04", "2024-03-05"], "migrated": [-1, 3]})
    with pytest.raises(sim.ScenarioError, match=r"^actuals: row 0, migrated: must be a whole"):
        sim.forecast(sc, frame, replications=1, workers=1)
    path = tmp_path / "actuals.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(sim.ScenarioError, match=r"actuals.csv: row 2, migrated: must be a whole"):
        sim.forecast(sc, path, replications=1, workers=1)


def test_a_forecast_has_as_of_and_its_actuals_as_a_dataframe():
    fc = sim.forecast(sim.load(SMALL), ACTUALS, replications=2, workers=1)
    actuals = pd.read_csv(ACTUALS, parse_dates=["date"])
    assert fc.as_of == actuals["date"].max().date()
    assert isinstance(fc.actuals, pd.DataFrame)
    assert fc.actuals["cumulative_migrated"].iloc[-1] == actuals["migrated"].sum()
    ax = fc.plot.progress().axes[0]
    assert [line for line in ax.get_lines() if line.get_gid() == "actuals"]
