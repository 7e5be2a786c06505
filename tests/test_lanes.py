"""Lanes and kinds of mailbox: each lane its own schedule, one throttle, one desk."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.model.scenario import ScenarioError, from_dict, to_dict
from sim.model.simulation import Model, simulate
from sim.model.world import World

from .conftest import BASE, nth_weekday_after

START = dt.date(2024, 1, 8)  # Monday
LANE_FROM = dt.date(2024, 1, 22)  # Monday, two weeks later


def with_lanes(lanes: list[dict[str, Any]], kinds: dict[str, float], **tables: Any):
    raw: dict[str, Any] = {k: dict(v) for k, v in BASE.items()}
    for table, values in tables.items():
        raw[table] = {**raw.get(table, {}), **values}
    raw["population"] = {**raw["population"], "kinds": kinds}
    raw["lanes"] = lanes
    return from_dict(raw, source="test.toml")


ACCOUNTS = {
    "name": "accounts",
    "kinds": ["application", "shared"],
    "from": LANE_FROM,
    "weekday": 30,
    "weekend_day": 0,
    "notice_days": 0,
}


def day_of(value) -> dt.date | None:
    return None if pd.isna(value) else pd.Timestamp(value).date()


def test_two_lanes_finish_on_the_dates_their_own_batches_give():
    # No failures, an ample throttle, no weekends: "main" moves its N_u users at 100 a
    # weekday from START, so it finishes on the ceil(N_u / 100)-th weekday; the lane moves
    # its N_a accounts at 30 a weekday from LANE_FROM, finishing on the ceil(N_a / 30)-th
    # weekday from there. The plan completes with the later of the two.
    sc = with_lanes([ACCOUNTS], {"user": 0.7, "application": 0.2, "shared": 0.1})
    rep = simulate(sc, 4)
    kinds = rep.mailboxes["kind"].astype(str)
    users = int((kinds == "user").sum())
    accounts = len(kinds) - users
    main_done = nth_weekday_after(START, math.ceil(users / 100))
    lane_done = nth_weekday_after(LANE_FROM, math.ceil(accounts / 30))
    assert day_of(rep.metrics["lane.main.completion_date"]) == main_done
    assert day_of(rep.metrics["lane.accounts.completion_date"]) == lane_done
    assert day_of(rep.metrics["completion_date"]) == max(main_done, lane_done)
    assert rep.metrics["lane.main.migrated"] == users
    assert rep.metrics["lane.accounts.migrated"] == accounts
    # Every mailbox is in the lane of its kind.
    lanes = rep.mailboxes["lane"].astype(str)
    assert (lanes[kinds == "user"] == "main").all()
    assert (lanes[kinds != "user"] == "accounts").all()


def test_a_lane_without_notices_sends_none_and_its_tickets_follow_its_own_rate():
    sc = with_lanes(
        [{**ACCOUNTS, "kinds": ["application"], "ticket_rate": 1.0}],
        {"user": 0.5, "application": 0.5},
        support={"ticket_rate": 0.0, "legacy_ticket_rate": 0.0},
    )
    rep = simulate(sc, 2)
    users = int((rep.mailboxes["kind"].astype(str) == "user").sum())
    daily = rep.daily
    assert daily["notices_sent"].sum() == users
    assert daily["success_notices"].sum() == users
    assert rep.metrics["tickets"] == len(rep.mailboxes) - users  # every account, no user


def test_without_lanes_the_summary_has_one_lane_main_and_every_mailbox_is_a_user():
    sc = from_dict({k: dict(v) for k, v in BASE.items()}, source="test.toml")
    res = sim.run(sc, replications=3, seed=1, workers=1)
    assert list(res.summary["lanes"]) == ["main"]
    assert res.summary["lanes"]["main"]["completion"] == res.summary["completion"]
    assert set(res.mailboxes["kind"].astype(str)) == {"user"}
    assert set(res.mailboxes["lane"].astype(str)) == {"main"}
    assert "lanes" not in to_dict(sc) and "kinds" not in to_dict(sc)["population"]


def test_the_batch_plan_names_each_mailbox_kind_and_lane():
    sc = with_lanes([{**ACCOUNTS, "kinds": ["shared"]}], {"user": 0.8, "shared": 0.2})
    plan = sim.plan(sc)
    accounts = plan[plan["lane"] == "accounts"]
    assert (accounts["kind"] == "shared").all()
    assert accounts["scheduled_date"].dt.tz_localize(None).min() == pd.Timestamp(LANE_FROM)
    assert accounts["notice_date"].isna().all()  # notice_days = 0: nobody is told
    users = plan[plan["lane"] == "main"]
    local = users[["scheduled_date", "notice_date"]].apply(lambda d: d.dt.tz_localize(None))
    assert (local["scheduled_date"] - local["notice_date"] == pd.Timedelta(days=14)).all()


@pytest.mark.parametrize(
    ("lanes", "kinds", "key"),
    [
        ([{**ACCOUNTS, "kinds": ["shared", "shared"]}], {"user": 0.9, "shared": 0.1}, "kinds[1]"),
        (
            [ACCOUNTS, {**ACCOUNTS, "name": "other", "kinds": ["application"]}],
            {"user": 0.8, "shared": 0.1, "application": 0.1},
            "lanes[1].kinds[0]",
        ),
        ([ACCOUNTS], {"user": 0.9, "application": 0.1}, "lanes[0].kinds[1]"),
        (
            [{**ACCOUNTS, "name": "main"}],
            {"user": 0.9, "shared": 0.05, "application": 0.05},
            "name",
        ),
    ],
)
def test_a_kind_moved_twice_or_by_no_share_is_bad_input_naming_the_key(lanes, kinds, key):
    with pytest.raises(ScenarioError) as error:
        with_lanes(lanes, kinds)
    assert key in str(error.value) and "\n" not in str(error.value)


def test_kind_shares_must_add_up_to_one():
    with pytest.raises(ScenarioError, match=r"population\.kinds"):
        with_lanes([], {"user": 0.7, "shared": 0.2})


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    share=st.floats(0.0, 1.0),
    lane_batch=st.integers(1, 80),
    lane_weekend=st.integers(0, 40),
    rate=st.sampled_from([0.0, 0.05, 0.3]),
    persistent=st.sampled_from([0.0, 0.02]),
    carried_over=st.sampled_from(["first", "spare"]),
    catch_up=st.sampled_from([0.0, 0.2]),
    pause=st.none() | st.tuples(st.integers(0, 40), st.integers(1, 15)),
    seed=st.integers(0, 2**16),
)
def test_every_mailbox_ends_in_exactly_one_state_in_exactly_one_lane(
    share, lane_batch, lane_weekend, rate, persistent, carried_over, catch_up, pause, seed
):
    sc = with_lanes(
        [
            {
                **ACCOUNTS,
                "kinds": ["application"],
                "weekday": lane_batch,
                "weekend_day": lane_weekend,
            }
        ],
        {"user": 1.0 - share, "application": share},
        population={"mailboxes": 400, "organisations": 7},
        batches={"weekday": 60, "carried_over": carried_over, "catch_up": catch_up},
        failures={"rate": rate, "persistent_share": persistent, "retry_after_days": 1},
    )
    world = None
    model = Model(sc)
    if pause is not None:  # a risk's pause of known length, from `first` days after the start
        paused = np.zeros(model.calendar.days, dtype=bool)
        first = model.calendar.start_index + pause[0]
        paused[first : first + pause[1]] = True
        world = World(paused_by_day=paused)
    rep = simulate(sc, seed, world=world)
    boxes, m = rep.mailboxes, rep.metrics
    states = boxes["status"].astype(str).value_counts()
    assert states.sum() == len(boxes) == 400
    assert m["migrated"] + m["needs_remediation"] + m["not_migrated"] == 400
    assert m["lane.main.migrated"] + m["lane.accounts.migrated"] == m["migrated"]
    assert (
        boxes["lane"].astype(str) == np.where(boxes["kind"] == "application", "accounts", "main")
    ).all()
    daily = rep.daily
    assert (
        daily["scheduled"]
        == daily["cutover_ok"] + daily["cutover_failed"] + daily["deferred"] + daily["slipped"]
    ).all()
    lanes_done = [day_of(m[f"lane.{name}.completion_date"]) for name in ("main", "accounts")]
    if m["completed"]:
        assert day_of(m["completion_date"]) == max(d for d in lanes_done if d is not None)
    assert 0 <= m["users_late"] <= 400
    assert m["paused_days"] == m["paused_days_risk"] == int(daily["paused"].sum())
    # No evening takes more than its lanes' capacities, batch x (1 + catch_up).
    capacity = sum(lane.evening_capacity for lane in model.lanes)
    day = model.calendar.index_of(daily["date"].dt.date.min())
    attempts = (daily["cutover_ok"] + daily["cutover_failed"]).to_numpy()
    assert (attempts <= capacity[day : day + len(daily)]).all()
    if pause is None:
        assert m["paused_days"] == 0


def test_a_lane_without_a_cutover_day_in_the_horizon_is_bad_input_naming_it():
    from sim.model.feasibility import problems

    late = {**ACCOUNTS, "from": dt.date(2030, 1, 1)}
    (error,) = problems(with_lanes([late], {"user": 0.5, "application": 0.3, "shared": 0.2}))
    assert "lanes[0].from" in str(error) and "accounts" in str(error)


def test_an_inventory_s_kind_column_puts_its_mailboxes_in_their_lanes():
    sc = sim.load("scenarios/exchange-export.toml")
    raw = to_dict(sc)
    lane = {"name": "rooms", "kinds": ["room"], "from": sc.scenario.start, "weekday": 200}
    raw["lanes"] = [{**lane, "notice_days": 0}]
    with_rooms = from_dict(raw, source="test.toml", base_dir="scenarios")
    rep = simulate(with_rooms, 1)
    boxes = rep.mailboxes
    rooms = boxes["kind"] == "room"
    assert rooms.any() and (boxes.loc[rooms, "lane"] == "rooms").all()
    assert (boxes.loc[~rooms, "lane"] == "main").all()
    migrated = boxes["status"] == "migrated"
    assert rep.metrics["lane.rooms.migrated"] == int((rooms & migrated).sum())
