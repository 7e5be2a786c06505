"""Every summary and every output folder records how it was made (SPEC: `provenance`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import sim
from sim.cli import app

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "scenarios" / "small-trust.toml"
ACTUALS = ROOT / "scenarios" / "small-trust-actuals.csv"
MADE = {"migsim", "scenario", "scenario_sha256", "overrides", "seed", "replications", "python",
        "numpy", "cores", "wall_seconds"}  # fmt: skip
QUICK = ["-n", "2", "-w", "1", "--seed", "7"]

# Each command with --out, and where in its folder the record is.
COMMANDS = {
    "run": (["run", str(SMALL), *QUICK], "summary.json"),
    "forecast": (["forecast", str(SMALL), "--actuals", str(ACTUALS), *QUICK], "summary.json"),
    "compare": (["compare", str(SMALL), "--alt", "b:batches.weekday=500", *QUICK], "summary.json"),
    "sweep": (["sweep", str(SMALL), "--vary", "batches.catch_up=0,0.1", *QUICK], "provenance.json"),
    "sensitivity": (
        ["sensitivity", str(SMALL), "--params", "support.agents", *QUICK],
        "provenance.json",
    ),
    "plan": (["plan", str(SMALL), "--seed", "7"], "provenance.json"),
}


def record_in(folder: Path, name: str) -> dict:
    data = json.loads((folder / name).read_text(encoding="utf-8"))
    return data["provenance"] if name == "summary.json" else data


@pytest.mark.parametrize("command", COMMANDS)
def test_every_output_folder_records_how_it_was_made(command, tmp_path):
    args, where = COMMANDS[command]
    out = tmp_path / command
    done = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert done.exit_code == 0, done.output
    made = record_in(out, where)
    assert set(made) >= MADE, sorted(MADE - set(made))
    assert made["seed"] == 7
    assert made["scenario"]["scenario"]["name"] == "One trust, 5,000 users"
    assert len(made["scenario_sha256"]) == 64
    if command != "plan":
        assert made["replications"] == 2


def test_a_sweeps_points_each_record_the_scenario_they_ran(tmp_path):
    sc = sim.load(SMALL)
    sw = sim.sweep(
        sc, {"batches.weekday": [300, 500]}, replications=2, seed=5, workers=1, out=tmp_path
    )
    assert json.loads((tmp_path / "provenance.json").read_text()) == sw.provenance
    assert sw.provenance["sweep"] == {
        "method": "grid",
        "samples": None,
        "vary": {"batches.weekday": [300, 500]},
        "points": 2,
    }
    assert sw.provenance["overrides"] == {}  # the base scenario, as the file gives it
    digests = set()
    for index, weekday in enumerate([300, 500]):
        made = sw.summaries[index]["provenance"]
        point = json.loads((tmp_path / "points" / f"point-{index:05d}.json").read_text())
        assert point["provenance"] == made
        assert made["scenario"]["batches"]["weekday"] == weekday  # as run
        assert made["overrides"] == {"batches.weekday": "vary"}
        assert made["seed"] == 5 and made["replications"] == 2
        digests.add(made["scenario_sha256"])
    assert len(digests) == 2


def test_sensitivity_records_how_it_was_made_in_its_summary_and_folder(tmp_path):
    sc = sim.load(SMALL, overrides={"support.agents": 3}, override_source="--set")
    sens = sim.sensitivity(
        sc, ["support.agents"], replications=2, seed=4, workers=1, out=tmp_path / "s"
    )
    made = sens.to_dict()["provenance"]
    assert set(made) >= MADE
    assert made["seed"] == 4 and made["replications"] == 2
    assert made["overrides"] == {"support.agents": "--set"}
    assert made["sensitivity"]["method"] == "tornado"
    assert made["sensitivity"]["params"] == ["support.agents"]
    on_disk = json.loads((tmp_path / "s" / "provenance.json").read_text())
    assert on_disk == json.loads(json.dumps(made, default=str))
