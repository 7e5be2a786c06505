"""A pilot calibrates the plan: the fit recovers known truths within its stated doubt."""

from __future__ import annotations

import importlib.util
import json
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.experiments.actuals import read_actuals
from sim.experiments.calibrate import MIN_MOVES, calibrate
from sim.model.scenario import ScenarioError

ROOT = Path(__file__).resolve().parents[1]
SMALL_TRUST = ROOT / "scenarios" / "small-trust.toml"
EXPORT_SCENARIO = ROOT / "scenarios" / "exchange-export.toml"


def _examples():
    spec = importlib.util.spec_from_file_location(
        "make_exchange_examples", ROOT / "scenarios" / "make_exchange_examples.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXAMPLES = _examples()
TRUTH = EXAMPLES.PILOT_TRUTH


def write_report(frame: pd.DataFrame, path: Path) -> Path:
    EXAMPLES.write_powershell_csv(frame, path, EXAMPLES.MOVES_TYPE_LINE)
    return path


def binomial_band(n: int, p: float, tail: float = 0.001) -> tuple[int, int]:
    """The counts a Binomial(n, p) leaves with probability ``tail`` each side."""
    return int(stats.binom.ppf(tail, n, p)), int(stats.binom.ppf(1 - tail, n, p))


# --- recovering the truth ---------------------------------------------------------------------


def test_the_fit_covers_the_true_speed_spread_items_rate_and_failure_rate_as_often_as_it_says(
    tmp_path,
):
    """200 pilots drawn from known truths: each key's 90% interval holds the truth in
    about 90% of them (within the binomial band of 200 trials)."""
    pilots = 200
    sc = sim.load(SMALL_TRUST)
    seeds = np.random.SeedSequence(16).spawn(pilots)
    truths = {
        "throttle.per_move_gb_per_hour": TRUTH["gb_per_hour"],
        "throttle.per_move_items_per_hour": TRUTH["items_per_hour"],
        "throttle.per_move_sigma": TRUTH["sigma"],
        "failures.rate": TRUTH["failure_rate"],
    }
    covered = dict.fromkeys(truths, 0)
    fitted = dict.fromkeys(truths, 0)
    for i, seed in enumerate(seeds):
        frame = EXAMPLES.pilot_moves(np.random.default_rng(seed), 200, text_sizes=i % 2 == 0)
        cal = calibrate(sc, moves=write_report(frame, tmp_path / "moves.csv"))
        table = cal.table.set_index("key")
        for key, truth in truths.items():
            if table.at[key, "fitted"]:
                fitted[key] += 1
                covered[key] += int(table.at[key, "low"] <= truth <= table.at[key, "high"])
    low, high = binomial_band(pilots, 0.90)
    assert fitted == dict.fromkeys(truths, pilots)
    for key, count in covered.items():
        assert low <= count <= high, (key, count, (low, high))


def test_the_intervals_narrow_as_the_pilot_grows(tmp_path):
    sc = sim.load(SMALL_TRUST)
    widths = []
    for n in (50, 200, 800):
        frame = EXAMPLES.pilot_moves(np.random.default_rng(3), n)
        table = calibrate(sc, moves=write_report(frame, tmp_path / f"m{n}.csv")).table
        row = table.set_index("key").loc["throttle.per_move_gb_per_hour"]
        widths.append(np.log(row["high"] / row["low"]))
    assert widths[0] > widths[1] > widths[2]
    # The standard error of a mean: four times the moves, half the width (about).
    assert widths[1] / widths[2] == pytest.approx(2.0, rel=0.25)


def test_the_calibrated_scenario_carries_the_fit_as_distributions(tmp_path):
    frame = EXAMPLES.pilot_moves(np.random.default_rng(5), 300)
    cal = calibrate(sim.load(SMALL_TRUST), moves=write_report(frame, tmp_path / "m.csv"))
    uncertain = cal.scenario.uncertain
    assert uncertain["throttle.per_move_gb_per_hour"].dist == "lognormal"
    assert uncertain["failures.rate"].dist == "beta"
    failed = int((frame["Status"] == "Failed").sum())
    completed = int((frame["Status"] == "Completed").sum())
    assert cal.keys["failures.rate"] == {
        "dist": "beta",
        "alpha": failed + 0.5,
        "beta": completed + 0.5,
    }
    assert cal.scenario.throttle.per_move_sigma == cal.keys["throttle.per_move_sigma"]
    # Each fitted key says its evidence in moves and a median.
    evidence = cal.table.set_index("key")["evidence"]
    assert "moves bound by size, median" in evidence["throttle.per_move_gb_per_hour"]
    assert f"{failed} failed of {failed + completed}" in evidence["failures.rate"]


def test_fewer_than_ten_usable_moves_leave_the_speed_keys_alone_and_say_so(tmp_path):
    frame = EXAMPLES.pilot_moves(np.random.default_rng(1), 40, synced_share=0.0)
    frame.loc[MIN_MOVES - 1 :, "Status"] = "Failed"  # 9 completed, 31 failed
    sc = sim.load(SMALL_TRUST)
    cal = calibrate(sc, moves=write_report(frame, tmp_path / "m.csv"))
    table = cal.table.set_index("key")
    for key in ("throttle.per_move_gb_per_hour", "throttle.per_move_sigma"):
        assert not table.at[key, "fitted"]
        assert "fewer than 10" in table.at[key, "evidence"]
    assert table.at["failures.rate", "fitted"]  # 40 attempts are enough for the failure rate
    assert cal.scenario.throttle.per_move_gb_per_hour == sc.throttle.per_move_gb_per_hour


def test_without_item_counts_the_items_rate_is_left_alone(tmp_path):
    frame = EXAMPLES.pilot_moves(np.random.default_rng(2), 100).drop(
        columns="TotalMailboxItemCount"
    )
    cal = calibrate(sim.load(SMALL_TRUST), moves=write_report(frame, tmp_path / "m.csv"))
    row = cal.table.set_index("key").loc["throttle.per_move_items_per_hour"]
    assert not row["fitted"] and "TotalMailboxItemCount" in row["evidence"]


# --- the calibrated file ---------------------------------------------------------------------


def test_out_writes_the_scenario_with_only_the_fitted_keys_changed_and_it_runs(tmp_path):
    out = tmp_path / "calibrated" / "plan.toml"
    moves = ROOT / "scenarios" / "pilot-moves.csv"
    result = CliRunner().invoke(
        app, ["calibrate", str(EXPORT_SCENARIO), "--moves", str(moves), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert (out.parent / "calibration.png").stat().st_size > 0
    old, new = EXPORT_SCENARIO.read_text(), out.read_text()
    new_lines = set(new.splitlines())
    replaced = ("per_move_gb_per_hour", "per_move_items_per_hour", "rate =", "inventory =")
    for line in old.splitlines():  # every other line, comments included, is still there
        if not line.strip().startswith(replaced):
            assert line in new_lines, line
    parsed = tomllib.loads(new)
    cal = sim.calibrate(sim.load(EXPORT_SCENARIO), moves=moves)
    for key, value in cal.keys.items():
        table, name = key.split(".")
        assert parsed[table][name] == value
        assert any(name in line and "pilot-moves.csv:" in line for line in new.splitlines())
    # ... and it runs as is, from its new folder, on the same inventory.
    calibrated = sim.load(out)
    res = sim.run(calibrated, replications=2, workers=1)
    assert res.summary["migrated"]["p50"] > 0
    assert calibrated.population.mailboxes == 20_000


# --- bad input -------------------------------------------------------------------------------

HEADER = "DisplayName,Status,BytesTransferred,TotalInProgressDuration\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Name,Size\na,1\n",
            "moves.csv: column DisplayName or Identity: is required in a move report",
        ),
        (
            HEADER + "a,Completed,10,01:00:00\nb,Completed,10,an hour\n",
            "moves.csv: row 3, column TotalInProgressDuration: must be a duration",
        ),
        (
            HEADER + "a,Completed,Unlimited,01:00:00\n",
            "moves.csv: row 2, column BytesTransferred: is 'Unlimited', not a size",
        ),
        (
            HEADER + "a,Failed,10,01:00:00\nb,InProgress,5,00:10:00\n",
            "moves.csv: column Status: no move is Completed",
        ),
        (
            "#TYPE x\n" + HEADER + "a,Completed,10,01:00:00\nb,Completed,10,1:00\n",
            "moves.csv: row 4, column TotalInProgressDuration: must be a duration",
        ),
    ],
)
def test_a_bad_move_report_is_one_line_exit_2_and_nothing_written(
    tmp_path, monkeypatch, text, expected
):
    monkeypatch.chdir(tmp_path)
    Path("moves.csv").write_text(text)
    result = CliRunner().invoke(
        app, ["calibrate", str(SMALL_TRUST), "--moves", "moves.csv", "--out", "out/new.toml"]
    )
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), result.output
    assert not Path("out").exists()


# --- a move report as actuals ------------------------------------------------------------------


def test_actuals_from_a_move_report_are_the_daily_counts_it_encodes(tmp_path):
    rng = np.random.default_rng(9)
    days = pd.date_range("2024-03-04", "2024-03-15", freq="D")
    migrated = rng.integers(0, 30, len(days))
    failed = rng.integers(0, 3, len(days))
    rows = []
    for day, done, bad in zip(days, migrated, failed, strict=True):
        for k in range(done):
            at = day + pd.Timedelta(hours=19, minutes=k)
            rows.append(("Completed", at, "", at))
        for k in range(bad):
            at = day + pd.Timedelta(hours=20, minutes=k)
            rows.append(("Failed", "", at, at))
    rows.append(("Synced", "", "", days[-1] + pd.Timedelta(days=2, hours=9)))  # the report's day
    order = rng.permutation(len(rows))
    stamp = lambda t: t.strftime("%d/%m/%Y %H:%M:%S") if t != "" else ""  # noqa: E731
    frame = pd.DataFrame(
        {
            "DisplayName": [f"u{i}" for i in range(len(rows))],
            "Status": [rows[i][0] for i in order],
            "BytesTransferred": "1.0 GB (1,073,741,824 bytes)",
            "TotalInProgressDuration": "01:30:00",
            "CompletionTimestamp": [stamp(rows[i][1]) for i in order],
            "FailureTimestamp": [stamp(rows[i][2]) for i in order],
            "LastUpdateTimestamp": [stamp(rows[i][3]) for i in order],
        }
    )
    path = write_report(frame, tmp_path / "live.csv")
    actuals = read_actuals(path).set_index("date")
    expected = pd.DataFrame(
        {"migrated": migrated, "failed": failed}, index=days.strftime("%Y-%m-%d")
    )
    expected = expected[(expected["migrated"] > 0) | (expected["failed"] > 0)]
    expected.loc["2024-03-17"] = [0, 0]  # the as-of day: the report's last update
    assert actuals.index.tolist() == expected.index.tolist()
    np.testing.assert_array_equal(actuals["migrated"], expected["migrated"])
    np.testing.assert_array_equal(actuals["failed"], expected["failed"])
    res = sim.forecast(sim.load(SMALL_TRUST), actuals=path, replications=2, workers=1)
    assert res.summary["as_of"] == "2024-03-17"
    assert res.summary["observed"]["migrated"] == migrated.sum()


def test_a_completed_move_without_its_completion_time_cannot_be_actuals(tmp_path):
    path = tmp_path / "live.csv"
    path.write_text(
        "DisplayName,Status,BytesTransferred,TotalInProgressDuration,CompletionTimestamp\n"
        "a,Completed,10,01:00:00,2024-03-05 19:00:00\nb,Completed,10,01:00:00,\n"
    )
    with pytest.raises(ScenarioError, match=r"row 3, column CompletionTimestamp: is empty"):
        read_actuals(path)


def test_set_overrides_are_written_into_the_calibrated_file_too(tmp_path):
    out = tmp_path / "plan.toml"
    moves = ROOT / "scenarios" / "pilot-moves.csv"
    args = ["calibrate", str(SMALL_TRUST), "--moves", str(moves), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--set", "batches.weekday=450"])
    assert result.exit_code == 0, result.output
    written = sim.load(out)
    assert written.batches.weekday == 450
    assert written.uncertain["failures.rate"].dist == "beta"


def test_an_out_path_that_is_not_a_toml_file_is_refused_before_fitting(tmp_path):
    moves = ROOT / "scenarios" / "pilot-moves.csv"
    args = ["calibrate", str(SMALL_TRUST), "--moves", str(moves), "--out", str(tmp_path / "x")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert result.output.strip().startswith("--out: must name a .toml file")


def test_a_dataframe_of_the_report_calibrates_as_its_csv_does_and_shows_itself(tmp_path):
    frame = EXAMPLES.pilot_moves(np.random.default_rng(8), 150)
    sc = sim.load(SMALL_TRUST)
    from_csv = calibrate(sc, moves=write_report(frame, tmp_path / "m.csv"))
    from_frame = sim.calibrate(sc, moves=frame, source="pilot")
    pd.testing.assert_frame_equal(
        from_csv.table.drop(columns="evidence"), from_frame.table.drop(columns="evidence")
    )
    page = from_frame._repr_html_()
    assert "throttle.per_move_gb_per_hour" in page and "failures.rate" in page
    figure = from_frame.plot()
    assert len(figure.axes) == 2 and figure.axes[0].get_yscale() == "log"
    assert from_frame.summary["keys"]["failures.rate"]["fitted"] is True


def test_forecast_takes_a_move_report_on_the_command_line(tmp_path):
    moves = EXAMPLES.pilot_moves(
        np.random.default_rng(4), 120, start=pd.Timestamp("2024-03-04 18:00")
    )
    path = write_report(moves, tmp_path / "live.csv")
    daily = read_actuals(path)
    result = CliRunner().invoke(
        app, ["forecast", str(SMALL_TRUST), "--actuals", str(path), "-n", "2", "-w", "1", "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["as_of"] == daily["date"].iloc[-1]
    assert summary["observed"]["migrated"] == int((moves["Status"] == "Completed").sum())


@pytest.mark.parametrize("name", ["nhsmail-2020.toml", "small-trust.toml", "exchange-export.toml"])
def test_replacing_keys_keeps_every_other_key_of_the_bundled_scenarios(name):
    from sim.outputs.scenario_edit import replace_keys

    text = (ROOT / "scenarios" / name).read_text()
    changes = {
        "throttle.per_move_gb_per_hour": ({"dist": "lognormal", "median": 0.5, "sigma": 0.1}, "x"),
        "throttle.per_move_sigma": (0.4, "y"),
        "failures.rate": ({"dist": "beta", "alpha": 2.5, "beta": 97.5}, "z"),
    }
    new = replace_keys(text, changes)
    before, after = tomllib.loads(text), tomllib.loads(new)
    for key, (value, _) in changes.items():
        table, field = key.split(".")
        assert after[table].pop(field) == value
        before.setdefault(table, {}).pop(field, None)
    assert after == before
    assert [line for line in text.splitlines() if line.strip().startswith("#")] == [
        line
        for line in new.splitlines()
        if line.strip().startswith("#") and not line.strip().startswith("# was:")
    ]


def test_when_items_never_bind_no_items_rate_is_made_out_of_chance():
    """Slow moves with many items happen by chance; the fit must not call them a rate."""
    sc = sim.load(SMALL_TRUST)
    pilots = 200
    fitted = 0
    for seed in np.random.SeedSequence(21).spawn(pilots):
        frame = EXAMPLES.pilot_moves(np.random.default_rng(seed), 200, items_per_hour=1e12)
        table = sim.calibrate(sc, moves=frame).table.set_index("key")
        fitted += bool(table.at["throttle.per_move_items_per_hour", "fitted"])
    # A false alarm is rare: 1 of these 200 (without the information criterion, 8).
    assert fitted <= 3


def test_the_bundled_exchange_examples_are_what_their_seeded_script_writes(tmp_path):
    export, pilot = tmp_path / "export.csv", tmp_path / "pilot.csv"
    EXAMPLES.write_examples(export, pilot)
    assert export.read_bytes() == (ROOT / "scenarios" / "exchange-mailboxes.csv").read_bytes()
    assert pilot.read_bytes() == (ROOT / "scenarios" / "pilot-moves.csv").read_bytes()
