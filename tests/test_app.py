"""The what-if page driven as a planner drives it: set inputs, click, read what it says."""

from __future__ import annotations

import datetime as dt
import html
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binom
from typer.testing import CliRunner

pn = pytest.importorskip("panel")

import sim  # noqa: E402
from sim.app.form import MAX_REPLICATIONS  # noqa: E402
from sim.app.page import WhatIfPage  # noqa: E402
from sim.app.serve import exposure_warning, is_loopback, page_factory  # noqa: E402
from sim.app.verdict import completion_intervals, paired_comparison, verdict_html  # noqa: E402
from sim.cli import app as cli  # noqa: E402
from sim.model.scenario import from_dict  # noqa: E402
from tests.conftest import BASE  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("error::DeprecationWarning"),
    pytest.mark.filterwarnings("error::PendingDeprecationWarning"),
]

SMALL = "scenarios/small-trust.toml"
WAIT_SECONDS = 120


@pytest.fixture
def page() -> WhatIfPage:
    return WhatIfPage(sim.load(SMALL), workers=1)


def widget(page: WhatIfPage, key: str, index: int = 0):
    return page.form.field(key).widgets[index]


def click(button) -> None:
    button.clicks += 1  # what the browser's click does to the widget


def run_and_wait(page: WhatIfPage) -> None:
    click(page.run_button)
    page.wait(WAIT_SECONDS)
    assert not page.busy


def message(page: WhatIfPage, key: str) -> str:
    field = page.form.field(key)
    return field.message.object if field.message.visible else ""


# --- the form ----------------------------------------------------------------------------------


def test_the_untouched_form_is_the_scenario_itself():
    sc = sim.load("scenarios/nhsmail-2020.toml")
    page = WhatIfPage(sc)
    # Uncertain keys (PERT move speed, PERT ticket rate) stay as the file gives them.
    assert page.form.scenario() == sc
    assert widget(page, "batches.weekday").value == sc.batches.weekday
    assert widget(page, "support.agents").value == sc.support.agents
    assert widget(page, "throttle.per_move_gb_per_hour", 0).value == 0.43
    assert widget(page, "throttle.per_move_gb_per_hour", 1).value == 1.11
    assert "2020-12-19, 2021-01-04" in widget(page, "calendar.blackouts").value


def test_a_range_field_names_the_files_own_distribution_until_changed():
    # The reference's move speed is a PERT: the page shows its from/to as a range, but must
    # not let a planner think it runs as a uniform until they change it.
    page = WhatIfPage(sim.load("scenarios/nhsmail-2020.toml"))
    heading = html.unescape(page.form.field("throttle.per_move_gb_per_hour").panel[0].object)
    assert "the file's pert (low 0.43, mode 0.66, high 1.11) until you change it" in heading
    small = WhatIfPage(sim.load(SMALL)).form.field("throttle.per_move_gb_per_hour")
    assert "the file's" not in small.panel[0].object


def test_the_form_caps_replications_it_opens_with():
    sc = sim.load(SMALL, overrides={"scenario.replications": 1000})
    page = WhatIfPage(sc)
    assert widget(page, "scenario.replications").value == MAX_REPLICATIONS
    assert page.form.scenario().scenario.replications == MAX_REPLICATIONS


def test_a_move_speed_range_becomes_a_uniform_distribution(page):
    widget(page, "throttle.per_move_gb_per_hour", 0).value = 0.4
    widget(page, "throttle.per_move_gb_per_hour", 1).value = 1.1
    edited = page.form.scenario()
    dist = edited.uncertain["throttle.per_move_gb_per_hour"]
    assert (dist.dist, dist.low, dist.high) == ("uniform", 0.4, 1.1)


@pytest.mark.parametrize(
    ("key", "index", "value", "says"),
    [
        ("batches.weekday", 0, -5, "batches.weekday: must be >= 0 (got -5)"),
        ("calendar.blackouts", 0, "2024-03-20, 2024-03-10, freeze", "calendar.blackouts[0].to"),
        ("calendar.blackouts", 0, "2024-13-01, 2024-03-10", "line 1: from: must be a date"),
        ("support.agents", 0, 0, "support.agents: is 0 while tickets are expected"),
        ("batches.phases", 0, "2024-03-04, fifty", "line 1: weekday: must be a whole number"),
        ("support.hours", 1, "9 to 5", 'support.hours.weekend: must be "HH:MM-HH:MM"'),
        ("scenario.replications", 0, 5000, "scenario.replications: must be <= 200"),
        ("throttle.scale", 0, None, "throttle.scale: is required"),
    ],
)
def test_bad_input_is_a_message_beside_its_field_and_nothing_runs(page, key, index, value, says):
    widget(page, key, index).value = value
    assert says in message(page, key).replace("&gt;", ">").replace("&lt;", "<").replace(
        "&quot;", '"'
    )
    others = [f for f in page.form.fields if f.keys != page.form.field(key).keys]
    assert not any(f.message.visible for f in others)
    assert page.download.disabled
    assert page.start_run() is False
    assert "Fix the values marked in red" in page.status.object
    assert page.result is None and not page.busy


def test_every_field_at_fault_says_so_at_once(page):
    widget(page, "batches.weekday").value = -5
    widget(page, "calendar.blackouts").value = "2024-03-20, 2024-03-10"
    widget(page, "throttle.concurrent_moves").value = 0
    faulty = {f.keys[0] for f in page.form.fields if f.message.visible}
    assert faulty == {"batches.weekday", "calendar.blackouts", "throttle.concurrent_moves"}


def test_a_corrected_value_clears_its_message(page):
    widget(page, "batches.weekday").value = -1
    widget(page, "batches.weekday").value = 300
    assert message(page, "batches.weekday") == ""
    assert not page.download.disabled


# --- running -----------------------------------------------------------------------------------


def test_run_shows_the_verdict_of_the_edited_plan(page):
    widget(page, "batches.weekday").value = 300
    widget(page, "scenario.replications").value = 30
    run_and_wait(page)
    expected = sim.run(
        sim.load(SMALL, overrides={"batches.weekday": 300}), replications=30, workers=1
    ).summary
    shown = page.verdict.object
    assert page.result.summary["completion"] == expected["completion"]
    assert f"id='p50'><b>{expected['completion']['p50']}</b>" in shown
    verdict = "PASS" if expected["p_meet_deadline"] >= 0.9 else "FAIL"
    assert f">{verdict}</span>" in shown
    assert f"{expected['p_meet_deadline']:.0%}" in shown
    assert all(chart.visible and chart.object is not None for chart in page.charts.values())
    assert not page.progress.visible and not page.run_button.disabled
    assert page.status.object.startswith("Done: 30 replications")


def test_one_job_at_a_time_and_cancel_stops_it(page):
    widget(page, "scenario.replications").value = MAX_REPLICATIONS
    assert page.start_run() is True
    assert page.progress.visible and page.run_button.disabled  # at once, before any result
    assert page.start_run() is False  # a second click while busy is refused
    page.cancel()
    page.wait(WAIT_SECONDS)
    assert page.status.object.startswith("Cancelled")
    assert page.result is None and not page.run_button.disabled and not page.progress.visible


def test_a_failing_job_is_a_message_not_a_dead_page(page, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(sys.modules["sim.app.page"], "run", broken)
    run_and_wait(page)
    assert "The job failed (RuntimeError: disk on fire)" in page.status.object
    assert "Traceback" not in page.status.object
    assert not page.run_button.disabled  # and it can run again


def test_after_keep_as_plan_a_each_run_is_compared_on_the_same_dice(page):
    widget(page, "scenario.replications").value = 40
    run_and_wait(page)
    click(page.keep_button)
    plan_a = page.result
    widget(page, "batches.weekday").value = 600
    run_and_wait(page)
    assert page.comparison.visible
    a = plan_a.runs.set_index("replication")["completion_date"]
    b = page.result.runs.set_index("replication")["completion_date"]
    earlier = (a - b).dt.days  # every replication completed in this small plan
    assert earlier.notna().all()
    p50 = np.sort(earlier.to_numpy())[int(np.ceil(0.5 * len(earlier))) - 1]
    assert f"P50 {p50:+,.0f}" in page.comparison.object
    assert f"{(earlier > 0).mean():.0%}" in page.comparison.object


def test_sessions_do_not_share_results():
    factory = page_factory(sim.load(SMALL), workers=1)
    first, second = factory.build(), factory.build()
    assert first is not second
    page = WhatIfPage(sim.load(SMALL), workers=1)
    other = WhatIfPage(sim.load(SMALL), workers=1)
    widget(page, "scenario.replications").value = 5
    run_and_wait(page)
    assert page.result is not None and other.result is None and other.verdict.object == ""


def test_the_pages_of_one_server_take_turns():
    slots = threading.BoundedSemaphore(1)
    page = WhatIfPage(sim.load(SMALL), workers=1, slots=slots)
    widget(page, "scenario.replications").value = 5
    slots.acquire()  # another tab's job holds the server's one slot
    assert page.start_run()
    end = time.monotonic() + WAIT_SECONDS
    while "Waiting for another viewer" not in page.status.object and time.monotonic() < end:
        time.sleep(0.05)
    assert page.busy and page.result is None
    slots.release()
    page.wait(WAIT_SECONDS)
    assert page.result is not None and slots.acquire(blocking=False)  # and it gave it back


def test_what_would_it_take_is_solve_for_the_chosen_key(page):
    widget(page, "scenario.replications").value = 10
    page.solve_key.value = "batches.weekday"
    click(page.solve_button)
    page.wait(WAIT_SECONDS)
    expected = sim.solve(
        sim.load(SMALL, overrides={"scenario.replications": 10}), "batches.weekday", workers=1
    )
    assert page.solution.value == expected.value
    assert f"id='solve-value'>{expected.value:,}<" in page.solution_pane.object


# --- the download ------------------------------------------------------------------------------


def test_the_downloaded_toml_loads_as_the_edited_scenario(page, tmp_path):
    widget(page, "batches.weekday").value = 450
    widget(page, "calendar.blackouts").value = "2024-03-25, 2024-03-27, estates work"
    widget(page, "support.ticket_rate", 1).value = 0.02
    edited = page.form.scenario()
    path = tmp_path / page.download.filename
    path.write_bytes(page.download.callback().getvalue())
    assert sim.load(path) == edited
    result = CliRunner().invoke(cli, ["run", str(path), "-n", "2", "-w", "1", "--json"])
    assert result.exit_code == 0, result.output


# --- the numbers behind the verdict ------------------------------------------------------------


@pytest.mark.parametrize("n", [20, 100, 137])
def test_completion_intervals_cover_each_quantile_with_95_percent(n):
    start = dt.date(2024, 1, 1)
    dates = pd.Series(pd.to_datetime([start + dt.timedelta(days=i) for i in range(n)]))
    intervals = completion_intervals(dates.sample(frac=1, random_state=1))
    for name, q in (("p10", 0.1), ("p50", 0.5), ("p90", 0.9)):
        low, high = intervals[name] or (None, None)
        # 1-based order statistics; an open end is below the first / above the last value
        lo = (dt.date.fromisoformat(low) - start).days + 1 if low else 0
        hi = (dt.date.fromisoformat(high) - start).days + 1 if high else n + 1
        # P(X_(lo) <= the q quantile <= X_(hi)) = P(lo <= B < hi), B ~ Binomial(n, q)
        coverage = binom.cdf(hi - 1, n, q) - binom.cdf(lo - 1, n, q)
        assert coverage >= 0.95
        assert lo <= np.ceil(q * n) <= hi
        if n >= 100:
            assert low and high  # enough replications for both ends


def test_the_verdict_takes_the_summarys_completion_interval_when_it_has_one(page):
    widget(page, "scenario.replications").value = 10
    run_and_wait(page)
    result = page.result
    result.summary["completion_interval"] = {
        "p10": None, "p50": ["2024-03-01", "2024-05-01"], "p90": ["2024-04-01", None],
    }  # fmt: skip
    shown = verdict_html(result)
    assert "2024-03-01 to 2024-05-01" in shown and "2024-04-01 or later" in shown
    result.summary["completion_interval"] = {"p50": "not the SPEC's shape"}
    ours = completion_intervals(result.runs["completion_date"])["p50"]
    assert f"{ours[0]} to {ours[1]}" in verdict_html(result)


def test_paired_comparison_of_plans_a_known_number_of_days_apart():
    dates = pd.to_datetime(["2024-04-01", "2024-04-10", "2024-04-20", None])
    plan_a = pd.DataFrame({"replication": range(4), "completion_date": dates})
    plan_b = plan_a.assign(completion_date=dates - pd.Timedelta(days=3))
    plan_b.loc[3, "completion_date"] = pd.Timestamp("2024-05-01")  # finished; A never did
    paired = paired_comparison(plan_a, plan_b)
    assert paired.replications == 4 and paired.p_earlier == 1.0
    assert paired.days_earlier["p10"] == 3 and paired.days_earlier["p50"] == 3
    assert paired.days_earlier["p90"] is None  # beyond the horizon: more than any number
    same = paired_comparison(plan_a, plan_a)
    assert same.p_earlier == 0.0 and same.days_earlier == {"p10": 0, "p50": 0, "p90": 0}


@given(st.lists(st.tuples(st.integers(0, 60) | st.none(), st.integers(0, 60) | st.none()),
                min_size=1, max_size=40))  # fmt: skip
def test_earlier_later_and_tied_replications_add_up(days):
    """Each pair is A earlier, B earlier or a tie; unfinished counts as later than any date."""
    start = pd.Timestamp("2024-01-01")

    def runs(column: int) -> pd.DataFrame:
        dates = [None if d[column] is None else start + pd.Timedelta(days=d[column]) for d in days]
        return pd.DataFrame(
            {"replication": range(len(days)), "completion_date": pd.to_datetime(dates)}
        )

    a, b = runs(0), runs(1)
    ties = np.mean([x == y for x, y in days])
    assert paired_comparison(a, b).p_earlier + paired_comparison(b, a).p_earlier + ties == (
        pytest.approx(1.0)
    )
    forward = paired_comparison(a, b).days_earlier
    backward = paired_comparison(b, a).days_earlier
    if forward["p10"] is not None and backward["p90"] is not None:
        assert forward["p10"] <= -backward["p90"]  # the same differences, mirrored
    assert paired_comparison(a, a).days_earlier == {"p10": 0, "p50": 0, "p90": 0}


# --- Jupyter, the command and serving ----------------------------------------------------------


def test_sim_app_is_the_page_a_notebook_shows():
    page = sim.app(SMALL)
    assert isinstance(page, pn.viewable.Viewer)
    assert isinstance(page, WhatIfPage)
    assert "application/vnd.holoviews_exec.v0+json" in page._repr_mimebundle_()[0]


def test_migsim_app_without_panel_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "panel", None)
    result = CliRunner().invoke(cli, ["app", SMALL])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines == ["migsim app: the what-if page needs Panel: pip install 'migsim[app]' "
                     "(or: pip install panel)"]  # fmt: skip


def test_migsim_app_serves_on_loopback_unless_asked(monkeypatch, capsys):
    served = []
    monkeypatch.setattr(pn, "serve", lambda panels, **kw: served.append(kw))
    assert CliRunner().invoke(cli, ["app", SMALL, "--port", "5123"]).exit_code == 0
    assert served[-1]["address"] == "127.0.0.1" and served[-1]["port"] == 5123
    assert "localhost:5123" in served[-1]["websocket_origin"]
    result = CliRunner().invoke(cli, ["app", SMALL, "--host", "0.0.0.0"])
    assert result.exit_code == 0
    assert served[-1]["address"] == "0.0.0.0"
    assert "anyone who can reach this address can open the page" in result.output


def test_loopback_addresses():
    assert all(is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "127.0.0.2"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "10.1.2.3", "myhost"))
    assert "run simulations" in exposure_warning("0.0.0.0", 5006)


def test_a_plan_without_deadline_shows_dates_and_says_why_it_cannot_search(make_scenario):
    page = WhatIfPage(make_scenario(), workers=1)  # tests/conftest.py: no deadline
    widget(page, "scenario.replications").value = 5
    run_and_wait(page)
    expected = sim.run(make_scenario(), replications=5, workers=1).summary["completion"]
    assert f"id='p50'><b>{expected['p50']}</b>" in page.verdict.object
    assert ">PASS<" not in page.verdict.object and ">FAIL<" not in page.verdict.object
    click(page.solve_button)
    page.wait(WAIT_SECONDS)
    assert "Cannot search batches.weekday: no deadline" in page.solution_pane.object
    assert not page.solve_button.disabled


# --- lanes the form does not edit --------------------------------------------------------------


def test_the_reference_page_says_it_has_an_accounts_lane_it_does_not_edit():
    page = WhatIfPage(sim.load("scenarios/nhsmail-2020.toml"))
    note = page.form.lanes
    assert note.visible and note in page.form.panel.objects
    text = note.object
    assert "2 lanes." in text and "lane <b>main</b> (user: 81% of the mailboxes)" in text
    assert "<b>accounts</b> (application, shared: 19% of the mailboxes)" in text
    assert "2,000 a weekday and 0 a weekend day from 2020-10-26" in text
    assert "11,500 a weekday and 0 a weekend day from 2020-11-30" in text
    assert "not edited on this page" in text
    assert "lane main" in page.form.field("batches.weekday").panel.objects[0].object


def test_a_plan_with_one_lane_has_no_lanes_note(page):
    assert not page.form.lanes.visible and page.form.lanes.object == ""


def test_the_verdict_gives_each_lanes_dates_when_there_are_several(make_scenario):
    raw = {table: dict(values) for table, values in BASE.items()}
    raw["population"]["kinds"] = {"user": 0.7, "application": 0.3}
    raw["lanes"] = [{"name": "accounts", "kinds": ["application"], "from": "2024-01-22",
                     "weekday": 20, "notice_days": 0}]  # fmt: skip
    page = WhatIfPage(from_dict(raw, source="test.toml"), workers=1)
    assert "<b>accounts</b> (application: 30% of the mailboxes)" in page.form.lanes.object
    widget(page, "scenario.replications").value = 3
    run_and_wait(page)
    lanes = page.result.summary["lanes"]
    assert set(lanes) == {"main", "accounts"}
    assert lanes["main"]["completion"]["p50"] != lanes["accounts"]["completion"]["p50"]
    shown = page.verdict.object
    for name in ("main", "accounts"):
        assert f"<b>{name}</b> P50 {lanes[name]['completion']['p50']}" in shown
    alone = WhatIfPage(make_scenario(), workers=1)
    widget(alone, "scenario.replications").value = 2
    run_and_wait(alone)
    assert "id='lanes'" not in alone.verdict.object
