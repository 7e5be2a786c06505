"""The CI gate: exit codes, the verdict, the JUnit report and the GitHub step summary."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import sim
from sim.cli import EXIT_BAD_INPUT, EXIT_MISSED, EXIT_OK, app
from sim.experiments.check import check, completion_at, verdict_for

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "scenarios" / "small-trust.toml"
START = "2024-03-04"  # small-trust's first day: nothing can finish on it
REPLICATIONS = 8


@pytest.fixture(scope="module")
def small():
    return sim.load(SMALL)


@pytest.fixture(scope="module")
def reference(small):
    """What `run` says about the same replications."""
    return sim.run(small, REPLICATIONS, seed=5, workers=1)


def invoke(*args: str, env: dict | None = None):
    return CliRunner().invoke(
        app,
        ["check", str(SMALL), "-n", str(REPLICATIONS), "--seed", "5", "-w", "1", *args],
        env=env,
    )


def properties(suite: ET.Element) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in suite.iter("property")}


def test_a_far_deadline_passes_with_exit_0_and_a_clean_junit(tmp_path, reference):
    junit = tmp_path / "reports" / "check.xml"
    result = invoke("--deadline", "2024-12-31", "--junit", str(junit))
    assert result.exit_code == EXIT_OK, result.output
    completion = reference.summary["completion"]
    verdict = result.stdout
    assert verdict.startswith("PASS")
    assert "P(done by 2024-12-31) = 100.0%" in verdict
    assert f"P50 is {completion['p50']}" in verdict and f"P90 {completion['p90']}" in verdict

    root = ET.parse(junit).getroot()
    suites = root.findall("testsuite")
    assert len(suites) == 1 and suites[0].get("failures") == "0"
    (case,) = suites[0].iter("testcase")
    assert case.get("name") == "One trust, 5,000 users"
    assert case.find("failure") is None
    props = properties(suites[0])
    assert props["p_meet_deadline"] == "1.0"
    assert props["deadline"] == "2024-12-31"
    assert props["completion_p50"] == completion["p50"]


def test_an_impossible_deadline_fails_with_exit_1_and_a_junit_failure(tmp_path):
    junit = tmp_path / "check.xml"
    result = invoke("--deadline", START, "--junit", str(junit))
    assert result.exit_code == EXIT_MISSED, result.output
    assert result.stdout.startswith("FAIL")
    assert f"P(done by {START}) = 0.0%" in result.stdout
    root = ET.parse(junit).getroot()
    assert root.get("failures") == "1"
    (failure,) = root.iter("failure")
    assert failure.get("message") == f"P(done by {START}) = 0.0% < required 90.0%"
    assert "FAIL" in failure.text


def test_the_scenario_deadline_and_confidence_are_the_defaults(small, reference):
    # small-trust: deadline 2024-04-30, confidence 0.9; every replication finishes in April.
    result = invoke()
    assert result.exit_code == EXIT_OK, result.output
    assert "P(done by 2024-04-30)" in result.stdout and "required 90.0%" in result.stdout
    assert reference.summary["p_meet_deadline"] == 1.0


def test_check_agrees_with_run_on_the_same_replications(small, reference):
    p50 = reference.summary["completion"]["p50"]
    verdict = check(small, deadline=p50, confidence=0.5, replications=REPLICATIONS, seed=5)
    met = reference.runs["completion_date"] <= pd.Timestamp(p50)
    assert verdict.met == int(met.sum())
    assert verdict.completion == reference.summary["completion"]
    assert verdict.passed  # at least half are done by the median date


def test_the_pass_mark_is_inclusive(small, reference):
    """P(done) exactly equal to the confidence passes; a hair more required fails."""
    p10 = reference.summary["completion"]["p10"]
    met = int((reference.runs["completion_date"] <= pd.Timestamp(p10)).sum())
    assert 0 < met < REPLICATIONS
    args = {"deadline": p10, "replications": REPLICATIONS, "seed": 5, "workers": 1}
    assert check(small, confidence=met / REPLICATIONS, **args).passed
    assert not check(small, confidence=(met + 0.5) / REPLICATIONS, **args).passed


def test_step_summary_is_appended_to_githubs_file(tmp_path):
    summary = tmp_path / "step-summary.md"
    summary.write_text("# Earlier step\n", encoding="utf-8")
    result = invoke("--deadline", START, env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == EXIT_MISSED
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("# Earlier step\n")
    assert "| Measure | Value |" in text
    assert "| P(done by deadline) | 0.0% (required ≥ 90.0%) |" in text
    assert "failed" in text


def test_no_deadline_anywhere_is_bad_input(tmp_path):
    text = SMALL.read_text(encoding="utf-8")
    no_deadline = tmp_path / "no-deadline.toml"
    no_deadline.write_text(
        "\n".join(line for line in text.splitlines() if not line.startswith("deadline")),
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["check", str(no_deadline), "-n", "2"])
    assert result.exit_code == EXIT_BAD_INPUT
    assert result.stderr.strip() == (
        f"{no_deadline}: scenario.deadline: no deadline to check: "
        "set it in the file or pass --deadline"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--confidence", "0"], "--confidence: must be > 0 and <= 1 (got 0.0)"),
        (["--confidence", "1.5"], "--confidence: must be > 0 and <= 1 (got 1.5)"),
        (["--deadline", "soon"], "--deadline: must be a date YYYY-MM-DD (got 'soon')"),
        (["--deadline", "2024-02-01"], "--deadline: scenario.deadline: must not be before start"),
        (["--replications", "0"], "--replications: must be >= 1 (got 0)"),
        (["--set", "support.agents=-1"], "support.agents: must be >= 0 (got -1)"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    junit = tmp_path / "check.xml"
    result = CliRunner().invoke(app, ["check", str(SMALL), "--junit", str(junit), *args])
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not junit.exists()


def test_a_missing_file_is_bad_input():
    result = CliRunner().invoke(app, ["check", "no/such/plan.toml"])
    assert result.exit_code == EXIT_BAD_INPUT
    assert result.stderr.strip() == "no/such/plan.toml: no such file"


def test_an_unwritable_junit_path_is_bad_input(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    result = invoke("--junit", str(blocker / "check.xml"))
    assert result.exit_code == EXIT_BAD_INPUT
    assert result.stderr.startswith(f"--junit: {blocker / 'check.xml'}: ")


# -- the verdict's arithmetic, on made-up replications ------------------------------------------


DEADLINE = dt.date(2024, 4, 30)


@settings(deadline=None, max_examples=300)
@given(
    finish=st.lists(st.one_of(st.none(), st.integers(-40, 40)), min_size=1, max_size=50),
    confidence=st.sampled_from([0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0, 1 / 3]),
)
def test_pass_means_done_by_the_deadline_at_the_confidence_quantile(small, finish, confidence):
    """Both ways of reading the verdict agree, whatever the number of replications."""
    dates = [pd.NaT if d is None else pd.Timestamp(DEADLINE) + pd.Timedelta(days=d) for d in finish]
    runs = pd.DataFrame(
        {
            "completion_date": pd.Series(dates, dtype="datetime64[ns]"),
            "met_deadline": [d is not None and d <= 0 for d in finish],
        }
    )
    summary = {
        "seed": 1,
        "completion": {"p10": None, "p50": None, "p90": None},
        "completed_share": float(np.mean([d is not None for d in finish])),
        "wall_seconds": 0.0,
    }
    verdict = verdict_for(small, runs, confidence, summary, file=None)
    done_by = verdict.done_by
    assert verdict.passed == (done_by is not None and dt.date.fromisoformat(done_by) <= DEADLINE)
    assert verdict.passed == (verdict.p_meet_deadline >= confidence - 1e-12)
    assert verdict.paragraph().startswith("PASS" if verdict.passed else "FAIL")


def test_completion_at_uses_the_inverted_empirical_cdf():
    dates = pd.Series(pd.to_datetime(["2024-01-03", "2024-01-01", None, "2024-01-02"]))
    assert completion_at(dates, 0.5) == "2024-01-02"
    assert completion_at(dates, 0.75) == "2024-01-03"
    assert completion_at(dates, 0.76) is None  # the fourth replication never finished


def test_the_verdict_carries_the_monte_carlo_interval_of_p_meet():
    # 47 of 50: Wilson at z = 1.96 by hand: centre (0.94 + z^2/100) / (1 + z^2/50) = 0.9086,
    # half-width z sqrt(0.94 * 0.06 / 50 + z^2 / 10000) / (1 + z^2/50) = 0.0708: 83.8% to 97.9%.
    from sim.experiments.check import Verdict, junit_xml, step_summary

    verdict = Verdict(
        scenario="plan",
        deadline=dt.date(2021, 3, 31),
        confidence=0.9,
        replications=50,
        met=47,
        seed=1,
        completion={"p10": "2021-02-01", "p50": "2021-02-01", "p90": "2021-03-01"},
        done_by="2021-03-01",
        completed_share=1.0,
        horizon_days=400,
        wall_seconds=1.0,
    )
    assert verdict.passed
    assert "(47 of 50 replications, seed 1; 95% interval 83.8% to 97.9%)" in verdict.paragraph()
    assert "83.8% to 97.9%" in step_summary(verdict)
    properties = {
        p.get("name"): p.get("value") for p in junit_xml(verdict).getroot().iter("property")
    }
    assert float(properties["p_meet_deadline_low"]) == pytest.approx(0.8378, abs=1e-4)
    assert float(properties["p_meet_deadline_high"]) == pytest.approx(0.9794, abs=1e-4)


def test_check_warns_when_the_interval_straddles_the_target():
    # 2 replications can never show 90% with 10 beyond the quantile: the CLI says so.
    result = CliRunner().invoke(app, ["check", "scenarios/small-trust.toml", "-n", "2", "-w", "1"])
    assert result.exit_code == EXIT_OK
    assert "warning: 2 replications are too few for 90% confidence" in result.stdout
    assert "contains the 90% target" in result.stdout
