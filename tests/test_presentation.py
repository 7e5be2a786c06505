"""What a planner sees, fed with a real small run: the report command, the charts, Jupyter.

The plan is small enough to work out by hand: 1,000 mailboxes, 50 a weekday evening, no
weekend cutovers, English bank holidays (25-26 December, 1 January) and a change freeze on
8-12 January 2024. Starting Monday 18 December 2023, the 20th cutover day is 24 January 2024:
5 days before Christmas, 3 after it, 4 in the new year's first week, then the freeze, then
5 + 3 more. Nothing else binds (ample throttle, no failures), so every replication finishes
on that day.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest
import tomli_w
from matplotlib.figure import Figure
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.model.scenario import from_dict
from sim.outputs import headline as headline_mod
from sim.outputs.timeline import Period, timeline_of
from tests.conftest import BASE, nth_weekday_after

START = dt.date(2023, 12, 18)
FREEZE = (dt.date(2024, 1, 8), dt.date(2024, 1, 12))
HOLIDAYS = {dt.date(2023, 12, 25), dt.date(2023, 12, 26), dt.date(2024, 1, 1)}
FREEZE_DAYS = {FREEZE[0] + dt.timedelta(days=i) for i in range(5)}
DEADLINE = dt.date(2024, 1, 31)
# 1,000 mailboxes at 50 a cutover day: the 20th cutover day.
FINISH = nth_weekday_after(START, 20, skip=HOLIDAYS | FREEZE_DAYS)
# The file's phase 2 runs at 100 a day from 15 January: 600 done by then, 4 more days.
FINISH_AT_FILE_PACE = nth_weekday_after(dt.date(2024, 1, 15), 4)
REPLICATIONS = 3


def _plan() -> dict:
    raw = {table: dict(values) for table, values in BASE.items()}
    raw["scenario"].update(name="hand-checked plan", start=START, deadline=DEADLINE)
    raw["calendar"].update(
        holidays="GB-ENG",
        blackouts=[{"from": FREEZE[0], "to": FREEZE[1], "reason": "change freeze"}],
    )
    raw["batches"].update(
        weekday=100,
        phases=[{"from": START, "weekday": 50}, {"from": dt.date(2024, 1, 15)}],
    )
    # Enough tickets for one agent to build a queue: the desk chart has something to show.
    raw["support"].update(ticket_rate=0.05, agents=1)
    return raw


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("plan") / "plan.toml"
    path.write_text(tomli_w.dumps(_plan()), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def res():
    sc = from_dict(_plan(), {"batches.weekday": 50}, source="test")
    return sim.run(sc, replications=REPLICATIONS, seed=1, workers=1)


def _x(date: dt.date) -> float:
    return float(mdates.date2num(np.datetime64(date)))


def _by_gid(figure: Figure, gid: str) -> list:
    (ax,) = figure.axes
    return [artist for artist in ax.get_children() if artist.get_gid() == gid]


# --- the report command, end to end --------------------------------------------------------


def _report(plan_file: Path, out: Path, *extra: str) -> str:
    args = ["report", str(plan_file), "--out", str(out), "-n", str(REPLICATIONS), "-w", "1"]
    result = CliRunner().invoke(app, [*args, "--set", "batches.weekday=50", *extra])
    assert result.exit_code == 0, result.output
    return (out / "report.html").read_text(encoding="utf-8")


def _verdict(text: str) -> tuple[str, str]:
    match = re.search(r"<section class='(verdict[^']*)'>(.*?)</section>", text, re.S)
    return match.group(1), re.sub(r"<[^>]+>", "", match.group(2))


def test_the_hand_worked_finish_is_the_20th_cutover_day():
    assert dt.date(2024, 1, 24) == FINISH
    assert dt.date(2024, 1, 18) == FINISH_AT_FILE_PACE


def test_report_command_passes_a_plan_that_meets_its_deadline_with_its_slack(plan_file, tmp_path):
    text = _report(plan_file, tmp_path / "out")
    css, verdict = _verdict(text)
    assert css == "verdict good"
    assert verdict.split()[0] == "PASS"
    slack = (DEADLINE - FINISH).days
    assert f"done by {FINISH}: {slack} days of slack before the deadline" in verdict
    assert f"P(meet deadline) = 100% ({REPLICATIONS} of {REPLICATIONS} replications" in verdict


def test_report_command_fails_a_plan_that_misses_with_its_overrun(plan_file, tmp_path):
    deadline = dt.date(2024, 1, 19)
    text = _report(plan_file, tmp_path / "out", "--set", f"scenario.deadline={deadline}")
    css, verdict = _verdict(text)
    assert css == "verdict bad"
    assert verdict.split()[0] == "FAIL"
    assert f"done by {FINISH}: {(FINISH - deadline).days} days late" in verdict
    assert "P(meet deadline) = 0% (0 of 3" in verdict


def test_report_command_shows_the_scenario_as_run_with_overrides(plan_file, tmp_path):
    text = _report(plan_file, tmp_path / "out")
    scenario = re.search(r"<h2>Scenario as run</h2>(.*?)</pre>", text, re.S).group(1)
    assert "<code>batches.weekday = 50</code>" in scenario
    batches = re.search(r"\[batches\]\n(.*?)\n\n", scenario, re.S).group(1)
    assert "weekday = 50" in batches.splitlines()
    # The run used the override: at the file's pace it would have finished on the 18th.
    assert f"Likely finish (P50): {FINISH}" in _verdict(text)[1]


def test_report_command_writes_one_self_contained_file(plan_file, tmp_path):
    out = tmp_path / "out"
    text = _report(plan_file, out)
    assert [p.name for p in out.iterdir()] == ["report.html"]
    without_images = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)
    for reference in ("http", "<script", "<link", 'src="/', "src='/", "url("):
        assert reference not in without_images.lower()
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', text)) == 5


def test_report_command_rejects_a_confidence_out_of_range(plan_file, tmp_path):
    args = ["report", str(plan_file), "--out", str(tmp_path), "--confidence", "1.5"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "--confidence" in result.output
    assert not (tmp_path / "report.html").exists()


# --- charts fed with the real run ------------------------------------------------------------

TIME_CHARTS = ("progress", "cutovers", "throttle", "desk")


@pytest.mark.parametrize("name", [*TIME_CHARTS, "completion"])
def test_every_chart_draws_the_deadline_and_labels_dates_with_years(res, name):
    figure = getattr(res.plot, name)()
    assert isinstance(figure, Figure)
    (deadline,) = _by_gid(figure, "deadline")
    assert deadline.get_xdata()[0] == pytest.approx(_x(DEADLINE))
    assert str(DEADLINE) in deadline.get_label()
    figure.draw_without_rendering()
    labels = [t.get_text() for t in figure.axes[0].get_xticklabels() if t.get_text()]
    assert labels and all(re.search(r"\b202[34]\b", label) for label in labels)


@pytest.mark.parametrize("name", TIME_CHARTS)
def test_time_charts_hatch_the_freeze_shade_holidays_and_mark_phases(res, name):
    figure = getattr(res.plot, name)()
    (freeze,) = _by_gid(figure, "blackout")
    left, right = freeze.get_x(), freeze.get_x() + freeze.get_width()
    assert (left, right) == pytest.approx((_x(FREEZE[0]) - 0.5, _x(FREEZE[1]) + 0.5))
    shaded = {round(span.get_x() + 0.5) for span in _by_gid(figure, "holiday")}
    assert {round(_x(day)) for day in HOLIDAYS} <= shaded
    bank_holidays = {round(_x(day)) for day in timeline_of(res.scenario).holidays}
    assert shaded <= bank_holidays
    phases = sorted(line.get_xdata()[0] for line in _by_gid(figure, "phase"))
    assert phases == pytest.approx([_x(START), _x(dt.date(2024, 1, 15))])


def test_desk_chart_draws_the_tables_peak_backlog(res):
    figure = res.plot.desk()
    peak = res.summary["support"]["peak_backlog"]
    assert peak["p90"] > 0
    drawn = {
        key: _by_gid(figure, f"peak_{key}")[0].get_ydata()[0]
        for key in ("p50", "p90")
        if _by_gid(figure, f"peak_{key}")
    }
    assert drawn["p50"] == peak["p50"]
    assert drawn.get("p90", peak["p50"]) == peak["p90"]
    # The peak at any moment is never below the highest end-of-day backlog.
    assert peak["p90"] >= res.daily.groupby("replication").ticket_backlog.max().quantile(0.9)


def test_progress_fan_reaches_the_population_on_the_hand_worked_finish(res):
    figure = res.plot.progress()
    (p50,) = _by_gid(figure, "p50")
    x, y = p50.get_xdata(), p50.get_ydata()
    assert x[np.argmax(y >= 100.0)] == pytest.approx(_x(FINISH))


def test_timeline_of_the_plan_lists_its_calendar():
    timeline = timeline_of(from_dict(_plan(), source="test"))
    assert timeline.deadline == DEADLINE and timeline.start == START
    assert [(p.start, p.end) for p in timeline.blackouts] == [FREEZE]
    assert set(timeline.holidays) >= HOLIDAYS
    assert [m.label for m in timeline.phases] == ["phase 1: 50/weekday", "phase 2: 100/weekday"]


# --- Jupyter -------------------------------------------------------------------------------


def test_repr_html_states_the_verdict_dates_against_the_deadline_and_p_meet(res):
    text = re.sub(r"<[^>]+>", " ", res._repr_html_())
    text = re.sub(r"\s+", " ", text)
    slack = (DEADLINE - FINISH).days
    assert f"PASS at 90% confidence against the deadline {DEADLINE}" in text
    assert f"done by {FINISH} ({slack} days of slack)" in text
    for key in ("P10", "P50", "P90"):
        assert f"{key} {FINISH} {slack} days before" in text
    # Wilson lower bound for 3 of 3: n / (n + z^2).
    low = REPLICATIONS / (REPLICATIONS + 1.959963984540054**2)
    assert f"P(meet deadline) = 100% (95% interval {low:.0%} to 100%)" in text
    peak = res.summary["support"]["peak_backlog"]
    assert f"peak open at any moment {peak['p50']:,}" in text
    assert "3 replications are too few for 90% confidence" in text


def test_plot_accessor_lists_its_charts(res):
    assert set(TIME_CHARTS) | {"completion"} <= set(dir(res.plot))
    assert "progress()" in repr(res.plot)


# --- the headline's rules --------------------------------------------------------------------


def _runs(met: int, n: int):
    import pandas as pd

    dates = [dt.date(2024, 1, 1)] * met + [dt.date(2024, 3, 1)] * (n - met)
    return pd.DataFrame(
        {
            "completion_date": pd.to_datetime(dates),
            "met_deadline": [True] * met + [False] * (n - met),
        }
    )


def test_headline_passes_exactly_the_target_share_and_fails_one_less():
    deadline = dt.date(2024, 2, 1)
    assert headline_mod.headline({}, _runs(90, 100), deadline=deadline, confidence=0.9).passed
    assert not headline_mod.headline({}, _runs(89, 100), deadline=deadline, confidence=0.9).passed


def test_headline_needs_ten_replications_beyond_the_confidence_quantile():
    assert headline_mod.replications_needed(0.9) == 100
    assert headline_mod.replications_needed(0.99) == 1000
    assert headline_mod.replications_needed(1.0) is None
    deadline = dt.date(2024, 2, 1)
    enough = headline_mod.headline({}, _runs(100, 100), deadline=deadline, confidence=0.9)
    assert not any("too few" in w for w in enough.warnings)


def test_headline_prefers_the_summarys_interval_when_given():
    summary = {"p_meet_deadline_interval": [0.5, 0.7]}
    head = headline_mod.headline(
        summary, _runs(6, 10), deadline=dt.date(2024, 2, 1), confidence=0.9
    )
    assert head.p_meet_interval == (0.5, 0.7)
    assert not any("contains the" in w for w in head.warnings)  # 90% lies above it


def test_headline_without_deadline_has_no_verdict():
    head = headline_mod.headline({}, _runs(3, 3), deadline=None, confidence=0.9)
    assert head.passed is None and head.p_meet is None and head.slack_days is None


def test_plot_figures_show_as_png_in_jupyter_without_pyplot(res):
    png = res.plot.throttle()._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_command_prints_p_meet_with_its_interval_and_the_warnings(plan_file):
    args = ["run", str(plan_file), "-n", str(REPLICATIONS), "-w", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    low = REPLICATIONS / (REPLICATIONS + 1.959963984540054**2)
    assert f"= 100.0% (95% interval {low:.0%} to 100%)" in result.output
    assert result.output.count("interval") == 2  # once stated, once in the warning about it
    assert "warning: 3 replications are too few for 90% confidence" in result.output


# --- what an analyst reads on a chart: nothing clipped, nothing printed over -----------------


def _text_problems(figure: Figure) -> list[str]:
    """Texts that leave the figure (clipped in a PNG) and notes printed over the legend."""
    figure.draw_without_rendering()
    whole = figure.bbox
    problems = []
    (ax,) = figure.axes
    legend = ax.get_legend()
    texts = [*ax.texts, ax.title, *(legend.get_texts() if legend else [])]
    for text in texts:
        if not text.get_text() or not text.get_visible():
            continue
        box = text.get_window_extent()
        if box.x0 < whole.x0 - 1 or box.x1 > whole.x1 + 1 or box.y0 < whole.y0 - 1:
            problems.append(f"clipped: {text.get_text()!r}")
    notes = [text for text in ax.texts if text.get_gid() == "note"]
    if (
        legend is not None
        and notes
        and notes[0].get_window_extent().overlaps(legend.get_window_extent())
    ):
        problems.append(f"note over the legend: {notes[0].get_text()!r}")
    return problems


@pytest.mark.parametrize("name", [*TIME_CHARTS, "completion"])
def test_every_chart_keeps_its_text_inside_the_figure_and_notes_clear_of_the_legend(res, name):
    assert _text_problems(getattr(res.plot, name)()) == []


def test_a_long_desk_legend_pushes_its_note_down_instead_of_printing_over_it(res):
    # The reference plan's desk chart: a freeze with a long reason, peak lines at P50 and
    # P90 and a go/no-go threshold far off the chart (a note) filled the margin, and the
    # note, pinned to the axes' foot, was printed over the legend's last entries.
    from sim.outputs import plots

    long_freeze = Period(FREEZE[0], FREEZE[1], "Christmas change freeze (guess: every trust's)")
    timeline = dataclasses.replace(timeline_of(res.scenario), blackouts=(long_freeze,))
    ax = plots.support_backlog(
        res.daily,
        pause_backlog=1_000_000,
        peak_backlog={"p50": 3, "p90": 5},
        timeline=timeline,
        ax=plots.new_figure().add_subplot(),
    )
    assert [t for t in ax.texts if t.get_gid() == "note"]
    assert _text_problems(ax.figure) == []


def test_completion_chart_names_the_p10_p90_range_without_running_off_the_figure(res):
    from sim.outputs import plots

    runs = res.runs.copy()
    runs["completion_date"] = pd.to_datetime(
        ["2024-01-24", "2024-02-14", "2024-03-04"][: len(runs)]
    )
    ax = plots.completion_distribution(
        runs, DEADLINE, ax=plots.new_figure().add_subplot(), timeline=timeline_of(res.scenario)
    )
    labels = ax.get_legend_handles_labels()[1]
    assert any("2024-01-24 to 2024-03-04" in label for label in labels)
    assert _text_problems(ax.figure) == []


def test_cutovers_chart_says_users_slip_when_the_evening_is_full_not_only_when_paused(res):
    labels = res.plot.cutovers().axes[0].get_legend_handles_labels()[1]
    (slipped,) = [label for label in labels if "slipped" in label]
    assert "evening full" in slipped and "paused" in slipped


# --- the re-forecast, reached from the result ------------------------------------------------


@pytest.fixture(scope="module")
def behind(res):
    # Five weekdays at 40 instead of 50 (the plan's pilot pace), as of Friday 22 December.
    days = [d.strftime("%Y-%m-%d") for d in pd.bdate_range(START, periods=5)]
    actuals = pd.DataFrame({"date": days, "migrated": [40] * 5})
    return sim.forecast(res.scenario, actuals, replications=REPLICATIONS, seed=1, workers=1)


def test_forecast_result_draws_its_fan_as_res_plot_forecast(behind):
    assert "forecast()" in repr(behind.plot) and "forecast" in dir(behind.plot)
    figure = behind.plot.forecast()
    assert isinstance(figure, Figure)
    gids = {artist.get_gid() for artist in figure.axes[0].get_children()}
    assert {"actuals", "forecast_p50", "deadline", "as_of"} <= gids
    assert figure._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"


def test_forecast_chart_marks_the_calendar_and_labels_dates_with_years(behind):
    figure = behind.plot.forecast()
    (freeze,) = _by_gid(figure, "blackout")
    assert freeze.get_x() == pytest.approx(_x(FREEZE[0]) - 0.5)
    shaded = {round(span.get_x() + 0.5) for span in _by_gid(figure, "holiday")}
    assert {round(_x(day)) for day in HOLIDAYS} <= shaded
    assert _by_gid(figure, "phase")
    figure.draw_without_rendering()
    labels = [t.get_text() for t in figure.axes[0].get_xticklabels() if t.get_text()]
    assert labels and all(re.search(r"\b202[34]\b", label) for label in labels)


def test_plot_forecast_on_a_plain_run_says_it_needs_a_forecast(res):
    assert "forecast()" not in repr(res.plot)
    with pytest.raises(ValueError, match=r"sim\.forecast"):
        res.plot.forecast()


def test_a_forecasts_headline_says_it_is_a_re_forecast_from_its_actuals(behind):
    # 5 weekdays at 40 where the plan's pilot moves 50: 200 migrated, 80% of its pace.
    text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", behind._repr_html_())))
    assert (
        "Re-forecast from the actuals as of 2023-12-22: 200 migrated, 80% of the plan's pace"
        in text
    )
