"""The calendar on a time axis: date numbers, labels with years, the deadline, change
freezes, bank holidays and the starts of the plan's phases.

Dates on the x axis are matplotlib date numbers (days since its epoch)::

    x = date_nums(daily["date"])
    mark_timeline(ax, timeline_of(sc), *ax.get_xlim())
    deadline_line(ax, date_num("2021-03-31"))
"""

from __future__ import annotations

import textwrap

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib import ticker, transforms
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb

from sim.outputs.plots.style import (
    COLOUR_BLACKOUT,
    COLOUR_DEADLINE,
    COLOUR_HOLIDAY,
    COLOUR_PHASE,
    DateLike,
)
from sim.outputs.timeline import Timeline


def date_nums(dates: pd.Index | pd.Series) -> np.ndarray:
    """Matplotlib date numbers (float days) for naive datetimes of any resolution."""
    values = np.asarray(pd.DatetimeIndex(dates).as_unit("ns").to_numpy())
    if values.size == 0:
        return np.array([], dtype=float)
    return np.asarray(mdates.date2num(values), dtype=float)


def date_num(value: DateLike | float | None) -> float | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, int | float | np.floating):
        return float(value)
    timestamp = pd.Timestamp(value)
    if pd.isna(timestamp):
        return None
    if timestamp.tzinfo is not None:
        timestamp = timestamp.tz_localize(None)
    return float(mdates.date2num(timestamp.to_datetime64()))


def iso_date(x: float) -> str:
    """A date number as an ISO date ("2021-02-01")."""
    return mdates.num2date(x).date().isoformat()


def dates_with_years(locator: mdates.DateLocator) -> ticker.Formatter:
    """Concise date labels that always carry the year ("Oct\n2020", "05 Oct\n2020")."""
    return mdates.ConciseDateFormatter(
        locator,
        formats=["%Y", "%b\n%Y", "%d %b\n%Y", "%H:%M", "%H:%M", "%S.%f"],
        zero_formats=["", "%b\n%Y", "%d %b\n%Y", "%d %b", "%H:%M", "%H:%M"],
        show_offset=False,
    )


def deadline_of(deadline: DateLike | None, timeline: Timeline | None) -> DateLike | None:
    if deadline is None and timeline is not None:
        return timeline.deadline
    return deadline


def deadline_line(ax: Axes, deadline_x: float, detail: str = "") -> None:
    label = f"deadline {iso_date(deadline_x)}" + (f"\n{detail}" if detail else "")
    ax.axvline(deadline_x, color=COLOUR_DEADLINE, linewidth=1.8, label=label, gid="deadline")


def mark_timeline(ax: Axes, timeline: Timeline, left: float, right: float) -> None:
    """Hatch change freezes, shade bank holidays and mark phase starts within [left, right]."""
    for period in timeline.blackouts:
        start_x = date_num(period.start) - 0.5
        end_x = date_num(period.end) + 0.5
        if end_x < left or start_x > right:
            continue
        reason = textwrap.shorten(period.label, 40, placeholder="...")
        ax.axvspan(
            start_x,
            end_x,
            facecolor=(*to_rgb(COLOUR_BLACKOUT), 0.12),
            edgecolor=(*to_rgb(COLOUR_BLACKOUT), 0.4),
            hatch="///",
            linewidth=0,
            label=textwrap.fill(
                f"freeze {period.start:%d %b} to {period.end:%d %b %Y}: {reason}", 30
            ),
            gid="blackout",
            zorder=0,
        )
    holiday_x = np.array([date_num(day) for day in timeline.holidays], dtype=float)
    holiday_x = holiday_x[(holiday_x >= left - 0.5) & (holiday_x <= right + 0.5)]
    if holiday_x.size:
        for number, x in enumerate(holiday_x):
            ax.axvspan(
                x - 0.5,
                x + 0.5,
                color=COLOUR_HOLIDAY,
                alpha=0.18,
                linewidth=0,
                label="bank holiday" if number == 0 else "_nolegend_",
                gid="holiday",
                zorder=0,
            )
    on_top = transforms.blended_transform_factory(ax.transData, ax.transAxes)
    shown = [mark for mark in timeline.phases if left <= date_num(mark.date) <= right]
    for number, mark in enumerate(shown):
        x = date_num(mark.date)
        ax.axvline(
            x,
            color=COLOUR_PHASE,
            linestyle=(0, (4, 3)),
            linewidth=0.9,
            label="phase starts" if number == 0 else "_nolegend_",
            gid="phase",
            zorder=1,
        )
        ax.text(
            x,
            0.98,
            f" {mark.label}",
            transform=on_top,
            rotation=90,
            ha="left",
            va="top",
            fontsize="x-small",
            color="#343a40",
            bbox={"facecolor": "white", "alpha": 0.6, "linewidth": 0, "pad": 1},
            gid="phase_label",
            zorder=4,
        )


__all__ = [
    "date_num",
    "date_nums",
    "dates_with_years",
    "deadline_line",
    "deadline_of",
    "iso_date",
    "mark_timeline",
]
