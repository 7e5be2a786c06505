"""Rebooking without cascades: "spare" evenings, pauses of known length, lateness per user."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from sim.model.scenario import from_dict
from sim.model.simulation import simulate

from .conftest import BASE, scenario

START = dt.date(2024, 1, 8)  # Monday
BATCH = 100
USERS = 1000  # ten weekdays of 100: 8-12 and 15-19 January


def retrying(carried_over: str, catch_up: float):
    # One in ten attempts fails and retries the next weekday, up to 5 times.
    return scenario(
        batches={"weekday": BATCH, "carried_over": carried_over, "catch_up": catch_up},
        failures={"rate": 0.1, "retry_after_days": 1, "max_attempts": 5},
    )


def test_spare_keeps_every_planned_user_on_their_date_when_catch_up_covers_the_retries():
    # 10% of an evening's 100 fail; retries are at most ~10-20 an evening, and catch_up
    # 0.5 leaves 50 places beyond the cohort: no planned user ever loses their evening.
    rep = simulate(retrying("spare", 0.5), 3)
    daily, boxes = rep.daily, rep.mailboxes
    assert daily["slipped"].sum() == 0 and daily["deferred"].sum() == 0
    first_time = boxes["attempts"] == 1
    on_date = boxes["cutover_at"].dt.date == boxes["scheduled_date"].dt.date
    assert on_date[first_time].all()
    # Late are exactly the users whose first attempt failed (retried, or sent to remediation).
    assert rep.metrics["users_late"] == int((boxes["attempts"] > 1).sum()) > 0
    # Each retry is one notice of a new date.
    assert (
        rep.metrics["date_changes"]
        == rep.metrics["cutover_failures"] - rep.metrics["needs_remediation"]
    )


@pytest.mark.parametrize("seed", [3, 4])
def test_spare_keeps_planned_users_on_their_date_while_a_pause_s_users_take_the_headroom(seed):
    # A two-evening pause rebooks 200 users onto one evening; with "spare" they take only
    # the 30 places beyond each evening's cohort (less the retries), so every user the
    # pause did not hit still gets their planned evening: first attempts all on the date.
    sc = with_pause(
        STRIKE,
        2,
        catch_up=0.3,
        batches={"weekday": BATCH, "catch_up": 0.3, "carried_over": "spare"},
        failures={"rate": 0.1, "retry_after_days": 1, "max_attempts": 5},
        scenario={**BASE["scenario"], "horizon_days": 200},
    )
    boxes = simulate(sc, seed).mailboxes
    planned = boxes["scheduled_date"].dt.date
    hit = planned.isin([STRIKE, STRIKE + dt.timedelta(days=1)])
    first_time = (boxes["attempts"] == 1) & ~hit
    assert first_time.sum() > 600
    assert (boxes["cutover_at"].dt.date[first_time] == planned[first_time]).all()
    late_hit = boxes["cutover_at"].dt.date[hit] > dt.date(2024, 1, 12)
    assert late_hit.any()  # the rebooked users wait for spare places


def test_first_pushes_planned_users_off_their_date_where_spare_does_not():
    # The same dice with carried-over users first and no headroom: every retry takes a
    # planned user's place, who slips, and so on (the cascade "spare" prevents).
    first = simulate(retrying("first", 0.0), 3)
    spare = simulate(retrying("spare", 0.5), 3)
    assert first.metrics["slipped_users"] > 0
    assert first.metrics["users_late"] > spare.metrics["users_late"]


def with_pause(strike: dt.date, days: int, catch_up: float = 10.0, **tables):
    """A risk that surely strikes on ``strike`` and halts cutovers for ``days`` calendar
    days; ``catch_up`` leaves room for every rebooked user on the first evening after it."""
    raw = {k: dict(v) for k, v in BASE.items()}
    raw["batches"] = {**raw["batches"], "weekday": BATCH, "catch_up": catch_up}
    for table, values in tables.items():
        raw[table] = {**raw[table], **values}
    raw["risks"] = [
        {
            "name": "halt",
            "probability": 1.0,
            "between": [strike, strike],
            "pause_days": days,
        }
    ]
    return from_dict(raw, source="test.toml")


STRIKE = dt.date(2024, 1, 10)  # Wednesday of the first week
PAUSE_DAYS = 6  # Wednesday 10 to Monday 15 January: 4 weekday evenings (10, 11, 12, 15)


def test_a_known_pause_rebooks_the_users_it_hits_once_to_the_first_evening_after_it():
    rep = simulate(with_pause(STRIKE, PAUSE_DAYS), 5)
    m, daily = rep.metrics, rep.daily.set_index("date")
    evenings = [STRIKE + dt.timedelta(days=d) for d in (0, 1, 2, 5)]
    hit = BATCH * len(evenings)
    after = dt.date(2024, 1, 16)  # Tuesday: the first cutover day after the pause
    assert m["paused_days_risk"] == len(evenings) and m["paused_days_gate"] == 0
    assert m["paused_days"] == len(evenings)
    # One notice of the new date per user hit, and no day-by-day reminders.
    assert m["date_changes"] == hit
    # Reminders: one per user for their planned evening, the users of the strike evening
    # were already reminded of it (the day before), and each user hit gets one reminder
    # of the new date; the reminders of the cancelled later evenings are not sent.
    assert daily["reminders_sent"].sum() == USERS + BATCH
    assert daily.loc[pd.Timestamp(after), "cutover_ok"] == BATCH + hit
    boxes = rep.mailboxes
    planned = boxes["scheduled_date"].dt.date
    done = boxes["cutover_at"].dt.date
    in_pause = planned.isin(evenings)
    assert (done[in_pause] == after).all()
    assert (done[~in_pause] == planned[~in_pause]).all()
    assert m["users_late"] == hit
    # In the daily table each paused evening shows its own users slipping, not a pile.
    for day in evenings:
        assert daily.loc[pd.Timestamp(day), "slipped"] == BATCH


def test_days_late_p90_is_the_lateness_of_the_user_at_the_ninetieth_percentile():
    # 1,000 users; 400 hit by the pause are late by 6, 5, 4 and 1 days (evenings of
    # 10, 11, 12 and 15 January, all cut over on the 16th); 600 are on time. Sorted,
    # rank ceil(0.9 x 1000) = 900 falls among the users of the 11th: 5 days late.
    rep = simulate(with_pause(STRIKE, PAUSE_DAYS), 5)
    assert rep.metrics["days_late_p90"] == 5
    assert rep.metrics["users_late"] == 400


def test_a_plan_that_goes_as_planned_has_nobody_late():
    rep = simulate(scenario(batches={"weekday": BATCH}), 1)
    assert rep.metrics["users_late"] == 0
    assert rep.metrics["days_late_p90"] == 0
    assert rep.metrics["date_changes"] == 0
    assert rep.daily["reminders_sent"].sum() == USERS


@pytest.mark.parametrize("lead_days", [7, 2])
def test_the_sync_buffer_is_the_hours_from_sync_end_to_the_evening(lead_days):
    # The ample throttle syncs a mailbox of 1 GB at 100 GB/h in 0.01 h from its eligibility,
    # lead_days before its 20:00 evening: the buffer is lead_days x 24 h less 0.01 h.
    rep = simulate(scenario(throttle={"presync_lead_days": lead_days}), 1)
    assert rep.metrics["sync_buffer_hours_p10"] == pytest.approx(lead_days * 24 - 0.01, abs=1e-6)


def test_a_throttle_that_cannot_keep_up_gives_a_negative_buffer():
    # 1 GB mailboxes, 100 a weekday, 10 GB a day of throttle from eligibility on the
    # evening itself: most mailboxes finish syncing after their evening.
    sc = scenario(
        throttle={
            "presync_lead_days": 0,
            "windows": [{"days": "all", "from": "00:00", "to": "24:00", "gb_per_hour": 10 / 24}],
        },
        scenario={"name": "slow", "start": START, "horizon_days": 400},
    )
    rep = simulate(sc, 1, keep_mailboxes=False)
    assert rep.metrics["sync_buffer_hours_p10"] < -24
    assert np.isfinite(rep.metrics["sync_buffer_hours_p10"])


def test_spare_books_the_users_a_pause_hit_once_into_the_places_left_evening_by_evening():
    # A two-evening pause (10 and 11 January) hits 200 users. With "spare" and catch_up 0.3
    # each later evening keeps 100 places for its cohort and has 30 left: the 200 are booked
    # once, 30 an evening on 12, 15, 16, 17, 18 and 19 January and the last 20 on Monday 22
    # (the first evening after the plan), each told their date once.
    sc = with_pause(STRIKE, 2, batches={"weekday": BATCH, "catch_up": 0.3, "carried_over": "spare"})
    rep = simulate(sc, 5)
    m, daily = rep.metrics, rep.daily.set_index("date")
    assert m["date_changes"] == 2 * BATCH
    assert daily["reminders_sent"].sum() == USERS + BATCH
    after = ["2024-01-12", "2024-01-15", "2024-01-16", "2024-01-17", "2024-01-18", "2024-01-19"]
    assert (daily.loc[after, "cutover_ok"] == BATCH + 30).all()
    assert daily.loc["2024-01-22", "cutover_ok"] == 20
    assert m["completion_date"] == pd.Timestamp("2024-01-22")
    assert m["users_late"] == 2 * BATCH and m["slipped_users"] == 2 * BATCH


@pytest.mark.parametrize(
    ("median", "says"),
    [
        (None, None),
        (160.0, None),
        (24.0, None),
        (16.0, "the throttle binds; the date has not moved yet"),
        (-5.0, "deferred"),
    ],
)
def test_the_buffer_warning_is_given_below_a_day_of_median_buffer(median, says):
    from sim.experiments.metrics import buffer_warning

    summary = {} if median is None else {"sync_buffer_hours": {"p50": median}}
    warning = buffer_warning(summary)
    assert (warning is None) == (says is None)
    if says:
        assert says in warning


def test_run_check_and_the_report_warn_when_the_throttle_binds(tmp_path):
    from typer.testing import CliRunner

    import sim
    from sim.cli import app
    from sim.outputs.report import write_report

    runner = CliRunner()
    small = "scenarios/small-trust.toml"
    tight = ["--set", "throttle.scale=0.3"]
    for command in ("run", "check"):
        plain = runner.invoke(app, [command, small, "-n", "3", "-w", "1"])
        bound = runner.invoke(app, [command, small, "-n", "3", "-w", "1", *tight])
        assert "the throttle binds" not in plain.output
        assert "warning: the median sync buffer" in bound.output
        assert "the throttle binds" in bound.output
    res = sim.run(sim.load(small, {"throttle.scale": 0.3}), replications=3, workers=1)
    text = write_report(tmp_path, res).read_text(encoding="utf-8")
    assert "the throttle binds" in text


def test_the_daily_chart_labels_a_risk_s_pause_as_such_not_as_go_no_go():
    from sim.outputs import plots

    rep = simulate(with_pause(STRIKE, PAUSE_DAYS), 5, keep_mailboxes=False)
    assert rep.daily["paused_by_risk"].sum() == 4  # the evenings of 10, 11, 12 and 15 January
    ax = plots.daily_cutovers(rep.daily)
    gids = {artist.get_gid(): artist for artist in ax.get_children()}
    assert "paused_risk" in gids and "paused" not in gids
    labels = ax.get_legend_handles_labels()[1]
    assert any(label.startswith("paused by risks") for label in labels)
    assert not any("go/no-go" in label for label in labels)
