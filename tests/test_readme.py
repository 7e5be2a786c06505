"""The README tells the truth: its layout table, its set-up commands, its example files."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from sim.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def layout_paths() -> set[str]:
    """Every path the layout table names; `b.py` after `sim/x/a.py` in a cell is `sim/x/b.py`."""
    listed = set()
    for cell in re.findall(r"^\| (`sim/[^|]*)\|", README, re.MULTILINE):
        folder = None
        for name in re.findall(r"`([^`]+)`", cell):
            if name.startswith("sim/"):
                folder = str(Path(name).parent) if name.endswith(".py") else name.rstrip("/")
                listed.add(name.rstrip("/"))
            elif name.endswith(".py") and folder:
                listed.add(f"{folder}/{name}")
    return listed


def test_every_module_in_sim_is_in_the_layout_table_and_every_listed_path_exists():
    listed = layout_paths()
    modules = {
        str(p.relative_to(ROOT))
        for p in (ROOT / "sim").rglob("*.py")
        if p.parent.name != "cli" and not (p.name == "__init__.py" and p.parent.name != "sim")
    }
    assert modules - listed == set()
    assert [p for p in listed if not (ROOT / p).exists()] == []


def test_exactly_two_fenced_set_up_commands_both_start_with_pip_install():
    fenced = re.findall(r"^```[a-z]*\n(.*?)^```", README, re.MULTILINE | re.DOTALL)
    lines = [line for block in fenced for line in block.splitlines()]
    runnable = [line for line in lines if line.split()[:1] in (["pip"], ["pytest"], ["migsim"])]
    assert len(runnable) == 2 and all(line.startswith("pip install") for line in runnable)


def test_the_tour_names_only_files_that_exist():
    tour = [line.strip() for line in README.splitlines() if line.startswith("    migsim ")]
    assert {line.split()[1] for line in tour} >= {"plan", "solve", "sensitivity", "forecast"}
    for line in tour:
        for word in line.split("#")[0].split():
            if word.startswith("scenarios/"):
                assert (ROOT / word).is_file(), word


def test_the_example_actuals_are_what_their_seeded_script_writes(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_actuals", ROOT / "scenarios" / "make_small_trust_actuals.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    bundled = pd.read_csv(ROOT / "scenarios" / "small-trust-actuals.csv")
    made = module.actuals().reset_index(drop=True)
    pd.testing.assert_frame_equal(bundled, made, check_dtype=False)
    assert bundled["date"].iloc[-1] == "2024-03-22"


def test_the_tours_forecast_runs_on_the_bundled_actuals():
    args = ["forecast", "scenarios/small-trust.toml", "--actuals"]
    result = CliRunner().invoke(
        app, [*args, str(ROOT / "scenarios" / "small-trust-actuals.csv"), "-n", "2", "-w", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "as of 2024-03-22" in result.stdout
    assert "95% interval" in result.stdout  # P(meet)'s Monte Carlo error, as run shows it
