"""What matters: tornado shifts in closed form, zero effects, rank correlation, Sobol indices."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.experiments import sensitivity as sensitivity_mod
from sim.experiments.sensitivity import rank_correlation, sensitivity, sobol_indices
from sim.experiments.variants import Variants
from sim.model.scenario import ScenarioError, from_dict
from sim.outputs.sensitivity_plot import tornado_figure
from tests.conftest import BASE, nth_weekday_after, scenario

START = dt.date(2024, 1, 8)
ROOT = Path(__file__).resolve().parents[1]
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
    assert sorted(p.name for p in written) == [
        "provenance.json",
        "sensitivity.parquet",
        "tornado.png",
    ]
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
    with pytest.raises(ScenarioError, match=r"lacks param\.throttle\.scale"):
        sensitivity(
            synthetic_plan(),
            method="rank",
            runs=synthetic_runs().drop(columns="param.throttle.scale"),
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


@pytest.mark.filterwarnings("ignore::sim.experiments.sensitivity.SobolWarning")  # 8 samples
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
        (["--outcome", "p99"], "--outcome: must be p50, p90 or p_meet"),
        (["--method", "risks"], "--method: risks needs a risk register"),
        (["--method", "tornado", "--runs", "x.parquet"], "--runs: used by --method rank only"),
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


# --- one quantile definition, the risks method, outcomes, warnings (issue 17) ----------------


def plan_with_risks(risks: list[dict], overrides: dict | None = None, **tables):
    """The conftest plan (1,000 mailboxes, 100 a weekday) with a risk register."""
    raw = {k: dict(v) for k, v in BASE.items()}
    for table, values in tables.items():
        raw[table] = {**raw.get(table, {}), **values}
    raw["risks"] = risks
    return from_dict(raw, overrides or {}, source="test.toml")


HALTS = [{"name": "halt", "per_week": 0.7, "pause_days": {"dist": "uniform", "low": 1, "high": 10}}]


def test_the_tornado_base_is_the_summary_p50_not_an_interpolated_median():
    sc = plan_with_risks(HALTS, {"scenario.deadline": nth_weekday_after(START, 15)})
    summary = sim.run(sc, replications=4, seed=7, workers=1)
    days = np.sort(summary.runs["days_to_complete"].to_numpy(dtype=float))
    assert np.median(days) not in days  # 4 replications: an interpolation is no replication's
    tornado = sensitivity(sc, ["batches.weekday"], replications=4, seed=7, workers=1)
    p50 = summary.summary["completion"]["p50"]
    assert tornado.base["completion_p50"] == p50
    assert tornado.base["completion_p90"] == summary.summary["completion"]["p90"]
    # The bars' zero line is the same day: days_to_complete counts the start day as day 1.
    p50_day = START + dt.timedelta(days=tornado.base["p50_days"] - 1)
    assert p50_day.isoformat() == p50
    assert tornado.table.loc[0, "p50_days_base"] == tornado.base["p50_days"]
    assert p50 in tornado.plot().axes[0].get_title()


def two_week_freeze_plan():
    """A pause of 14 days from Wednesday 10 January, certain; and a risk that never strikes."""
    wednesday = nth_weekday_after(START, 3)
    return plan_with_risks(
        [
            {
                "name": "freeze",
                "probability": 1.0,
                "between": [wednesday, wednesday],
                "pause_days": 14,
            },
            {"name": "never", "probability": 0.0, "pause_days": 30},
        ],
        {"scenario.deadline": nth_weekday_after(START, 12)},
    )


def test_a_certain_two_week_pause_costs_its_weekdays_in_closed_form():
    # 1,000 users at 100 a weekday finish on the 10th weekday. 14 calendar days from a
    # Wednesday hold 10 weekdays without cutovers: the finish moves to the 20th weekday.
    result = sensitivity(two_week_freeze_plan(), method="risks", replications=3, workers=1)
    row = result.table.set_index("risk").loc["freeze"]
    cost = days_from_start(20) - days_from_start(10)
    assert cost == 14
    assert row["p50_days_cost"] == row["p90_days_cost"] == row["mean_days_cost"] == cost
    assert row["p50_days_off"] == days_from_start(10)
    assert row["struck_share"] == 1.0
    assert (row["p_meet_on"], row["p_meet_off"], row["p_meet_cost"]) == (0.0, 1.0, 1.0)
    never = result.table.set_index("risk").loc["never"]
    assert never["p50_days_cost"] == never["p90_days_cost"] == never["p_meet_cost"] == 0
    assert result.table["risk"].iloc[0] == "freeze"  # the costliest first
    assert result.base["completion_p50"] == nth_weekday_after(START, 20).isoformat()
    ax = result.plot().axes[0]
    p50_bars = sorted(bar.get_width() for bar in ax.patches if bar.get_gid() == "P50")
    assert p50_bars == [0, cost]  # "never" and "freeze"


def noisy_plan_with_risks():
    """Failures, per-mailbox speeds, an uncertain ticket rate and two recurring risks: plenty
    of dice that switching one risk off must leave alone."""
    late = [nth_weekday_after(START, 60), nth_weekday_after(START, 65)]
    return plan_with_risks(
        [
            {
                "name": "halt",
                "per_week": 0.7,
                "pause_days": {"dist": "uniform", "low": 1, "high": 10},
            },
            {"name": "wave", "per_week": 1.0, "failure_factor": 3.0, "days": 2},
            {"name": "after the finish", "probability": 1.0, "between": late, "pause_days": 5},
        ],
        {
            "scenario.deadline": nth_weekday_after(START, 14),
            "support.ticket_rate": {"dist": "uniform", "low": 0.01, "high": 0.05},
        },
        failures={"rate": 0.05, "retry_after_days": 2, "max_attempts": 3},
        support={"agents": 2},
        throttle={"per_move_sigma": 0.4},
    )


def test_switching_a_risk_off_changes_no_other_draw():
    sc = noisy_plan_with_risks()
    on, off = Variants(seed=4, replications=8, workers=1).runs(
        [sc, sensitivity_mod.risk_switched_off(sc, "halt")]
    )
    assert (off["risk.halt"] == 0).all() and (on["risk.halt"] > 0).any()
    for column in ("risk.wave", "risk.after the finish", "param.support.ticket_rate"):
        pd.testing.assert_series_equal(on[column], off[column])


def test_a_risk_striking_only_after_the_finish_costs_exactly_nothing():
    result = sensitivity(noisy_plan_with_risks(), method="risks", replications=8, seed=4,
                         workers=1)  # fmt: skip
    table = result.table.set_index("risk")
    assert table.loc["halt", "mean_days_cost"] > 0  # the dice do vary the finish
    # The interval is Student's t on the paired differences, by hand.
    on, off = Variants(seed=4, replications=8, workers=1).runs(
        [
            noisy_plan_with_risks(),
            sensitivity_mod.risk_switched_off(noisy_plan_with_risks(), "halt"),
        ]
    )
    d = (on["days_to_complete"] - off["days_to_complete"]).to_numpy(dtype=float)
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    assert table.loc["halt", "mean_days_cost"] == pytest.approx(d.mean())
    assert table.loc["halt", "mean_days_cost_lo"] == pytest.approx(d.mean() - half)
    assert table.loc["halt", "mean_days_cost_hi"] == pytest.approx(d.mean() + half)
    after = table.loc["after the finish"]
    assert after["struck_share"] == 1.0
    costs = ["p50_days_cost", "p90_days_cost", "mean_days_cost", "p_meet_cost"]
    assert after[[*costs, "mean_days_cost_lo", "mean_days_cost_hi"]].eq(0).all()


def test_risks_on_a_plan_without_a_register_is_refused():
    with pytest.raises(ScenarioError, match="risks needs a risk register"):
        sensitivity(desk_plan(), method="risks")


def test_rank_includes_the_risks_with_spearman_p_values():
    early = [START, nth_weekday_after(START, 5)]
    risks = [
        {"name": "halt", "probability": 0.5, "between": early, "pause_days": 14},
        {"name": "idle", "probability": 0.5, "between": [dt.date(2024, 6, 3)] * 2, "pause_days": 1},
    ]
    result = sensitivity(plan_with_risks(risks), method="rank", replications=30, seed=2, workers=1)
    table = result.table.set_index("key")
    assert set(table.index) == {"risk.halt", "risk.idle"}
    assert (table["kind"] == "risk").all()
    # A 14-day halt in the first week makes every struck replication 14 days later: rho 1.
    assert table.loc["risk.halt", "rho"] == pytest.approx(1.0)
    assert table.loc["risk.halt", "p_value"] < 1e-6
    # A pause long after the finish moves nothing: no evidence of an effect.
    assert table.loc["risk.idle", "p_value"] > 0.01
    ax = result.plot().axes[0]
    assert any(t.get_text().startswith("p = ") for t in ax.texts)


def test_outcome_p_meet_measures_the_deadline_and_p90_the_p90():
    sc = plan_with_risks(HALTS, {"scenario.deadline": nth_weekday_after(START, 15)})
    p90 = sensitivity(sc, ["batches.weekday"], outcome="p90", replications=4, seed=7, workers=1)
    row = p90.table.iloc[0]
    assert row["days_low"] == row["p90_days_low"] - row["p90_days_base"]
    meet = sensitivity(sc, ["batches.weekday"], outcome="p_meet", replications=4, seed=7,
                       workers=1)  # fmt: skip
    row = meet.table.iloc[0]
    assert row["p_meet_change_low"] == row["p_meet_low"] - row["p_meet_base"]
    assert "P(meet)" in meet.plot().axes[0].get_title()
    with pytest.raises(ScenarioError, match=r"^outcome: p_meet needs a deadline"):
        sensitivity(scenario(), ["batches.weekday"], outcome="p_meet")


def test_sobol_on_too_few_samples_warns_in_words():
    inputs = {name: stats.uniform(-np.pi, 2 * np.pi) for name in ("x1", "x2", "x3")}
    table = sobol_indices(inputs, ishigami, samples=8, seed=1)
    notes = sensitivity_mod.sobol_warnings(table, 8)
    assert any("8 base samples are too few" in note for note in notes)
    enough = sobol_indices(inputs, ishigami, samples=4096, seed=1)
    assert sensitivity_mod.sobol_warnings(enough, 4096) == []


def test_sobol_warns_of_an_impossible_index_and_of_st_below_s1():
    table = pd.DataFrame(
        {"key": ["a", "b"], "S1": [1.21, 0.6], "S1_conf": [0.01, 0.02], "ST": [1.21, 0.3],
         "ST_conf": [0.01, 0.02]}
    )  # fmt: skip
    notes = sensitivity_mod.sobol_warnings(table, 1024)
    assert any("S1 of a is 1.21, outside [0, 1]" in note for note in notes)
    assert any("ST of b (0.30) is below its S1 (0.60)" in note for note in notes)


def test_sobol_through_sensitivity_issues_its_warnings():
    with pytest.warns(sensitivity_mod.SobolWarning) as caught:
        result = sensitivity(
            desk_plan(), ["batches.weekday", "support.agents"], method="sobol", samples=4,
            replications=1, workers=1,
        )  # fmt: skip
    assert any("too few" in str(w.message) for w in caught)
    assert result.warnings and result.to_dict()["warnings"] == result.warnings


def test_a_truncated_tornado_says_how_many_keys_it_left_out():
    n = 30
    table = pd.DataFrame(
        {"key": [f"k{i}" for i in range(n)], "low": 1.0, "high": 2.0,
         "days_low": -np.arange(n, 0, -1.0), "days_high": np.arange(n, 0, -1.0)}
    )  # fmt: skip
    (ax,) = tornado_figure(table, max_bars=25, left_out=["failures.rate"]).axes
    assert len(ax.get_yticklabels()) == 25
    assert "5 more keys with smaller effects not shown" in ax.get_xlabel()
    assert "1 key fixed at 0 left out" in ax.get_xlabel()


def write_risky_scenario(tmp_path):
    text = (ROOT / "scenarios" / "small-trust.toml").read_text()
    text += (
        '\n[[risks]]\nname = "freeze"\nprobability = 0.5\npause_days = 10\n'
        "between = [2024-03-18, 2024-03-22]\n"
    )
    path = tmp_path / "risky.toml"
    path.write_text(text)
    return path


def test_cli_risks_with_an_outcome_prints_json(tmp_path):
    path = write_risky_scenario(tmp_path)
    args = ["sensitivity", str(path), "--method", "risks", "--outcome", "p90", "-n", "4"]
    result = runner.invoke(app, [*args, "-w", "1", "--json", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["method"] == "risks" and answer["outcome"] == "p90"
    assert answer["rows"][0]["risk"] == "freeze"
    assert (tmp_path / "o" / "tornado.png").exists()


def test_cli_runs_from_another_scenario_is_one_line_naming_runs(tmp_path):
    folder = tmp_path / "other"
    folder.mkdir()
    synthetic_runs().to_parquet(folder / "runs.parquet")
    (folder / "summary.json").write_text(json.dumps({"scenario": "another plan"}))
    args = ["sensitivity", "scenarios/small-trust.toml", *SYNTHETIC_KEYS, "--method", "rank"]
    result = runner.invoke(app, [*args, "--runs", str(folder / "runs.parquet")])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("--runs: ") and "'another plan'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    # Without a summary beside it, the columns tell: small-trust has no uncertain keys.
    (folder / "summary.json").unlink()
    plain = ["sensitivity", "scenarios/small-trust.toml", "--method", "rank"]
    result = runner.invoke(app, [*plain, "--runs", str(folder / "runs.parquet")])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("--runs: ") and "another scenario" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("argument", ["replications", "workers"])
def test_zero_replications_or_workers_is_refused_naming_the_argument(argument):
    with pytest.raises(ScenarioError, match=rf"^{argument}: must be >= 1 \(got 0\)"):
        sensitivity(desk_plan(), ["batches.weekday"], **{argument: 0})


def test_an_uncertain_keys_bars_are_marked_as_measured_from_its_median():
    sc = scenario({"batches.weekday": {"dist": "uniform", "low": 80, "high": 120}})
    result = sensitivity(sc, ["batches.weekday", "support.agents"], replications=2, workers=1)
    table = result.table.set_index("key")
    assert table.loc["batches.weekday", "from_median"]
    assert not table.loc["support.agents", "from_median"]
    ax = result.plot().axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert any(label.startswith("batches.weekday*") for label in labels)
    assert any(label.startswith("support.agents  ") for label in labels)
    assert "uncertain key" in ax.get_xlabel()
