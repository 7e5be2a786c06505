"""The migration on the as-of day, and the plan that is left.

What the actuals and the posteriors imply for the evening of the as-of day
(:class:`StartingState`): who is migrated, who failed out to remediation (estimated),
who is left, what the desk still holds, and how much initial-sync work the throttle had
already done for the users still to move. From it, the *remaining plan*: the same file
with ``start`` the day after as-of, the remaining mailboxes as its population (sizes and
organisations drawn as the scenario says, organisations scaled to the remainder), and
the calendar, phases, blackouts, horizon and deadline kept on their dates.
:func:`scenario_for` then applies one replication's draws: the pace scales every batch
size, the failure rate replaces the scenario's, a factor multiplies the ticket rates.

The users the plan expected by as-of who did not move are not singled out: with
``batches.catch_up = 0`` an evening takes its batch whoever is due, carried-over users
first, so counting them into the remaining plan moves every later evening exactly as
carrying them over would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from sim.experiments.actuals import Actuals
from sim.experiments.posteriors import (
    TICKET_KEYS,
    FailureSplit,
    Posterior,
    Yardstick,
    failure_split,
    number,
    prior_moments,
    ticket_means,
    tickets_due_by_as_of,
)
from sim.model.calendar import Calendar
from sim.model.lanes import compile_lanes, remaining_kind_shares
from sim.model.scenario import Scenario, ScenarioError, from_dict, to_dict
from sim.model.simulation import Model


@dataclass(frozen=True)
class StartingState:
    """The migration on the as-of day, as the actuals and the posteriors imply."""

    as_of: dt.date
    population: int
    migrated: int
    failed: int | None
    tickets_opened: int | None
    needs_remediation: int  # estimated: failed out after max_attempts
    remaining: int
    expected_by_as_of: float  # cutovers the plan (the model) expected by as-of
    synced_waiting_gb: float  # initial syncs done for users not yet cut over (estimated)
    tickets_to_date: float  # observed, or expected at the scenario's rates
    tickets_to_come: float  # expected from users migrated on the last evenings, not yet raised
    ticket_backlog: int  # open on the as-of evening (estimated)
    last_activity: dt.date | None  # last day with a cutover attempt
    attempted: float = 0.0  # mailboxes with a first attempt by as-of (estimated)
    persistent_waiting: float = 0.0  # persistent mailboxes tried, not yet out (estimated)
    persistent_waiting_failed: float = 0.0  # the failures those have made already


def starting_state(
    scenario: Scenario,
    model: Model,
    observed: Actuals,
    learned: Mapping[str, Posterior],
    yardstick: Yardstick,
) -> StartingState:
    """Who is left, what the desk holds, on the as-of evening."""
    n = scenario.population.mailboxes
    migrated = int(observed.migrated.sum())
    failed = int(observed.failed.sum()) if observed.failed is not None else None
    split = failure_split(scenario, model.calendar, observed)
    remediation = min(n - migrated, _remediation_estimate(scenario, split, learned))
    activity = observed.migrated + (observed.failed if observed.failed is not None else 0)
    active_days = np.flatnonzero(activity)
    last_activity = (
        observed.start + dt.timedelta(days=int(active_days[-1])) if len(active_days) else None
    )
    due = tickets_due_by_as_of(model.calendar, observed)
    rate = _ticket_rate_mean(scenario, learned)
    if observed.tickets_opened is not None:
        to_date = float(observed.tickets_opened.sum())
        open_now = _fluid_backlog(scenario, model, observed)
    else:
        to_date = float(observed.migrated[due].sum()) * rate
        open_now = 0.0
    still_to_come = float(observed.migrated[~due].sum()) * rate
    return StartingState(
        as_of=observed.as_of,
        population=n,
        migrated=migrated,
        failed=failed,
        tickets_opened=int(observed.tickets_opened.sum())
        if observed.tickets_opened is not None
        else None,
        needs_remediation=remediation,
        remaining=n - migrated - remediation,
        expected_by_as_of=float(yardstick.cutovers_by_day.sum()),
        synced_waiting_gb=max(
            0.0, yardstick.synced_gb - (migrated + remediation) * mean_size_gb(scenario)
        ),
        tickets_to_date=to_date,
        tickets_to_come=still_to_come,
        ticket_backlog=round(open_now + still_to_come),
        last_activity=last_activity,
        attempted=split.attempted_mailboxes if split else float(migrated),
        persistent_waiting=split.persistent_waiting if split else 0.0,
        persistent_waiting_failed=split.persistent_waiting_failed if split else 0.0,
    )


def mean_size_gb(scenario: Scenario) -> float:
    """Mean mailbox size: a lognormal of the scenario's mean and sigma, capped at ``max``."""
    size = scenario.population.size_gb
    if size.sigma == 0:
        return min(size.mean, size.max)
    mu = np.log(size.mean) - size.sigma**2 / 2
    below = stats.norm.cdf((np.log(size.max) - mu - size.sigma**2) / size.sigma)
    return float(size.mean * below + size.max * stats.norm.sf((np.log(size.max) - mu) / size.sigma))


def head_start_factor(model: Model, synced_waiting_gb: float) -> np.ndarray | None:
    """Per-day throttle factors giving the remaining plan only the head start it really had.

    The remaining plan's first cohorts become eligible for their initial sync up to
    ``presync_lead_days`` before the new start, when the real throttle was busy with the
    cohorts that cut over by as-of: what it did for the remaining users is the data the
    plan had synced by as-of less what the migrated users took. The days up to and
    including the as-of day are slowed (``World.throttle_factor_by_day``) so that at most
    that much moves then; None when the whole head start fits.
    """
    cal, cap, sc = model.calendar, model.capacity, model.scenario
    lead_days = number(sc, "throttle.presync_lead_days")
    new_start = float(cal.hours_at(cal.start_index, 0))  # midnight after the as-of day
    first_eligible = float(model.cutover_hours[cal.start_index]) - lead_days * 24
    available = float(np.diff(cap.flow_at(np.array([first_eligible, new_start])))[0])
    if available <= synced_waiting_gb:
        return None
    factor = np.ones(cal.days)
    factor[: cal.start_index] = synced_waiting_gb / available
    return factor


def _remediation_estimate(
    scenario: Scenario, split: FailureSplit | None, learned: Mapping[str, Posterior]
) -> int:
    """Mailboxes already out to remediation: of those whose last allowed attempt was due
    by as-of, the persistent share, and of the others those that failed all ``m``
    attempts at rate ``r`` (``r^m``)."""
    if split is None:
        return 0
    rate = (
        float(learned["failures.rate"].posterior.mean())
        if "failures.rate" in learned
        else prior_moments(scenario, "failures.rate")[0]
    )
    share = number(scenario, "failures.persistent_share")
    m = max(1, round(number(scenario, "failures.max_attempts")))
    return round(split.at_last_attempt * (share + (1 - share) * rate**m))


def _ticket_rate_mean(scenario: Scenario, learned: Mapping[str, Posterior]) -> float:
    if "tickets_per_migrated_user" in learned:
        return float(learned["tickets_per_migrated_user"].posterior.mean())
    rates = ticket_means(scenario)
    legacy = number(scenario, "population.legacy_client_share")
    return (1 - legacy) * rates["ticket_rate"] + legacy * rates["legacy_ticket_rate"]


def _fluid_backlog(scenario: Scenario, model: Model, observed: Actuals) -> float:
    """Tickets open on the as-of evening if agents close, each day, what their open hours
    allow at the mean handle time (a fluid queue: no backlog builds below capacity)."""
    cal = model.calendar
    first = cal.index_of(observed.start)
    edges = cal.clock.to_hours(np.arange(first, first + observed.days + 1) * 24.0)
    starts, ends = model.desk_open
    open_by = np.clip(edges[:, None] - starts[None, :], 0, (ends - starts)[None, :]).sum(axis=1)
    median, sigma = (number(scenario, f"support.handle_minutes.{k}") for k in ("median", "sigma"))
    mean_handle_hours = median * np.exp(sigma**2 / 2) / 60.0
    capacity = number(scenario, "support.agents") * np.diff(open_by) / mean_handle_hours
    backlog = 0.0
    for opened, closable in zip(observed.tickets_opened, capacity, strict=True):
        backlog = max(0.0, backlog + opened - closable)
    return backlog


def check_supported(scenario: Scenario) -> None:
    population = to_dict(scenario)["population"]
    if population.get("inventory"):
        raise ScenarioError(
            "forecast",
            "population.inventory",
            "a forecast from a mailbox inventory is not supported yet (counts do not say "
            "which mailboxes moved)",
        )


def remaining_raw(scenario: Scenario, state: StartingState, cal: Calendar) -> dict | None:
    """The scenario of what is left, before the posterior draws (None: nothing to simulate)."""
    last_cutover = cal.date_of(cal.last_cutover_index)
    horizon_days = (last_cutover - state.as_of).days
    if state.remaining <= 0 or horizon_days < 1:
        return None
    raw = to_dict(scenario)
    table = raw["scenario"]
    table["start"] = state.as_of + dt.timedelta(days=1)
    table["horizon_days"] = horizon_days
    if table.get("deadline") is not None and table["deadline"] < table["start"]:
        table["deadline"] = None  # already passed: met_deadline is set from the dates
    raw["risks"] = _risks_after(scenario, cal, table["start"], raw.get("risks") or [])
    population = raw["population"]
    failures = raw.setdefault("failures", {})
    persistent = failures.get("persistent_share", 0.0)
    if isinstance(persistent, int | float) and persistent > 0:
        # The persistent among the remaining: the share of those never tried, and the
        # persistent tried and still to fail out (the remaining plan tries them afresh).
        untried = max(0.0, state.population - state.attempted)
        failures["persistent_share"] = min(
            1.0, (persistent * untried + state.persistent_waiting) / state.remaining
        )
    share = state.remaining / state.population
    population["mailboxes"] = state.remaining
    population["organisations"] = int(
        min(state.remaining, max(1, round(population["organisations"] * share)))
    )
    # With lanes, what is left is mostly of the lanes still to move (sim.model.lanes).
    kinds = remaining_kind_shares(
        scenario,
        compile_lanes(scenario, cal),
        cal.index_of(state.as_of),
        state.migrated + state.needs_remediation,
        state.remaining,
    )
    if kinds is not None:
        population["kinds"] = kinds
    return raw


def _risks_after(
    scenario: Scenario, cal: Calendar, new_start: dt.date, risks: list[dict]
) -> list[dict]:
    """The risk register of the remaining plan: only what may still strike after as-of.

    A risk keeps the window of dates it had in the whole plan (``between``, else start to
    deadline), cut to the days from ``new_start`` on: what struck before is in the actuals.
    A one-off risk keeps its chance of striking on each of those days (``probability``
    times the share of its window that is left); one whose window is over never strikes.
    """
    sc = scenario.scenario
    default_last = sc.deadline or cal.date_of(cal.last_cutover_index)
    out = []
    for risk in risks:
        risk = dict(risk)
        first, last = risk.get("between") or (sc.start, default_last)
        left = (last - max(first, new_start)).days + 1
        if left <= 0:
            risk["probability" if risk.get("probability") is not None else "per_week"] = 0.0
            risk["between"] = None
        else:
            if risk.get("probability") is not None:
                risk["probability"] *= left / ((last - first).days + 1)
            risk["between"] = [max(first, new_start), last]
        out.append(risk)
    return out


def scenario_for(
    raw: dict,
    draws: Mapping[str, float],
    ticket_factor: float = 1.0,
    ticket_rates: Mapping[str, float] | None = None,
) -> Scenario:
    """The remaining plan with one replication's draws: the pace scales the batches, the
    failure rate replaces the scenario's, ``ticket_factor`` multiplies every ticket rate
    (``ticket_rates``: their means, which replace a rate given as a distribution)."""
    raw = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    pace = draws.get("pace", 1.0)
    batches = raw["batches"]
    for key in ("weekday", "weekend_day"):
        batches[key] = _scaled(batches[key], pace)
    batches["phases"] = [
        {**p, **{k: _scaled(p[k], pace) for k in ("weekday", "weekend_day") if p.get(k)}}
        for p in batches.get("phases", [])
    ]
    raw["lanes"] = [
        {
            **lane,
            **{k: _scaled(lane[k], pace) for k in ("weekday", "weekend_day") if k in lane},
            "phases": [
                {**p, **{k: _scaled(p[k], pace) for k in ("weekday", "weekend_day") if p.get(k)}}
                for p in lane.get("phases", [])
            ],
        }
        for lane in raw.get("lanes", [])
    ]
    if not raw["lanes"]:
        raw.pop("lanes")
    if "failures.rate" in draws:
        raw["failures"]["rate"] = min(draws["failures.rate"], 0.999)
    if ticket_factor != 1.0 and ticket_rates is not None:
        for key in TICKET_KEYS:
            raw["support"][key] = min(1.0, ticket_rates[key] * ticket_factor)
    return from_dict(raw, source="forecast")


# The parameters of a distribution in the key's units: scaling them scales every draw.
SCALE_PARAMETERS = ("low", "mode", "high", "median", "mean", "sd")


def _scaled(batch: Any, pace: float) -> Any:
    """A batch size times the pace; a batch given as a distribution (other than a beta,
    which has no scale) has its parameters scaled, so every draw is scaled."""
    if isinstance(batch, dict):
        if batch.get("dist") == "beta":
            return batch
        return {
            k: v * pace if k in SCALE_PARAMETERS and v is not None else v for k, v in batch.items()
        }
    if not isinstance(batch, int | float) or batch <= 0:
        return batch
    return max(1, round(batch * pace))
