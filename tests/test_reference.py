"""The reference scenario reproduces the public facts of NHSmail 2020-21 (DOMAIN.md).

These are the plan as written: its uncertain inputs at their medians, no risk
struck (``sim.model.uncertainty.nominal``); test_reference_uncertainty.py checks
the forecast across its drawn worlds."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

import sim
from sim.model.uncertainty import nominal


@pytest.fixture(scope="module")
def reference():
    sc = nominal(sim.load("scenarios/nhsmail-2020.toml"))
    return sc, sim.simulate(sc, sc.scenario.seed)


def test_finishes_on_1_or_2_february_2021_a_month_before_the_deadline(reference):
    sc, run = reference
    done = run.metrics["completion_date"].date()
    assert dt.date(2021, 1, 29) <= done <= dt.date(2021, 2, 3)
    assert (sc.scenario.deadline - done).days >= 50


def test_more_than_85_percent_of_active_users_moved_by_26_november(reference):
    _, run = reference
    daily = run.daily.set_index("date")
    active_users = 1_700_000
    assert daily.loc["2020-11-26", "cumulative_migrated"] > 0.85 * active_users


def test_full_pace_is_22000_a_weekday_and_83000_a_weekend(reference):
    _, run = reference
    daily = run.daily.set_index("date").loc["2020-10-05":"2020-11-27"]
    weekday = daily[daily.index.day_of_week < 5]
    weekend = daily[daily.index.day_of_week >= 5]
    assert weekday["cutover_ok"].median() == pytest.approx(22_000, rel=0.02)
    assert 2 * weekend["cutover_ok"].median() == pytest.approx(83_000, rel=0.02)


def test_moves_about_2_3_petabytes_and_starts_in_august_2020(reference):
    _, run = reference
    assert run.metrics["data_tb"] == pytest.approx(2300, rel=0.03)
    first = run.daily.loc[run.daily["cutover_ok"] > 0, "date"].min()
    assert first == pd.Timestamp("2020-08-03")


def test_fewer_than_1_percent_need_support_and_legacy_clients_more(reference):
    _, run = reference
    assert 0.5 < run.metrics["users_needing_support_pct"] < 1.0
    mb = run.mailboxes
    by_legacy = mb["ticket_opened_at"].notna().groupby(mb["legacy"]).mean()
    assert by_legacy[True] > 3 * by_legacy[False]
