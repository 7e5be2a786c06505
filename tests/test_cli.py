"""The command line as a planner uses it: outputs, exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.cli import app

SMALL = "scenarios/small-trust.toml"
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_run_json_prints_the_spec_summary():
    result = invoke("run", SMALL, "--replications", "3", "--workers", "1", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    for key in (
        "scenario", "seed", "replications", "start", "deadline", "completion",
        "completed_share", "p_meet_deadline", "migrated", "needs_remediation", "data_tb",
        "support", "paused_days", "wall_seconds",
    ):  # fmt: skip
        assert key in summary
    assert summary["replications"] == 3 and summary["seed"] == 7
    assert set(summary["completion"]) == {"p10", "p50", "p90"}
    assert set(summary["support"]) >= {
        "tickets", "users_needing_support_pct", "peak_backlog", "wait_hours",
    }  # fmt: skip


def test_run_out_writes_summary_and_parquet_tables(tmp_path):
    out = tmp_path / "results"
    result = invoke("run", SMALL, "-n", "2", "-w", "1", "--out", str(out), "--seed", "11")
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 11
    daily = pd.read_parquet(out / "daily.parquet")
    mailboxes = pd.read_parquet(out / "mailboxes.parquet")
    assert set(daily["replication"]) == {0, 1}
    assert len(mailboxes) == 5000
    assert not list(out.glob(".*.tmp"))


def test_set_overrides_change_the_plan():
    fast = invoke("run", SMALL, "-n", "2", "-w", "1", "--json")
    slow = invoke("run", SMALL, "-n", "2", "-w", "1", "--json", "--set", "throttle.scale=0.3")
    assert fast.exit_code == slow.exit_code == 0
    p50 = [json.loads(r.stdout)["completion"]["p50"] for r in (fast, slow)]
    assert p50[0] < p50[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", SMALL, "--set", "batches.weekday=-5"], "--set: batches.weekday: must be >= 0"),
        (["run", SMALL, "--set", "batches.wekday=5"], "did you mean 'weekday'"),
        (["run", "missing.toml"], "missing.toml: no such file"),
        (["validate", SMALL, "--set", "calendar.holidays=XX"], "calendar.holidays"),
        (["run", SMALL, "--replications", "0"], "--replications: must be >= 1"),
        (["run", SMALL, "--set", "nonsense"], "expected KEY=VALUE"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, message):
    result = invoke(*args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert "Traceback" not in result.output


def test_validate_describes_the_plan():
    result = invoke("validate", "scenarios/nhsmail-2020.toml")
    assert result.exit_code == 0
    assert "ok" in result.stdout and "2,100,000 mailboxes" in result.stdout


def test_python_dash_m_sim_reports_bad_toml_without_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[scenario\nname = 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "sim", "validate", str(bad)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "not valid TOML" in proc.stderr
    assert "Traceback" not in proc.stderr
    debug = subprocess.run(
        [sys.executable, "-m", "sim", "--debug", "validate", str(bad)],
        capture_output=True,
        text=True,
    )
    assert "Traceback" in debug.stderr
