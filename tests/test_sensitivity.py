"""What matters: tornado shifts in closed form, zero effects, rank correlation, Sobol indices."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from sim.cli import app
from sim.experiments import sensitivity as sensitivity_mod
from sim.experiments.sensitivity import rank_correlation, sensitivity, sobol_indices
from sim.model.scenario import ScenarioError
from sim.outputs.sensitivity_plot import tornado_figure
from tests.conftest import nth_weekday_after, scenario

START = dt.date(2024, 1, 8)
runner = CliRunner()


def desk_plan():
    """1,000 mailboxes, 100 a weekday, tickets on a busy desk, and the go/no-go gate off."""
    return scenario(
        {"scenario.deadline": nth_weekday_after(START, 12)},
        support={"ticket_rate": 0.05, "agents": 2, "pause_backlog": 0},
    )


def days_from_start(weekdays: int) -> int:
    return (nth_weekday_after(START, weekdays) - START).days + 1


@pytest.fixture(scope="module")
def tornado():
    keys = ["support.handle_minutes.median", "support.ticket_rate", "batches.weekday"]
    return sensitivity(desk_plan(), keys, replications=3, workers=1)


def test_tornado_shifts_match_the_closed_form_for_the_weekday_batch(tornado):
    row = tornado.table.set_index("key").loc["batches.weekday"]
    assert (row["low"], row["base"], row["high"]) == (80, 100, 120)
    base = days_from_start(10)  # 1,000 / 100 a weekday
    assert row["p50_days_base"] == base
    assert row["days_low"] == days_from_start(13) - base  # ceil(1000 / 80) evenings
    assert row["days_high"] == days_from_start(9) - base  # ceil(1000 / 120) evenings


def test_a_key_with_no_effect_on_completion_shows_zero(tornado):
    row = tornado.table.set_index("key").loc["support.handle_minutes.median"]
    assert row["days_low"] == row["days_high"] == row["swing_days"] == 0
    assert row["p_meet_low"] == row["p_meet_base"] == row["p_meet_high"]


def test_the_binding_key_has_the_largest_bar(tornado):
    assert tornado.table["key"].iloc[0] == "batches.weekday"
    assert tornado.table["swing_days"].iloc[0] > tornado.table["swing_days"].iloc[1:].max()


def test_every_numeric_key_by_default_and_small_whole_numbers_move_by_one():
    result = sensitivity(desk_plan(), replications=1, workers=1)
    keys = set(result.table["key"])
    assert {"batches.weekday", "throttle.scale", "support.agents"} <= keys
    # failures.rate is 0 in this plan: -20% / +20% of 0 moves nothing, so it is left out.
    assert "failures.rate" not in keys and "failures.rate" in result.base["left_out"]
    assert not any(k.startswith("scenario.") for k in keys)
    agents = result.table.set_index("key").loc["support.agents"]
    assert (agents["low"], agents["high"]) == (1, 3)  # 20% of 2 would round back to 2


def test_an_uncertain_key_moves_to_its_p10_and_p90(monkeypatch):
    rate = stats.uniform(0.02, 0.06)  # P10 0.026, P90 0.074
    monkeypatch.setattr(
        sensitivity_mod, "uncertain_distributions", lambda sc: {"support.ticket_rate": rate}
    )
    low, _, high = sensitivity_mod.tornado_values(desk_plan(), "support.ticket_rate")
    assert low == pytest.approx(0.026) and high == pytest.approx(0.074)


def test_out_writes_the_table_and_the_tornado_png(tornado, tmp_path):
    written = tornado.write(tmp_path / "sens")
    assert sorted(p.name for p in written) == ["sensitivity.parquet", "tornado.png"]
    back = pd.read_parquet(tmp_path / "sens" / "sensitivity.parquet")
    pd.testing.assert_frame_equal(back, tornado.table)
    assert (tmp_path / "sens" / "tornado.png").read_bytes()[:4] == b"\x89PNG"
    assert not list((tmp_path / "sens").glob(".*.tmp"))


def test_plot_draws_one_bar_per_key_and_side(tornado):
    figure = tornado.plot()
    ax = figure.axes[0]
    assert len(ax.patches) == 2 * len(tornado.table)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[-1].startswith("batches.weekday")  # the largest bar at the top


# --- rank correlation -------------------------------------------------------------------------


def synthetic_runs(n: int = 400, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = rng.integers(10, 100, n).astype(float)
    days[:20] = np.nan  # not completed: beyond the horizon
    finish = np.where(np.isnan(days), 1_000.0, days)
    return pd.DataFrame(
        {
            "days_to_complete": days,
            "param.throttle.scale": -np.log(finish),  # larger scale, sooner: monotone
            "param.support.handle_minutes.median": rng.lognormal(2.7, 0.8, n),  # irrelevant
            "tickets": rng.integers(0, 10, n),  # not a param.* column: ignored
        }
    )


def test_rank_correlation_is_minus_one_for_a_monotone_column_and_near_zero_for_noise():
    n = 400
    table = rank_correlation(synthetic_runs(n), horizon_days=730).set_index("key")
    assert set(table.index) == {"throttle.scale", "support.handle_minutes.median"}
    assert table.loc["throttle.scale", "rho"] == pytest.approx(-1.0)
    # Under independence rho has standard deviation ~ 1/sqrt(n - 1): allow three of them.
    assert abs(table.loc["support.handle_minutes.median", "rho"]) < 3 / np.sqrt(n - 1)
    assert (table["n"] == n).all()


def synthetic_plan():
    """desk_plan with the synthetic runs' two keys uncertain."""
    return scenario(
        {
            "throttle.scale": {"dist": "uniform", "low": 0.5, "high": 1.5},
            "support.handle_minutes.median": {"dist": "uniform", "low": 5, "high": 30},
        },
        support={"ticket_rate": 0.05, "agents": 2, "pause_backlog": 0},
    )


def test_rank_needs_no_simulation_and_refuses_runs_without_uncertain_keys():
    result = sensitivity(synthetic_plan(), method="rank", runs=synthetic_runs())
    assert result.table["key"].iloc[0] == "throttle.scale"
    no_keys = synthetic_runs().drop(
        columns=["param.throttle.scale", "param.support.handle_minutes.median"]
    )
    with pytest.raises(ScenarioError, match="uncertain"):
        sensitivity(desk_plan(), method="rank", runs=no_keys)


def test_rank_refuses_the_runs_of_another_scenario():
    # desk_plan has no uncertain key: runs with param.* columns were made from another plan.
    with pytest.raises(ScenarioError, match=r"^runs: made from another scenario .*throttle\.scale"):
        sensitivity(desk_plan(), method="rank", runs=synthetic_runs())
    with pytest.raises(ScenarioError, match="lacks param.throttle.scale"):
        sensitivity(
            synthetic_plan(), method="rank", runs=synthetic_runs().drop(columns="param.throttle.scale")
        )


# --- Sobol indices ----------------------------------------------------------------------------

A, B = 7.0, 0.1  # the Ishigami function's usual constants


def ishigami(points: pd.DataFrame) -> np.ndarray:
    x1, x2, x3 = points["x1"], points["x2"], points["x3"]
    return np.sin(x1) + A * np.sin(x2) ** 2 + B * x3**4 * np.sin(x1)


def ishigami_indices() -> dict[str, tuple[float, float]]:
    """(S1, ST) in closed form for x_i ~ U(-pi, pi) (Ishigami & Homma, 1990)."""
    pi = np.pi
    v1 = 0.5 * (1 + B * pi**4 / 5) ** 2
    v2 = A**2 / 8
    v13 = B**2 * pi**8 * (1 / 18 - 1 / 50)
    total = v1 + v2 + v13
    return {
        "x1": (v1 / total, (v1 + v13) / total),
        "x2": (v2 / total, v2 / total),
        "x3": (0.0, v13 / total),
    }


def test_sobol_indices_of_ishigami_match_the_closed_form():
    inputs = {name: stats.uniform(-np.pi, 2 * np.pi) for name in ("x1", "x2", "x3")}
    table = sobol_indices(inputs, ishigami, samples=2048, seed=1).set_index("key")
    for name, (first, total) in ishigami_indices().items():
        assert table.loc[name, "S1"] == pytest.approx(first, abs=0.05)
        assert table.loc[name, "ST"] == pytest.approx(total, abs=0.05)
    assert (table[["S1_conf", "ST_conf"]] > 0).all().all()


def test_sobol_over_a_scenario_gives_zero_to_a_key_without_effect():
    result = sensitivity(
        desk_plan(),
        ["batches.weekday", "support.handle_minutes.median"],
        method="sobol",
        samples=8,
        replications=1,
        workers=1,
    )
    table = result.table.set_index("key")
    assert table.loc["support.handle_minutes.median", "ST"] == 0
    assert table.loc["support.handle_minutes.median", "S1"] == 0
    assert table.loc["batches.weekday", "ST"] > 0.5


# --- the command line -------------------------------------------------------------------------


def test_cli_writes_files_and_prints_json(tmp_path):
    out = tmp_path / "sens"
    result = runner.invoke(
        app,
        [
            "sensitivity",
            "scenarios/small-trust.toml",
            "--params",
            "batches.weekday,support.agents",
            "-n",
            "2",
            "-w",
            "1",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["method"] == "tornado" and answer["rows"][0]["key"] == "batches.weekday"
    assert (out / "sensitivity.parquet").exists() and (out / "tornado.png").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--params", "batches.selection"], "--params: batches.selection: is not numeric"),
        (["--params", "batches.wekday"], "unknown key"),
        (["--method", "morris"], "--method"),
        (["--method", "rank", "-n", "2"], "uncertain"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(args, message):
    result = runner.invoke(app, ["sensitivity", "scenarios/small-trust.toml", *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# The synthetic runs' uncertain keys, made uncertain in the small trust with --set.
SYNTHETIC_KEYS = [
    "--set",
    'throttle.scale={dist="uniform", low=0.5, high=1.5}',
    "--set",
    'support.handle_minutes.median={dist="uniform", low=5, high=30}',
]


def test_cli_rank_reads_the_runs_of_an_earlier_run_without_simulating(tmp_path):
    runs = tmp_path / "runs.parquet"
    synthetic_runs().to_parquet(runs)
    result = runner.invoke(
        app,
        [
            "sensitivity",
            "scenarios/small-trust.toml",
            *SYNTHETIC_KEYS,
            "--method",
            "rank",
            "--json",
            "--runs",
            str(runs),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert rows[0]["key"] == "throttle.scale" and rows[0]["rho"] == pytest.approx(-1.0)


def test_rank_on_a_plan_with_no_distribution_is_bad_input_before_simulating(monkeypatch):
    from typer.testing import CliRunner

    from sim.cli import app
    from sim.experiments import runner as runner_mod

    simulated = []
    monkeypatch.setattr(runner_mod, "_execute", lambda *a: simulated.append(1) or iter(()))
    args = ["sensitivity", "scenarios/small-trust.toml", "--method", "rank", "-n", "2"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr.startswith("--method: rank needs uncertain keys")  # not --params
    assert not simulated


def test_the_tornado_table_shows_p_meet_as_percentages():
    from typer.testing import CliRunner

    from sim.cli import app

    args = ["sensitivity", "scenarios/small-trust.toml", "--params", "support.agents"]
    result = CliRunner().invoke(app, [*args, "-n", "2", "-w", "1"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if "support.agents" in line)
    assert row.count("100%") == 2  # the small trust always meets its deadline
    assert "P(meet) 100%;" in result.stdout


def test_the_result_reads_as_its_table_and_plots_as_a_png_in_jupyter(tornado):
    # SPEC: sim.sensitivity(...) is "DataFrame + .plot()": the table's columns and methods
    # are reached directly; .plot() is the chart (a PNG in Jupyter even without pyplot).
    assert list(tornado["key"]) == list(tornado.table["key"])
    assert len(tornado) == len(tornado.table)
    assert list(tornado.columns) == list(tornado.table.columns)
    assert tornado.sort_values("key").equals(tornado.table.sort_values("key"))
    assert tornado.plot()._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(AttributeError):
        tornado.no_such_column_or_method  # noqa: B018


def test_a_key_moving_the_finish_the_same_way_at_both_ends_shows_both_bars():
    # throttle.per_move_gb_per_hour on the reference with few replications: 7.5 days earlier
    # at its low value and 14 earlier at its high; the high bar was drawn over the low one.
    table = pd.DataFrame(
        {"key": ["k"], "low": [1.0], "high": [2.0], "days_low": [-7.5], "days_high": [-14.0]}
    )
    (ax,) = tornado_figure(table).axes
    (low,) = [p for p in ax.patches if p.get_gid() == "low"]
    (high,) = [p for p in ax.patches if p.get_gid() == "high"]
    assert (low.get_width(), high.get_width()) == (-7.5, -14.0)
    assert low.get_y() >= high.get_y() + high.get_height()  # side by side, neither covered
