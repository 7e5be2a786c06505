"""Tickets, the desk inside the model, and the go/no-go gate."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from sim.model.simulation import simulate

from .conftest import scenario

# A plan that raises plenty of tickets for a small desk.
BUSY = {
    "population": {"mailboxes": 3000, "legacy_client_share": 0.2},
    "batches": {"weekday": 300},
    "support": {
        "ticket_rate": 0.2,
        "legacy_ticket_rate": 0.2,
        "agents": 1,
        "handle_minutes": {"median": 30, "sigma": 0.5},
    },
}


def busy(pause_backlog: int, **support):
    return scenario(
        population=BUSY["population"],
        batches=BUSY["batches"],
        support={**BUSY["support"], "pause_backlog": pause_backlog, **support},
    )


def test_a_low_pause_threshold_pauses_and_delays_completion():
    off = simulate(busy(0), 5, keep_mailboxes=False)
    gated = simulate(busy(40), 5, keep_mailboxes=False)
    assert off.metrics["paused_days"] == 0 and not off.daily["paused"].any()
    assert gated.metrics["paused_days"] > 0
    assert gated.daily["paused"].sum() == gated.metrics["paused_days"]
    assert gated.metrics["completion_date"] > off.metrics["completion_date"]
    paused = gated.daily[gated.daily["paused"]]
    assert (paused["cutover_ok"] == 0).all() and (paused["slipped"] == paused["scheduled"]).all()


def test_a_high_pause_threshold_changes_nothing():
    off = simulate(busy(0), 5)
    high = simulate(busy(10**9), 5)
    assert off.metrics == high.metrics
    pd.testing.assert_frame_equal(off.daily, high.daily)


def test_paused_users_get_a_fresh_reminder_before_their_new_day():
    gated = simulate(busy(40), 5, keep_mailboxes=False).daily.set_index("date")
    first_paused = gated.index[gated["paused"]][0]
    next_day = gated.loc[first_paused + pd.Timedelta(days=1) :].query("scheduled > 0").index[0]
    reminders = gated.loc[next_day - pd.Timedelta(days=1), "reminders_sent"]
    assert reminders >= gated.loc[first_paused, "scheduled"]


def test_tickets_arrive_on_the_next_working_day_in_the_weighted_hours():
    weights = [0.0] * 24
    weights[9] = 1.0  # everyone raises their ticket between 09:00 and 10:00
    sc = scenario(
        population={"mailboxes": 2000},
        batches={"weekday": 400},
        calendar={"holidays": "GB-ENG"},
        scenario={"start": dt.date(2024, 3, 25)},  # Easter: Fri 29 Mar and Mon 1 Apr
        support={"ticket_rate": 0.3, "legacy_ticket_rate": 0.3, "arrival_hour_weights": weights},
    )
    mb = simulate(sc, 2).mailboxes
    raised = mb[mb["ticket_opened_at"].notna()]
    opened = raised["ticket_opened_at"]
    assert (opened.dt.hour == 9).all()
    cutover_day = raised["cutover_at"].dt.normalize().dt.date
    expected = {
        dt.date(2024, 3, 25): dt.date(2024, 3, 26),
        dt.date(2024, 3, 28): dt.date(2024, 4, 2),  # Thursday -> after Good Friday, Easter
        dt.date(2024, 4, 2): dt.date(2024, 4, 3),
    }
    for cut, raised_on in expected.items():
        assert (opened[cutover_day == cut].dt.date == raised_on).all()


def test_ticket_rates_apply_to_legacy_and_other_users_separately():
    sc = scenario(
        population={"mailboxes": 3000, "legacy_client_share": 0.3},
        batches={"weekday": 1000},
        support={"ticket_rate": 0.0, "legacy_ticket_rate": 1.0},
    )
    run = simulate(sc, 4)
    mb = run.mailboxes
    assert run.metrics["tickets"] == mb["legacy"].sum()
    assert mb.loc[mb["legacy"], "ticket_opened_at"].notna().all()
    assert mb.loc[~mb["legacy"], "ticket_opened_at"].isna().all()


def test_failed_cutovers_raise_tickets_at_their_own_rate():
    sc = scenario(
        population={"mailboxes": 2000},
        batches={"weekday": 1000},
        failures={"rate": 0.2, "max_attempts": 1},
        support={"failed_cutover_ticket_rate": 1.0},
    )
    run = simulate(sc, 4)
    assert run.metrics["tickets"] == run.metrics["cutover_failures"] > 0
    assert run.metrics["needs_remediation"] == run.metrics["cutover_failures"]


def test_the_desk_is_closed_on_bank_holidays_unless_configured():
    # Cut over Wed 27 Mar 2024: 100 tickets arrive Thu 28 Mar at 09:00 for one agent at
    # 30 minutes each, so most wait over Good Friday (29 Mar).
    weights = [0.0] * 24
    weights[9] = 1.0

    def started_dates(open_on_holidays: bool) -> pd.Series:
        sc = scenario(
            population={"mailboxes": 200},
            batches={"weekday": 200},
            calendar={"holidays": "GB-ENG"},
            scenario={"start": dt.date(2024, 3, 27)},
            support={
                "ticket_rate": 0.5,
                "legacy_ticket_rate": 0.5,
                "arrival_hour_weights": weights,
                "agents": 1,
                "handle_minutes": {"median": 30, "sigma": 0},
                "open_on_holidays": open_on_holidays,
            },
        )
        mb = simulate(sc, 1).mailboxes
        started = mb["ticket_closed_at"].dropna() - pd.Timedelta(minutes=30)
        return started.dt.date

    good_friday = dt.date(2024, 3, 29)
    assert (started_dates(False) != good_friday).all()
    assert (started_dates(True) == good_friday).sum() == 20  # 08:00-18:00 at 30 minutes


def test_support_counts_are_consistent():
    run = simulate(busy(0), 9)
    daily, m, mb = run.daily, run.metrics, run.mailboxes
    assert daily["tickets_opened"].sum() == m["tickets"] == daily["tickets_closed"].sum()
    assert daily["ticket_backlog"].iloc[-1] == 0
    assert m["peak_backlog"] >= daily["ticket_backlog"].max()
    users = mb["ticket_opened_at"].notna().sum()
    assert np.isclose(m["users_needing_support_pct"], 100 * users / len(mb))
    assert (mb["ticket_closed_at"].dropna() >= mb["ticket_opened_at"].dropna()).all()
