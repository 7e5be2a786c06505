"""The dates a planner expects on every time axis: freezes, bank holidays, phases, the deadline.

Plots are handed a :class:`Timeline` rather than a scenario, so drawing never rebuilds the
model; :func:`timeline_of` derives one from a validated scenario (through its calendar, so the
holidays are exactly the ones the simulation skipped)::

    tl = timeline_of(sc)
    plots.daily_cutovers(res.daily, timeline=tl)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from sim.model.calendar import Calendar, build_calendar
from sim.model.scenario import Scenario


@dataclass(frozen=True)
class Period:
    """Days ``start`` to ``end``, both included (a change freeze)."""

    start: dt.date
    end: dt.date
    label: str = ""


@dataclass(frozen=True)
class Mark:
    """One dated event drawn as a vertical line (a phase of the plan starting)."""

    date: dt.date
    label: str = ""


@dataclass(frozen=True)
class Timeline:
    """Calendar facts of a plan that charts shade or mark; every field is optional."""

    start: dt.date | None = None
    deadline: dt.date | None = None
    blackouts: tuple[Period, ...] = ()
    holidays: tuple[dt.date, ...] = ()
    phases: tuple[Mark, ...] = ()


def timeline_of(scenario: Scenario, calendar: Calendar | None = None) -> Timeline:
    """The timeline of a scenario: its start, deadline, blackouts, holidays and phases.

    Holidays are the calendar's own (weekend bank holidays included), over the whole
    simulated span, so a chart of the desk's drain period shows them too.
    """
    cal = calendar if calendar is not None else build_calendar(scenario)
    batches = scenario.batches
    holidays = tuple(cal.date_of(int(day)) for day in np.flatnonzero(cal.holiday))
    blackouts = tuple(
        Period(window.from_, window.to, window.reason or "blackout")
        for window in scenario.calendar.blackouts
    )
    phases = []
    for number, phase in enumerate(batches.phases, start=1):
        weekday = batches.weekday if phase.weekday is None else phase.weekday
        weekend = batches.weekend_day if phase.weekend_day is None else phase.weekend_day
        pace = f"{weekday:,}/weekday" + (f", {weekend:,}/weekend day" if weekend else "")
        phases.append(Mark(phase.from_, f"phase {number}: {pace}"))
    return Timeline(
        start=scenario.scenario.start,
        deadline=scenario.scenario.deadline,
        blackouts=blackouts,
        holidays=holidays,
        phases=tuple(phases),
    )
