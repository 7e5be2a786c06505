"""The reference scenario reproduces the public facts of NHSmail 2020-21 (DOMAIN.md).

These are the plan as written: its uncertain inputs at their medians, no risk
struck (``sim.model.uncertainty.nominal``); test_reference_uncertainty.py checks
the forecast across its drawn worlds."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

import sim
from sim.model.simulation import Model
from sim.model.uncertainty import nominal
from sim.model.world import World


@pytest.fixture(scope="module")
def reference():
    sc = nominal(sim.load("scenarios/nhsmail-2020.toml"))
    return sc, sim.simulate(sc, sc.scenario.seed)


def test_finishes_on_1_or_2_february_2021_a_month_before_the_deadline(reference):
    sc, run = reference
    done = run.metrics["completion_date"].date()
    assert dt.date(2021, 1, 29) <= done <= dt.date(2021, 2, 3)
    assert (sc.scenario.deadline - done).days >= 50


def cutover_days(run, kinds: set[str]) -> pd.Series:
    mb = run.mailboxes
    chosen = mb["kind"].astype(str).isin(kinds).to_numpy()
    return mb["cutover_at"][chosen].dt.tz_localize(None).dt.normalize()


def test_about_1_7_million_active_users_and_the_other_accounts_in_their_own_lane(reference):
    _, run = reference
    users = run.mailboxes["kind"] == "user"
    assert users.sum() == pytest.approx(1_700_000, rel=0.01)
    assert (run.mailboxes.loc[users, "lane"] == "main").all()
    assert (run.mailboxes.loc[~users, "lane"] == "accounts").all()


def test_more_than_85_percent_of_active_users_moved_by_26_november(reference):
    # Not calibrated to it: the users' pace is the record's full pace from October.
    _, run = reference
    users_by_nov_26 = (cutover_days(run, {"user"}) <= "2020-11-26").sum()
    assert users_by_nov_26 > 0.85 * 1_700_000


def test_other_accounts_follow_gradually_from_late_october(reference):
    _, run = reference
    accounts = cutover_days(run, {"application", "shared"})
    assert accounts.min() == pd.Timestamp("2020-10-26")
    assert (accounts <= "2020-11-26").mean() < 0.2


def test_full_pace_is_22000_a_weekday_and_83000_a_weekend(reference):
    _, run = reference
    per_day = cutover_days(run, {"user"}).value_counts().sort_index()
    users = per_day.loc["2020-10-05":"2020-11-20"]
    weekday = users[users.index.day_of_week < 5]
    weekend = users[users.index.day_of_week >= 5]
    assert weekday.median() == pytest.approx(22_000, rel=0.02)
    assert 2 * weekend.median() == pytest.approx(83_000, rel=0.02)


def test_few_users_are_late_when_the_plan_goes_as_written(reference):
    _, run = reference
    assert run.metrics["users_late"] < 0.05 * 1_700_000


@pytest.mark.parametrize("halt_from", ["2020-10-12", "2020-11-09"])
def test_a_14_day_halt_moves_the_finish_by_at_most_one_and_a_half_times_its_length(
    reference, halt_from
):
    # The programme keeps its full pace after a halt: no calendar-fixed tail amplifies it.
    sc, run = reference
    model = Model(sc)
    pause = np.zeros(model.calendar.days, dtype=bool)
    first = model.calendar.index_of(dt.date.fromisoformat(halt_from))
    pause[first : first + 14] = True
    held = model.replicate(
        np.random.SeedSequence(sc.scenario.seed), world=World(paused_by_day=pause)
    )
    moved = (held.metrics["completion_date"] - run.metrics["completion_date"]).days
    assert 0 <= moved <= 1.5 * 14


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
