"""Each evening: mailboxes cut over and failed per day, and the users who waited.

::

    ax = daily_cutovers(res.daily, timeline=timeline_of(sc))
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from sim.outputs.plots.bands import (
    daily_axes,
    per_date_quantiles,
    shade_pauses,
)
from sim.outputs.plots.calendar_marks import date_nums, deadline_of
from sim.outputs.plots.frame import finish, no_data
from sim.outputs.plots.style import (
    COLOUR_DEFERRED,
    COLOUR_FAILED,
    COLOUR_OK,
    COLOUR_SLIPPED,
    DateLike,
    legend_entry,
)
from sim.outputs.timeline import Timeline


def daily_cutovers(
    daily: pd.DataFrame,
    ax: Axes | None = None,
    *,
    timeline: Timeline | None = None,
    deadline: DateLike | None = None,
    label: str | None = None,
    color: str | None = None,
) -> Axes:
    """Draw the median mailboxes per day cut over and failed (stacked bars), and the users
    who were due but waited (deferred: sync not finished; slipped: evening full or paused)
    as lines: the waiting queue is not stacked on the cutovers, which it never added to.

    ``color`` colours the "cut over" bars and ``label`` names the plan in the legend.

    Days paused (by the go/no-go gate or a risk) in at least half of the replications are
    shaded; days paused in fewer are counted in a note beside the chart.
    """
    ax, _ = daily_axes(ax, daily, "Daily cutovers (median across {})", "mailboxes per day")
    deadline = deadline_of(deadline, timeline)
    if daily.empty:
        return no_data(ax, timeline, deadline)

    bottom = None
    for column, series_label, colour in (
        ("cutover_ok", "cut over", color or COLOUR_OK),
        ("cutover_failed", "failed (retried later)", COLOUR_FAILED),
    ):
        median = per_date_quantiles(daily, column, fill="zero")[0.5]
        x = date_nums(median.index)
        ax.bar(
            x,
            median.to_numpy(),
            width=0.85,
            bottom=bottom,
            color=colour,
            label=legend_entry(label, series_label),
            gid=column,
        )
        bottom = median.to_numpy() if bottom is None else bottom + median.to_numpy()
    top = float(np.nanmax(bottom))
    waiting = daily.assign(waiting=daily["deferred"] + daily.get("slipped", 0))
    for column, series_label, colour, style in (
        ("waiting", "waiting: deferred or slipped\n(evening full or paused)", COLOUR_SLIPPED, "-"),
        ("deferred", "of them deferred\n(sync not finished)", COLOUR_DEFERRED, "--"),
    ):
        median = per_date_quantiles(waiting, column, fill="zero")[0.5]
        ax.plot(
            date_nums(median.index),
            median.to_numpy(),
            color=colour,
            linestyle=style,
            linewidth=1.2,
            label=legend_entry(label, series_label),
            gid=column,
        )
        top = max(top, float(np.nanmax(median.to_numpy())))

    # Zero-height segments stacked on the tallest bar pin autoscaling to it; leave headroom.
    ax.set_ylim(0, max(top, 1.0) * 1.05)
    shade_pauses(ax, daily)
    finish(ax, timeline, deadline)
    return ax


__all__ = ["daily_cutovers"]
