"""The tenant throttle: initial-sync data moved per day against its capacity.

::

    ax = throttle_utilisation(res.daily, timeline=timeline_of(sc))
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from sim.outputs.plots.bands import daily_axes, per_date_quantiles
from sim.outputs.plots.calendar_marks import date_nums, deadline_of
from sim.outputs.plots.frame import finish, no_data, side_note
from sim.outputs.plots.style import (
    COLOUR_MAIN,
    COLOUR_OK,
    GB_PER_TB,
    TB_AXIS_FROM_GB,
    DateLike,
    format_share,
    legend_entry,
    thousands,
)
from sim.outputs.timeline import Timeline


def throttle_utilisation(
    daily: pd.DataFrame,
    ax: Axes | None = None,
    *,
    timeline: Timeline | None = None,
    deadline: DateLike | None = None,
    label: str | None = None,
    color: str | None = None,
) -> Axes:
    """Draw initial-sync data moved per day against the throttle's capacity (medians).

    ``color`` colours the bars and ``label`` names the plan in the legend.

    Bars are ``presync_gb``, the step line ``throttle_capacity_gb``; the axis switches to TB
    when days move more than 10,000 GB. The mean utilisation over days with syncing is noted.
    """
    ax, _ = daily_axes(ax, daily, "Throttle: initial sync vs capacity (median across {})")
    deadline = deadline_of(deadline, timeline)
    if daily.empty:
        ax.set_ylabel("data per day (GB)")
        return no_data(ax, timeline, deadline)

    moved_gb = per_date_quantiles(daily, "presync_gb", fill="skip")[0.5]
    capacity_gb = per_date_quantiles(daily, "throttle_capacity_gb", fill="skip")[0.5]
    peak_gb = float(np.nanmax(np.r_[moved_gb.to_numpy(), capacity_gb.to_numpy(), 0.0]))
    per_unit, unit = (GB_PER_TB, "TB") if peak_gb >= TB_AXIS_FROM_GB else (1.0, "GB")
    x = date_nums(moved_gb.index)
    ax.bar(
        x,
        moved_gb.to_numpy() / per_unit,
        width=0.85,
        color=color or COLOUR_OK,
        alpha=0.8,
        label=legend_entry(label, "initial sync moved"),
        gid="presync",
    )
    ax.step(
        x,
        capacity_gb.to_numpy() / per_unit,
        where="mid",
        color=COLOUR_MAIN,
        linewidth=1.6,
        label=legend_entry(label, "throttle capacity"),
        gid="capacity",
    )
    ax.set_ylabel(f"data per day ({unit})")
    ax.yaxis.set_major_formatter(thousands())

    syncing = moved_gb.to_numpy() > 0
    capacity_when_syncing = np.nansum(capacity_gb.to_numpy()[syncing])
    if capacity_when_syncing > 0:
        utilisation = np.nansum(moved_gb.to_numpy()[syncing]) / capacity_when_syncing
        side_note(ax, f"mean utilisation on\ndays with syncing: {format_share(utilisation)}")
    ax.set_ylim(0, None)
    finish(ax, timeline, deadline)
    return ax


__all__ = ["throttle_utilisation"]
