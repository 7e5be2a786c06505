"""Planning backwards: closed-form answers, the boundary, directions and bad input."""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sim.cli import app
from sim.experiments.check import check
from sim.experiments.solve import Trial, _bracket, max_evaluations, solve
from sim.model.scenario import ScenarioError, load, with_overrides
from tests.conftest import nth_weekday_after, scenario

START = dt.date(2024, 1, 8)  # a Monday: conftest's start
SMALL = "scenarios/small-trust.toml"
runner = CliRunner()


def closed_form_plan(cutover_days: int, mailboxes: int = 1000):
    """No failures, ample throttle, weekdays only: ``cutover_days`` evenings by the deadline."""
    return scenario(
        {
            "scenario.deadline": nth_weekday_after(START, cutover_days),
            "population.mailboxes": mailboxes,
        }
    )


@pytest.mark.parametrize(("mailboxes", "cutover_days"), [(1000, 7), (1000, 10), (997, 9), (50, 3)])
def test_minimal_weekday_batch_is_mailboxes_over_cutover_days_rounded_up(mailboxes, cutover_days):
    sc = closed_form_plan(cutover_days, mailboxes)
    solution = solve(sc, "batches.weekday", 1, 1000, replications=2, workers=1)
    assert solution.value == math.ceil(mailboxes / cutover_days)
    # A 1,000-integer range: both ends, then one halving per evaluation.
    assert solution.evaluations <= max_evaluations(1, 1000, 1) == 12


def test_largest_tolerable_mailbox_count_is_batch_times_cutover_days():
    sc = closed_form_plan(7)  # 100 a weekday (conftest), 7 evenings: at most 700 mailboxes
    solution = solve(sc, "population.mailboxes", 100, 2000, replications=2, workers=1)
    assert solution.direction == "smaller_helps"
    assert solution.value == 700


def test_solve_answer_meets_the_target_and_the_next_smaller_integer_does_not():
    sc = load(SMALL)  # throttled, with failures, tickets and the go/no-go gate
    solution = solve(sc, "batches.weekday", 50, 1000, replications=10, seed=3, workers=1)
    assert solution.found and 50 < solution.value < 1000

    def p_meet(weekday: int) -> float:
        variant = with_overrides(sc, {"batches.weekday": weekday}, source="test")
        return check(variant, replications=10, seed=3, workers=1).p_meet_deadline

    assert p_meet(solution.value) >= 0.9
    assert p_meet(solution.value - 1) < 0.9


def test_real_valued_key_is_bracketed_within_the_stated_tolerance():
    sc = load(SMALL)
    solution = solve(sc, "throttle.scale", 0.01, 1.0, replications=5, workers=1)
    assert solution.found and not solution.integer
    assert 0 < solution.tolerance <= (1.0 - 0.01) / 1000
    failing_below = [t.value for t in solution.trials if not t.meets and t.value < solution.value]
    assert max(failing_below) >= solution.value - solution.tolerance - 1e-12


def test_fewest_agents_keep_the_p90_wait_under_the_limit():
    sc = scenario(
        {"scenario.deadline": dt.date(2024, 3, 29)},
        support={"ticket_rate": 0.2, "agents": 5, "handle_minutes": {"median": 30, "sigma": 0.5}},
    )
    limit = 8.0
    solution = solve(
        sc, "support.agents", 1, 40, wait_hours_p90=limit, replications=4, seed=1, workers=1
    )
    assert solution.found and solution.value > 1
    by_value = {t.value: t for t in solution.trials}
    assert by_value[solution.value].wait_hours_p90 <= limit
    fewer = solve(
        sc,
        "support.agents",
        solution.value - 1,
        solution.value - 1,
        wait_hours_p90=limit,
        replications=4,
        seed=1,
        workers=1,
    )
    assert not fewer.found and fewer.trials[0].wait_hours_p90 > limit


def test_no_value_in_range_gives_none():
    sc = closed_form_plan(7)
    solution = solve(sc, "batches.weekday", 1, 100, replications=2, workers=1)
    assert solution.value is None and solution.evaluations == 1  # the best end fails: stop


@pytest.mark.parametrize(
    ("key", "low", "high", "message"),
    [
        ("batches.selection", None, None, "not numeric"),
        ("batches", None, None, "table"),
        ("batches.wekday", None, None, "did you mean 'weekday'"),
        ("scenario.seed", None, None, "not part of the plan"),
        ("batches.weekday", 500, 100, "empty"),
        ("batches.weekday", 1.5, 100, "whole number"),
        ("batches.weekday", -5, 100, "must be >= 0"),
    ],
)
def test_bad_key_or_range_raises_before_simulating(key, low, high, message):
    with pytest.raises(ScenarioError, match=message):
        solve(closed_form_plan(7), key, low, high, replications=1, workers=1)


def test_cli_json_has_the_spec_fields_and_exit_0():
    result = runner.invoke(
        app,
        [
            "solve",
            SMALL,
            "--for",
            "batches.weekday",
            "--low",
            "50",
            "--high",
            "1000",
            "-n",
            "4",
            "-w",
            "1",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert {"key", "value", "p_meet_deadline", "completion", "evaluations"} <= set(answer)
    assert answer["key"] == "batches.weekday" and isinstance(answer["value"], int)
    assert answer["evaluations"] == len(answer["trials"]) <= 12
    assert answer["p_meet_deadline"] >= 0.9


def test_cli_exits_1_when_no_value_in_the_range_meets_the_deadline():
    result = runner.invoke(
        app, ["solve", SMALL, "--for", "batches.weekday", "--low", "10", "--high", "20", "-n", "2"]
    )
    assert result.exit_code == 1, result.output
    assert "NOT FOUND" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--for", "batches.selection"], "--for: batches.selection: is not numeric"),
        (["--for", "batches.weekday", "--low", "500", "--high", "100"], "is empty"),
        (["--for", "nonsense.key"], "--for: nonsense: unknown key"),
        (["--for", "batches.weekday", "--direction", "up"], "--direction"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(args, message):
    result = runner.invoke(app, ["solve", SMALL, *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_two_workers_find_the_same_answer_with_the_same_numbers():
    sc = load(SMALL)
    ticks = []
    one = solve(sc, "batches.weekday", 50, 1000, replications=8, seed=2, workers=1)
    two = solve(
        sc, "batches.weekday", 50, 1000, replications=8, seed=2, workers=2, progress=ticks.append
    )
    assert one.value == two.value
    assert replace(one.best, seconds=0) == replace(two.best, seconds=0)
    assert two.best.replications_run == 8  # the answer's numbers come from every replication
    assert [t.meets for t in one.trials] == [t.meets for t in two.trials]
    assert ticks == [1] * two.evaluations


@settings(max_examples=300, deadline=None)
@given(
    low=st.integers(0, 5_000),
    width=st.integers(1, 100_000),
    where=st.floats(0, 1),
    plateau=st.integers(1, 5_000),
    noise=st.lists(st.integers(-3, 3), min_size=1, max_size=8),
    larger_helps=st.booleans(),
)
def test_the_search_finds_the_exact_boundary_in_no_more_evaluations_than_bisection(
    low, width, where, plateau, noise, larger_helps
):
    """Whatever the lateness signal says (smooth, stepped or misleading), the answer is exact."""
    high = low + width
    answer = low + round(where * width)
    calls = []

    def evaluate(value):
        calls.append(value)
        distance = (answer - value) if larger_helps else (value - answer)
        meets = distance <= 0
        days_late = -(-distance // plateau) + noise[len(calls) % len(noise)]
        return Trial(value, meets, None, None, None, 0.0, 0.0, 1, float(days_late))

    direction = "larger_helps" if larger_helps else "smaller_helps"
    value, _ = _bracket(evaluate, low, high, 1, True, direction)
    assert len(calls) <= max_evaluations(low, high, 1)
    assert value == answer


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (None, 90, (0, 90)),  # only --high, below the default low (400 / 4): search from 0
        (2000, None, (2000, 8000)),  # only --low, above the default high (400 x 4)
        (None, None, (100, 1600)),  # the plan's value / 4 .. x 4
    ],
)
def test_one_end_given_beyond_the_default_other_end_moves_that_end(low, high, expected):
    from sim.experiments.keys import numeric_key
    from sim.experiments.solve import _range

    spec = numeric_key(load(SMALL), "batches.weekday", "--for")  # weekday = 400
    assert _range(spec, low, high, "larger_helps") == expected
