"""The batch plan: every mailbox exactly once, each evening its planned batch, written whole."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.experiments.runner import replication_seeds
from sim.model.calendar import build_calendar
from sim.model.cohorts import UNSCHEDULED, plan_cohorts
from sim.model.simulation import simulate
from sim.outputs.batch_plan import write_plan
from sim.outputs.files import OutputError
from tests.test_inventory import EXAMPLE, inventory_scenario, shuffled_organisations, write


def read_batches(folder: Path) -> dict[str, pd.Series]:
    return {
        path.stem: pd.read_csv(path, dtype=str)["EmailAddress"]
        for path in sorted((folder / "batches").glob("*.csv"))
    }


@pytest.fixture
def inventory_sc(tmp_path):
    frame = shuffled_organisations(np.random.default_rng(7), [120, 80, 45, 30, 9])
    return inventory_scenario(write(tmp_path, frame), batches={"weekday": 50}), frame


def test_the_plan_files_union_is_the_inventory_with_no_duplicates(tmp_path, inventory_sc):
    sc, frame = inventory_sc
    write_plan(tmp_path / "plan", sim.plan(sc))
    batches = read_batches(tmp_path / "plan")
    everyone = pd.concat(batches.values(), ignore_index=True)
    assert not everyone.duplicated().any()
    assert set(everyone) == set(frame["mailbox"])
    plan_csv = pd.read_csv(tmp_path / "plan" / "plan.csv", dtype={"mailbox": str})
    assert sorted(plan_csv["mailbox"]) == sorted(frame["mailbox"])


def test_each_evening_holds_its_planned_batch(tmp_path, inventory_sc):
    sc, _ = inventory_sc
    frame = sim.plan(sc)
    write_plan(tmp_path / "plan", frame)
    batches = read_batches(tmp_path / "plan")
    plan_csv = pd.read_csv(tmp_path / "plan" / "plan.csv")
    planned = plan_csv.groupby("scheduled_date").size()
    assert {day: len(ids) for day, ids in batches.items()} == planned.to_dict()
    # Random selection fills every evening to its batch size but the last.
    cal = build_calendar(sc)
    days = cal.cutover_days[: len(planned)]
    assert list(planned.index) == [d.isoformat() for d in map(cal.date_of, days)]
    assert list(planned.to_numpy()[:-1]) == list(cal.batch_size[days][:-1])
    assert planned.iloc[-1] == len(frame) - cal.batch_size[days][:-1].sum()


def test_notice_dates_are_notice_days_before_the_scheduled_date(inventory_sc):
    sc, _ = inventory_sc
    frame = sim.plan(sc)
    local = frame[["scheduled_date", "notice_date"]].apply(lambda d: d.dt.tz_localize(None))
    gap = (local["scheduled_date"] - local["notice_date"]).dt.days  # whole local days
    assert (gap == sc.batches.notice_days).all()


@pytest.mark.parametrize("selection", ["random", "by_organisation"])
def test_the_plan_is_the_one_replication_0_follows(inventory_sc, selection):
    sc, _ = inventory_sc
    sc = sim.model.scenario.with_overrides(sc, {"batches.selection": selection}, source="test")
    frame = sim.plan(sc).set_index("mailbox")
    seed = replication_seeds(sc.scenario.seed, 5)[0]
    mb = simulate(sc, seed).mailboxes.set_index("mailbox")
    planned = frame["scheduled_date"].dt.tz_localize(None).to_numpy(dtype="datetime64[D]")
    simulated = mb.loc[frame.index, "scheduled_date"].dt.tz_localize(None)
    simulated = simulated.to_numpy(dtype="datetime64[D]")
    np.testing.assert_array_equal(planned, simulated)


def test_a_drawn_population_has_a_plan_too(make_scenario):
    frame = sim.plan(make_scenario())
    assert sorted(frame["mailbox"]) == list(range(1000))
    assert frame["scheduled_date"].notna().all()


def test_mailboxes_beyond_the_horizon_are_listed_without_a_date(tmp_path, make_scenario):
    sc = make_scenario(scenario={"horizon_days": 7})  # 5 weekdays of 100: 500 of 1,000
    frame = sim.plan(sc)
    assert frame["scheduled_date"].notna().sum() == 500
    write_plan(tmp_path / "plan", frame)
    plan_csv = pd.read_csv(tmp_path / "plan" / "plan.csv")
    assert len(plan_csv) == 1000 and plan_csv["scheduled_date"].isna().sum() == 500
    assert sum(len(ids) for ids in read_batches(tmp_path / "plan").values()) == 500


# --- the folder on disk ------------------------------------------------------------------------


def test_files_are_0644_and_a_new_plan_replaces_the_old_one_whole(tmp_path, inventory_sc):
    sc, _ = inventory_sc
    out = tmp_path / "plan"
    write_plan(out, sim.plan(sc))
    first_days = set(read_batches(out))
    fewer = sim.model.scenario.with_overrides(sc, {"batches.weekday": 150}, source="test")
    write_plan(out, sim.plan(fewer))
    later_days = set(read_batches(out))
    assert later_days < first_days  # no stale evening survives
    for path in [out / "plan.csv", *(out / "batches").iterdir()]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert stat.S_IMODE((out / "batches").stat().st_mode) == 0o755
    assert [p.name for p in tmp_path.iterdir()] == ["inv.csv", "plan"]  # no temporary left


def test_a_failure_mid_write_leaves_the_previous_plan_untouched(tmp_path, inventory_sc):
    sc, _ = inventory_sc
    out = tmp_path / "plan"
    write_plan(out, sim.plan(sc))
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*.csv")}
    broken = sim.plan(sc).drop(columns="notice_date")
    with pytest.raises(KeyError):
        write_plan(out, broken)
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*.csv")} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inv.csv", "plan"]


def test_a_folder_holding_other_files_is_refused(tmp_path, inventory_sc):
    sc, _ = inventory_sc
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "summary.json").write_text("{}")
    with pytest.raises(OutputError, match="holds files that are not these results"):
        write_plan(tmp_path / "results", sim.plan(sc))


def test_migsim_plan_writes_the_example_plan(tmp_path):
    result = CliRunner().invoke(app, ["plan", str(EXAMPLE), "--out", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    assert "3,000 of 3,000 mailboxes planned" in result.output
    inventory = pd.read_csv(EXAMPLE.with_name("inventory-example.csv"))
    batches = read_batches(tmp_path / "p")
    everyone = pd.concat(batches.values(), ignore_index=True)
    assert len(everyone) == len(inventory) and set(everyone) == set(inventory["mailbox"])
    header = (tmp_path / "p" / "batches" / f"{min(batches)}.csv").read_text().splitlines()[0]
    assert header == "EmailAddress"


def test_migsim_plan_into_a_folder_of_other_files_is_exit_2(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = CliRunner().invoke(app, ["plan", str(EXAMPLE), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "holds files that are not these results (notes.txt)" in result.output
    assert (tmp_path / "notes.txt").read_text() == "mine"


@settings(max_examples=100, deadline=None)
@given(
    org_sizes=st.lists(st.integers(1, 60), min_size=1, max_size=25),
    batches=st.lists(st.integers(0, 80), min_size=1, max_size=30),
    selection=st.sampled_from(["random", "by_organisation"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_a_plan_takes_each_mailbox_at_most_once_and_no_evening_above_its_batch(
    org_sizes, batches, selection, seed
):
    organisation = np.repeat(np.arange(len(org_sizes)), org_sizes)
    days = np.arange(len(batches)) * 2  # cutover days with gaps between them
    sizes = np.asarray(batches)
    cohorts = plan_cohorts(selection, days, sizes, organisation, np.random.default_rng(seed))
    queue, planned = cohorts.queue, cohorts.planned_day
    assert len(np.unique(queue)) == len(queue)
    assert set(np.flatnonzero(planned != UNSCHEDULED)) == set(queue)
    per_day = np.bincount(planned[queue] // 2, minlength=len(days))
    assert (per_day <= sizes).all()
    assert np.all(np.diff(planned[queue]) >= 0)  # the queue runs evening by evening
    if selection == "by_organisation":
        # Consecutive among the evenings with a batch (a 0-batch day is no cutover day).
        evening = np.cumsum(sizes > 0) - 1
        for org in range(len(org_sizes)):
            mine = np.unique(planned[organisation == org])
            mine = np.unique(evening[mine[mine != UNSCHEDULED] // 2])
            assert len(mine) == 0 or list(mine) == list(range(mine[0], mine[-1] + 1))
