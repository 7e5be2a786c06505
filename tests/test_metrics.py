"""The metrics record: one place names every per-replication metric and its summary."""

from __future__ import annotations

import pytest

import sim
from sim.experiments.metrics import METRICS, QUANTILES, metric
from sim.experiments.sweep import metric_columns
from sim.model.simulation import simulate
from tests.conftest import scenario

SMALL = "scenarios/small-trust.toml"


@pytest.fixture(scope="module")
def result():
    return sim.run(sim.load(SMALL), replications=4, seed=3, workers=1)


def test_the_record_and_the_runs_table_name_the_same_metrics(result):
    produced = {c for c in result.runs.columns if not c.startswith(("param.", "risk.", "lane."))}
    assert produced - {"replication"} == {m.name for m in METRICS}


def test_the_summary_holds_each_metric_where_its_record_says(result):
    runs, summary = result.runs, result.summary
    for m in METRICS:
        value = m.read(summary)
        if m.kind == "share":
            assert value == pytest.approx(runs[m.name].astype(bool).mean())
        elif m.kind == "date":
            assert set(value) == set(QUANTILES)
        else:
            assert set(value) == set(m.quantiles)
            finite = runs[m.name].dropna()
            for q in m.quantiles:
                assert finite.min() - 1e-9 <= value[q] <= finite.max() + 1e-9
                if m.kind == "count":
                    assert isinstance(value[q], int) and value[q] in set(finite.astype(int))


def test_the_sweep_table_has_the_records_columns_in_order(result):
    columns = metric_columns(result.summary)
    expected = [column for m in METRICS for column in m.columns()]
    assert list(columns)[: len(expected)] == expected
    # Beyond the record: only P(meet)'s Monte Carlo interval and what was uncertain.
    extras = list(columns)[len(expected) :]
    assert set(extras) <= {"p_meet_deadline_lo", "p_meet_deadline_hi", "uncertain"} | {
        c for c in extras if c.startswith("risk.")
    }
    assert columns[metric("tickets").column("p50")] == result.summary["support"]["tickets"]["p50"]


def test_deferred_users_counts_each_user_once_however_often_deferred():
    # A throttle so slow that initial syncs lag the plan: users wait night after night.
    sc = scenario(
        population={"mailboxes": 600, "organisations": 6, "size_gb": {"mean": 1.0, "sigma": 0}},
        throttle={
            "concurrent_moves": 10,
            "per_move_gb_per_hour": 1.0,
            "windows": [{"days": "all", "from": "00:00", "to": "24:00", "gb_per_hour": 1.0}],
        },
    )
    rep = simulate(sc, 1)
    boxes = rep.mailboxes
    cut_day = boxes["cutover_at"].dt.normalize()
    late = cut_day > boxes["scheduled_date"]
    never = boxes["cutover_at"].isna() & boxes["scheduled_date"].notna()
    deferred = int((late | never).sum())
    assert deferred > 0
    assert rep.metrics["deferred_users"] == deferred
    assert rep.daily["deferred"].sum() > rep.metrics["deferred_users"]  # some deferred twice


def test_paused_days_count_their_users_as_slipped():
    # Every user raises a ticket and the desk is tiny: the go/no-go gate pauses cutovers.
    sc = scenario(
        support={
            "ticket_rate": 1.0,
            "agents": 1,
            "pause_backlog": 20,
            "handle_minutes": {"median": 60, "sigma": 0},
        },
    )
    rep = simulate(sc, 1)
    paused = rep.daily[rep.daily["paused"]]
    assert len(paused) > 0
    # On a paused day every due user slips (SPEC): each counted once, however often.
    assert (paused["slipped"] == paused["scheduled"]).all()
    assert rep.metrics["slipped_users"] >= paused["scheduled"].max() > 0
    assert rep.metrics["slipped_users"] <= sc.population.mailboxes
    assert isinstance(rep.metrics["deferred_users"], int)
