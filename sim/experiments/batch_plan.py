"""The batch plan: who is planned to move on which evening, for the migration team.

``plan(sc)`` is the plan replication 0 of a run with the scenario's seed
follows (its planned cohorts, before any deferral, slip or retry moves a user
later), in replication 0's drawn numbers when some are uncertain (a batch size given
as a distribution is the one replication 0 drew). It needs only the population and the
cohorts, not a simulation::

    >>> frame = sim.plan(sim.load("scenarios/inventory-example.toml"))
    >>> frame.groupby("scheduled_date").size()   # each evening's batch

One row per mailbox in initial-sync order, evening by evening (mailboxes the
horizon has no room for come last, with no dates).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.experiments.runner import replication_seeds
from sim.model.calendar import Calendar, build_calendar
from sim.model.cohorts import UNSCHEDULED, Cohorts
from sim.model.draws import stream_seeds
from sim.model.lanes import LanePlan, compile_lanes, lane_of_kind, plan_lanes
from sim.model.population import Mailboxes, draw_mailboxes
from sim.model.scenario import Scenario
from sim.model.uncertainty import concrete_scenario

PLAN_COLUMNS = (
    "mailbox",
    "organisation",
    "kind",
    "lane",
    "size_gb",
    "scheduled_date",
    "notice_date",
)


def plan(scenario: Scenario, *, seed: int | None = None) -> pd.DataFrame:
    """The batch plan of replication 0: mailbox, organisation, kind, lane, size_gb,
    scheduled_date, notice_date (NaT in a lane that sends no notices).

    ``seed`` defaults to the scenario's; the plan is the one ``sim.run`` with
    that seed gives replication 0. Dates are local midnights in the scenario's time
    zone, as ``res.mailboxes.scheduled_date`` (NaT for a mailbox not planned within the
    horizon).
    """
    seed = scenario.scenario.seed if seed is None else seed
    first = replication_seeds(seed, 1)[0]
    # Replication 0 runs its drawn numbers (an uncertain batch size or mean size).
    scenario, _ = concrete_scenario(scenario, first)
    calendar = build_calendar(scenario)
    streams = {name: np.random.default_rng(s) for name, s in stream_seeds(first).items()}
    mailboxes = draw_mailboxes(scenario.population, streams)
    lanes = compile_lanes(scenario, calendar)
    lane_of_mailbox = None
    if len(lanes) > 1:
        kind = mailboxes.kind if mailboxes.kind is not None else np.zeros(len(mailboxes), np.int8)
        lane_of_mailbox = lane_of_kind(lanes, mailboxes.kind_names)[kind]
    cohorts = plan_lanes(
        lanes,
        scenario.batches.selection,
        mailboxes.organisation,
        lane_of_mailbox,
        streams["selection"],
    )
    return plan_table(calendar, mailboxes, cohorts, lanes, lane_of_mailbox)


def _local_midnight(days: np.ndarray, timezone: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(days.astype("datetime64[ns]")).tz_localize(
        timezone, nonexistent="shift_forward", ambiguous=False
    )


def plan_table(
    calendar: Calendar,
    mailboxes: Mailboxes,
    cohorts: Cohorts,
    lanes: tuple[LanePlan, ...],
    lane_of_mailbox: np.ndarray | None = None,
) -> pd.DataFrame:
    """The plan as a table in initial-sync order, unplanned mailboxes last."""
    planned = cohorts.planned_day
    unplanned = np.flatnonzero(planned == UNSCHEDULED)
    order = np.concatenate([cohorts.queue, unplanned]).astype(np.int64)
    day = planned[order]
    has_day = day != UNSCHEDULED
    dates = np.full(len(order), np.datetime64("NaT"), dtype="datetime64[D]")
    dates[has_day] = calendar.dates[day[has_day]].to_numpy(dtype="datetime64[D]")
    codes = np.zeros(len(order), np.int8) if lane_of_mailbox is None else lane_of_mailbox[order]
    notice_days = np.array([lane.notice_days for lane in lanes])[codes].astype("timedelta64[D]")
    notice = dates - notice_days
    silent = np.array([not lane.notifies for lane in lanes])[codes]
    notice[silent] = np.datetime64("NaT")
    ids = mailboxes.id_column()
    organisation = mailboxes.organisation_column()
    return pd.DataFrame(
        {
            "mailbox": ids[order] if isinstance(ids, np.ndarray) else ids.take(order),
            "organisation": organisation[order],
            "kind": mailboxes.kind_column()[order],
            "lane": pd.Categorical.from_codes(codes, categories=[x.name for x in lanes]),
            "size_gb": mailboxes.size_gb[order],
            "scheduled_date": _local_midnight(dates, calendar.clock.timezone),
            "notice_date": _local_midnight(notice, calendar.clock.timezone),
        }
    )
