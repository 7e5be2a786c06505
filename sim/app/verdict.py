"""What the page says after a run: the verdict, and the comparison with plan A.

The verdict is the notebook's and the report's (:mod:`sim.outputs.headline`):
PASS or FAIL at the scenario's confidence, P(meet) with its 95% Wilson
interval, and the P10/P50/P90 completion dates, each with a 95%
distribution-free interval from order statistics (``scipy.stats.quantile_test``;
the summary's ``completion_interval`` when it has one).

The comparison pairs replication ``i`` of plan A with replication ``i`` of the
plan now on the page: both drew from the same seed, so their difference is
the plans' and not the dice's. ``days earlier`` is A's completion day minus
this plan's (positive: this plan finishes earlier); a replication that did
not finish within the horizon counts as later than any date.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import quantile_test

from sim.experiments.metrics import QUANTILES, quantile_rank
from sim.experiments.results import MONTE_CARLO_LEVEL
from sim.outputs.headline import Headline
from sim.outputs.notebook import result_headline

COLOURS = {True: "#1b7f3b", False: "#b00020", None: "#555555"}


def completion_intervals(completion: pd.Series) -> dict[str, list[str | None] | None]:
    """95% intervals of the P10/P50/P90 completion dates (None where too few replications).

    An end that falls on a replication not completed within the horizon is None.
    """
    days = _days(completion)
    out: dict[str, list[str | None] | None] = {}
    for name, q in QUANTILES.items():
        if not len(days):
            out[name] = None
            continue
        ci = quantile_test(days, q=0.0, p=q).confidence_interval(MONTE_CARLO_LEVEL)
        ends = [_iso(ci.low), _iso(ci.high)]
        out[name] = None if ends == [None, None] else ends
    return out


def _days(completion: pd.Series) -> np.ndarray:
    """Completion as days since 1970 (float), not completed as +inf."""
    values = completion.to_numpy(dtype="datetime64[D]")
    days = values.astype("int64").astype(float)
    days[np.isnat(values)] = np.inf
    return days


def _iso(day: float) -> str | None:
    if not np.isfinite(day):
        return None
    return (dt.date(1970, 1, 1) + dt.timedelta(days=int(day))).isoformat()


@dataclass(frozen=True)
class Paired:
    """This plan against plan A on the same replications."""

    replications: int
    days_earlier: dict[str, float | None]  # P10/P50/P90; None: beyond the horizon
    p_earlier: float
    p_meet_a: float | None
    p_meet_b: float | None


def paired_comparison(plan_a: pd.DataFrame, plan_b: pd.DataFrame) -> Paired:
    """Plan B (``runs`` of this run) against plan A, replication by replication."""
    both = plan_a.merge(plan_b, on="replication", suffixes=("_a", "_b"))
    a, b = _days(both["completion_date_a"]), _days(both["completion_date_b"])
    with np.errstate(invalid="ignore"):
        earlier = np.where(np.isinf(a) & np.isinf(b), 0.0, a - b)
    ordered = np.sort(earlier)
    days: dict[str, float | None] = {}
    for name, q in QUANTILES.items():
        value = ordered[quantile_rank(q, len(ordered))] if len(ordered) else np.nan
        days[name] = float(value) if np.isfinite(value) else None
    met = [
        float(both[f"met_deadline_{s}"].mean()) if f"met_deadline_{s}" in both else None
        for s in ("a", "b")
    ]
    return Paired(
        replications=len(both),
        days_earlier=days,
        p_earlier=float((b < a).mean()) if len(both) else 0.0,
        p_meet_a=met[0],
        p_meet_b=met[1],
    )


# --- HTML --------------------------------------------------------------------------------------


def _pct(share: float | None) -> str:
    return "n/a" if share is None else f"{share:.0%}"


def verdict_html(result: Any) -> str:
    """The verdict block: PASS/FAIL, P(meet) with its interval, P10/P50/P90 with theirs."""
    head: Headline = result_headline(result)
    summary = result.summary
    intervals = _as_intervals(summary.get("completion_interval")) or completion_intervals(
        result.runs["completion_date"]
    )
    colour = COLOURS[head.passed]
    parts = [f"<div class='verdict' style='border-left:6px solid {colour};padding:0.3em 1em'>"]
    if head.deadline is not None:
        low, high = head.p_meet_interval or (None, None)
        parts.append(
            f"<div style='font-size:1.4em'><span id='verdict' style='background:{colour};"
            f"color:white;padding:0 0.3em;font-weight:bold'>{head.verdict}</span> "
            f"at {head.confidence:.0%} confidence against the deadline {head.deadline}</div>"
            f"<div>P(done by the deadline) = <b id='p-meet'>{_pct(head.p_meet)}</b> "
            f"(95% interval {_pct(low)} to {_pct(high)}): {head.met:,} of "
            f"{head.replications:,} replications; {html.escape(head.slack_text())}</div>"
        )
    rows = []
    for name in QUANTILES:
        date = head.completion.get(name)
        interval = intervals.get(name)
        span = _interval_text(interval)
        rows.append(
            f"<tr><td>{name.upper()}</td><td id='{name}'><b>{date or 'beyond the horizon'}</b>"
            f"</td><td>{html.escape(span)}</td></tr>"
        )
    parts.append(
        "<table style='margin-top:0.4em'><tr><th align='left'>completion</th>"
        "<th align='left'>date</th><th align='left'>95% interval</th></tr>"
        + "".join(rows)
        + "</table>"
    )
    parts.append(lanes_html(summary.get("lanes")))
    parts.extend(
        f"<div style='color:#9a4b00'>Note: {html.escape(text)}</div>" for text in head.warnings
    )
    parts.append(
        f"<div style='color:#555'>{head.replications:,} replications, seed "
        f"{summary.get('seed')}, {summary.get('wall_seconds', 0):.1f} s</div></div>"
    )
    return "".join(parts)


def lanes_html(lanes: Any) -> str:
    """Each lane's P50 and P90 completion when the plan has more than one lane ("" if not):
    the plan is done when its last lane is, so a planner sees which lane decides."""
    if not isinstance(lanes, dict) or len(lanes) < 2:
        return ""
    cells = []
    for name, lane in lanes.items():
        done = lane.get("completion") or {}
        cells.append(
            f"<b>{html.escape(str(name))}</b> P50 {done.get('p50') or 'beyond the horizon'}, "
            f"P90 {done.get('p90') or 'beyond the horizon'}"
        )
    return (
        "<div id='lanes' style='margin:0.2em 0'>By lane (done when the last is): "
        + "; ".join(cells)
        + "</div>"
    )


def _as_intervals(given: Any) -> dict[str, list[str | None] | None] | None:
    """The summary's ``completion_interval`` when it is the SPEC's shape, else None."""
    if not isinstance(given, dict) or set(given) != set(QUANTILES):
        return None
    out: dict[str, list[str | None] | None] = {}
    for name, pair in given.items():
        if pair is not None and not (isinstance(pair, list | tuple) and len(pair) == 2):
            return None
        out[name] = None if pair is None else [None if d is None else str(d) for d in pair]
    return out


def _interval_text(interval: list[str | None] | None) -> str:
    """ "A to B"; an end the replications cannot bound (too few of them, or beyond the
    horizon) is left open."""
    low, high = interval or (None, None)
    if low and high:
        return f"{low} to {high}"
    if high:
        return f"on or before {high}"
    if low:
        return f"{low} or later"
    return "too few replications"


def comparison_html(paired: Paired, name_a: str = "plan A") -> str:
    """Days earlier than plan A (P10/P50/P90) and P(earlier), on the same dice."""

    def days(value: float | None) -> str:
        if value is None:
            return "beyond the horizon"
        return f"{value:+,.0f}"

    d = paired.days_earlier
    return (
        "<div class='comparison' style='border-left:6px solid #3465a4;padding:0.3em 1em'>"
        f"<b>Against {html.escape(name_a)}</b>, on the same dice ({paired.replications:,} "
        "paired replications):<br>"
        f"days earlier (positive = sooner) P10 {days(d['p10'])}, "
        f"<b id='days-earlier-p50'>P50 {days(d['p50'])}</b>, P90 {days(d['p90'])}; "
        f"P(earlier) = <b id='p-earlier'>{_pct(paired.p_earlier)}</b>; "
        f"P(meet) {_pct(paired.p_meet_a)} for plan A, {_pct(paired.p_meet_b)} now</div>"
    )


def solution_html(solution: Any) -> str:
    """What ``sim.solve`` found, in a planner's words."""
    s = solution
    verb = "smallest" if s.direction == "larger_helps" else "largest"
    target = f"done by {s.deadline} with {s.confidence:.0%} confidence"
    if not s.found:
        return (
            f"<div class='solution'>No value of <b>{s.key}</b> between {s.low:,} and "
            f"{s.high:,} gets this plan {target} ({s.evaluations} tries).</div>"
        )
    best = s.best
    return (
        f"<div class='solution'>The {verb} <b>{s.key}</b> for this plan to be {target}: "
        f"<b id='solve-value'>{s.value:,}</b> (P(meet) {_pct(best.p_meet_deadline)}, "
        f"P50 {best.completion_p50}, P90 {best.completion_p90}; {s.evaluations} tries over "
        f"{s.replications} replications, {s.wall_seconds:.0f} s)</div>"
    )
