"""sim.compare and migsim compare: plans on the same dice, their paired difference."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import sim
from sim.experiments.compare import paired_difference_interval
from sim.experiments.metrics import quantile_rank
from tests.conftest import BASE, nth_weekday_after, scenario

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "scenarios" / "small-trust.toml"


def test_closed_form_plans_differ_by_the_calendar_days_between_their_last_evenings():
    """1,000 users at 100 a weekday finish on the 10th weekday; at 200, on the 5th."""
    start = BASE["scenario"]["start"]
    slow, fast = scenario(), scenario({"batches.weekday": 200})
    cmp = sim.compare({"100 a day": slow, "200 a day": fast}, replications=4, seed=1, workers=1)
    expected = (nth_weekday_after(start, 10) - nth_weekday_after(start, 5)).days
    assert (cmp.paired["days_earlier"] == expected).all()
    alt = cmp.summary["alternatives"][0]
    assert alt["days_earlier"] == {"p10": expected, "p50": expected, "p90": expected}
    assert alt["p_earlier"] == 1.0
    assert alt["completion"]["p50"] == nth_weekday_after(start, 5).isoformat()
    assert cmp.summary["completion"]["p50"] == nth_weekday_after(start, 10).isoformat()


@pytest.fixture(scope="module")
def random_plans():
    """Failures and retries make completion vary by replication."""
    noisy = {"failures.rate": 0.3, "failures.retry_after_days": 1, "failures.max_attempts": 3}
    base = scenario({**noisy, "scenario.deadline": "2024-01-24"})
    alt = scenario({**noisy, "scenario.deadline": "2024-01-24", "batches.weekday": 130})
    return base, alt


@pytest.fixture(scope="module")
def compared(random_plans):
    base, alt = random_plans
    return sim.compare({"base": base, "130": alt}, replications=30, seed=5, workers=2)


def test_paired_differences_are_those_of_two_separate_runs_on_the_same_seed(random_plans, compared):
    base, alt = (sim.run(sc, replications=30, seed=5, workers=1) for sc in random_plans)
    by_hand = (
        base.runs["completion_date"].dt.floor("D") - alt.runs["completion_date"].dt.floor("D")
    ).dt.days.to_numpy()
    assert by_hand.std() > 0  # the dice matter, so pairing is tested
    np.testing.assert_array_equal(compared.paired["days_earlier"].to_numpy(), by_hand)
    ordered = np.sort(by_hand)
    alt_summary = compared.summary["alternatives"][0]
    for name, q in (("p10", 0.1), ("p50", 0.5), ("p90", 0.9)):
        assert alt_summary["days_earlier"][name] == ordered[quantile_rank(q, 30)]
    assert alt_summary["p_earlier"] == pytest.approx(np.mean(by_hand > 0), abs=1e-4)
    difference = alt.runs["met_deadline"].mean() - base.runs["met_deadline"].mean()
    assert alt_summary["p_meet_difference"] == pytest.approx(difference, abs=1e-4)
    pd.testing.assert_frame_equal(compared.results["base"].runs, base.runs)


def test_summary_has_the_spec_shape(compared):
    summary = compared.summary
    assert summary["base"] == "base"
    (alt,) = summary["alternatives"]
    assert {
        "name",
        "completion",
        "p_meet_deadline",
        "days_earlier",
        "p_earlier",
        "p_meet_difference",
        "p_meet_difference_interval",
    } <= set(alt)
    assert set(alt["completion"]) == set(alt["days_earlier"]) == {"p10", "p50", "p90"}
    low, high = alt["p_meet_difference_interval"]
    assert low <= alt["p_meet_difference"] <= high
    assert summary["provenance"]["seed"] == 5
    json.dumps(summary)  # JSON-ready


def test_tables(compared):
    table = compared.table
    assert list(table.index) == ["base", "130"]
    assert str(table["completion_p50"].dtype).startswith("datetime64")
    long = compared.long
    assert list(long.columns) == ["scenario", "replication", "metric", "value"]
    assert set(long["scenario"]) == {"base", "130"}
    migrated = long[(long["metric"] == "migrated") & (long["scenario"] == "130")]
    np.testing.assert_array_equal(
        migrated["value"].to_numpy(), compared.results["130"].runs["migrated"].to_numpy()
    )
    assert "130" in compared._repr_html_() and "base" in compared._repr_html_()


def paired_outcomes(rng, n, p_both, p_only_base, p_only_alt):
    cells = rng.multinomial(
        n, [p_both, p_only_base, p_only_alt, 1 - p_both - p_only_base - p_only_alt]
    )
    base = np.repeat([True, True, False, False], cells)
    alt = np.repeat([True, False, True, False], cells)
    return base, alt


def test_paired_interval_covers_the_true_difference_about_95_percent_of_the_time():
    rng = np.random.default_rng(11)
    p_both, p_only_base, p_only_alt, n, trials = 0.6, 0.05, 0.15, 80, 2000
    truth = p_only_alt - p_only_base
    hits = 0
    for _ in range(trials):
        low, high = paired_difference_interval(
            *paired_outcomes(rng, n, p_both, p_only_base, p_only_alt)
        )
        hits += low <= truth <= high
    # Newcombe's method 10 holds close to its nominal level (his 1998 simulations).
    assert abs(hits / trials - 0.95) <= 0.025


def test_pairing_narrows_the_interval_when_plans_agree():
    agree_base = np.array([True] * 70 + [False] * 30)
    agree_alt = agree_base.copy()
    agree_alt[70:75] = True  # the alternative rescues 5 the base missed; nothing else differs
    shuffled = np.random.default_rng(0).permutation(agree_alt)  # same shares, no pairing
    paired = paired_difference_interval(agree_base, agree_alt)
    unpaired = paired_difference_interval(agree_base, shuffled)
    assert paired[1] - paired[0] < unpaired[1] - unpaired[0]


def test_overlay_has_one_colour_and_one_legend_entry_per_plan(compared):
    figure = compared.plot.completion()
    assert isinstance(figure, Figure)
    ax = figure.axes[0]
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    for name in ("base", "130"):
        assert sum(t.startswith(f"{name}:") for t in texts) == 1
    assert sum(t.startswith("deadline") for t in texts) == 1
    curves = [line for line in ax.get_lines() if line.get_gid() == "completion"]
    assert len({line.get_color() for line in curves}) == 2
    progress = compared.plot.progress().axes[0]
    labels = [t.get_text() for t in progress.get_legend().get_texts()]
    assert labels.count("base") == 1 and labels.count("130") == 1
    assert len(labels) == len(set(labels))


def test_charts_compose_in_a_grid_with_legends_inside_their_panels(compared):
    figure = Figure(figsize=(14, 4))
    left, right = figure.subplots(1, 2)
    res = compared.results["base"]
    res.plot.completion(ax=left, label="base", color="C0")
    compared.results["130"].plot.completion(ax=left, label="130", color="C1")
    res.plot.desk(ax=right)
    figure.draw_without_rendering()
    for ax in (left, right):
        legend = ax.get_legend().get_window_extent()
        panel = ax.get_window_extent()
        assert panel.x0 - 1 <= legend.x0 and legend.x1 <= panel.x1 + 1


def test_api_refuses_one_plan_and_a_name_twice():
    with pytest.raises(ValueError, match="scenarios"):
        sim.compare({"only": scenario()}, replications=2, workers=1)
    with pytest.raises(TypeError, match="scenarios"):
        sim.compare(scenario(), replications=2, workers=1)
    with pytest.raises(ValueError, match="replications"):
        sim.compare({"a": scenario(), "b": scenario()}, replications=0, workers=1)


def migsim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=ROOT
    )


def test_cli_json_and_out_folder(tmp_path):
    out = tmp_path / "cmp"
    done = migsim(
        "compare", str(SMALL), "--alt", "600:batches.weekday=600", "-n", "6", "-w", "1",
        "--json", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["base"] == "One trust, 5,000 users"
    assert summary["alternatives"][0]["name"] == "600"
    assert summary["alternatives"][0]["days_earlier"]["p50"] > 0
    assert sorted(p.name for p in out.iterdir()) == [
        "compare.png",
        "comparison.parquet",
        "summary.json",
    ]
    long = pd.read_parquet(out / "comparison.parquet")
    assert list(long.columns) == ["scenario", "replication", "metric", "value"]
    assert json.loads((out / "summary.json").read_text())["alternatives"] == summary["alternatives"]


@pytest.mark.parametrize(
    ("alt", "message"),
    [
        ("nokey", "--alt: expected NAME:KEY=VALUE"),
        ("x:batches.weekday=-3", "--alt: batches.weekday"),
        ("x:batches.nonsense=3", "--alt: batches.nonsense"),
    ],
)
def test_cli_bad_alt_is_one_line_exit_2(alt, message):
    done = migsim("compare", str(SMALL), "--alt", alt, "-n", "2")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[0].startswith(message), done.stderr
    assert "Traceback" not in done.stderr


def test_cli_needs_something_to_compare():
    done = migsim("compare", str(SMALL), "-n", "2")
    assert done.returncode == 2 and "compare" in done.stderr


def test_infinite_differences_when_one_plan_does_not_finish():
    from sim.experiments.compare import days_earlier

    base = pd.Series(pd.to_datetime(["2024-01-10", None, None, "2024-01-10"]))
    alt = pd.Series(pd.to_datetime(["2024-01-08", "2024-01-09", None, None]))
    assert list(days_earlier(base, alt)) == [2.0, math.inf, 0.0, -math.inf]


def test_every_chart_takes_ax_label_and_color(compared):
    import inspect

    from sim.outputs.notebook import PlotAccessor

    for name in (*PlotAccessor.NAMES, *PlotAccessor.FORECAST_NAMES):
        parameters = inspect.signature(getattr(PlotAccessor, name)).parameters
        assert {"ax", "label", "color"} <= set(parameters), name
    figure = Figure()
    ax = figure.add_subplot()
    for index, (name, res) in enumerate(compared.results.items()):
        res.plot.throttle(ax=ax, label=name, color=f"C{index}")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == len(set(labels)) and any(t.startswith("130:") for t in labels)
