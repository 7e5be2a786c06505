"""A chart's frame: the figure, the finished axes (calendar, date ticks, one legend) and
the notes in its margin.

Fixed margins keep charts shown one above another aligned; in a grid the caller made,
the legend and notes go inside each panel, never over its neighbour::

    ax = new_axes(None)          # a new figure's axes, or the caller's
    ...                          # draw the series
    side_note(ax, "3 more days paused\nin some replications")
    finish(ax, timeline, deadline)
"""

from __future__ import annotations

import matplotlib.dates as mdates
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.outputs.plots.calendar_marks import (
    date_num,
    dates_with_years,
    deadline_line,
    mark_timeline,
)
from sim.outputs.plots.style import CALENDAR_GIDS, FIGSIZE_INCHES, DateLike
from sim.outputs.timeline import Timeline


def new_figure(figure_class: type[Figure] = Figure) -> Figure:
    """A figure whose plot area has the same place and width whatever its legend says.

    Fixed margins (not a constrained layout) keep charts shown one above another, as in
    the report, aligned: the legend and notes live in the right-hand quarter.
    """
    figure = figure_class(figsize=FIGSIZE_INCHES)
    figure.subplots_adjust(left=0.085, right=0.74, bottom=0.2, top=0.91)
    return figure


def new_axes(ax: Axes | None, figure_class: type[Figure] = Figure) -> Axes:
    if ax is not None:
        return ax
    return new_figure(figure_class).add_subplot()


def finish(ax: Axes, timeline: Timeline | None = None, deadline: DateLike | None = None) -> None:
    """Mark the calendar and the deadline, label dates with years, put the legend aside.

    The x range is the data's, widened to show the deadline; freezes, holidays and phases
    are drawn only where they fall inside it.
    """
    deadline_x = date_num(deadline)
    left, right = ax.get_xlim()
    if deadline_x is not None and not by_gid(ax, "deadline"):
        left, right = min(left, deadline_x - 3), max(right, deadline_x + 3)
        deadline_line(ax, deadline_x)
    if timeline is not None and not any(
        by_gid(ax, gid) for gid in ("blackout", "holiday", "phase")
    ):
        mark_timeline(ax, timeline, left, right)
    ax.set_xlim(left, right)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(dates_with_years(locator))
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        # The chart's own series first, then the calendar (deadline, freezes, holidays).
        order = sorted(
            range(len(handles)),
            key=lambda i: getattr(handles[i], "get_gid", lambda: None)() in CALENDAR_GIDS,
        )
        seen: set[str] = set()
        order = [i for i in order if not (labels[i] in seen or seen.add(labels[i]))]
        if in_grid(ax):  # beside the panel would be over the next one
            ax.legend(
                [handles[i] for i in order],
                [labels[i] for i in order],
                loc="best",
                frameon=True,
                framealpha=0.8,
                fontsize="x-small",
            )
            note_inside(ax)
            return
        legend = ax.legend(
            [handles[i] for i in order],
            [labels[i] for i in order],
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            frameon=False,
            fontsize="small",
        )
        note_under_legend(ax, legend)
    elif in_grid(ax):
        note_inside(ax)


def in_grid(ax: Axes) -> bool:
    """Whether ``ax`` shares its figure with other panels (a grid the caller made)."""
    figure = ax.figure
    return figure is not None and len([a for a in figure.axes if a.get_label() != "<colorbar>"]) > 1


def note_inside(ax: Axes) -> None:
    """In a grid the margin belongs to the next panel: the note goes in the panel's corner."""
    for note in by_gid(ax, "note"):
        note.set_position((0.01, 0.02))
        note.set_ha("left")
        note.set_va("bottom")
        note.set_fontsize("x-small")
        note.set_bbox({"facecolor": "white", "alpha": 0.7, "linewidth": 0, "pad": 1})


def note_under_legend(ax: Axes, legend) -> None:
    """Put the margin note just under the legend; a long legend pushes it down into the
    figure's bottom margin, and when even that is too little room both get smaller type.

    A note pinned to the axes' foot collided with a long legend (the desk chart with a
    freeze, holidays and phases) and printed over its last entries.
    """
    notes = by_gid(ax, "note")
    if not notes:
        return
    note, figure = notes[0], ax.figure
    gap = 6.0  # display pixels between the legend and the note
    for size in ("small", "x-small"):
        for text in [*legend.get_texts(), note]:
            text.set_fontsize(size)
        figure.draw_without_rendering()
        legend_box = legend.get_window_extent()
        note_height = note.get_window_extent().height
        below_legend = legend_box.y0 - gap
        if below_legend - note_height >= 0:
            break
    below_legend = min(below_legend, ax.get_window_extent().y0 + note_height)
    x, _ = note.get_position()
    note.set_va("top")
    note.set_position((x, ax.transAxes.inverted().transform((0.0, below_legend))[1]))


def by_gid(ax: Axes, gid: str) -> list:
    return [artist for artist in ax.get_children() if artist.get_gid() == gid]


def side_note(ax: Axes, text: str, colour: str = "#333333") -> None:
    """A note in the margin under the legend, where it cannot cover data.

    A second note joins the first (one text, blank line between), so notes never overlap.
    """
    existing = by_gid(ax, "note")
    if existing:
        existing[0].set_text(existing[0].get_text() + "\n\n" + text)
        return
    ax.text(
        1.02,
        0.0,
        text,
        transform=ax.transAxes,
        ha="left",
        va="bottom",
        fontsize="small",
        color=colour,
        gid="note",
    )


def no_data(ax: Axes, timeline: Timeline | None = None, deadline: DateLike | None = None) -> Axes:
    ax.text(0.5, 0.5, "no daily data", transform=ax.transAxes, ha="center", va="center")
    deadline_x = date_num(deadline)
    if deadline_x is not None:
        ax.set_xlim(deadline_x - 30, deadline_x + 30)
        finish(ax, timeline, deadline)
    return ax


__all__ = [
    "by_gid",
    "finish",
    "in_grid",
    "new_axes",
    "new_figure",
    "no_data",
    "note_inside",
    "note_under_legend",
    "side_note",
]
