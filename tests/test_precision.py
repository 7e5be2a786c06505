"""The 95% intervals of completion dates, and --precision's replications until precise.

The interval of a quantile from order statistics holds for any distribution: its
coverage is checked by sampling (closed form, no simulation) against the
binomial probability it claims; the rank choice is checked against a sum written
out here with math.comb.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

import sim
from sim.experiments.results import (
    completion_interval_at,
    half_width_days,
    order_statistic_coverage,
    order_statistic_ranks,
    precision_advice,
)
from tests.conftest import scenario

LEVEL = 0.95


def coverage_by_hand(q: float, n: int, r: int, s: int) -> float:
    """P(r <= K <= s - 1) for K ~ Binomial(n, q) (1-based ranks r < s), term by term."""
    return sum(math.comb(n, k) * q**k * (1 - q) ** (n - k) for k in range(r, s))


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("n", [40, 100, 400])
def test_the_ranks_claim_at_least_95_percent_and_are_the_tightest_symmetric_pair(q, n):
    ranks = order_statistic_ranks(q, n)
    assert ranks is not None
    r, s = ranks[0] + 1, ranks[1] + 1
    claimed = coverage_by_hand(q, n, r, s)
    assert claimed >= LEVEL
    assert order_statistic_coverage(q, n) == pytest.approx(claimed, abs=1e-9)
    # Each tail left out is at most 2.5%, and moving either rank inwards breaks that.
    assert coverage_by_hand(q, n, 0, r) <= 0.025 + 1e-12
    assert coverage_by_hand(q, n, s, n + 1) <= 0.025 + 1e-12
    assert coverage_by_hand(q, n, 0, r + 1) > 0.025
    assert coverage_by_hand(q, n, s - 1, n + 1) > 0.025


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("n", [50, 200])
def test_interval_covers_the_true_quantile_95_percent_of_the_time(q, n):
    """Many seeds of a known distribution: coverage matches the claim within binomial error."""
    trials = 4000
    rng = np.random.default_rng(2020 + n)
    samples = np.sort(rng.lognormal(mean=3.0, sigma=0.7, size=(trials, n)), axis=1)
    true = math.exp(3.0 + 0.7 * 2**0.5 * _erfinv(2 * q - 1))
    r, s = order_statistic_ranks(q, n)
    covered = (samples[:, r] <= true) & (true <= samples[:, s])
    claimed = order_statistic_coverage(q, n)
    tolerance = 4 * math.sqrt(claimed * (1 - claimed) / trials)
    assert abs(covered.mean() - claimed) <= tolerance
    assert covered.mean() >= LEVEL - tolerance


def _erfinv(y: float) -> float:
    from scipy.special import erfinv

    return float(erfinv(y))


def test_the_date_interval_covers_the_true_date_of_a_discrete_distribution():
    """Dates (ties allowed) through completion_interval_at: at least 95% of 1,000 seeds."""
    rng = np.random.default_rng(7)
    start, q, n, trials = np.datetime64("2021-01-01"), 0.9, 60, 1000
    days = np.arange(0, 200)
    weights = binom.pmf(days, 199, 0.3)
    cdf = np.cumsum(weights)
    true = start + int(np.searchsorted(cdf, q))  # smallest day with F >= q
    hits = 0
    for _ in range(trials):
        values = start + rng.choice(days, size=n, p=weights / weights.sum())
        low, high = completion_interval_at(pd.Series(values.astype("datetime64[s]")), q)
        hits += np.datetime64(low) <= true <= np.datetime64(high)
    assert hits / trials >= LEVEL - 4 * math.sqrt(LEVEL * (1 - LEVEL) / trials)


def test_interval_is_null_where_too_few_replications_and_open_where_not_completed():
    dates = pd.Series(pd.to_datetime(["2021-02-01"] * 5))
    assert completion_interval_at(dates, 0.9) is None  # 5 cannot bracket a P90
    late = pd.Series(pd.to_datetime(["2021-02-01"] * 50 + [None] * 10))
    low, high = completion_interval_at(late, 0.9)
    assert low == "2021-02-01" and high is None
    assert half_width_days(late, 0.9) == math.inf


def test_the_summary_has_an_interval_around_each_completion_date():
    res = sim.run(uncertain_plan(), replications=60, seed=1, workers=1)
    for q in ("p10", "p50", "p90"):
        low, high = res.summary["completion_interval"][q]
        assert low <= res.summary["completion"][q] <= high


def uncertain_plan():
    """1,000 users at an uncertain pace: completion spreads over a few weeks."""
    return scenario({"batches.weekday": {"dist": "uniform", "low": 40, "high": 160}})


def widths_by_hand(runs: pd.DataFrame, n: int, q: float = 0.9) -> float:
    """The P90 date's half-width from the first ``n`` replications, ranks from math.comb."""
    days = np.sort(runs["completion_date"].to_numpy(dtype="datetime64[D]")[:n])
    # r: the most left below with P(K <= r - 1) <= 2.5%; s: the fewest with P(K >= s) <= 2.5%.
    r = max(k for k in range(0, n + 2) if coverage_by_hand(q, n, 0, k) <= 0.025)
    s = min(k for k in range(0, n + 2) if coverage_by_hand(q, n, k, n + 1) <= 0.025)
    if r < 1 or s > n:
        return math.inf
    point = days[math.ceil(q * n - 1e-9) - 1]
    return float(max((point - days[r - 1]).astype(int), (days[s - 1] - point).astype(int)))


@pytest.fixture(scope="module")
def precise():
    return sim.run(
        uncertain_plan(),
        replications=20,
        seed=3,
        workers=1,
        precision_days=8,
        max_replications=400,
        keep_daily=False,
    )


def test_precision_stops_at_the_first_block_narrow_enough(precise):
    report = precise.summary["precision"]
    assert report["stopped_by"] == "precision"
    blocks = report["blocks"]
    assert len(blocks) >= 2  # 20 replications were not enough
    for block in blocks[:-1]:
        assert widths_by_hand(precise.runs, block["replications"]) > 8
    last = blocks[-1]["replications"]
    assert last == len(precise.runs) == report["replications"]
    assert widths_by_hand(precise.runs, last) <= 8 == report["days"]
    assert all(b["replications"] % 20 == 0 for b in blocks)  # whole blocks of -n


def test_precision_gives_the_same_answer_on_one_and_two_workers(precise):
    two = sim.run(
        uncertain_plan(),
        replications=20,
        seed=3,
        workers=2,
        precision_days=8,
        max_replications=400,
        keep_daily=False,
    )
    pd.testing.assert_frame_equal(precise.runs, two.runs)
    assert precise.summary["precision"] == two.summary["precision"]


def test_precision_replications_are_the_plain_runs_first_replications(precise):
    """Replication i has the same seed however many are run: blocks extend, never redraw."""
    plain = sim.run(uncertain_plan(), replications=20, seed=3, workers=1, keep_daily=False)
    pd.testing.assert_frame_equal(precise.runs.iloc[:20], plain.runs)


def test_precision_stops_at_max_replications_and_says_so():
    res = sim.run(
        uncertain_plan(),
        replications=20,
        seed=3,
        workers=1,
        precision_days=0.5,
        max_replications=40,
        keep_daily=False,
    )
    report = res.summary["precision"]
    assert report["stopped_by"] == "max_replications" and len(res.runs) == 40
    assert report["half_width_days"] is None or report["half_width_days"] > 0.5


def test_check_decides_on_the_confidence_quantile():
    verdict = sim.experiments.check.check(
        uncertain_plan(),
        deadline=dt.date(2024, 3, 29),
        confidence=0.8,
        replications=20,
        seed=3,
        workers=1,
        precision_days=8,
        max_replications=400,
    )
    assert verdict.precision["quantile"] == "p80"
    assert verdict.precision["stopped_by"] == "precision"


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"precision_days": 0}, "precision_days"),
        ({"precision_days": -1.0}, "precision_days"),
        ({"precision_days": 3, "max_replications": 5}, "max_replications"),
        ({"max_replications": 50}, "max_replications"),
    ],
)
def test_wrong_precision_arguments_name_the_argument(kwargs, named):
    with pytest.raises(ValueError, match=named) as error:
        sim.run(uncertain_plan(), replications=10, seed=1, workers=1, **kwargs)
    assert "--" not in str(error.value)


def test_too_few_warning_says_how_many_more_reach_the_precision():
    res = sim.run(uncertain_plan(), replications=60, seed=1, workers=1, keep_daily=False)
    advice = precision_advice(res.runs["completion_date"], 0.9, days=1)
    width = half_width_days(res.runs["completion_date"], 0.9)
    assert width > 1
    more = math.ceil(60 * width**2) - 60
    assert advice is not None and f"about {more:,} more replications" in advice
    from sim.outputs.notebook import result_headline  # the headline's warning carries it

    warnings = result_headline(res).warnings
    too_few = [w for w in warnings if "too few" in w]
    assert too_few and ("more replications would bring it within" in too_few[0]) == (
        precision_advice(res.runs["completion_date"], 0.9) is not None
    )


def cli(*args: str):
    from typer.testing import CliRunner

    from sim.cli import app

    return CliRunner().invoke(app, list(args))


def test_run_precision_says_what_stopped_it(tmp_path):
    path = tmp_path / "plan.toml"
    path.write_text(
        (Path(__file__).resolve().parents[1] / "scenarios" / "small-trust.toml").read_text()
    )
    done = cli("run", str(path), "-n", "20", "-w", "1", "--precision", "30")
    assert done.exit_code == 0, done.output
    assert "stopped because it is precise enough" in done.output
    assert "its 95% CI" in done.output
    capped = cli(
        "run", str(path), "-n", "20", "-w", "1", "--precision", "0.01", "--max-replications", "20"
    )
    assert capped.exit_code == 0, capped.output
    assert "stopped at --max-replications 20" in capped.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--precision", "0"], "--precision: must be > 0"),
        (["--max-replications", "40"], "--max-replications: needs --precision"),
        (["--precision", "2", "--max-replications", "5"], "--max-replications: must be >="),
    ],
)
@pytest.mark.parametrize("command", ["run", "check"])
def test_bad_precision_options_are_bad_input(command, args, message):
    small = Path(__file__).resolve().parents[1] / "scenarios" / "small-trust.toml"
    done = cli(command, str(small), "-n", "10", *args)
    assert done.exit_code == 2
    assert message in done.output
