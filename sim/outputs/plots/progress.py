"""How fast: the share of mailboxes migrated over time as a fan, and a migration's actuals.

::

    ax = progress_fan(res.daily, population=2_100_000, timeline=timeline_of(sc))
    actuals_line(ax, actuals, population=2_100_000)
"""

from __future__ import annotations

import pandas as pd
from matplotlib import ticker
from matplotlib.axes import Axes

from sim.outputs.plots.bands import draw_fan, n_replications, per_date_quantiles, replications_label
from sim.outputs.plots.calendar_marks import date_num, date_nums, deadline_of, iso_date
from sim.outputs.plots.frame import by_gid, finish, new_axes, no_data
from sim.outputs.plots.style import COLOUR_MAIN, COLOUR_PAUSED, DateLike
from sim.outputs.timeline import Timeline


def progress_fan(
    daily: pd.DataFrame,
    population: int,
    start: DateLike | None = None,
    deadline: DateLike | None = None,
    ax: Axes | None = None,
    *,
    timeline: Timeline | None = None,
    label: str | None = None,
    color: str | None = None,
) -> Axes:
    """Draw the cumulative share of mailboxes migrated over time as a fan across replications.

    The P50 line is the per-date median of ``cumulative_migrated / population`` (in %), the
    band spans P10-P90; a replication whose table ends early is carried at its final value.
    ``start`` and ``deadline`` default to the timeline's. With ``label`` the fan takes
    ``color`` and one legend entry (its P50 line) names the plan: call again to overlay.
    """
    if population <= 0:
        raise ValueError(f"population must be > 0 (got {population})")
    ax = new_axes(ax)
    previous_x = ax.get_xlim() if label is not None and by_gid(ax, "p50") else None
    deadline = deadline_of(deadline, timeline)
    if start is None and timeline is not None:
        start = timeline.start
    n_runs = n_replications(daily)
    ax.set_title(
        "Migration progress: mailboxes migrated"
        if label is not None
        else f"Migration progress: mailboxes migrated ({replications_label(n_runs)})"
    )
    ax.set_xlabel("date")
    ax.set_ylabel("mailboxes migrated (% of population)")
    ax.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=100))
    ax.grid(axis="y", alpha=0.3)
    if daily.empty:
        return no_data(ax, timeline, deadline)

    fan = per_date_quantiles(daily, "cumulative_migrated", fill="carry") / population * 100.0
    x = date_nums(fan.index)
    draw_fan(ax, x, fan, n_runs, label or "migrated", color or COLOUR_MAIN, unit=" % points",
         one_entry=label is not None)  # fmt: skip
    if previous_x is not None:
        ax.set_xlim(min(previous_x[0], x[0]), max(previous_x[1], x[-1]))
    ax.axhline(100.0, color="black", linewidth=0.6, alpha=0.5)
    ax.set_ylim(0, 105)
    start_x = date_num(start)
    phase_dates = {mark.date for mark in timeline.phases} if timeline is not None else set()
    if (
        start_x is not None
        and pd.Timestamp(start).date() not in phase_dates
        and not by_gid(ax, "start")
    ):
        ax.axvline(
            start_x,
            color=COLOUR_PAUSED,
            linestyle=":",
            linewidth=1.2,
            label=f"start {iso_date(start_x)}",
            gid="start",
        )
    finish(ax, timeline, deadline)
    return ax


def actuals_line(
    ax: Axes, actuals: pd.DataFrame, population: int, *, as_of: DateLike | None = None
) -> Axes:
    """Draw a migration's actuals (``date``, ``cumulative_migrated``) on a progress fan, in
    black, with the as-of day marked: where the forecast starts from."""
    x = date_nums(actuals["date"])
    share = actuals["cumulative_migrated"].to_numpy(dtype=float) / population * 100.0
    last = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp(actuals["date"].iloc[-1])
    ax.step(x, share, where="mid", color="black", linewidth=2.2, label=f"actuals to {last.date()}",
            gid="actuals", zorder=4)  # fmt: skip
    ax.axvline(date_num(last), color="black", linestyle=":", linewidth=1.0, gid="as_of",
               label=f"as of {last.date()}")  # fmt: skip
    left, right = ax.get_xlim()
    ax.set_xlim(min(left, x[0] - 3), right)
    finish(ax)
    return ax


__all__ = ["actuals_line", "progress_fan"]
