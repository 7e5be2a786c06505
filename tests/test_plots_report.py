"""Plots show what the results say, and the HTML report is self-contained and atomic.

The results here are small synthetic tables with the schema of ``sim.run`` (3 replications
x 60 days), so the expected values are computed independently with pandas groupbys.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.outputs import plots, report

START = dt.date(2021, 1, 4)
DEADLINE = dt.date(2021, 2, 28)
POPULATION = 100_000
PAUSE_BACKLOG = 400
DAYS = 60
COMPLETIONS = [pd.Timestamp("2021-02-20"), pd.Timestamp("2021-02-25"), pd.NaT]
PLOT_NAMES = (
    "completion_distribution",
    "progress_fan",
    "daily_cutovers",
    "throttle_utilisation",
    "support_backlog",
)

SUMMARY = {
    "scenario": "pilot",
    "seed": 7,
    "replications": 3,
    "start": "2021-01-04",
    "deadline": "2021-02-28",
    "completion": {"p10": "2021-02-20", "p50": "2021-02-25", "p90": None},
    "completed_share": 2 / 3,
    "p_meet_deadline": 2 / 3,
    "migrated": {"p10": 97_512, "p50": 98_765, "p90": 99_900},
    "needs_remediation": {"p50": 321},
    "data_tb": {"p50": 104.5},
    "support": {
        "tickets": {"p50": 4_321},
        "users_needing_support_pct": {"p50": 0.87},
        "peak_backlog": {"p90": 456},
        "wait_hours": {"p90": 20.5},
    },
    "paused_days": {"p50": 2},
    "wall_seconds": 1.5,
}


def _results(n_replications: int = 3, days: int = DAYS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Synthetic ``runs`` and ``daily`` tables with the schema the simulation core produces."""
    rng = np.random.default_rng(42)
    dates = pd.date_range(START, periods=days, freq="D")
    frames = []
    for replication in range(n_replications):
        scheduled = rng.integers(800, 2_000, size=days)
        failed = rng.integers(0, 10, size=days)
        deferred = rng.integers(0, 50, size=days)
        ok = scheduled - failed - deferred
        paused = np.zeros(days, dtype=bool)
        if replication < 2:
            paused[[10, 11]] = True  # most replications pause on these days
        else:
            paused[30] = True  # only one of three pauses here
        opened = rng.integers(0, 60, size=days)
        closed = rng.integers(0, 55, size=days)
        frames.append(
            pd.DataFrame(
                {
                    "replication": replication,
                    "date": dates,
                    "scheduled": scheduled,
                    "cutover_ok": ok,
                    "cutover_failed": failed,
                    "deferred": deferred,
                    "cumulative_migrated": np.cumsum(ok),
                    "notices_sent": scheduled,
                    "reminders_sent": scheduled,
                    "success_notices": ok,
                    "tickets_opened": opened,
                    "tickets_closed": closed,
                    "ticket_backlog": np.cumsum(opened - np.minimum(opened, closed)),
                    "presync_gb": rng.uniform(500, 2_000, size=days),
                    "throttle_capacity_gb": rng.choice([2_000.0, 2_400.0], size=days),
                    "paused": paused,
                }
            )
        )
    daily = pd.concat(frames, ignore_index=True)
    completion = pd.to_datetime(pd.Series((COMPLETIONS * n_replications)[:n_replications]))
    runs = pd.DataFrame(
        {
            "replication": range(n_replications),
            "completion_date": completion,
            "completed": completion.notna(),
            "met_deadline": completion.notna() & (completion <= pd.Timestamp(DEADLINE)),
            "migrated": daily.groupby("replication")["cumulative_migrated"].max().to_numpy(),
            "needs_remediation": 3,
            "not_migrated": 0,
            "tickets": 100,
            "peak_backlog": 50,
            "paused_days": 2,
            "data_tb": 1.5,
            "users_needing_support_pct": 0.8,
            "wait_hours_mean": 2.0,
            "wait_hours_90th_pct": 6.0,
        }
    )
    return runs, daily


@pytest.fixture(scope="module")
def results() -> tuple[pd.DataFrame, pd.DataFrame]:
    return _results()


def _by_gid(ax: Axes, gid: str) -> list:
    return [artist for artist in ax.get_children() if artist.get_gid() == gid]


def _date_x(date: dt.date | str) -> float:
    return float(mdates.date2num(pd.Timestamp(date).to_datetime64()))


def _texts(ax: Axes) -> str:
    return "\n".join(text.get_text() for text in ax.texts)


# --- plots -----------------------------------------------------------------------------------


def test_completion_distribution_draws_deadline_line_at_deadline_date(results):
    runs, _ = results
    ax = plots.completion_distribution(runs, DEADLINE)
    (line,) = _by_gid(ax, "deadline")
    assert line.get_xdata()[0] == pytest.approx(_date_x(DEADLINE))
    assert "P(meet deadline) = 67%" in line.get_label()


def test_completion_distribution_marks_p50_and_notes_unfinished_replications(results):
    runs, _ = results
    ax = plots.completion_distribution(runs, DEADLINE)
    p50 = [line for line in ax.get_lines() if line.get_label().startswith("P50")]
    assert p50[0].get_label() == "P50 2021-02-25"
    assert p50[0].get_xdata()[0] == pytest.approx(_date_x("2021-02-25"))
    notes = _texts(ax)
    assert "33% of replications" in notes
    assert "P90 not reached" in notes


def test_completion_distribution_ecdf_tops_out_at_completed_share(results):
    runs, _ = results
    ax = plots.completion_distribution(runs)
    (ecdf,) = [line for line in ax.get_lines() if line.get_label() == "completed by date"]
    assert max(ecdf.get_ydata()) == pytest.approx(100 * 2 / 3)


def test_completion_distribution_says_when_no_replication_completed(results):
    runs, _ = results
    ax = plots.completion_distribution(runs.assign(completion_date=pd.NaT), DEADLINE)
    assert "no replication completed" in _texts(ax)
    assert _by_gid(ax, "deadline")


def test_progress_fan_p50_line_is_per_date_median_share_of_population(results):
    _, daily = results
    ax = plots.progress_fan(daily, POPULATION, start=START, deadline=DEADLINE)
    expected = daily.groupby("date")["cumulative_migrated"].median() / POPULATION * 100
    (p50,) = _by_gid(ax, "p50")
    np.testing.assert_allclose(p50.get_ydata(), expected.to_numpy())
    np.testing.assert_allclose(p50.get_xdata(), [_date_x(d) for d in expected.index])
    (deadline,) = _by_gid(ax, "deadline")
    assert deadline.get_xdata()[0] == pytest.approx(_date_x(DEADLINE))


def test_progress_fan_band_spans_p10_to_p90(results):
    _, daily = results
    ax = plots.progress_fan(daily, POPULATION)
    (band,) = _by_gid(ax, "band")
    band_y = np.concatenate([path.vertices[:, 1] for path in band.get_paths()])
    share = daily.groupby("date")["cumulative_migrated"]
    assert band_y.max() == pytest.approx(share.quantile(0.9).max() / POPULATION * 100)
    assert band_y.min() == pytest.approx(share.quantile(0.1).min() / POPULATION * 100)


def test_progress_fan_carries_a_finished_replication_at_its_final_count(results):
    _, daily = results
    last_day = daily["date"].max()
    short = daily[(daily["replication"] != 0) | (daily["date"] < last_day - pd.Timedelta(days=9))]
    ax = plots.progress_fan(short, POPULATION)
    finals = short.groupby("replication")["cumulative_migrated"].max()
    (p50,) = _by_gid(ax, "p50")
    assert p50.get_ydata()[-1] == pytest.approx(finals.median() / POPULATION * 100)


def test_progress_fan_with_one_replication_draws_its_line_without_band():
    _, daily = _results(n_replications=1)
    ax = plots.progress_fan(daily, POPULATION)
    assert not _by_gid(ax, "band")
    (line,) = _by_gid(ax, "p50")
    np.testing.assert_allclose(line.get_ydata(), daily["cumulative_migrated"] / POPULATION * 100)


def test_daily_cutovers_bars_are_per_date_medians_and_paused_days_shaded(results):
    _, daily = results
    ax = plots.daily_cutovers(daily)
    for column in ("cutover_ok", "cutover_failed"):
        heights = [bar.get_height() for bar in ax.patches if bar.get_gid() == column]
        np.testing.assert_allclose(heights, daily.groupby("date")[column].median().to_numpy())
    assert _by_gid(ax, "paused")
    assert "1 more day paused" in _texts(ax)


def test_daily_cutovers_shade_each_day_paused_in_most_replications_whole(results):
    _, daily = results
    ax = plots.daily_cutovers(daily)
    (band,) = _by_gid(ax, "paused")  # days 10 and 11 paused in two of three replications
    left, right = band.get_x(), band.get_x() + band.get_width()
    first = pd.Timestamp(START) + pd.Timedelta(days=10)
    assert (left, right) == pytest.approx((_date_x(first) - 0.5, _date_x(first) + 1.5))


def test_daily_cutovers_draw_the_waiting_queue_as_a_line_not_bars_on_the_cutovers(results):
    _, daily = results
    daily = daily.assign(slipped=np.arange(len(daily)) % 7 * 100)
    ax = plots.daily_cutovers(daily)
    assert not [bar for bar in ax.patches if bar.get_gid() in ("deferred", "slipped")]
    (line,) = _by_gid(ax, "waiting")
    waiting = (daily["deferred"] + daily["slipped"]).groupby(daily["date"]).median()
    np.testing.assert_allclose(line.get_ydata(), waiting.to_numpy())


def test_daily_cutovers_leave_headroom_above_the_tallest_day(results):
    _, daily = results
    only_ok = daily.assign(cutover_failed=0, deferred=0)
    ax = plots.daily_cutovers(only_ok)
    assert ax.get_ylim()[1] > only_ok.groupby("date")["cutover_ok"].median().max()


def test_throttle_utilisation_compares_median_presync_with_median_capacity(results):
    _, daily = results
    ax = plots.throttle_utilisation(daily)
    moved = [bar.get_height() for bar in ax.patches if bar.get_gid() == "presync"]
    np.testing.assert_allclose(moved, daily.groupby("date")["presync_gb"].median().to_numpy())
    (capacity,) = _by_gid(ax, "capacity")
    expected = daily.groupby("date")["throttle_capacity_gb"].median().to_numpy()
    np.testing.assert_allclose(capacity.get_ydata(), expected)
    assert ax.get_ylabel() == "data per day (GB)"


def test_support_backlog_draws_median_backlog_and_go_no_go_threshold(results):
    _, daily = results
    ax = plots.support_backlog(daily, pause_backlog=PAUSE_BACKLOG)
    (p50,) = _by_gid(ax, "p50")
    expected = daily.groupby("date")["ticket_backlog"].median().to_numpy()
    np.testing.assert_allclose(p50.get_ydata(), expected)
    assert _by_gid(ax, "band")
    (threshold,) = _by_gid(ax, "pause_backlog")
    assert threshold.get_ydata()[0] == PAUSE_BACKLOG


@pytest.mark.parametrize("pause_backlog", [None, 0])
def test_support_backlog_without_gate_draws_no_threshold(results, pause_backlog):
    _, daily = results
    ax = plots.support_backlog(daily, pause_backlog=pause_backlog)
    assert not _by_gid(ax, "pause_backlog")


def test_support_backlog_notes_a_threshold_far_above_the_backlog(results):
    _, daily = results
    ax = plots.support_backlog(daily, pause_backlog=1_000_000)
    assert not _by_gid(ax, "pause_backlog")
    assert "1,000,000 open tickets" in _texts(ax)


def test_plots_draw_on_a_given_axes_and_never_touch_pyplot(results):
    runs, daily = results
    plt.close("all")
    figure = Figure()
    axes = figure.subplots(5)
    drawn = [
        plots.completion_distribution(runs, DEADLINE, ax=axes[0]),
        plots.progress_fan(daily, POPULATION, ax=axes[1]),
        plots.daily_cutovers(daily, ax=axes[2]),
        plots.throttle_utilisation(daily, ax=axes[3]),
        plots.support_backlog(daily, ax=axes[4]),
    ]
    assert drawn == list(axes)
    assert isinstance(plots.daily_cutovers(daily).figure, Figure)
    assert plt.get_fignums() == []


def test_format_share_never_rounds_a_near_miss_to_certainty():
    assert plots.format_share(0.9996) == "99.9%"
    assert plots.format_share(0.0001) == "0.1%"
    assert plots.format_share(2 / 3) == "67%"
    assert plots.format_share(1.0) == "100%"


# --- report ----------------------------------------------------------------------------------

# Ten replications finishing 1, 4, 7, ..., 28 February; eight by the deadline of the 23rd.
REPORT_DEADLINE = dt.date(2021, 2, 23)
REPORT_COMPLETIONS = [dt.date(2021, 2, 1) + dt.timedelta(days=3 * i) for i in range(10)]
# Sorted, the inverted empirical CDF puts P10 on the 1st, P50 on the 5th, P90 on the 9th date.
P10, P50, P90 = (REPORT_COMPLETIONS[i].isoformat() for i in (0, 4, 8))


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval, from its closed form."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _report_result(confidence: float = 0.9):
    from sim.experiments.results import Result
    from tests.conftest import scenario

    sc = scenario(
        {
            "scenario.start": START,
            "scenario.deadline": REPORT_DEADLINE,
            "scenario.confidence": confidence,
            "population.mailboxes": POPULATION,
            "support.pause_backlog": PAUSE_BACKLOG,
        }
    )
    _, daily = _results()
    completion = pd.to_datetime(pd.Series(REPORT_COMPLETIONS))
    runs = pd.DataFrame(
        {
            "replication": range(10),
            "completion_date": completion,
            "completed": True,
            "met_deadline": completion <= pd.Timestamp(REPORT_DEADLINE),
        }
    )
    summary = {
        **SUMMARY,
        "replications": 10,
        "completion": {"p10": P10, "p50": P50, "p90": P90},
        "p_meet_deadline": 0.8,
    }
    return Result(summary=summary, runs=runs, daily=daily, scenario=sc)


def _write(out_dir: Path, result=None, **kwargs) -> Path:
    return report.write_report(out_dir, result or _report_result(), **kwargs)


def _verdict_of(text: str) -> tuple[str, str]:
    match = re.search(r"<section class='(verdict[^']*)'>(.*?)</section>", text, re.S)
    return match.group(1), re.sub(r"<[^>]+>", "", match.group(2))


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    # A directory that does not exist yet: the report creates it.
    return _write(tmp_path_factory.mktemp("report") / "nested" / "out")


def test_report_is_written_as_report_html_in_the_new_out_dir(written):
    assert written.name == "report.html"
    assert written.is_file()
    assert sorted(p.name for p in written.parent.iterdir()) == ["report.html"]


def test_report_verdict_fails_eight_of_ten_at_90_percent_with_wilson_interval_and_overrun(
    written,
):
    css, verdict = _verdict_of(written.read_text(encoding="utf-8"))
    assert css == "verdict bad"
    assert verdict.split()[0] == "FAIL"
    assert "target confidence of 90%" in verdict
    # 8 of 10 replications finish by 23 Feb; the 90% date is the 9th: 2021-02-25.
    assert "P(meet deadline) = 80% (8 of 10 replications" in verdict
    low, high = _wilson(8, 10)
    assert f"95% interval {low:.0%} to {high:.0%}" in verdict
    assert f"done by {P90}: 2 days late." in verdict
    assert f"Likely finish (P50): {P50}" in verdict and f"between {P10} (P10)" in verdict


def test_report_verdict_passes_the_same_runs_at_80_percent(tmp_path):
    path = _write(tmp_path, _report_result(confidence=0.8))
    css, verdict = _verdict_of(path.read_text(encoding="utf-8"))
    assert css == "verdict good"
    assert verdict.split()[0] == "PASS"
    # At 80% the 8th date: 2021-02-22, the day before the deadline.
    assert "done by 2021-02-22: 1 day of slack before the deadline" in verdict


def test_report_explicit_confidence_overrides_the_scenarios(tmp_path):
    path = _write(tmp_path, _report_result(confidence=0.9), confidence=0.5)
    css, verdict = _verdict_of(path.read_text(encoding="utf-8"))
    assert css == "verdict good" and "target confidence of 50%" in verdict


def test_report_warns_that_ten_replications_are_too_few_for_90_percent(written):
    text = written.read_text(encoding="utf-8")
    warnings = re.findall(r"<p class='warning'>(.*?)</p>", text)
    assert any("10 replications are too few for 90% confidence" in w for w in warnings)
    assert any("Run at least 100" in w for w in warnings)
    assert any("contains the 90% target" in w for w in warnings)


def test_report_table_states_summary_quantiles_in_their_rows(written):
    text = written.read_text(encoding="utf-8")

    def row(label: str) -> list[str]:
        cells = re.search(rf"<tr><td>{re.escape(label)}</td>(.*?)</tr>", text).group(1)
        return re.findall(r"<td>(.*?)</td>", cells)

    assert row("Completion date") == [P10, P50, P90, "date"]
    assert row("Mailboxes migrated") == ["97,512", "98,765", "99,900", "mailboxes"]
    assert row("Peak open tickets (at any moment)") == ["—", "—", "456", "tickets"]
    assert row("Users needing support")[1] == "0.87"


def test_report_has_no_external_references(written):
    text = written.read_text(encoding="utf-8")
    without_images = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)
    assert "http" not in without_images.lower()
    assert "<script" not in without_images.lower()
    assert "<link" not in without_images.lower()


def test_report_embeds_the_five_plots_as_png(written):
    sources = re.findall(r"<img [^>]*src=\"([^\"]+)\"", written.read_text(encoding="utf-8"))
    assert len(sources) == 5
    for source in sources:
        prefix = "data:image/png;base64,"
        assert source.startswith(prefix)
        assert base64.b64decode(source[len(prefix) :])[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_shows_the_validated_scenario_escaped(tmp_path):
    result = _report_result()
    from sim.model.scenario import with_overrides

    result.scenario = with_overrides(
        result.scenario, {"scenario.name": "pilot <script>alert(1)</script> & co"}, source="t"
    )
    text = _write(tmp_path, result).read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in text
    assert "<script>" not in text


def test_scenario_toml_loads_back_to_the_same_scenario():
    import sim
    from sim.model.scenario import loads

    for path in ("scenarios/small-trust.toml", "scenarios/nhsmail-2020.toml"):
        sc = sim.load(path, {"support.hours.weekend": [], "batches.weekday": 123})
        text = report.scenario_toml(sc)
        assert loads(text) == sc
        assert "weekday = 123" in text


class _Uniform:
    """A stand-in for the uncertainty helper's distribution models."""

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high

    def frozen(self):
        from scipy import stats

        return stats.uniform(loc=self.low, scale=self.high - self.low)


def test_report_tables_the_uncertain_inputs_and_risks(tmp_path, monkeypatch):
    result = _report_result()
    key = "support.ticket_rate"
    result.runs[f"param.{key}"] = np.linspace(0.002, 0.009, 10)
    result.summary["risks"] = {"national emergency": 0.25}
    monkeypatch.setattr(
        report, "uncertain_inputs", lambda sc: {key: {"dist": "uniform", "low": 0.0, "high": 0.01}}
    )
    monkeypatch.setattr(report, "_distribution_quantiles", lambda d: [0.001, 0.005, 0.009])
    risks = [
        {
            "name": "national emergency",
            "probability": 0.2,
            "between": [dt.date(2021, 1, 10), dt.date(2021, 2, 1)],
            "pause_days": {"dist": "triangular", "low": 7, "mode": 14, "high": 28},
        },
        {"name": "throttle cut", "per_week": 0.05, "throttle_factor": 0.5, "days": 3},
    ]

    class WithRisks:
        def __init__(self, sc):
            self._sc = sc
            self.risks = risks

        def __getattr__(self, name):
            return getattr(self._sc, name)

    result.scenario = WithRisks(result.scenario)
    text = _write(tmp_path, result).read_text(encoding="utf-8")
    assert "<code>support.ticket_rate</code>" in text
    assert "uniform(low = 0.0, high = 0.01)" in text or "uniform(low=0.0, high=0.01)" in text
    assert "<td>0.001</td><td>0.005</td><td>0.009</td><td>0.002 to 0.009</td>" in text
    assert "20% chance, starting between 2021-01-10 and 2021-02-01" in text
    assert "no cutovers for triangular(low=7, mode=14, high=28) days" in text
    assert "throttle x 0.5 for 3 days" in text
    assert "0.05 a week on average" in text
    assert "<td>25%</td>" in text


def test_distribution_quantiles_come_from_the_frozen_distribution():
    assert report._distribution_quantiles(_Uniform(0.0, 0.01)) == pytest.approx(
        [0.001, 0.005, 0.009]
    )


@pytest.fixture
def quick_plots(monkeypatch) -> None:
    """Replace the five charts with blank ones: atomicity tests need no real drawing."""

    def blank(*args, **kwargs) -> Axes:
        return Figure(figsize=(1, 1)).add_subplot()

    for name in PLOT_NAMES:
        monkeypatch.setattr(plots, name, blank)


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failure_midway_keeps_previous_report_and_leaves_no_temp_file(
    written, tmp_path, monkeypatch, quick_plots, error
):
    previous = tmp_path / "report.html"
    previous.write_bytes(written.read_bytes())

    def fail_while_writing(*args, **kwargs):
        # The last chart: the header and four charts have gone to a temporary file by now.
        assert [p for p in tmp_path.iterdir() if p.name != "report.html"]
        raise error("simulated crash while writing")

    monkeypatch.setattr(plots, "support_backlog", fail_while_writing)
    with pytest.raises(error, match="simulated crash"):
        _write(tmp_path)
    assert previous.read_bytes() == written.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_failure_to_move_into_place_keeps_previous_report(tmp_path, monkeypatch, quick_plots):
    previous = tmp_path / "report.html"
    previous.write_text("previous report", encoding="utf-8")

    def replace_fails(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", replace_fails)
    with pytest.raises(OSError, match="disk full"):
        _write(tmp_path)
    assert previous.read_text(encoding="utf-8") == "previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_distributions_read_low_mode_high_as_the_scenario_writes_them():
    from sim.model.scenario import loads

    sc = loads(
        Path("scenarios/small-trust.toml")
        .read_text()
        .replace(
            "ticket_rate = 0.01",
            'ticket_rate = { dist = "pert", low = 0.005, mode = 0.01, high = 0.02 }',
        )
    )
    (dist,) = report.uncertain_inputs(sc).values()
    assert report.describe_distribution(dist) == "pert(low=0.005, mode=0.01, high=0.02)"


def test_report_caption_of_the_cutovers_chart_names_every_series_it_draws(written):
    # The chart stacks slipped users (evening full or day paused) on the bars; the caption
    # said only "cut over, failed and deferred".
    text = written.read_text(encoding="utf-8")
    caption = re.search(r"Daily cutovers:[^<]*", text).group(0)
    for series in ("cut over", "failed", "deferred", "slipped"):
        assert series in caption
