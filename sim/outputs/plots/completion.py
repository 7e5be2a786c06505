"""When do we finish: the share of replications finished by each date (an S-curve).

::

    ax = completion_distribution(res.runs, deadline=date(2021, 3, 31))
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.axes import Axes

from sim.experiments.results import quantile_rank
from sim.outputs.plots.bands import replications_label
from sim.outputs.plots.calendar_marks import (
    date_num,
    date_nums,
    deadline_line,
    deadline_of,
    iso_date,
)
from sim.outputs.plots.frame import by_gid, finish, new_axes, side_note
from sim.outputs.plots.style import COLOUR_DEADLINE, COLOUR_MAIN, QUANTILES, DateLike, format_share
from sim.outputs.timeline import Timeline


def completion_distribution(
    runs: pd.DataFrame,
    deadline: DateLike | None = None,
    ax: Axes | None = None,
    *,
    marks: Mapping[str, DateLike | None] | None = None,
    timeline: Timeline | None = None,
    label: str | None = None,
    color: str | None = None,
) -> Axes:
    """Draw the share of replications finished by each date (an ECDF of completion dates).

    The P10-P90 range is shaded, P50 is a vertical line, the deadline a red line whose legend
    entry gives P(meet deadline), and replications that did not finish within the horizon are
    noted beside the chart (the curve then tops out below 100%). ``marks`` (for instance
    ``summary["completion"]``) overrides the P10/P50/P90 dates computed from ``runs``, so a
    report's chart and table agree. ``deadline`` defaults to the timeline's.

    With ``label`` (a plan's name) the curve and its P10-P90 shading take ``color`` and one
    legend entry gives the plan's P50 and P(meet deadline): call again on the same ``ax`` to
    overlay another plan.
    """
    ax = new_axes(ax)
    overlay = label is not None
    colour = color or COLOUR_MAIN
    previous_x = ax.get_xlim() if overlay and by_gid(ax, "completion") else None
    deadline = deadline_of(deadline, timeline)
    n_runs = len(runs)
    completion = pd.to_datetime(runs["completion_date"]) if n_runs else pd.Series(dtype=float)
    finished = np.sort(date_nums(completion.dropna()))
    deadline_x = date_num(deadline)
    marks_x = _completion_quantiles(finished, n_runs)
    if marks is not None:
        marks_x.update({key: date_num(value) for key, value in marks.items()})

    ax.set_title(
        "Completion date: share of replications finished by each date"
        if overlay
        else f"Completion date: share of {replications_label(n_runs)} finished by each date"
    )
    ax.set_xlabel("completion date")
    ax.set_ylabel("replications completed (%)")
    ax.set_ylim(0, 105)
    ax.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=100))
    ax.grid(axis="y", alpha=0.3)

    if finished.size == 0:
        ax.text(
            0.5,
            0.5,
            "no replication completed within the horizon",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize="large",
            color=COLOUR_DEADLINE,
        )
        if deadline_x is not None:
            deadline_line(ax, deadline_x, f"P(meet deadline) = {format_share(0.0)}")
            ax.set_xlim(deadline_x - 30, deadline_x + 30)
        finish(ax, timeline)
        return ax

    share_pct = np.arange(1, finished.size + 1) / n_runs * 100.0
    pad_days = max(3.0, 0.05 * (finished[-1] - finished[0]))
    left = min(finished[0], deadline_x if deadline_x is not None else finished[0]) - pad_days
    right = max(finished[-1], deadline_x if deadline_x is not None else finished[-1]) + pad_days
    if previous_x is not None:
        left, right = min(left, previous_x[0]), max(right, previous_x[1])
    p10, p50, p90 = (marks_x.get(key) for key in ("p10", "p50", "p90"))
    if overlay:
        entry = f"{label}: P50 {iso_date(p50) if p50 is not None else 'not reached'}"
        if deadline_x is not None:
            p_meet = _share_meeting_deadline(runs, completion, deadline_x)
            entry += f",\nP(meet deadline) {format_share(p_meet)}"
    ax.step(
        np.r_[left, finished, right],
        np.r_[0.0, share_pct, share_pct[-1]],
        where="post",
        color=colour,
        linewidth=2,
        label=entry if overlay else "completed by date",
        gid="completion",
    )

    if overlay:
        if p10 is not None and p90 is not None and p90 > p10:
            ax.axvspan(p10, p90, color=colour, alpha=0.08, label="_nolegend_", gid="band")
        if p50 is not None:
            ax.axvline(p50, color=colour, linestyle="--", linewidth=1.2, label="_nolegend_")
        if deadline_x is not None and not by_gid(ax, "deadline"):
            deadline_line(ax, deadline_x)
    elif p10 is not None and p90 is not None and p90 > p10:
        ax.axvspan(
            p10,
            p90,
            color=COLOUR_MAIN,
            alpha=0.12,
            label=f"P10-P90\n{iso_date(p10)} to {iso_date(p90)}",  # two lines: fits the margin
        )
    else:
        for key, value in (("P10", p10), ("P90", p90)):
            if value is not None and value != p50:
                ax.axvline(
                    value,
                    color=COLOUR_MAIN,
                    linestyle=":",
                    linewidth=1.2,
                    label=f"{key} {iso_date(value)}",
                )
    if p50 is not None and not overlay:
        ax.axvline(
            p50, color=COLOUR_MAIN, linestyle="--", linewidth=1.2, label=f"P50 {iso_date(p50)}"
        )
    if deadline_x is not None and not overlay:
        p_meet = _share_meeting_deadline(runs, completion, deadline_x)
        deadline_line(ax, deadline_x, f"P(meet deadline) = {format_share(p_meet)}")

    notes = [f"{key.upper()} not reached" for key in ("p50", "p90") if marks_x.get(key) is None]
    not_completed = 1.0 - finished.size / n_runs
    if not_completed > 0:
        notes.insert(
            0, f"{format_share(not_completed)} of replications\nnot completed within\nthe horizon"
        )
    if notes and overlay:
        notes = [f"{label}: " + "; ".join(note.replace("\n", " ") for note in notes)]
    if notes:
        side_note(ax, "\n".join(notes), colour=COLOUR_DEADLINE)
    ax.set_xlim(left, right)
    finish(ax, timeline)
    return ax


def _completion_quantiles(finished_sorted: np.ndarray, n_runs: int) -> dict[str, float | None]:
    """P10/P50/P90 completion as date numbers; None where the quantile is an unfinished run.

    Same rule as the run summary: the inverted empirical CDF over all replications, with
    "not completed" later than any date.
    """
    quantiles: dict[str, float | None] = {}
    for q in QUANTILES:
        rank = quantile_rank(q, n_runs)
        quantiles[f"p{round(q * 100)}"] = (
            float(finished_sorted[rank]) if rank < finished_sorted.size else None
        )
    return quantiles


def _share_meeting_deadline(runs: pd.DataFrame, completion: pd.Series, deadline_x: float) -> float:
    if "met_deadline" in runs:
        return float(runs["met_deadline"].astype(bool).mean())
    done = completion.dropna()
    return float((date_nums(done) <= deadline_x).sum() / len(runs))


__all__ = ["completion_distribution"]
