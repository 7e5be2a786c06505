"""Re-forecasting a migration under way: start from what happened, learn, simulate the rest.

Six weeks in, a planner asks "when do we finish now?". With the daily actuals
(``sim.experiments.actuals``) the forecast is a transform of the scenario followed by
an ordinary run:

1. **Learn** (``sim.experiments.posteriors``): the failure rate from failed / attempted
   cutovers, tickets per migrated user from the tickets opened, and the *pace*, the
   share of the cutovers the model expected by as-of that really happened (replication
   0 of the plan gives the expectation, so a plan the throttle already slows is not
   slowed twice).
2. **Start from the observed state**: the mailboxes not migrated (less an estimate of
   those that failed out to remediation) are a population of their own, drawn with the
   scenario's size distribution and planned onto the cutover days after as-of, with the
   batches scaled by the pace. The users the plan expected by as-of but who did not move
   are simply first in that queue (with ``catch_up = 0`` an evening takes its batch
   whoever is due, so counting them into the remaining plan is exact). The calendar,
   phases, blackouts, horizon and deadline keep their dates. The desk starts with the
   ticket backlog the actuals imply (a fluid estimate: tickets opened less what the
   agents could close, plus tickets still to come from users migrated on the last
   evenings), through ``World.initial_ticket_backlog``.
3. **Simulate**: each replication draws its own failure rate, ticket factor and pace
   from the posteriors (inversion, one stream each, derived from the replication's seed),
   and runs the remaining plan. Its numbers are then put back on the whole migration:
   completion dates are dates, ``migrated`` and the tickets add the observed ones, and
   ``cumulative_migrated`` counts from the real start.

>>> res = sim.forecast(sc, actuals=pd.read_csv("actuals.csv"), replications=50)
>>> res.summary["as_of"], res.summary["completion"], res.summary["observed"]["pace"]
"""

from __future__ import annotations

import datetime as dt
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.experiments import posteriors as learn
from sim.experiments.actuals import Actuals, validate_actuals
from sim.experiments.results import Result, summarise
from sim.experiments.runner import (
    ProgressCallback,
    backend,
    chunks_for,
    default_workers,
    replication_seeds,
)
from sim.experiments.runner import run as run_plan
from sim.model.calendar import Calendar
from sim.model.replication import Model, World
from sim.model.scenario import Scenario, ScenarioError, from_dict, to_dict
from sim.model.throttle import Capacity

# Posterior draws use streams far from the model's own children (0 .. len(STREAMS) - 1).
FORECAST_STREAM = zlib.crc32(b"forecast")
DRAWN = ("failures.rate", "tickets_per_migrated_user", "pace")
TICKET_KEYS = ("ticket_rate", "legacy_ticket_rate", "failed_cutover_ticket_rate")


@dataclass
class ForecastResult(Result):
    """A :class:`Result` whose replications continue from the actuals.

    ``actuals`` are the validated daily counts; ``plan`` the original plan's run, when
    one was made (``forecast(..., plan=True)``), for the picture.
    """

    actuals: Actuals | None = field(default=None, repr=False)
    plan: Result | None = field(default=None, repr=False)


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
    ticket_backlog: int  # open on the as-of evening (estimated)
    last_activity: dt.date | None  # last day with a cutover attempt


def forecast(
    scenario: Scenario,
    actuals: pd.DataFrame,
    *,
    replications: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    dask: str | None = None,
    progress: ProgressCallback | None = None,
    plan: bool | Result = False,
    keep_mailboxes: bool = True,
    source: str = "actuals",
) -> ForecastResult:
    """Re-forecast ``scenario`` from the daily ``actuals`` (columns date, migrated[, failed,
    tickets_opened]; see ``sim.experiments.actuals``).

    ``plan=True`` also runs the original plan with the same replications and seed (its fan
    is drawn behind the forecast; its mean cutovers per day are the pace's yardstick);
    a :class:`Result` of the plan may be passed instead. Otherwise replication 0 of the
    plan is the yardstick. Bad actuals raise :class:`ScenarioError` naming ``source``,
    the row and the column.
    """
    started = time.perf_counter()
    replications = replications or scenario.scenario.replications
    seed = scenario.scenario.seed if seed is None else seed
    workers = workers or default_workers()
    if replications < 1 or workers < 1:
        raise ValueError("replications and workers must be >= 1")
    model = Model(scenario)
    observed = validate_actuals(actuals, scenario, model.calendar, source=source)
    _check_supported(scenario)
    if plan is True:
        plan = run_plan(scenario, replications, seed, workers, dask=dask, keep_mailboxes=False)
    plan_result = plan if isinstance(plan, Result) else None
    yardstick = plan_yardstick(model, observed, plan_result, seed)
    learned = learn_rates(scenario, model, observed, yardstick.cutovers_by_day)
    state = starting_state(scenario, model, observed, learned, yardstick)
    job = _Job(
        raw=_remaining_raw(scenario, state, model.calendar),
        posteriors={k: v for k, v in learned.items() if k in DRAWN},
        scenario=scenario,
        state=state,
        seed=seed,
        replications=replications,
        keep_mailboxes=keep_mailboxes,
    )
    if job.raw is None:
        reps = [_unsimulated(job, i) for i in range(replications)]
    else:
        reps = []
        with backend(min(workers, replications), dask) as pool:
            calls = [(_run_chunk, job, c) for c in chunks_for(replications, pool.workers)]
            for _, done in pool.completed(calls):
                reps.extend(done)
                if progress:
                    progress(len(done))
    reps.sort(key=lambda r: r[0]["replication"])
    return _result(job, reps, observed, learned, plan_result, time.perf_counter() - started)


# --- learning -------------------------------------------------------------------------------


def learn_rates(
    scenario: Scenario, model: Model, observed: Actuals, expected: np.ndarray
) -> dict[str, learn.Posterior]:
    """The posteriors the actuals support (a quantity the file says nothing of is left out)."""
    out: dict[str, learn.Posterior] = {}
    failed = observed.failed
    if failed is not None:
        mean, variance = prior_moments(scenario, "failures.rate")
        attempted = int(observed.migrated.sum() + failed.sum())
        out["failures.rate"] = learn.failure_rate(
            mean, int(failed.sum()), attempted, prior_variance=variance
        )
    if observed.tickets_opened is not None:
        exposed, expected_tickets = _ticket_exposure(scenario, model.calendar, observed)
        if expected_tickets > 0:
            mean, variance = prior_moments(scenario, "support.ticket_rate")
            cv = np.sqrt(variance) / mean if variance and mean > 0 else None
            out["tickets_per_migrated_user"] = learn.ticket_rate(
                expected_tickets / exposed,
                int(observed.tickets_opened.sum()),
                exposed,
                expected_tickets,
                prior_cv=cv,
            )
    actual = observed.migrated + (failed if failed is not None else 0)
    out["pace"] = learn.pace(actual, expected)
    return out


def prior_moments(scenario: Scenario, key: str) -> tuple[float, float | None]:
    """Mean and variance of a key: a distribution's (``sim.model.uncertainty``), or the
    fixed number with no variance."""
    try:
        from sim.model.uncertainty import uncertain_keys  # the uncertainty branch
    except ImportError:
        uncertain: Mapping[str, Any] = {}
    else:
        uncertain = uncertain_keys(scenario)
    if key in uncertain:
        frozen = uncertain[key].frozen()
        return float(frozen.mean()), float(frozen.var())
    value: Any = scenario
    for part in key.split("."):
        value = getattr(value, part)
    return float(value), None


def _ticket_exposure(scenario: Scenario, cal: Calendar, observed: Actuals) -> tuple[int, float]:
    """Migrated users whose tickets are due by as-of, and the tickets the scenario expects."""
    due = _tickets_due_by_as_of(cal, observed)
    migrated = int(observed.migrated[due].sum())
    failed = int(observed.failed[due].sum()) if observed.failed is not None else 0
    support, legacy = scenario.support, scenario.population.legacy_client_share
    per_user = (1 - legacy) * support.ticket_rate + legacy * support.legacy_ticket_rate
    return migrated, migrated * per_user + failed * support.failed_cutover_ticket_rate


def _tickets_due_by_as_of(cal: Calendar, observed: Actuals) -> np.ndarray:
    """Per observed day: do its users' tickets arrive by the as-of day (next working day)?"""
    first = cal.index_of(observed.start)
    days = np.arange(first, first + observed.days)
    return cal.next_working_day[days] <= days[-1]


@dataclass(frozen=True)
class Yardstick:
    """What the plan (the model) expected by the as-of day."""

    cutovers_by_day: np.ndarray  # attempts per observed day (successes only without `failed`)
    synced_gb: float  # data through initial sync by the as-of day


def plan_yardstick(model: Model, observed: Actuals, plan: Result | None, seed: int) -> Yardstick:
    """The mean over the plan's replications, or replication 0 of the plan."""
    if plan is None:
        daily = model.replicate(replication_seeds(seed, 1)[0]).daily
        replications = 1
    else:
        daily, replications = plan.daily, max(1, plan.runs["replication"].nunique())
    attempts = daily["cutover_ok"] + (daily["cutover_failed"] if observed.failed is not None else 0)
    per_date = attempts.groupby(daily["date"]).sum() / replications
    synced = daily.loc[daily["date"] <= pd.Timestamp(observed.as_of), "presync_gb"].sum()
    return Yardstick(
        cutovers_by_day=per_date.reindex(observed.dates, fill_value=0).to_numpy(dtype=float),
        synced_gb=float(synced) / replications,
    )


# --- the starting state and the remaining plan ------------------------------------------------


def starting_state(
    scenario: Scenario,
    model: Model,
    observed: Actuals,
    learned: Mapping[str, learn.Posterior],
    yardstick: Yardstick,
) -> StartingState:
    """Who is left, what the desk holds, on the as-of evening."""
    n = scenario.population.mailboxes
    migrated = int(observed.migrated.sum())
    failed = int(observed.failed.sum()) if observed.failed is not None else None
    remediation = min(n - migrated, _remediation_estimate(scenario, failed, learned))
    activity = observed.migrated + (observed.failed if observed.failed is not None else 0)
    active_days = np.flatnonzero(activity)
    last_activity = (
        observed.start + dt.timedelta(days=int(active_days[-1])) if len(active_days) else None
    )
    due = _tickets_due_by_as_of(model.calendar, observed)
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
        ticket_backlog=round(open_now + still_to_come),
        last_activity=last_activity,
    )


def mean_size_gb(scenario: Scenario) -> float:
    """Mean mailbox size: a lognormal of the scenario's mean and sigma, capped at ``max``."""
    size = scenario.population.size_gb
    if size.sigma == 0:
        return min(size.mean, size.max)
    mu = np.log(size.mean) - size.sigma**2 / 2
    below = stats.norm.cdf((np.log(size.max) - mu - size.sigma**2) / size.sigma)
    return float(size.mean * below + size.max * stats.norm.sf((np.log(size.max) - mu) / size.sigma))


def head_started(model: Model, synced_waiting_gb: float) -> Capacity:
    """The remaining plan's throttle, with only ``synced_waiting_gb`` to give before as-of.

    The remaining plan's first cohorts become eligible for their initial sync up to
    ``presync_lead_days`` before the new start, when the real throttle was busy with the
    cohorts that cut over by as-of: what it did for the remaining users is the data the
    plan had synced by as-of less what the migrated users took. The window rate before the
    as-of evening is scaled so that at most that much moves then.
    """
    cal, cap, throttle = model.calendar, model.capacity, model.scenario.throttle
    as_of_evening = float(model.cutover_hours[cal.start_index - 1])
    first_eligible = float(model.cutover_hours[cal.start_index]) - throttle.presync_lead_days * 24
    available = float(np.diff(cap.flow_at(np.array([first_eligible, as_of_evening])))[0])
    if available <= synced_waiting_gb:
        return cap
    factor = synced_waiting_gb / available
    rate = np.where(cap.times[1:] <= as_of_evening, cap.gb_per_hour * factor, cap.gb_per_hour)
    hours = np.diff(cap.times)
    flow = np.minimum(rate, throttle.concurrent_moves * throttle.per_move_gb_per_hour)
    move = np.minimum(rate, throttle.per_move_gb_per_hour)
    return Capacity(
        times=cap.times,
        gb_per_hour=rate,
        flow_gb=np.concatenate([[0.0], np.cumsum(flow * hours)]),
        move_gb=np.concatenate([[0.0], np.cumsum(move * hours)]),
        daily_capacity_gb=cap.daily_capacity_gb,  # days up to as-of are not reported
    )


def _remediation_estimate(
    scenario: Scenario, failed: int | None, learned: Mapping[str, learn.Posterior]
) -> int:
    """Failed attempts F of users who fail independently at rate r, up to m attempts:
    F = users x (r + ... + r^m) and r^m of them end in remediation."""
    if not failed:
        return 0
    rate = (
        float(learned["failures.rate"].posterior.mean())
        if "failures.rate" in learned
        else prior_moments(scenario, "failures.rate")[0]
    )
    m = scenario.failures.max_attempts
    return round(failed * rate ** (m - 1) * (1 - rate) / (1 - rate**m))


def _ticket_rate_mean(scenario: Scenario, learned: Mapping[str, learn.Posterior]) -> float:
    if "tickets_per_migrated_user" in learned:
        return float(learned["tickets_per_migrated_user"].posterior.mean())
    support, legacy = scenario.support, scenario.population.legacy_client_share
    return (1 - legacy) * support.ticket_rate + legacy * support.legacy_ticket_rate


def _fluid_backlog(scenario: Scenario, model: Model, observed: Actuals) -> float:
    """Tickets open on the as-of evening if agents close, each day, what their open hours
    allow at the mean handle time (a fluid queue: no backlog builds below capacity)."""
    cal = model.calendar
    first = cal.index_of(observed.start)
    edges = cal.clock.to_hours(np.arange(first, first + observed.days + 1) * 24.0)
    starts, ends = model.desk_open
    open_by = np.clip(edges[:, None] - starts[None, :], 0, (ends - starts)[None, :]).sum(axis=1)
    handle = scenario.support.handle_minutes
    mean_handle_hours = handle.median * np.exp(handle.sigma**2 / 2) / 60.0
    capacity = scenario.support.agents * np.diff(open_by) / mean_handle_hours
    backlog = 0.0
    for opened, closable in zip(observed.tickets_opened, capacity, strict=True):
        backlog = max(0.0, backlog + opened - closable)
    return backlog


def _check_supported(scenario: Scenario) -> None:
    population = to_dict(scenario)["population"]
    if population.get("inventory"):
        raise ScenarioError(
            "forecast",
            "population.inventory",
            "a forecast from a mailbox inventory is not supported yet (counts do not say "
            "which mailboxes moved)",
        )


def _remaining_raw(scenario: Scenario, state: StartingState, cal: Calendar) -> dict | None:
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
    population = raw["population"]
    share = state.remaining / state.population
    population["mailboxes"] = state.remaining
    population["organisations"] = int(
        min(state.remaining, max(1, round(population["organisations"] * share)))
    )
    return raw


def scenario_for(raw: dict, draws: Mapping[str, float], ticket_factor: float = 1.0) -> Scenario:
    """The remaining plan with one replication's draws: the pace scales the batches, the
    failure rate replaces the scenario's, ``ticket_factor`` multiplies every ticket rate."""
    raw = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    pace = draws.get("pace", 1.0)
    batches = raw["batches"]
    for key in ("weekday", "weekend_day"):
        batches[key] = _scaled(batches[key], pace)
    batches["phases"] = [
        {**p, **{k: _scaled(p[k], pace) for k in ("weekday", "weekend_day") if p.get(k)}}
        for p in batches.get("phases", [])
    ]
    if "failures.rate" in draws:
        raw["failures"]["rate"] = min(draws["failures.rate"], 0.999)
    if ticket_factor != 1.0:
        for key in TICKET_KEYS:
            value = raw["support"][key]
            if isinstance(value, int | float):
                raw["support"][key] = min(1.0, value * ticket_factor)
    return from_dict(raw, source="forecast")


def _scaled(batch: Any, pace: float) -> Any:
    """A batch size times the pace (a batch given as a distribution is left as it is)."""
    if not isinstance(batch, int | float) or batch <= 0:
        return batch
    return max(1, round(batch * pace))


# --- running the rest ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    raw: dict | None
    posteriors: dict[str, learn.Posterior]
    scenario: Scenario
    state: StartingState
    seed: int
    replications: int
    keep_mailboxes: bool


def draw_posteriors(
    posteriors: Mapping[str, learn.Posterior], seed: np.random.SeedSequence
) -> dict[str, float]:
    """One value per posterior, each from its own stream of the replication's seed."""
    out = {}
    for key in DRAWN:
        if key in posteriors:
            stream = np.random.SeedSequence(
                seed.entropy, spawn_key=(*seed.spawn_key, FORECAST_STREAM, DRAWN.index(key))
            )
            out[key] = posteriors[key].draw(np.random.default_rng(stream).random())
    return out


def _run_chunk(job: _Job, chunk) -> list[tuple[dict, pd.DataFrame, pd.DataFrame | None]]:
    seeds = replication_seeds(job.seed, job.replications)
    world = World(initial_ticket_backlog=job.state.ticket_backlog)
    out = []
    for i in range(chunk.first, chunk.first + chunk.count):
        draws = draw_posteriors(job.posteriors, seeds[i])
        sc = scenario_for(job.raw, draws, _ticket_factor(job, draws))
        keep = job.keep_mailboxes and i == 0
        model = Model(sc)
        # Until World.throttle_factor_by_day (capacity branch) lands, swap the curve itself.
        model.capacity = head_started(model, job.state.synced_waiting_gb)
        rep = model.replicate(seeds[i], keep_mailboxes=keep, replication=i, world=world)
        out.append(
            (_whole_migration(rep.metrics, draws, job), _after_as_of(rep.daily, job), rep.mailboxes)
        )
    return out


def _ticket_factor(job: _Job, draws: Mapping[str, float]) -> float:
    """The drawn tickets per migrated user over the prior's: the factor on every ticket rate."""
    key = "tickets_per_migrated_user"
    prior = job.posteriors[key].prior_mean if key in job.posteriors else None
    return draws[key] / prior if prior else 1.0


def _whole_migration(metrics: dict, draws: Mapping[str, float], job: _Job) -> dict:
    """One replication's metrics for the whole migration, not just what was left."""
    state, sc = job.state, job.scenario
    m = dict(metrics)
    completion = m["completion_date"]
    deadline = sc.scenario.deadline
    m["met_deadline"] = bool(
        m["completed"] and deadline is not None and completion.date() <= deadline
    )
    m["days_to_complete"] = (
        (completion.date() - sc.scenario.start).days + 1 if m["completed"] else np.nan
    )
    m["migrated"] += state.migrated
    m["needs_remediation"] += state.needs_remediation
    m["data_tb"] *= state.population / state.remaining
    past_tickets = state.tickets_to_date + state.ticket_backlog
    m["users_needing_support_pct"] = (
        (m["users_needing_support_pct"] * state.remaining / 100.0 + past_tickets)
        / state.population
        * 100.0
    )
    m["tickets"] += round(past_tickets)
    m["cutover_failures"] += state.failed or 0
    for key, value in draws.items():
        m[f"param.{key}"] = value
    return m


def _after_as_of(daily: pd.DataFrame, job: _Job) -> pd.DataFrame:
    daily = daily[daily["date"] > pd.Timestamp(job.state.as_of)].copy()
    daily["cumulative_migrated"] += job.state.migrated
    return daily.reset_index(drop=True)


def _unsimulated(job: _Job, i: int) -> tuple[dict, pd.DataFrame, None]:
    """A replication when nothing is left to simulate: done (or out of horizon) as observed."""
    state, sc = job.state, job.scenario
    done = state.remaining <= 0 and state.last_activity is not None
    completion = pd.Timestamp(state.last_activity) if done else pd.NaT
    deadline = sc.scenario.deadline
    metrics = {
        "replication": i,
        "completion_date": completion,
        "completed": done,
        "met_deadline": bool(done and deadline is not None and state.last_activity <= deadline),
        "days_to_complete": (state.last_activity - sc.scenario.start).days + 1 if done else np.nan,
        "migrated": state.migrated,
        "needs_remediation": state.population - state.migrated if done else state.needs_remediation,
        "not_migrated": max(0, state.remaining),
        "data_tb": np.nan,
        "tickets": round(state.tickets_to_date + state.ticket_backlog),
        "users_needing_support_pct": np.nan,
        "peak_backlog": state.ticket_backlog,
        "wait_hours_mean": np.nan,
        "wait_hours_p90": np.nan,
        "paused_days": 0,
        "cutover_failures": state.failed or 0,
        "deferrals": 0,
    }
    return metrics, pd.DataFrame(), None


def _result(
    job: _Job,
    reps: list,
    observed: Actuals,
    learned: Mapping[str, learn.Posterior],
    plan: Result | None,
    wall: float,
) -> ForecastResult:
    sc, state = job.scenario, job.state
    runs = pd.DataFrame([r[0] for r in reps])
    frames = [r[1] for r in reps if not r[1].empty]
    daily = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    mailboxes = next((r[2] for r in reps if r[2] is not None), None)
    summary = summarise(
        runs,
        scenario_name=sc.name,
        seed=job.seed,
        start=sc.scenario.start,
        deadline=sc.scenario.deadline,
        wall_seconds=wall,
    )
    summary["as_of"] = state.as_of.isoformat()
    summary["observed"] = observed_summary(state, learned)
    return ForecastResult(
        summary=summary,
        runs=runs,
        daily=daily,
        mailboxes=mailboxes,
        scenario=sc,
        actuals=observed,
        plan=plan,
    )


def observed_summary(state: StartingState, learned: Mapping[str, learn.Posterior]) -> dict:
    """The summary's ``observed`` section: the state on the as-of day and the learned rates."""
    return {
        "migrated": state.migrated,
        "failed": state.failed,
        "tickets_opened": state.tickets_opened,
        "expected_by_as_of": round(state.expected_by_as_of),
        "needs_remediation_estimate": state.needs_remediation,
        "remaining": max(0, state.remaining),
        "ticket_backlog_estimate": state.ticket_backlog,
        "last_cutover_seen": state.last_activity.isoformat() if state.last_activity else None,
        **{key: posterior.describe() for key, posterior in learned.items()},
    }
