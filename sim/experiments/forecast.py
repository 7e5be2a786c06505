"""Re-forecasting a migration under way: start from what happened, learn, simulate the rest.

Six weeks in, a planner asks "when do we finish now?". With the daily actuals
(``sim.experiments.actuals``) the forecast is a transform of the scenario followed by
an ordinary run:

1. **Learn** (``sim.experiments.posteriors``): the failure rate from failed / attempted
   cutovers, tickets per migrated user from the tickets opened, and the *pace*, the
   share of the cutovers the model expected by as-of that really happened (replication
   0 of the plan gives the expectation, so a plan the throttle already slows is not
   slowed twice).
2. **Start from the observed state** (``sim.experiments.midflight``): the mailboxes not
   migrated (less an estimate of those failed out to remediation) are the population of
   a *remaining plan* that starts the day after as-of, keeps the calendar, phases,
   blackouts, horizon and deadline on their dates, and has its batches scaled by the
   pace. The throttle before as-of gives the remaining cohorts only the initial syncs the
   plan had really done for them by then, and the desk starts with the ticket backlog the
   actuals imply (``World.initial_ticket_backlog``).
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
from pathlib import Path

import numpy as np
import pandas as pd

from sim.experiments import posteriors as learn
from sim.experiments.actuals import Actuals, read_actuals, validate_actuals
from sim.experiments.midflight import (
    StartingState,
    check_supported,
    head_start_factor,
    remaining_raw,
    scenario_for,
    starting_state,
)
from sim.experiments.posteriors import learn_rates, plan_yardstick, ticket_means
from sim.experiments.results import Result, provenance, rectangular_daily, summarise
from sim.experiments.runner import (
    ProgressCallback,
    backend,
    check_before_running,
    checked_arguments,
    chunks_for,
    replication_seeds,
)
from sim.experiments.runner import run as run_plan
from sim.model.scenario import Scenario
from sim.model.simulation import Model
from sim.model.world import World

# Posterior draws use streams far from the model's own children (0 .. len(STREAMS) - 1).
FORECAST_STREAM = zlib.crc32(b"forecast")
DRAWN = ("failures.rate", "tickets_per_migrated_user", "pace")
# Not known from counts alone when nothing is left to simulate.
UNKNOWN_WHEN_UNSIMULATED = (
    "data_tb",
    "users_needing_support_pct",
    "wait_hours_mean",
    "wait_hours_90th_pct",
)


@dataclass
class ForecastResult(Result):
    """A :class:`Result` whose replications continue from the actuals.

    ``actuals`` are the daily counts (a DataFrame, one row per calendar day to ``as_of``);
    ``plan`` the original plan's run, when one was made (``forecast(..., plan=True)``),
    for the picture.
    """

    observed_actuals: Actuals | None = field(default=None, repr=False)
    plan: Result | None = field(default=None, repr=False)

    @property
    def as_of(self) -> dt.date | None:
        """The last day of the actuals: the forecast starts from the state on that day."""
        return self.observed_actuals.as_of if self.observed_actuals is not None else None

    @property
    def actuals(self) -> pd.DataFrame | None:
        """The actuals per calendar day from the start to as-of (days not given are 0):
        date, migrated, failed, tickets_opened (where given) and cumulative_migrated."""
        observed = self.observed_actuals
        if observed is None:
            return None
        frame = pd.DataFrame({"date": observed.dates, "migrated": observed.migrated})
        for name in ("failed", "tickets_opened"):
            values = getattr(observed, name)
            if values is not None:
                frame[name] = values
        frame["cumulative_migrated"] = np.cumsum(observed.migrated)
        return frame


def forecast(
    scenario: Scenario,
    actuals: pd.DataFrame | str | Path,
    *,
    replications: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    dask: str | None = None,
    progress: ProgressCallback | None = None,
    plan: bool | Result = False,
    keep_mailboxes: bool = True,
    source: str = "actuals",
    max_memory_gb: float | None = None,
) -> ForecastResult:
    """Re-forecast ``scenario`` from the daily ``actuals`` (a DataFrame or a CSV path; columns
    date, migrated[, failed, tickets_opened]; see ``sim.experiments.actuals``).

    ``plan=True`` also runs the original plan with the same replications and seed (its fan
    is drawn behind the forecast; its mean cutovers per day are the pace's yardstick);
    a :class:`Result` of the plan may be passed instead. Otherwise replication 0 of the
    plan is the yardstick. Bad actuals raise :class:`ScenarioError` naming ``source``,
    the row and the column; like :func:`sim.run`, a plan that can never finish or needs
    more than ``max_memory_gb`` is refused before simulating.
    """
    started = time.perf_counter()
    if isinstance(actuals, str | Path):
        source, actuals = str(actuals), read_actuals(actuals)
    replications, seed, workers = checked_arguments(scenario, replications, seed, workers)
    check_before_running(scenario, workers, dask, max_memory_gb)
    model = Model(scenario)
    observed = validate_actuals(actuals, scenario, model.calendar, source=source)
    check_supported(scenario)
    if plan is True:
        plan = run_plan(
            scenario,
            replications,
            seed,
            workers,
            dask=dask,
            keep_mailboxes=False,
            progress=progress,
            max_memory_gb=max_memory_gb,
        )
    plan_result = plan if isinstance(plan, Result) else None
    yardstick = plan_yardstick(model, observed, plan_result, seed)
    learned = learn_rates(scenario, model, observed, yardstick.cutovers_by_day)
    state = starting_state(scenario, model, observed, learned, yardstick)
    job = _Job(
        raw=remaining_raw(scenario, state, model.calendar),
        posteriors={k: v for k, v in learned.items() if k in DRAWN},
        scenario=scenario,
        state=state,
        seed=seed,
        replications=replications,
        keep_mailboxes=keep_mailboxes,
        metric_names=yardstick.metric_names,
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
    metric_names: tuple[str, ...] = ()


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
    out = []
    for i in range(chunk.first, chunk.first + chunk.count):
        draws = draw_posteriors(job.posteriors, seeds[i])
        sc = scenario_for(job.raw, draws, _ticket_factor(job, draws), ticket_means(job.scenario))
        keep = job.keep_mailboxes and i == 0
        model = Model(sc)
        world = World(
            throttle_factor_by_day=head_start_factor(model, job.state.synced_waiting_gb),
            initial_ticket_backlog=job.state.ticket_backlog,
        )
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
    # Counts observed before as-of, added where the model reports them.
    # The persistent mailboxes tried before as-of and still to fail out are tried afresh
    # in the remaining plan: their failures so far are in the actuals already.
    observed = {
        "migrated": state.migrated,
        "needs_remediation": state.needs_remediation,
        "cutover_failures": (state.failed or 0) - round(state.persistent_waiting_failed),
    }
    for key, count in observed.items():
        if key in m:
            m[key] += count
    m["data_tb"] *= state.population / state.remaining
    past_tickets = state.tickets_to_date + state.tickets_to_come
    m["users_needing_support_pct"] = (
        (m["users_needing_support_pct"] * state.remaining / 100.0 + past_tickets)
        / state.population
        * 100.0
    )
    m["tickets"] += round(past_tickets)
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
    # Whatever the model reports that is not set here did not happen after as-of: 0.
    metrics: dict = {name: 0 for name in job.metric_names if not name.startswith("param.")}
    metrics.update(
        {
            "replication": i,
            "completion_date": completion,
            "completed": done,
            "met_deadline": bool(done and deadline is not None and state.last_activity <= deadline),
            "days_to_complete": (state.last_activity - sc.scenario.start).days + 1
            if done
            else np.nan,
            "migrated": state.migrated,
            "needs_remediation": state.population - state.migrated
            if done
            else state.needs_remediation,
            "not_migrated": max(0, state.remaining),
            "tickets": round(state.tickets_to_date + state.tickets_to_come),
            "cutover_failures": state.failed or 0,
            "peak_backlog": state.ticket_backlog,
            **dict.fromkeys(UNKNOWN_WHEN_UNSIMULATED, np.nan),
        }
    )
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
    daily = rectangular_daily(pd.concat(frames, ignore_index=True)) if frames else pd.DataFrame()
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
    summary["provenance"] = provenance(sc, seed=job.seed, replications=len(runs), wall_seconds=wall)
    return ForecastResult(
        summary=summary,
        runs=runs,
        daily=daily,
        mailboxes=mailboxes,
        scenario=sc,
        observed_actuals=observed,
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
