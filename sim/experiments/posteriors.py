"""Learning from the actuals: what the observed counts say about the uncertain rates.

Three quantities are updated by Bayes' rule, each from the scenario's own belief:

* ``failures.rate`` -- a Beta prior, updated with the failed of the attempted cutovers
  of mailboxes that are not persistent (conjugate: Beta(a + failed, b + attempted -
  failed)). The ``failures.persistent_share`` fail every attempt; the failures they
  are expected to have made by as-of (:func:`failure_split`, from the first attempts
  of each day and the retry calendar) are taken out of both counts, so the rate is
  not inflated by failures the model adds again through the share.
* ``tickets_per_migrated_user`` -- a Gamma prior on the rate, updated with the tickets
  opened against the tickets the scenario's rates predict for the users migrated
  (Gamma-Poisson: Gamma(a + tickets, b + exposure)). Drawn values multiply every
  ticket rate of the scenario (``support.ticket_rate``, ``legacy_ticket_rate``,
  ``failed_cutover_ticket_rate``) by the same factor.
* ``pace`` -- the share of the expected cutovers that really happened (actual attempts
  over the attempts the model expected by the as-of day), a ratio estimator over the
  cutover days seen, with a flat prior: its posterior is normal around the ratio with
  the ratio's standard error (from the day-to-day scatter), truncated to (0, 3].

A number fixed in the scenario gets a weak prior centred on it, worth
:data:`PRIOR_WEIGHT` observations (attempts, or migrated users): 1,000 cutovers at the
reference's 0.3% failure rate is Beta(3, 997). A key the scenario already gives as a
distribution (``{dist = "beta", ...}``) is moment-matched instead, so the prior is the
planner's own doubt.

Each :class:`Posterior` is a scipy frozen distribution plus what it was learned from;
the forecast draws one value per replication by inversion (``ppf``), from its own stream.
:func:`learn_rates` reads the scenario and the actuals and returns the posteriors the
actuals support.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.experiments.actuals import Actuals
from sim.experiments.results import Result
from sim.experiments.runner import replication_seeds
from sim.model.calendar import Calendar
from sim.model.scenario import Scenario, with_overrides
from sim.model.simulation import Model
from sim.model.uncertainty import has_uncertainty, nominal

PRIOR_WEIGHT = 1_000  # a fixed number's prior is worth this many attempts (or migrated users)
MIN_BETA_SHAPE = 0.5  # a fixed rate of 0 still needs a proper prior: Jeffreys' half-count
PACE_BOUNDS = (0.01, 3.0)  # a pace outside this says the actuals describe another plan
PACE_SD_FLOOR = 1e-6  # perfectly regular actuals: a (numerically) degenerate posterior
PACE_SD_ONE_DAY = 0.25  # a single day tells the level, not its scatter: a wide guess
TICKET_KEYS = ("ticket_rate", "legacy_ticket_rate", "failed_cutover_ticket_rate")


@dataclass(frozen=True)
class Posterior:
    """What the actuals say about one quantity."""

    key: str
    posterior: Any  # scipy.stats frozen distribution
    prior_mean: float | None
    observed: float | None
    evidence: str

    def draw(self, uniform: float) -> float:
        """The value at quantile ``uniform`` of the posterior (inversion: common random numbers)."""
        return float(self.posterior.ppf(uniform))

    def describe(self) -> dict[str, Any]:
        """The JSON-ready record of the summary's ``observed`` section."""
        lo, hi = self.posterior.ppf([0.1, 0.9])
        return {
            "observed": _rounded(self.observed),
            "prior_mean": _rounded(self.prior_mean),
            "posterior_mean": _rounded(float(self.posterior.mean())),
            "p10": _rounded(float(lo)),
            "p90": _rounded(float(hi)),
            "evidence": self.evidence,
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(f"{value:.6g}")


def beta_prior(mean: float, variance: float | None = None) -> tuple[float, float]:
    """Beta shapes with this mean: moment-matched to ``variance``, else worth PRIOR_WEIGHT."""
    if variance is not None and variance > 0 and 0 < mean < 1:
        common = mean * (1 - mean) / variance - 1
        if common > 0:
            return mean * common, (1 - mean) * common
    return (
        max(mean * PRIOR_WEIGHT, MIN_BETA_SHAPE),
        max((1 - mean) * PRIOR_WEIGHT, MIN_BETA_SHAPE),
    )


def failure_rate(
    prior_mean: float, failed: int, attempted: int, *, prior_variance: float | None = None
) -> Posterior:
    """Beta posterior of the per-attempt failure rate."""
    a, b = beta_prior(prior_mean, prior_variance)
    posterior = stats.beta(a + failed, b + attempted - failed)
    return Posterior(
        key="failures.rate",
        posterior=posterior,
        prior_mean=a / (a + b),
        observed=failed / attempted if attempted else None,
        evidence=f"{failed:,} failed of {attempted:,} cutover attempts",
    )


def ticket_rate(
    prior_rate: float,
    tickets: int,
    exposed_users: int,
    expected_tickets: float,
    *,
    prior_cv: float | None = None,
) -> Posterior:
    """Gamma posterior of tickets per migrated user.

    ``expected_tickets`` is what the scenario's rates predict for the ``exposed_users``
    (migrated users whose tickets are due by the as-of day, plus failed cutovers), so
    ``prior_rate`` = expected_tickets / exposed_users. The prior's shape is
    ``1 / prior_cv**2`` when the scenario gives its doubt, else the tickets expected from
    PRIOR_WEIGHT users.
    """
    shape = 1.0 / prior_cv**2 if prior_cv else max(prior_rate * PRIOR_WEIGHT, MIN_BETA_SHAPE)
    # As a Gamma on the factor k multiplying the scenario's rates: prior Gamma(shape, shape),
    # Poisson likelihood with mean k * expected_tickets.
    factor = stats.gamma(shape + tickets, scale=1.0 / (shape + expected_tickets))
    per_user = stats.gamma(shape + tickets, scale=prior_rate / (shape + expected_tickets))
    return Posterior(
        key="tickets_per_migrated_user",
        posterior=per_user if prior_rate > 0 else factor,
        prior_mean=prior_rate,
        observed=tickets / exposed_users if exposed_users else None,
        evidence=f"{tickets:,} tickets from {exposed_users:,} migrated users "
        f"({expected_tickets:,.0f} expected)",
    )


def pace(actual_by_day: np.ndarray, expected_by_day: np.ndarray) -> Posterior:
    """The achieved share of the expected cutovers, over the days where any were expected."""
    actual = np.asarray(actual_by_day, dtype=float)
    expected = np.asarray(expected_by_day, dtype=float)
    days = (expected > 0) | (actual > 0)
    actual, expected = actual[days], expected[days]
    total = expected.sum()
    n = len(expected)
    if total <= 0:
        posterior = stats.uniform(loc=1.0, scale=0.0)
        return Posterior("pace", posterior, 1.0, None, "no cutovers expected by as-of")
    ratio = actual.sum() / total
    if n >= 2:
        residuals = actual - ratio * expected
        sd = float(np.sqrt(n / (n - 1) * np.sum(residuals**2)) / total)
    else:
        sd = PACE_SD_ONE_DAY
    sd = max(sd, PACE_SD_FLOOR)
    lo, hi = PACE_BOUNDS
    centre = float(np.clip(ratio, lo, hi))
    posterior = stats.truncnorm((lo - centre) / sd, (hi - centre) / sd, loc=centre, scale=sd)
    return Posterior(
        key="pace",
        posterior=posterior,
        prior_mean=1.0,
        observed=ratio,
        evidence=f"{actual.sum():,.0f} cutover attempts where the plan expected "
        f"{total:,.0f}, over {n} days",
    )


# --- from the scenario and the actuals -------------------------------------------------------


@dataclass(frozen=True)
class FailureSplit:
    """The actuals' cutover attempts by who made them (expected counts, by as-of).

    From each day's first attempts (attempts less the retries of earlier failures,
    due ``retry_after_days`` later, on the next cutover day) and the retry calendar:
    a persistent mailbox first tried on day ``d`` fails on ``d`` and on each retry
    day up to ``max_attempts``, then needs remediation.
    """

    attempted_mailboxes: float  # mailboxes with a first attempt by as-of
    persistent_failed: float  # failed attempts of persistent mailboxes
    persistent_waiting: float  # persistent mailboxes tried, their last attempt still to come
    persistent_waiting_failed: float  # the failed attempts those have made already
    at_last_attempt: float  # mailboxes whose last allowed attempt is due by as-of


def failure_split(scenario: Scenario, cal: Calendar, observed: Actuals) -> FailureSplit | None:
    """Split the observed attempts (None without a ``failed`` column)."""
    if observed.failed is None:
        return None
    share = number(scenario, "failures.persistent_share")
    attempts_allowed = max(1, round(number(scenario, "failures.max_attempts")))
    retry_after = max(1, round(number(scenario, "failures.retry_after_days")))
    first = cal.index_of(observed.start)
    last = first + observed.days - 1
    days = np.arange(first, last + 1)

    def retried_on(day: np.ndarray) -> np.ndarray:  # cal.days: never (beyond the calendar)
        return cal.next_cutover_day[np.minimum(day + retry_after, cal.days)]

    failed = observed.failed.astype(float)
    retry = retried_on(days)
    inside = retry <= last
    retries = np.bincount(retry[inside] - first, weights=failed[inside], minlength=len(days))
    first_attempts = np.clip(observed.migrated + failed - retries, 0.0, None)
    day, tries = days.copy(), np.zeros(len(days))
    for attempt in range(attempts_allowed):
        tries += day <= last
        if attempt < attempts_allowed - 1:
            day = retried_on(day)
    out = day <= last  # the last attempt is due by as-of
    return FailureSplit(
        attempted_mailboxes=float(first_attempts.sum()),
        persistent_failed=share * float(first_attempts @ tries),
        persistent_waiting=share * float(first_attempts[~out].sum()),
        persistent_waiting_failed=share * float(first_attempts[~out] @ tries[~out]),
        at_last_attempt=float(first_attempts[out].sum()),
    )


def learn_rates(
    scenario: Scenario, model: Model, observed: Actuals, expected: np.ndarray
) -> dict[str, Posterior]:
    """The posteriors the actuals support (a quantity the file says nothing of is left out)."""
    out: dict[str, Posterior] = {}
    failed = observed.failed
    split = failure_split(scenario, model.calendar, observed)
    if failed is not None and split is not None:
        mean, variance = prior_moments(scenario, "failures.rate")
        persistent = min(round(split.persistent_failed), int(failed.sum()))
        not_persistent = int(failed.sum()) - persistent
        out["failures.rate"] = failure_rate(
            mean,
            not_persistent,
            int(observed.migrated.sum()) + not_persistent,
            prior_variance=variance,
        )
        if persistent:
            posterior = out["failures.rate"]
            out["failures.rate"] = Posterior(
                posterior.key,
                posterior.posterior,
                posterior.prior_mean,
                posterior.observed,
                f"{posterior.evidence}, after {persistent:,} failures expected from "
                "persistent mailboxes (failures.persistent_share)",
            )
    if observed.tickets_opened is not None:
        exposed, expected_tickets = _ticket_exposure(scenario, model.calendar, observed)
        if exposed > 0 and expected_tickets > 0:
            mean, variance = prior_moments(scenario, "support.ticket_rate")
            cv = np.sqrt(variance) / mean if variance and mean > 0 else None
            out["tickets_per_migrated_user"] = ticket_rate(
                expected_tickets / exposed,
                int(observed.tickets_opened.sum()),
                exposed,
                expected_tickets,
                prior_cv=cv,
            )
    actual = observed.migrated + (failed if failed is not None else 0)
    out["pace"] = pace(actual, expected)
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


def number(scenario: Scenario, key: str) -> float:
    """A key's value, or its mean when the scenario gives a distribution."""
    return prior_moments(scenario, key)[0]


def ticket_means(scenario: Scenario) -> dict[str, float]:
    """The scenario's three ticket rates (their means, where uncertain)."""
    return {key: number(scenario, f"support.{key}") for key in TICKET_KEYS}


def _ticket_exposure(scenario: Scenario, cal: Calendar, observed: Actuals) -> tuple[int, float]:
    """Migrated users whose tickets are due by as-of, and the tickets the scenario expects."""
    due = tickets_due_by_as_of(cal, observed)
    migrated = int(observed.migrated[due].sum())
    failed = int(observed.failed[due].sum()) if observed.failed is not None else 0
    rates = ticket_means(scenario)
    legacy = number(scenario, "population.legacy_client_share")
    per_user = (1 - legacy) * rates["ticket_rate"] + legacy * rates["legacy_ticket_rate"]
    return migrated, migrated * per_user + failed * rates["failed_cutover_ticket_rate"]


def tickets_due_by_as_of(cal: Calendar, observed: Actuals) -> np.ndarray:
    """Per observed day: do its users' tickets arrive by the as-of day (next working day)?"""
    first = cal.index_of(observed.start)
    days = np.arange(first, first + observed.days)
    return cal.next_working_day[days] <= days[-1]


@dataclass(frozen=True)
class Yardstick:
    """What the plan (the model) expected by the as-of day."""

    cutovers_by_day: np.ndarray  # attempts per observed day (successes only without `failed`)
    synced_gb: float  # data through initial sync by the as-of day
    metric_names: tuple[str, ...] = ()  # the columns of a replication's metrics


def plan_yardstick(model: Model, observed: Actuals, plan: Result | None, seed: int) -> Yardstick:
    """The mean over the plan's replications, or replication 0 of the plan.

    A plan with uncertain inputs or risks is measured against its nominal world
    (medians, no risks, no variation: :func:`sim.model.uncertainty.nominal`), not
    against one random world or an average that a risk may have struck.
    Replication 0 runs only as far as as-of plus the initial-sync lead: nothing later
    changes a day up to as-of (later cohorts queue behind), and early in a migration
    that is a fraction of a whole replication.
    """
    if plan is None or has_uncertainty(model.scenario):
        sc = nominal(model.scenario)
        model = Model(sc)
        lead_days = math.ceil(number(sc, "throttle.presync_lead_days"))
        horizon = (observed.as_of - sc.scenario.start).days + 1 + lead_days
        if horizon < sc.scenario.horizon_days:
            short = with_overrides(sc, {"scenario.horizon_days": horizon}, source="forecast")
            model = Model(short)
        rep = model.replicate(replication_seeds(seed, 1)[0])
        daily, replications, names = rep.daily, 1, tuple(rep.metrics)
    else:
        daily, replications = plan.daily, max(1, plan.runs["replication"].nunique())
        names = tuple(plan.runs.columns)
    attempts = daily["cutover_ok"] + (daily["cutover_failed"] if observed.failed is not None else 0)
    per_date = attempts.groupby(daily["date"]).sum() / replications
    synced = daily.loc[daily["date"] <= pd.Timestamp(observed.as_of), "presync_gb"].sum()
    return Yardstick(
        cutovers_by_day=per_date.reindex(observed.dates, fill_value=0).to_numpy(dtype=float),
        synced_gb=float(synced) / replications,
        metric_names=names,
    )
