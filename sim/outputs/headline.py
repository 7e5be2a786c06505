"""The answer a planner reads first: PASS or FAIL, how sure, and how many days to spare.

One computation shared by the HTML report and the notebook view (``Result._repr_html_``), so
the two never disagree, and with the CI gate's rule (:mod:`sim.experiments.check`): a plan
passes when the share of replications done by the end of the deadline day is at least the
target confidence.

``P(meet)`` is a share of a finite number of replications, so it carries Monte Carlo error:
the 95% Wilson score interval of the binomial proportion (``scipy.stats.binomtest``). Two
warnings say when the replications are too few: when that interval contains the target
(more replications could flip the verdict), and when fewer than
:data:`MIN_REPLICATIONS_BEYOND` replications lie beyond the confidence quantile (the date "at
90% confidence" then rests on a handful of runs).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sim.experiments.metrics import buffer_warning
from sim.experiments.results import (
    MONTE_CARLO_LEVEL,
    completion_at,
    precision_advice,
    wilson_interval,
)

INTERVAL_LEVEL = MONTE_CARLO_LEVEL
MIN_REPLICATIONS_BEYOND = 10
# A share of replications is a fraction of n; never let float rounding fail 90 of 100 at 0.9.
TOLERANCE = 1e-9


@dataclass(frozen=True)
class Headline:
    """PASS/FAIL against a target confidence, with the numbers that justify it."""

    replications: int
    completion: Mapping[str, str | None]  # P10 / P50 / P90 completion dates (None: not reached)
    deadline: dt.date | None
    confidence: float
    met: int | None  # replications done by the end of the deadline day
    p_meet: float | None
    p_meet_interval: tuple[float, float] | None  # 95% Wilson interval of p_meet
    done_by: dt.date | None  # completion date at the confidence quantile (None: beyond horizon)
    warnings: tuple[str, ...] = ()

    @property
    def passed(self) -> bool | None:
        """True/False against the target; None without a deadline."""
        if self.met is None:
            return None
        return self.met >= self.confidence * self.replications - TOLERANCE

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "FAIL", None: "NO DEADLINE"}[self.passed]

    @property
    def slack_days(self) -> int | None:
        """Days from the date at the confidence quantile to the deadline (negative: overrun).

        None when there is no deadline or fewer than ``confidence`` of the replications
        finished within the horizon (the overrun is then unknown, at least to the horizon).
        """
        if self.deadline is None or self.done_by is None:
            return None
        return (self.deadline - self.done_by).days

    def slack_text(self) -> str:
        """ "58 days of slack", "12 days late", "on the deadline day"."""
        days = self.slack_days
        if days is None:
            return "unknown: not reached within the horizon"
        if days == 0:
            return "done on the deadline day"
        plural = "s" if abs(days) != 1 else ""
        return f"{days} day{plural} of slack" if days > 0 else f"{-days} day{plural} late"


def headline(
    summary: Mapping[str, Any],
    runs: pd.DataFrame,
    *,
    deadline: dt.date | None,
    confidence: float,
) -> Headline:
    """The headline of a run's ``summary`` and ``runs`` against ``deadline`` at ``confidence``."""
    if not 0 < confidence <= 1:
        raise ValueError(f"confidence must be > 0 and <= 1 (got {confidence})")
    n = len(runs)
    met = int(runs["met_deadline"].sum()) if deadline is not None and n else None
    p_meet = met / n if met is not None else None
    interval = _interval(summary, met, n)
    done_by_text = completion_at(runs["completion_date"], confidence) if n else None
    done_by = dt.date.fromisoformat(done_by_text) if done_by_text else None
    return Headline(
        replications=n,
        completion=dict(summary.get("completion") or {}),
        deadline=deadline,
        confidence=confidence,
        met=met,
        p_meet=p_meet,
        p_meet_interval=interval,
        done_by=done_by,
        warnings=doubt_warnings(
            n,
            confidence,
            interval,
            advice=precision_advice(runs["completion_date"], confidence) if n else None,
        )
        + plan_warnings(summary),
    )


def plan_warnings(summary: Mapping[str, Any]) -> tuple[str, ...]:
    """Warnings about the plan a summary describes (not about the number of replications):
    a median sync buffer under a day (the throttle binds; the date has not moved yet)."""
    text = buffer_warning(summary)
    return (text,) if text else ()


def doubt_lines(
    summary: Mapping[str, Any],
    confidence: float,
    *,
    interval_line: bool = True,
    advice: str | None = None,
) -> list[str]:
    """P(meet)'s Monte Carlo interval and the warnings, for a summary alone (the CLI's table);
    ``interval_line=False`` gives the warnings only (for a caller that states the interval).

    The count of replications meeting the deadline is recovered from the rounded share.
    """
    n = int(summary.get("replications") or 0)
    p_meet = summary.get("p_meet_deadline")
    plan = [f"warning: {text}" for text in plan_warnings(summary)]
    if p_meet is None or n == 0:
        return plan
    interval = _interval(summary, round(p_meet * n), n)
    lines = [
        f"P(meet deadline) {percent(p_meet)}: {INTERVAL_LEVEL:.0%} interval "
        f"{percent(interval[0])} to {percent(interval[1])} ({n:,} replications)"
    ]
    warnings = [
        f"warning: {text}" for text in doubt_warnings(n, confidence, interval, advice=advice)
    ]
    return (lines if interval_line else []) + warnings + plan


def replications_needed(confidence: float) -> int | None:
    """Replications so that at least MIN_REPLICATIONS_BEYOND lie beyond the confidence quantile.

    None for a confidence of 100%, which no number of replications can establish.
    """
    if confidence >= 1:
        return None
    return math.ceil(MIN_REPLICATIONS_BEYOND / (1 - confidence) - TOLERANCE)


def percent(share: float) -> str:
    """A share as a percentage, one decimal only where the integer would mislead."""
    pct = share * 100
    if 0 < pct < 0.5:
        return f"{max(pct, 0.1):.1f}%"
    if 99.5 <= pct < 100:
        return f"{min(pct, 99.9):.1f}%"
    return f"{pct:.0f}%"


def _interval(summary: Mapping[str, Any], met: int | None, n: int) -> tuple[float, float] | None:
    given = summary.get("p_meet_deadline_interval")
    if given is not None:
        low, high = (given["low"], given["high"]) if isinstance(given, Mapping) else given
        return float(low), float(high)
    if met is None or n == 0:
        return None
    return wilson_interval(met, n)


def doubt_warnings(
    n: int, confidence: float, interval: tuple[float, float] | None, *, advice: str | None = None
) -> tuple[str, ...]:
    """Why ``n`` replications may be too few to trust a verdict at ``confidence``.

    ``advice`` (:func:`~sim.experiments.results.precision_advice`) ends the "too few"
    warning with how many more replications would make the date precise, or is a warning
    of its own when the replications are not too few but the date is still imprecise."""
    out = []
    needed = replications_needed(confidence)
    level = f"{confidence * 100:.4g}%"
    if needed is None:
        out.append(
            f"a target of {level} asks that every replication meet the deadline: more "
            "replications can only find misses, never prove there are none."
        )
    elif n < needed:
        out.append(
            f"{n:,} replications are too few for {level} confidence: fewer than "
            f"{MIN_REPLICATIONS_BEYOND} of them lie beyond the date at that confidence. "
            f"Run at least {needed:,}." + (f" {advice[:1].upper()}{advice[1:]}" if advice else "")
        )
    elif advice:
        out.append(advice)  # enough replications beyond the date, but the date is still vague
    if interval is not None and interval[0] < confidence <= interval[1] and confidence < 1:
        out.append(
            f"the {INTERVAL_LEVEL:.0%} interval of P(meet deadline), {percent(interval[0])} "
            f"to {percent(interval[1])}, contains the {level} target: more replications "
            "could change the verdict."
        )
    return tuple(out)
