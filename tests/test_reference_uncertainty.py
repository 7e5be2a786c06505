"""The reference scenario states the record's uncertainty and still lands on the record."""

from __future__ import annotations

import datetime as dt

import pytest

import sim


@pytest.fixture(scope="module")
def reference():
    sc = sim.load("scenarios/nhsmail-2020.toml")
    # Enough replications that the median is not one lucky world (about one in six worlds
    # finishes a few days early, on the Thursday before).
    return sc, sim.run(sc, replications=16, workers=2, keep_daily=False, keep_mailboxes=False)


def test_the_reference_states_its_uncertain_inputs_and_risks(reference):
    sc, res = reference
    assert {"support.ticket_rate", "throttle.per_move_gb_per_hour"} <= set(sc.uncertain)
    assert sc.throttle.daily_variation > 0 and sc.throttle.per_move_sigma > 0
    assert set(res.summary["uncertain"]) == set(sc.uncertain)
    assert set(res.summary["risks"]) == {risk.name for risk in sc.risks}


def test_its_median_world_still_finishes_on_1_or_2_february_2021(reference):
    _, res = reference
    p50 = dt.date.fromisoformat(res.summary["completion"]["p50"])
    assert dt.date(2021, 1, 29) <= p50 <= dt.date(2021, 2, 3)


def test_the_desk_load_carries_the_ticket_rates_doubt(reference):
    _, res = reference
    drawn = res.runs["param.support.ticket_rate"]
    assert drawn.nunique() == len(drawn)
    tickets = res.summary["support"]["tickets"]
    assert tickets["p10"] < tickets["p90"]
