"""What the service desk sees: open tickets as a fan, tickets opened and closed per day.

::

    ax = support_backlog(res.daily, pause_backlog=sc.support.pause_backlog)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from sim.outputs.plots.bands import daily_axes, draw_fan, per_date_quantiles
from sim.outputs.plots.calendar_marks import date_nums, deadline_of
from sim.outputs.plots.frame import finish, no_data, side_note
from sim.outputs.plots.style import (
    COLOUR_DEFERRED,
    COLOUR_MAIN,
    COLOUR_OK,
    THRESHOLD_SHOWN_UP_TO,
    DateLike,
    legend_entry,
)
from sim.outputs.timeline import Timeline


def support_backlog(
    daily: pd.DataFrame,
    pause_backlog: int | None = None,
    ax: Axes | None = None,
    *,
    peak_backlog: Mapping[str, float | None] | None = None,
    timeline: Timeline | None = None,
    deadline: DateLike | None = None,
    label: str | None = None,
    color: str | None = None,
) -> Axes:
    """Draw the service desk's open tickets as a fan, with tickets opened and closed per day.

    ``color`` colours the fan and ``label`` names the plan in the legend.

    The fan is the backlog at the end of each local day (``daily.ticket_backlog``). Tickets
    arrive in the morning and are worked off by evening, so the busiest moment of a day is
    higher than its end: ``peak_backlog`` (``summary["support"]["peak_backlog"]``, the
    largest number open at any instant of each replication, the report table's "Peak open
    tickets") is drawn as dashed lines at its P50 and P90, so chart and table agree.

    When ``pause_backlog`` is given and > 0, the go/no-go threshold is drawn (above it a
    day's cutovers are skipped), or noted beside the chart when it is so far above the
    backlog that drawing it would flatten the fan.
    """
    ax, n_runs = daily_axes(ax, daily, "Service desk: open tickets and daily flow ({})", "tickets")
    deadline = deadline_of(deadline, timeline)
    if daily.empty:
        return no_data(ax, timeline, deadline)

    backlog = per_date_quantiles(daily, "ticket_backlog", fill="skip")
    x = date_nums(backlog.index)
    what = legend_entry(label, "open at end of day")
    draw_fan(ax, x, backlog, n_runs, what, color or COLOUR_MAIN, unit=" tickets")
    for column, flow, colour in (
        ("tickets_opened", "opened per day (median)", COLOUR_DEFERRED),
        ("tickets_closed", "closed per day (median)", COLOUR_OK),
    ):
        median = per_date_quantiles(daily, column, fill="zero")[0.5]
        ax.step(
            date_nums(median.index),
            median.to_numpy(),
            where="mid",
            color=colour,
            linewidth=0.8,
            alpha=0.85,
            label=legend_entry(label, flow),
            gid=column,
        )
    peak_p90 = float(np.nanmax(np.r_[backlog[0.9].to_numpy(), 0.0]))
    peaks = dict(peak_backlog or {})
    if peaks.get("p50") is not None and peaks.get("p50") == peaks.get("p90"):
        peaks["p90"] = None  # one line, labelled as both
    for key, style in (("p50", "--"), ("p90", ":")):
        value = peaks.get(key)
        if value is None:
            continue
        which = "P50 = P90" if key == "p50" and "p90" in peaks and not peaks["p90"] else key.upper()
        ax.axhline(
            value,
            color=COLOUR_DEFERRED,
            linestyle=style,
            linewidth=1.4,
            label=f"peak open at any moment,\n{which} of replications: {value:,.0f}",
            gid=f"peak_{key}",
        )
        peak_p90 = max(peak_p90, float(value))
    if pause_backlog and pause_backlog <= THRESHOLD_SHOWN_UP_TO * max(peak_p90, 1.0):
        ax.axhline(
            pause_backlog,
            color="black",
            linestyle="--",
            linewidth=1.4,
            label=f"go/no-go: pause above {pause_backlog:,} open",
            gid="pause_backlog",
        )
    elif pause_backlog:
        # Drawing a far-away threshold would squash the backlog into a flat line.
        side_note(
            ax,
            f"go/no-go: pause above\n{pause_backlog:,} open tickets\n"
            f"(off the chart: at most\n{peak_p90:,.0f} open at P90)",
        )
    # Headroom, so a peak line at the top of the fan is not lost in the frame.
    ax.set_ylim(0, ax.get_ylim()[1] * 1.06)
    finish(ax, timeline, deadline)
    return ax


__all__ = ["support_backlog"]
