"""The shell tells the truth: exit codes, whole-or-nothing outputs, plans that can never finish.

Exit codes (SPEC): 0 success, 1 the plan misses its deadline, 2 bad input found
before simulating, 3 the run could not finish. Each failure is one line on
stderr with no traceback unless ``--debug``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.cli.progress import progress_lines
from sim.experiments import runner as runner_mod
from sim.model import feasibility
from sim.model.scenario import ScenarioError
from sim.outputs import files
from tests.conftest import scenario

SMALL = "scenarios/small-trust.toml"
FAST = ["-n", "2", "-w", "1"]


def invoke(*args: str, **kwargs):
    return CliRunner().invoke(app, list(args), **kwargs)


def one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# --- exit codes ------------------------------------------------------------------------------


def test_exit_0_for_a_run_and_1_for_a_check_that_misses():
    assert invoke("run", SMALL, *FAST).exit_code == 0
    # Every replication finishes after its start day, so a deadline on the start day is missed.
    missed = invoke("check", SMALL, *FAST, "--deadline", "2024-03-04")
    assert missed.exit_code == 1
    assert missed.stdout.startswith("FAIL")


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["run", SMALL, "--seed", "-1"], "--seed: must be >= 0 (got -1)"),
        (["run", SMALL, "--max-memory", "0"], "--max-memory: must be > 0 GB (got 0.0)"),
        (["run", SMALL, "--bogus"], "migsim run: No such option: --bogus"),
        (["run"], "migsim run: Missing argument 'SCENARIO'."),
    ],
)
def test_bad_options_exit_2_with_one_line(args, line):
    result = CliRunner().invoke(app, args, prog_name="migsim")
    assert result.exit_code == 2
    assert one_line(result).startswith(line)


def test_a_bad_set_value_is_blamed_on_set_not_the_file():
    result = invoke("run", SMALL, "--set", "batches.weekday=-5")
    assert result.exit_code == 2
    assert one_line(result) == "--set: batches.weekday: must be >= 0 (got -5)"


def test_an_error_in_the_file_is_still_blamed_on_the_file_when_set_is_given(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(Path(SMALL).read_text().replace("weekday = 400", "weekday = -4"))
    result = invoke("run", str(bad), "--set", "support.agents=3")
    assert one_line(result) == f"{bad}: batches.weekday: must be >= 0 (got -4)"


def test_an_unexpected_exception_exits_3_with_one_line(monkeypatch):
    def crash(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(runner_mod, "_execute", crash)
    result = invoke("run", SMALL, *FAST)
    assert result.exit_code == 3
    line = one_line(result)
    assert "internal error (ZeroDivisionError: boom)" in line and "--debug" in line


def test_a_full_disk_exits_3_and_leaves_no_folder(monkeypatch, tmp_path):
    def full(path, frame):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(files, "write_parquet", full)
    out = tmp_path / "results"
    result = invoke("run", SMALL, *FAST, "--out", str(out))
    assert result.exit_code == 3
    line = one_line(result)
    assert "No space left on device" in line and f"{out} was not created" in line
    assert not out.exists() and not list(tmp_path.iterdir())


def test_an_unreachable_dask_scheduler_exits_3_quickly(monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(runner_mod, "DASK_CONNECT_SECONDS", 1)
    result = invoke("run", SMALL, *FAST, "--dask", "tcp://127.0.0.1:9")
    assert result.exit_code == 3
    assert one_line(result).startswith(
        "could not finish: cannot reach the dask scheduler at tcp://127.0.0.1:9 within 1 s"
    )


def test_a_sweep_that_cannot_reach_its_cluster_leaves_no_folder_behind(monkeypatch, tmp_path):
    pytest.importorskip("distributed")
    monkeypatch.setattr(runner_mod, "DASK_CONNECT_SECONDS", 1)
    out = tmp_path / "sweep"
    args = ["--vary", "support.agents=3,4", "--dask", "tcp://127.0.0.1:9", "--out", str(out)]
    result = invoke("sweep", SMALL, *FAST, *args)
    assert result.exit_code == 3
    one_line(result)
    assert not out.exists()  # not a manifest with no points, which only --resume would take


@pytest.mark.parametrize("where", ["before", "after", "last"])
def test_debug_is_accepted_anywhere_and_shows_the_traceback(tmp_path, where):
    bad = tmp_path / "bad.toml"
    bad.write_text("[scenario\n")
    args = ["validate", str(bad)]
    position = {"before": 0, "after": 1, "last": 2}[where]
    args.insert(position, "--debug")
    proc = subprocess.run(
        [sys.executable, "-m", "sim", *args], capture_output=True, text=True, check=False
    )
    assert "Traceback" in proc.stderr and "not valid TOML" in proc.stderr
    assert proc.returncode != 0


@pytest.mark.parametrize(
    "args", [["--version"], ["run", "--version"], ["check", SMALL, "--version"]], ids=str
)
def test_version_prints_the_package_version_anywhere_on_the_line(args):
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().startswith("migsim ")
    assert result.stdout.split()[1][0].isdigit()


COMMANDS = (
    "run", "sweep", "check", "validate", "report", "plan", "solve", "sensitivity", "forecast",
    "calibrate", "compare", "app",
)  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_plain_metavars(command):
    text = invoke(command, "--help").stdout
    assert "{" not in text and "list[str]" not in text, text
    assert "<" not in text, text  # typer's <path>, <str>, <float> say nothing to a planner
    assert "SCENARIO  Scenario TOML file." in text


def test_help_lists_every_command_in_specs_order_with_its_whole_summary():
    text = invoke("--help").stdout
    lines = text.split("Commands:")[1].strip().splitlines()
    assert [line.split()[0] for line in lines] == list(COMMANDS)
    assert not [line for line in lines if line.endswith("...")]  # cut short by the width


# --- outputs written whole or not at all -----------------------------------------------------


def test_a_write_that_fails_mid_folder_leaves_the_earlier_folder_byte_identical(
    monkeypatch, tmp_path
):
    out = tmp_path / "results"
    assert invoke("run", SMALL, *FAST, "--seed", "1", "--out", str(out)).exit_code == 0
    before = snapshot(out)
    real = files.write_parquet
    written = []

    def fails_on_the_second(path, frame):
        if written:
            raise KeyboardInterrupt  # a Ctrl-C after runs.parquet was written
        written.append(path)
        return real(path, frame)

    monkeypatch.setattr(files, "write_parquet", fails_on_the_second)
    result = invoke("run", SMALL, *FAST, "--seed", "2", "--out", str(out))
    assert written, "the interruption must come after a file of the new results was written"
    assert result.exit_code == 130
    assert one_line(result) == f"interrupted: {out} was left as it was; nothing was written"
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]  # no staging left


def test_a_finished_run_replaces_the_earlier_folder_whole(tmp_path):
    out = tmp_path / "results"
    assert invoke("run", SMALL, *FAST, "--seed", "1", "--out", str(out)).exit_code == 0
    assert invoke("run", SMALL, "-n", "3", "-w", "1", "--out", str(out)).exit_code == 0
    assert json.loads((out / "summary.json").read_text())["replications"] == 3
    assert len(pd.read_parquet(out / "runs.parquet")) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


@pytest.mark.parametrize("kind", ["file", "foreign folder", "under a file"])
def test_an_unusable_out_is_bad_input_found_before_simulating(monkeypatch, tmp_path, kind):
    simulated = []
    monkeypatch.setattr(runner_mod, "_execute", lambda *a: simulated.append(1) or iter(()))
    target = tmp_path / "out"
    if kind == "file":
        target.write_text("not a folder")
    elif kind == "foreign folder":
        target.mkdir()
        (target / "thesis.docx").write_text("precious")
    else:
        (tmp_path / "blocker").write_text("")
        target = tmp_path / "blocker" / "out"
    result = invoke("run", SMALL, *FAST, "--out", str(target))
    assert result.exit_code == 2
    assert one_line(result).startswith(f"{target}: ")
    assert not simulated
    if kind == "foreign folder":
        assert (target / "thesis.docx").read_text() == "precious"


def test_outputs_are_readable_by_others(tmp_path):
    old = os.umask(0o022)
    try:
        out = tmp_path / "results"
        junit = tmp_path / "check.xml"
        assert invoke("run", SMALL, *FAST, "--out", str(out)).exit_code == 0
        invoke("check", SMALL, *FAST, "--junit", str(junit))
        sw = tmp_path / "sweep"
        sim.sweep(sim.load(SMALL), {"support.agents": [3, 4]}, replications=2, workers=1, out=sw)
    finally:
        os.umask(old)
    made = [*out.iterdir(), junit, *sw.rglob("*")]
    assert len(made) > 8
    for path in made:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o755 if path.is_dir() else 0o644), (path, oct(mode))
    assert stat.S_IMODE(out.stat().st_mode) == 0o755


def test_the_mode_follows_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        files.write_text(tmp_path / "private.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "private.txt").stat().st_mode) == 0o600


def test_a_failed_write_leaves_the_earlier_file_whole(tmp_path):
    path = tmp_path / "table.csv"
    files.write_text(path, "earlier\n")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        files.write_with(path, half_then_fail)
    assert path.read_text() == "earlier\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


# --- plans that can never finish ------------------------------------------------------------


@pytest.mark.parametrize(
    ("tables", "key", "words"),
    [
        ({"batches": {"weekday": 0, "weekend_day": 0}}, "batches.weekday", "no cutover day"),
        (
            {"calendar": {"blackouts": [{"from": "2024-01-01", "to": "2025-01-01"}]}},
            "batches",
            "no cutover day",
        ),
        ({"throttle": {"scale": 0}}, "throttle.scale", "no initial sync"),
        (
            {"throttle": {"windows": [{"from": "00:00", "to": "24:00", "gb_per_hour": 0}]}},
            "throttle.windows",
            "no initial sync",
        ),
        ({"support": {"agents": 0, "ticket_rate": 0.01}}, "support.agents", "tickets"),
        (
            {"support": {"ticket_rate": 0.01, "hours": {"weekdays": [], "weekend": []}}},
            "support.hours",
            "never opens",
        ),
        (
            {"population": {"mailboxes": 1000, "size_gb": {"mean": 2.0, "max": 1.0}}},
            "population.size_gb.max",
            "must be >= population.size_gb.mean",
        ),
    ],
)
def test_a_plan_that_can_never_finish_is_refused_before_simulating(tables, key, words):
    raw = {table: dict(values) for table, values in tables.items()}
    for blackout in raw.get("calendar", {}).get("blackouts", []):
        blackout.update({k: pd.Timestamp(v).date() for k, v in blackout.items()})
    sc = scenario(**raw)
    found = feasibility.problems(sc)
    assert [error.key for error in found] == [key]
    assert words in str(found[0]) and str(found[0]).startswith(f"test.toml: {key}: ")
    with pytest.raises(ScenarioError) as error:
        sim.run(sc, replications=1, workers=1)
    assert str(error.value) == str(found[0])


def test_no_agents_is_fine_when_no_tickets_are_expected():
    assert feasibility.problems(scenario(support={"agents": 0})) == []


@pytest.mark.parametrize(
    "command",
    [
        ["run"],
        ["check"],
        ["report", "--out", "{tmp}/report"],
        ["sweep", "--vary", "support.agents=3,4", "--out", "{tmp}/sweep"],
    ],
)
def test_every_command_refuses_what_validate_refuses_with_the_same_line(
    command, monkeypatch, tmp_path
):
    simulated = []
    monkeypatch.setattr(runner_mod, "_execute", lambda *a: simulated.append(1) or iter(()))
    args = ["--set", "batches.phases=[]", "--set", "batches.weekday=0"]
    checked = invoke("validate", SMALL, *args)
    name, *rest = (part.format(tmp=tmp_path) for part in command)
    refused = invoke(name, SMALL, *rest, *FAST, *args)
    assert checked.exit_code == refused.exit_code == 2
    assert one_line(refused) == one_line(checked)
    assert one_line(refused).startswith("--set: batches.weekday: no cutover day within")
    assert not simulated and list(tmp_path.iterdir()) == []


def test_validate_warns_when_the_horizon_ends_before_the_deadline():
    result = invoke("validate", SMALL, "--set", "scenario.horizon_days=30")
    assert result.exit_code == 0
    assert "warning: --set: scenario.horizon_days: the 30-day horizon ends on 2024-04-02" in (
        result.stdout
    )


# --- the memory guard ------------------------------------------------------------------------


def test_the_memory_estimate_grows_with_mailboxes_and_workers():
    one = feasibility.memory_needed_gb(1_000_000, 1)
    assert feasibility.memory_needed_gb(2_000_000, 1) > one
    assert feasibility.memory_needed_gb(1_000_000, 4) > one
    # What was measured: at least the bytes one replication holds per mailbox.
    assert one * 2**30 >= 1_000_000 * feasibility.WORKER_BYTES_PER_MAILBOX


def test_a_run_too_big_for_memory_is_refused_with_an_override(monkeypatch):
    sc = scenario()
    with pytest.raises(feasibility.MemoryLimitError, match="max_memory_gb="):
        sim.run(sc, replications=1, workers=1, max_memory_gb=0.01)
    assert sim.run(sc, replications=1, workers=1, max_memory_gb=64).summary["replications"] == 1
    refused = invoke("run", SMALL, *FAST, "--max-memory", "0.01")
    assert refused.exit_code == 2
    line = one_line(refused)
    assert line.startswith(f"{SMALL}: population.mailboxes: 5,000 mailboxes need about")
    assert "--max-memory GB" in line


def test_fifty_million_mailboxes_are_refused_on_an_ordinary_machine(monkeypatch):
    monkeypatch.setattr(feasibility, "memory_limit_gb", lambda: 8.0)
    huge = ["--set", "population.mailboxes=50000000", "--set", "population.organisations=1"]
    huge += ["--set", "batches.weekday=1000000", "--set", "batches.phases=[]"]
    result = invoke("run", SMALL, *huge)
    assert result.exit_code == 2
    assert "50,000,000 mailboxes need about" in one_line(result)


def test_an_unwritable_junit_is_found_before_simulating(monkeypatch, tmp_path):
    simulated = []
    monkeypatch.setattr(runner_mod, "_execute", lambda *a: simulated.append(1) or iter(()))
    (tmp_path / "blocker").write_text("")
    result = invoke("check", SMALL, *FAST, "--junit", str(tmp_path / "blocker" / "x.xml"))
    assert result.exit_code == 2
    assert one_line(result).startswith("--junit: ")
    assert not simulated


@pytest.fixture
def unwritable(tmp_path):
    """A folder no file can be made in, even by root (whom os.access always says yes to)."""
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
    elif Path("/proc/self").is_dir():
        yield Path("/proc")  # a pseudo file system: no regular files can be made there
    else:
        pytest.skip("no folder here that root cannot write in")


@pytest.mark.parametrize(
    "output",
    [
        ["sweep", "--vary", "support.agents=3,4", "--out", "{}/sweep"],
        ["check", "--junit", "{}/check.xml"],
        ["run", "--out", "{}/results"],
        ["sensitivity", "--params", "support.agents", "--out", "{}/sensitivity"],
    ],
    ids=lambda args: args[0],
)
def test_an_output_in_an_unwritable_folder_is_bad_input_before_simulating(
    monkeypatch, unwritable, output
):
    simulated = []
    monkeypatch.setattr(runner_mod, "_execute", lambda *a: simulated.append(1) or iter(()))
    command, *options = (arg.format(unwritable) for arg in output)
    result = invoke(command, SMALL, *FAST, *options)
    assert result.exit_code == 2, result.output
    assert "cannot write in" in one_line(result)
    assert not simulated


def test_a_sweep_folder_problem_is_bad_input_in_the_clis_words(tmp_path):
    args = ["sweep", SMALL, "--vary", "support.agents=3,4", *FAST, "--out", str(tmp_path)]
    assert invoke(*args).exit_code == 0
    again = invoke(*args)
    assert again.exit_code == 2
    assert one_line(again) == (
        f"{tmp_path}: already holds a sweep: pass --resume to finish it, or choose another --out"
    )


def test_staging_left_by_a_killed_run_is_cleared_by_the_next(tmp_path):
    code = (
        "import os, sys\n"
        "from sim.outputs.files import staged_folder\n"
        f"with staged_folder({str(tmp_path / 'results')!r}) as staging:\n"
        "    (staging / 'summary.json').write_text('{}')\n"
        "    os._exit(9)  # killed mid-write: no clean-up runs\n"
    )
    subprocess.run([sys.executable, "-c", code], check=False, env={**os.environ})
    abandoned = [p.name for p in tmp_path.iterdir()]
    assert len(abandoned) == 1 and abandoned[0].startswith(".results.staging-")
    with files.staged_folder(tmp_path / "results", files.RESULT_FILES) as staging:
        (staging / "summary.json").write_text("{}")
    assert [p.name for p in tmp_path.iterdir()] == ["results"]


# --- solve, sensitivity and forecast refuse what sim.run refuses, before simulating -----------

ACTUALS = "scenarios/small-trust-actuals.csv"


def _refused_before_simulating(monkeypatch):
    """Make any simulation fail the test: a refusal must come first."""

    def simulated(*args, **kwargs):
        raise AssertionError("simulated before refusing")

    monkeypatch.setattr(sim.model.simulation.Model, "replicate", simulated)


@pytest.mark.parametrize(
    "call",
    [
        lambda sc, **kw: sim.solve(sc, "batches.weekday", replications=2, workers=1, **kw),
        lambda sc, **kw: sim.sensitivity(sc, ["support.agents"], replications=2, workers=1, **kw),
        lambda sc, **kw: sim.forecast(sc, ACTUALS, replications=2, workers=1, **kw),
    ],
    ids=["solve", "sensitivity", "forecast"],
)
def test_solve_sensitivity_and_forecast_honour_the_memory_limit_and_feasibility(monkeypatch, call):
    sc = sim.load("scenarios/small-trust.toml")
    _refused_before_simulating(monkeypatch)
    with pytest.raises(feasibility.MemoryLimitError, match="max_memory_gb="):
        call(sc, max_memory_gb=1e-6)
    impossible = sim.load("scenarios/small-trust.toml", {"throttle.scale": 0})
    with pytest.raises(ScenarioError, match="throttle"):
        call(impossible)


@pytest.mark.parametrize(
    "args",
    [
        ["solve", "scenarios/small-trust.toml", "--for", "batches.weekday"],
        ["sensitivity", "scenarios/small-trust.toml", "--params", "support.agents"],
        ["forecast", "scenarios/small-trust.toml", "--actuals", ACTUALS],
    ],
    ids=["solve", "sensitivity", "forecast"],
)
def test_max_memory_on_the_command_line_reaches_solve_sensitivity_and_forecast(monkeypatch, args):
    _refused_before_simulating(monkeypatch)
    result = invoke(*args, "-n", "2", "-w", "1", "--max-memory", "0.000001")
    assert result.exit_code == 2, result.output
    assert "--max-memory GB" in one_line(result)


# --- one feasibility check, over the whole support -------------------------------------------

TICKETS = {"ticket_rate": 0.01}


def test_an_agents_distribution_that_can_draw_0_is_refused_like_agents_0():
    fixed = feasibility.problems(scenario(support={**TICKETS, "agents": 0}))
    drawn = feasibility.problems(
        scenario(support={**TICKETS, "agents": {"dist": "uniform", "low": 0, "high": 4}})
    )
    assert [e.key for e in fixed] == [e.key for e in drawn] == ["support.agents"]
    assert "in a world its distributions can draw (support.agents = 0)" in str(drawn[0])
    with pytest.raises(ScenarioError, match=r"support\.agents = 0"):
        sim.run(scenario(support={**TICKETS, "agents": {"dist": "uniform", "low": 0, "high": 4}}))


@settings(max_examples=25, deadline=None)
@given(low=st.floats(0, 3), width=st.floats(0, 5))
def test_an_agents_distribution_is_refused_exactly_when_its_draws_can_round_to_0(low, width):
    # Draws are rounded to whole agents: a uniform from `low` can give 0 iff low < 0.5
    # (0.5 itself is a tie, left out).
    assume(abs(low - 0.5) > 1e-6)
    dist = {"dist": "uniform", "low": low, "high": low + width}
    found = feasibility.problems(scenario(support={**TICKETS, "agents": dist}))
    assert bool(found) == (low < 0.5)


def test_a_schema_rule_is_checked_at_each_end_of_a_distribution():
    organisations = {"dist": "uniform", "low": 5, "high": 1500}  # 1,000 mailboxes
    found = feasibility.problems(scenario(population={"organisations": organisations}))
    assert [e.key for e in found] == ["population.organisations"]
    assert "must be <= population.mailboxes (1000)" in str(found[0])
    assert "population.organisations draws 1,500" in str(found[0])


def _weekdays_in_horizon(days: int) -> int:
    start = np.datetime64("2024-01-08")
    return int(np.busday_count(start, start + np.timedelta64(days, "D")))


@pytest.mark.parametrize("extra", [0, 1])
def test_fewer_places_within_the_horizon_than_mailboxes_is_refused(extra):
    places = _weekdays_in_horizon(120) * 100  # 100 a weekday, no weekend batches, no holidays
    sc = scenario({"population.mailboxes": places + extra})
    found = feasibility.problems(sc)
    if extra == 0:
        assert found == []
    else:
        assert [e.key for e in found] == ["batches.weekday"]
        assert f"has {places:,} places" in str(found[0])
        assert f"for {places + 1:,} mailboxes" in str(found[0])


@pytest.mark.parametrize("extra", [0, 1])
def test_with_lanes_the_places_of_every_lane_count(extra):
    # main: 100 a weekday from 8 Jan; the lane: 30 a weekday from 22 Jan (two weeks later).
    lane = {"name": "accounts", "kinds": ["application"], "from": dt.date(2024, 1, 22)}
    lane |= {"weekday": 30, "weekend_day": 0, "notice_days": 0}
    places = _weekdays_in_horizon(120) * 100 + (_weekdays_in_horizon(120) - 10) * 30
    sc = scenario(
        {"population.mailboxes": places + extra, "lanes": [lane]},
        population={"kinds": {"user": 0.8, "application": 0.2}},
    )
    found = feasibility.problems(sc)
    assert [e.key for e in found] == ([] if extra == 0 else ["batches.weekday"])
    assert extra == 0 or "places across its lanes" in str(found[0])


@pytest.mark.parametrize(("gb_per_hour", "refused"), [(0.5, False), (0.49, True)])
def test_a_mailbox_that_cannot_sync_within_the_horizon_at_its_fastest_is_refused(
    gb_per_hour, refused
):
    # 1,524 GB at 0.5 GB/h is 3,048 hours: exactly the 120-day horizon plus 7 days of lead.
    sc = scenario(
        {"throttle.per_move_gb_per_hour": gb_per_hour},
        population={"size_gb": {"mean": 1524.0, "sigma": 0, "max": 2000.0}},
    )
    found = feasibility.problems(sc)
    assert [e.key for e in found] == (["throttle.per_move_gb_per_hour"] if refused else [])


@pytest.mark.parametrize(("low", "refused"), [(0.0, True), (1000.0, False)])
def test_every_world_a_speed_distribution_can_draw_must_let_the_largest_mailbox_sync(low, refused):
    window = {"days": "all", "from": "00:00", "to": "24:00"}
    rate = {"dist": "uniform", "low": low, "high": 2000.0}
    sc = scenario({"throttle.windows": [{**window, "gb_per_hour": rate}]})
    found = feasibility.problems(sc)
    assert [e.key for e in found] == (["throttle.windows"] if refused else [])
    if refused:
        assert "in a world its distributions can draw (throttle.windows[0].gb_per_hour" in (
            str(found[0])
        )


def test_a_failure_wave_at_its_worst_must_keep_the_failure_rate_below_1():
    # failures.rate x failure_factor: 0.01 x 60 = 0.6 is a wave; 0.02 x 60 = 1.2 fails everything.
    wave = {"name": "wave", "per_week": 0.1, "days": 2}
    factor = {"dist": "uniform", "low": 1, "high": 60}
    ok = scenario({"failures.rate": 0.01, "risks": [{**wave, "failure_factor": factor}]})
    assert feasibility.problems(ok) == []
    bad = scenario({"failures.rate": 0.02, "risks": [{**wave, "failure_factor": factor}]})
    found = feasibility.problems(bad)
    assert [e.key for e in found] == ["risks[0].failure_factor"]
    assert "0.02 x 60 = 1.2" in str(found[0])


def _pause(high: int) -> dict:
    return {"pause_days": {"dist": "triangular", "low": 5, "mode": 10, "high": high}}


@pytest.mark.parametrize(
    ("within", "whole", "key"),
    [
        (_pause(119), _pause(120), "pause_days"),
        ({"throttle_factor": 0, "days": 119}, {"throttle_factor": 0, "days": 120}, "days"),
    ],
)
def test_a_risk_that_at_its_worst_lasts_the_whole_horizon_is_refused(within, whole, key):
    base = {"name": "x", "probability": 0.1}  # BASE's horizon: 120 days
    assert feasibility.problems(scenario({"risks": [{**base, **within}]})) == []
    found = feasibility.problems(scenario({"risks": [{**base, **whole}]}))
    assert [e.key for e in found] == [f"risks[0].{key}"]


def test_validate_lists_every_problem_one_line_each():
    result = invoke("validate", SMALL, "--set", "support.agents=0", "--set", "throttle.scale=0")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert [line.split(": ")[1] for line in lines] == ["throttle.scale", "support.agents"]
    assert all(line.startswith("--set: ") for line in lines)


def test_memory_says_how_many_replications_fit_and_that_many_do(monkeypatch):
    sc = sim.load(SMALL)
    monkeypatch.setattr(feasibility, "memory_limit_gb", lambda: 2.0)
    with pytest.raises(feasibility.MemoryLimitError) as caught:
        feasibility.check_memory(sc, 1, replications=10**9)
    fit = caught.value.fit
    assert caught.value.key == "scenario.replications" and fit > 0
    assert f"at most {fit:,} replications fit" in caught.value.cli
    feasibility.check_memory(sc, 1, replications=fit)
    with pytest.raises(feasibility.MemoryLimitError):
        feasibility.check_memory(sc, 1, replications=fit + 1)


def test_validate_states_the_memory_and_time_a_run_needs():
    result = invoke("validate", SMALL)
    assert result.exit_code == 0
    assert "replications need about" in result.stdout and "GB of memory and" in result.stdout


# --- progress without a terminal -------------------------------------------------------------


def test_long_work_without_a_terminal_says_where_it_stands_at_a_steady_pace():
    lines: list[str] = []
    with progress_lines(10, "replications", every=0.01, say=lines.append) as advance:
        advance(4)
        for _ in range(1000):  # wait for the reporting thread, without timing anything
            if any("4 of 10" in line for line in lines):
                break
            threading.Event().wait(0.01)
    assert any(line.startswith("replications: 4 of 10 (40%) after") for line in lines)
    assert all("left" in line for line in lines if " 4 of " in line)
    count = len(lines)
    threading.Event().wait(0.05)
    assert len(lines) == count  # nothing more once the work is done


def test_short_work_without_a_terminal_says_nothing():
    lines: list[str] = []
    with progress_lines(10, "replications", every=60, say=lines.append) as advance:
        advance(10)
    assert lines == []


# --- outputs through symbolic links ----------------------------------------------------------


def test_out_through_a_link_writes_into_its_target_and_leaves_the_link(tmp_path):
    shared = tmp_path / "shared"
    (shared / "results").mkdir(parents=True)
    (shared / "results" / "summary.json").write_text("{}")  # last week's
    local = tmp_path / "local"
    local.mkdir()
    link = local / "results"
    link.symlink_to(shared / "results", target_is_directory=True)
    result = invoke("run", SMALL, *FAST, "--out", str(link))
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and link.resolve() == (shared / "results").resolve()
    assert json.loads((shared / "results" / "summary.json").read_text())["replications"] == 2
    assert sorted(p.name for p in local.iterdir()) == ["results"]
    assert sorted(p.name for p in shared.iterdir()) == ["results"]


def test_a_junit_report_through_a_link_is_written_where_it_points(tmp_path):
    target = tmp_path / "ci" / "report.xml"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "report.xml"
    link.symlink_to(target)
    result = invoke("check", SMALL, *FAST, "--junit", str(link))
    assert result.exit_code in (0, 1), result.output
    assert link.is_symlink()
    assert target.read_text().startswith("<?xml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ci", "report.xml"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.xml"]


def test_a_link_to_a_folder_that_does_not_exist_yet_is_created_there(tmp_path):
    link = tmp_path / "results"
    link.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with files.staged_folder(link) as staging:
        (staging / "summary.json").write_text("{}")
    assert link.is_symlink() and (tmp_path / "elsewhere" / "summary.json").exists()


# --- smaller items ---------------------------------------------------------------------------


def test_junit_xml_is_valid_when_the_scenario_name_holds_control_characters(tmp_path):
    report = tmp_path / "report.xml"
    name = 'plan "A" \x07 & <b>\x00\x1b'
    result = invoke(
        "check", SMALL, *FAST, "--set", f"scenario.name={name!r}", "--junit", str(report)
    )
    assert result.exit_code in (0, 1), result.output
    root = ET.parse(report).getroot()  # raises if not well-formed XML
    case = root.find("testsuite/testcase")
    assert case.get("name") == 'plan "A" \\x07 & <b>\\x00\\x1b'


def test_the_readme_lists_130_for_an_interrupt():
    readme = Path("README.md").read_text()
    assert "| 130 |" in readme and "Ctrl-C" in readme
