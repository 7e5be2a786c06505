"""Uncertain numbers: each distribution against its closed form, and bad ones refused."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model.distributions import parse_distribution, range_of
from sim.model.scenario import ScenarioError, to_dict, with_overrides
from sim.model.uncertainty import draw_value
from tests.conftest import scenario

DRAWS = 200_000


def _moments_agree(draws: np.ndarray, mean: float, var: float) -> None:
    """Sample mean and variance within 4 standard errors of the closed forms."""
    n = len(draws)
    assert abs(draws.mean() - mean) <= 4 * math.sqrt(var / n)
    centred = draws - draws.mean()
    fourth = float(np.mean(centred**4))
    se_var = math.sqrt(max(fourth - var**2, 0.0) / n)
    assert abs(draws.var() - var) <= 4 * se_var


# Means and variances derived by hand (not from scipy):
#   uniform [a, b]: (a + b) / 2, (b - a)^2 / 12
#   triangular (a, c, b): (a + b + c) / 3, (a^2 + b^2 + c^2 - ab - ac - bc) / 18
#   PERT (a, m, b): mu = (a + 4m + b) / 6, (mu - a)(b - mu) / 7 (a beta with alpha + beta = 6)
#   lognormal (median M, sigma s): M e^(s^2/2), M^2 e^(s^2) (e^(s^2) - 1)
#   normal (mu, sd): mu, sd^2; truncated to [mu, inf): mu + sd sqrt(2/pi), sd^2 (1 - 2/pi)
#   beta (alpha, beta): alpha / (alpha + beta), alpha beta / ((alpha + beta)^2 (alpha + beta + 1))
def _pert(a, m, b):
    mu = (a + 4 * m + b) / 6
    return mu, (mu - a) * (b - mu) / 7


CASES = [
    ({"dist": "uniform", "low": 0.4, "high": 1.1}, (0.75, 0.7**2 / 12)),
    (
        {"dist": "triangular", "low": 20, "mode": 25, "high": 40},
        (85 / 3, (400 + 1600 + 625 - 800 - 500 - 1000) / 18),
    ),
    ({"dist": "pert", "low": 0.003, "mode": 0.006, "high": 0.02}, _pert(0.003, 0.006, 0.02)),
    (
        {"dist": "lognormal", "median": 1.0, "sigma": 0.15},
        (math.exp(0.15**2 / 2), math.exp(0.15**2) * (math.exp(0.15**2) - 1)),
    ),
    ({"dist": "normal", "mean": 5.0, "sd": 2.0}, (5.0, 4.0)),
    ({"dist": "beta", "alpha": 3, "beta": 997}, (0.003, 3 * 997 / (1000**2 * 1001))),
]


@pytest.mark.parametrize(("table", "moments"), CASES, ids=[c[0]["dist"] for c in CASES])
def test_draws_by_inversion_match_the_closed_form_mean_and_variance(table, moments):
    dist = parse_distribution(table)
    u = np.random.default_rng(2024).random(DRAWS)
    _moments_agree(dist.ppf(u), *moments)


def test_a_truncated_normal_at_its_mean_is_a_half_normal():
    dist = parse_distribution({"dist": "normal", "mean": 0.0, "sd": 2.0, "truncate": True})
    draws = dist.ppf(np.random.default_rng(5).random(DRAWS), bounds=(0.0, math.inf))
    assert draws.min() >= 0
    _moments_agree(draws, 2.0 * math.sqrt(2 / math.pi), 4.0 * (1 - 2 / math.pi))


@pytest.mark.parametrize(
    "table",
    [
        {"dist": "uniform", "low": 0.7, "high": 0.7},
        {"dist": "triangular", "low": 0.7, "mode": 0.7, "high": 0.7},
        {"dist": "pert", "low": 0.7, "mode": 0.7, "high": 0.7},
        {"dist": "lognormal", "median": 0.7, "sigma": 0},
        {"dist": "normal", "mean": 0.7, "sd": 0},
    ],
)
def test_a_zero_width_distribution_draws_exactly_its_value(table):
    dist = parse_distribution(table)
    assert set(dist.ppf(np.random.default_rng(1).random(100)).tolist()) == {0.7}


def test_a_scenario_holds_the_median_and_remembers_the_distribution():
    sc = scenario({"support.ticket_rate": {"dist": "uniform", "low": 0.002, "high": 0.01}})
    assert sc.support.ticket_rate == pytest.approx(0.006)
    assert list(sc.uncertain) == ["support.ticket_rate"]
    assert to_dict(sc)["support"]["ticket_rate"]["dist"] == "uniform"


def test_integer_keys_take_a_rounded_median():
    sc = scenario({"support.agents": {"dist": "triangular", "low": 20, "mode": 25, "high": 31}})
    assert isinstance(sc.support.agents, int)


def test_an_override_with_a_number_fixes_an_uncertain_key_and_one_on_a_parameter_moves_it():
    sc = scenario({"support.ticket_rate": {"dist": "uniform", "low": 0.002, "high": 0.01}})
    fixed = with_overrides(sc, {"support.ticket_rate": 0.02}, source="--set")
    assert fixed.uncertain == {} and fixed.support.ticket_rate == 0.02
    wider = with_overrides(sc, {"support.ticket_rate.high": 0.02}, source="--vary")
    assert wider.uncertain["support.ticket_rate"].high == 0.02


def test_numbers_in_lists_of_tables_may_be_uncertain():
    windows = [{"days": "all", "from": "00:00", "to": "24:00", "gb_per_hour": 1e6}]
    windows[0]["gb_per_hour"] = {"dist": "lognormal", "median": 1e6, "sigma": 0.2}
    sc = scenario({"throttle.windows": windows})
    assert list(sc.uncertain) == ["throttle.windows[0].gb_per_hour"]
    assert sc.throttle.windows[0].gb_per_hour == pytest.approx(1e6)


BAD = [
    (
        {"support.ticket_rate": {"dist": "uniform", "low": 0.5, "high": 1.5}},
        "test.toml: support.ticket_rate: the distribution's support [0.5, 1.5] leaves "
        "the valid range [0, 1]",
    ),
    (
        {"support.ticket_rate": {"dist": "uniform", "low": 0.02, "high": 0.01}},
        "test.toml: support.ticket_rate: low must be <= high (got low=0.02, high=0.01)",
    ),
    (
        {"support.ticket_rate": {"dist": "gamma", "low": 0.01}},
        "test.toml: support.ticket_rate.dist: unknown distribution 'gamma' "
        "(one of uniform, triangular, pert, lognormal, normal, beta)",
    ),
    (
        {"support.ticket_rate": {"dist": "pert", "low": 0.01, "high": 0.02}},
        "test.toml: support.ticket_rate.mode: is required",
    ),
    (
        {"throttle.scale": {"dist": "normal", "mean": 1.0, "sd": 0.2}},
        "test.toml: throttle.scale: a normal distribution leaves the valid range [0, inf]: "
        "add truncate = true, or use a bounded distribution",
    ),
    (
        {"throttle.per_move_gb_per_hour": {"dist": "uniform", "low": 0, "high": 0}},
        "test.toml: throttle.per_move_gb_per_hour: the distribution's support [0, 0] leaves "
        "the valid range (0, inf]",
    ),
    (
        {"scenario.seed": {"dist": "uniform", "low": 1, "high": 2}},
        "test.toml: scenario.seed: cannot be a distribution",
    ),
    (
        {"batches.selection": {"dist": "uniform", "low": 1, "high": 2}},
        "test.toml: batches.selection: only a number can be a distribution",
    ),
]


@pytest.mark.parametrize(("overrides", "message"), BAD, ids=[m.split(":")[2] for _, m in BAD])
def test_a_bad_distribution_is_one_line_naming_the_dotted_key(overrides, message):
    with pytest.raises(ScenarioError) as caught:
        scenario(overrides)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


def test_a_truncated_normal_is_accepted_and_stays_in_range():
    sc = scenario({"throttle.scale": {"dist": "normal", "mean": 0.1, "sd": 1, "truncate": True}})
    assert sc.throttle.scale >= 0


RISK_BAD = [
    (
        {"name": "a", "probability": 0.5, "pause_day": 3},
        "test.toml: risks[0].pause_day: unknown key; did you mean 'pause_days'?",
    ),
    (
        {"name": "a", "pause_days": 3},
        "test.toml: risks[0].probability: missing: give probability (a chance per "
        "replication) or per_week (recurring)",
    ),
    (
        {"name": "a", "probability": 0.5, "per_week": 1, "pause_days": 3},
        "test.toml: risks[0].per_week: give probability or per_week, not both",
    ),
    (
        {"name": "a", "per_week": 1, "throttle_factor": 0.5},
        "test.toml: risks[0].days: is required with throttle_factor or failure_factor",
    ),
    (
        {"name": "a", "probability": 0.5, "pause_days": {"dist": "uniform", "low": 0, "high": 3}},
        "test.toml: risks[0].pause_days: the distribution's support [0, 3] leaves "
        "the valid range [1, inf]",
    ),
    (
        {"name": "a", "probability": {"dist": "uniform", "low": 0, "high": 1}, "pause_days": 3},
        "test.toml: risks[0].probability: cannot be a distribution here",
    ),
]


@pytest.mark.parametrize(("risk", "message"), RISK_BAD, ids=[m[11:40] for _, m in RISK_BAD])
def test_a_bad_risk_is_one_line_naming_the_dotted_key(risk, message):
    with pytest.raises(ScenarioError) as caught:
        scenario({"risks": [risk]})
    assert str(caught.value) == message


KEYS = ["support.ticket_rate", "failures.rate", "throttle.scale", "support.agents"]


@settings(max_examples=60, deadline=None)
@given(
    key=st.sampled_from(KEYS),
    low=st.floats(0, 0.9),
    width=st.floats(0, 0.1),
    shape=st.sampled_from(["uniform", "pert", "triangular", "normal"]),
    u=st.floats(0, 1, exclude_max=True),
)
def test_every_draw_stays_in_its_keys_valid_range(key, low, width, shape, u):
    table = {"dist": shape, "low": low, "high": low + width}
    if shape in ("pert", "triangular"):
        table["mode"] = low + width / 2
    if shape == "normal":
        table = {"dist": "normal", "mean": low, "sd": width + 0.01, "truncate": True}
    sc = scenario({key: table})
    spec = range_of(type(sc), key)
    value = draw_value(sc.uncertain[key], spec, _FixedUniform(u))
    assert spec.admits(value, value, zero_width=False)
    assert isinstance(value, int) == spec.integer


class _FixedUniform:
    """A generator whose next uniform is given (the extreme ones included)."""

    def __init__(self, u: float) -> None:
        self.u = u

    def random(self) -> float:
        return self.u
