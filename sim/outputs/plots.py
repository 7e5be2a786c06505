"""Plots a migration planner reads: when do we finish, how fast, what does the desk see.

Every function takes the result DataFrames of a Monte Carlo run (see ``sim.run``) and an
optional matplotlib ``ax``, draws one chart and returns the Axes. Without an ``ax`` a new
:class:`matplotlib.figure.Figure` is created; pyplot's global state is never touched, so the
functions are safe in worker processes, headless CI and notebooks alike::

    ax = plots.progress_fan(res.daily, population=2_100_000, deadline=date(2021, 3, 31))
    ax.figure.savefig("progress.png")

Across replications the charts show the median (P50) as a line and the P10-P90 range as a
band. Dates on the x axis are matplotlib date numbers (days since its epoch), so a test or
caller can locate, say, the deadline line with ``matplotlib.dates.date2num``.

Every chart with dates takes a :class:`~sim.outputs.timeline.Timeline` (``timeline_of(sc)``):
change freezes are hatched, bank holidays shaded, the starts of the plan's phases marked, the
deadline drawn in red, and date labels carry their year. Artists carry a ``gid`` ("deadline",
"blackout", "holiday", "phase", "band", "p50", ...) so tests and callers can find them.

Charts compose. Every function takes ``label=`` and ``color=``: with a label, the chart's
series take that colour and one legend entry names the plan, so calling
``completion_distribution`` or ``progress_fan`` twice on one ``ax`` overlays two plans
(the calendar and the deadline are drawn once). Drawn into one panel of a grid, the legend
goes inside the panel, never over its neighbour.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Mapping

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib import ticker, transforms
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.experiments.metrics import QUANTILES as SUMMARY_QUANTILES
from sim.experiments.results import quantile_rank
from sim.outputs.headline import percent
from sim.outputs.timeline import Timeline

FIGSIZE_INCHES = (10.0, 4.2)
QUANTILES = tuple(SUMMARY_QUANTILES.values())  # the summary's P10/P50/P90
GB_PER_TB = 1000.0
TB_AXIS_FROM_GB = 10_000.0  # above this many GB a day the throttle chart switches to TB
THRESHOLD_SHOWN_UP_TO = 3.0  # draw the go/no-go line only up to this multiple of the P90 peak

COLOUR_OK = "#2a9d8f"
COLOUR_FAILED = "#d62828"
COLOUR_DEFERRED = "#f4a261"
COLOUR_MAIN = "#1d4e89"
COLOUR_DEADLINE = "#c1121f"
COLOUR_PAUSED = "#6c757d"
COLOUR_RISK_PAUSE = "#e76f51"
COLOUR_SLIPPED = "#9c6644"
COLOUR_BLACKOUT = "#495057"
COLOUR_HOLIDAY = "#9d4edd"
COLOUR_PHASE = "#6c757d"
BAND_ALPHA = 0.3
CALENDAR_GIDS = frozenset({"deadline", "blackout", "holiday", "phase", "start"})
THIN_BAND_SHARE = 0.01  # a P10-P90 band narrower than this share of the axis gets a note

DateLike = dt.date | dt.datetime | pd.Timestamp | np.datetime64 | str


# --- public plots --------------------------------------------------------------------------


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
    ax = _new_axes(ax)
    overlay = label is not None
    colour = color or COLOUR_MAIN
    previous_x = ax.get_xlim() if overlay and _by_gid(ax, "completion") else None
    deadline = _deadline_of(deadline, timeline)
    n_runs = len(runs)
    completion = pd.to_datetime(runs["completion_date"]) if n_runs else pd.Series(dtype=float)
    finished = np.sort(_to_num(completion.dropna()))
    deadline_x = _date_num(deadline)
    marks_x = _completion_quantiles(finished, n_runs)
    if marks is not None:
        marks_x.update({key: _date_num(value) for key, value in marks.items()})

    ax.set_title(
        "Completion date: share of replications finished by each date"
        if overlay
        else f"Completion date: share of {_replications(n_runs)} finished by each date"
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
            _deadline_line(ax, deadline_x, f"P(meet deadline) = {format_share(0.0)}")
            ax.set_xlim(deadline_x - 30, deadline_x + 30)
        _finish(ax, timeline)
        return ax

    share_pct = np.arange(1, finished.size + 1) / n_runs * 100.0
    pad_days = max(3.0, 0.05 * (finished[-1] - finished[0]))
    left = min(finished[0], deadline_x if deadline_x is not None else finished[0]) - pad_days
    right = max(finished[-1], deadline_x if deadline_x is not None else finished[-1]) + pad_days
    if previous_x is not None:
        left, right = min(left, previous_x[0]), max(right, previous_x[1])
    p10, p50, p90 = (marks_x.get(key) for key in ("p10", "p50", "p90"))
    if overlay:
        entry = f"{label}: P50 {_iso(p50) if p50 is not None else 'not reached'}"
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
        if deadline_x is not None and not _by_gid(ax, "deadline"):
            _deadline_line(ax, deadline_x)
    elif p10 is not None and p90 is not None and p90 > p10:
        ax.axvspan(
            p10,
            p90,
            color=COLOUR_MAIN,
            alpha=0.12,
            label=f"P10-P90\n{_iso(p10)} to {_iso(p90)}",  # two lines: fits the margin
        )
    else:
        for key, value in (("P10", p10), ("P90", p90)):
            if value is not None and value != p50:
                ax.axvline(
                    value,
                    color=COLOUR_MAIN,
                    linestyle=":",
                    linewidth=1.2,
                    label=f"{key} {_iso(value)}",
                )
    if p50 is not None and not overlay:
        ax.axvline(p50, color=COLOUR_MAIN, linestyle="--", linewidth=1.2, label=f"P50 {_iso(p50)}")
    if deadline_x is not None and not overlay:
        p_meet = _share_meeting_deadline(runs, completion, deadline_x)
        _deadline_line(ax, deadline_x, f"P(meet deadline) = {format_share(p_meet)}")

    notes = [f"{key.upper()} not reached" for key in ("p50", "p90") if marks_x.get(key) is None]
    not_completed = 1.0 - finished.size / n_runs
    if not_completed > 0:
        notes.insert(
            0, f"{format_share(not_completed)} of replications\nnot completed within\nthe horizon"
        )
    if notes and overlay:
        notes = [f"{label}: " + "; ".join(note.replace("\n", " ") for note in notes)]
    if notes:
        _side_note(ax, "\n".join(notes), colour=COLOUR_DEADLINE)
    ax.set_xlim(left, right)
    _finish(ax, timeline)
    return ax


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
    ax = _new_axes(ax)
    previous_x = ax.get_xlim() if label is not None and _by_gid(ax, "p50") else None
    deadline = _deadline_of(deadline, timeline)
    if start is None and timeline is not None:
        start = timeline.start
    n_runs = _n_replications(daily)
    ax.set_title(
        "Migration progress: mailboxes migrated"
        if label is not None
        else f"Migration progress: mailboxes migrated ({_replications(n_runs)})"
    )
    ax.set_xlabel("date")
    ax.set_ylabel("mailboxes migrated (% of population)")
    ax.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=100))
    ax.grid(axis="y", alpha=0.3)
    if daily.empty:
        return _no_data(ax, timeline, deadline)

    fan = _per_date_quantiles(daily, "cumulative_migrated", fill="carry") / population * 100.0
    x = _to_num(fan.index)
    _fan(ax, x, fan, n_runs, label or "migrated", color or COLOUR_MAIN, unit=" % points",
         one_entry=label is not None)  # fmt: skip
    if previous_x is not None:
        ax.set_xlim(min(previous_x[0], x[0]), max(previous_x[1], x[-1]))
    ax.axhline(100.0, color="black", linewidth=0.6, alpha=0.5)
    ax.set_ylim(0, 105)
    start_x = _date_num(start)
    phase_dates = {mark.date for mark in timeline.phases} if timeline is not None else set()
    if (
        start_x is not None
        and pd.Timestamp(start).date() not in phase_dates
        and not _by_gid(ax, "start")
    ):
        ax.axvline(
            start_x,
            color=COLOUR_PAUSED,
            linestyle=":",
            linewidth=1.2,
            label=f"start {_iso(start_x)}",
            gid="start",
        )
    _finish(ax, timeline, deadline)
    return ax


def actuals_line(
    ax: Axes, actuals: pd.DataFrame, population: int, *, as_of: DateLike | None = None
) -> Axes:
    """Draw a migration's actuals (``date``, ``cumulative_migrated``) on a progress fan, in
    black, with the as-of day marked: where the forecast starts from."""
    x = _to_num(actuals["date"])
    share = actuals["cumulative_migrated"].to_numpy(dtype=float) / population * 100.0
    last = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp(actuals["date"].iloc[-1])
    ax.step(x, share, where="mid", color="black", linewidth=2.2, label=f"actuals to {last.date()}",
            gid="actuals", zorder=4)  # fmt: skip
    ax.axvline(_date_num(last), color="black", linestyle=":", linewidth=1.0, gid="as_of",
               label=f"as of {last.date()}")  # fmt: skip
    left, right = ax.get_xlim()
    ax.set_xlim(min(left, x[0] - 3), right)
    _finish(ax)
    return ax


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
    ax = _new_axes(ax)
    deadline = _deadline_of(deadline, timeline)
    n_runs = _n_replications(daily)
    ax.set_title(f"Daily cutovers (median across {_replications(n_runs)})")
    ax.set_xlabel("date")
    ax.set_ylabel("mailboxes per day")
    ax.yaxis.set_major_formatter(_thousands())
    ax.grid(axis="y", alpha=0.3)
    if daily.empty:
        return _no_data(ax, timeline, deadline)

    bottom = None
    for column, series_label, colour in (
        ("cutover_ok", "cut over", color or COLOUR_OK),
        ("cutover_failed", "failed (retried later)", COLOUR_FAILED),
    ):
        median = _per_date_quantiles(daily, column, fill="zero")[0.5]
        x = _to_num(median.index)
        ax.bar(
            x,
            median.to_numpy(),
            width=0.85,
            bottom=bottom,
            color=colour,
            label=_entry(label, series_label),
            gid=column,
        )
        bottom = median.to_numpy() if bottom is None else bottom + median.to_numpy()
    top = float(np.nanmax(bottom))
    waiting = daily.assign(waiting=daily["deferred"] + daily.get("slipped", 0))
    for column, series_label, colour, style in (
        ("waiting", "waiting: deferred or slipped\n(evening full or paused)", COLOUR_SLIPPED, "-"),
        ("deferred", "of them deferred\n(sync not finished)", COLOUR_DEFERRED, "--"),
    ):
        median = _per_date_quantiles(waiting, column, fill="zero")[0.5]
        ax.plot(
            _to_num(median.index),
            median.to_numpy(),
            color=colour,
            linestyle=style,
            linewidth=1.2,
            label=_entry(label, series_label),
            gid=column,
        )
        top = max(top, float(np.nanmax(median.to_numpy())))

    # Zero-height segments stacked on the tallest bar pin autoscaling to it; leave headroom.
    ax.set_ylim(0, max(top, 1.0) * 1.05)
    _shade_pauses(ax, daily)
    _finish(ax, timeline, deadline)
    return ax


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
    ax = _new_axes(ax)
    deadline = _deadline_of(deadline, timeline)
    n_runs = _n_replications(daily)
    ax.set_title(f"Throttle: initial sync vs capacity (median across {_replications(n_runs)})")
    ax.set_xlabel("date")
    ax.grid(axis="y", alpha=0.3)
    if daily.empty:
        ax.set_ylabel("data per day (GB)")
        return _no_data(ax, timeline, deadline)

    moved_gb = _per_date_quantiles(daily, "presync_gb", fill="skip")[0.5]
    capacity_gb = _per_date_quantiles(daily, "throttle_capacity_gb", fill="skip")[0.5]
    peak_gb = float(np.nanmax(np.r_[moved_gb.to_numpy(), capacity_gb.to_numpy(), 0.0]))
    per_unit, unit = (GB_PER_TB, "TB") if peak_gb >= TB_AXIS_FROM_GB else (1.0, "GB")
    x = _to_num(moved_gb.index)
    ax.bar(
        x,
        moved_gb.to_numpy() / per_unit,
        width=0.85,
        color=color or COLOUR_OK,
        alpha=0.8,
        label=_entry(label, "initial sync moved"),
        gid="presync",
    )
    ax.step(
        x,
        capacity_gb.to_numpy() / per_unit,
        where="mid",
        color=COLOUR_MAIN,
        linewidth=1.6,
        label=_entry(label, "throttle capacity"),
        gid="capacity",
    )
    ax.set_ylabel(f"data per day ({unit})")
    ax.yaxis.set_major_formatter(_thousands())

    syncing = moved_gb.to_numpy() > 0
    capacity_when_syncing = np.nansum(capacity_gb.to_numpy()[syncing])
    if capacity_when_syncing > 0:
        utilisation = np.nansum(moved_gb.to_numpy()[syncing]) / capacity_when_syncing
        _side_note(ax, f"mean utilisation on\ndays with syncing: {format_share(utilisation)}")
    ax.set_ylim(0, None)
    _finish(ax, timeline, deadline)
    return ax


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
    ax = _new_axes(ax)
    deadline = _deadline_of(deadline, timeline)
    n_runs = _n_replications(daily)
    ax.set_title(f"Service desk: open tickets and daily flow ({_replications(n_runs)})")
    ax.set_xlabel("date")
    ax.set_ylabel("tickets")
    ax.yaxis.set_major_formatter(_thousands())
    ax.grid(axis="y", alpha=0.3)
    if daily.empty:
        return _no_data(ax, timeline, deadline)

    backlog = _per_date_quantiles(daily, "ticket_backlog", fill="skip")
    x = _to_num(backlog.index)
    _fan(ax, x, backlog, n_runs, _entry(label, "open at end of day"), color or COLOUR_MAIN,
         unit=" tickets")  # fmt: skip
    for column, flow, colour in (
        ("tickets_opened", "opened per day (median)", COLOUR_DEFERRED),
        ("tickets_closed", "closed per day (median)", COLOUR_OK),
    ):
        median = _per_date_quantiles(daily, column, fill="zero")[0.5]
        ax.step(
            _to_num(median.index),
            median.to_numpy(),
            where="mid",
            color=colour,
            linewidth=0.8,
            alpha=0.85,
            label=_entry(label, flow),
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
        _side_note(
            ax,
            f"go/no-go: pause above\n{pause_backlog:,} open tickets\n"
            f"(off the chart: at most\n{peak_p90:,.0f} open at P90)",
        )
    # Headroom, so a peak line at the top of the fan is not lost in the frame.
    ax.set_ylim(0, ax.get_ylim()[1] * 1.06)
    _finish(ax, timeline, deadline)
    return ax


def _entry(label: str | None, text: str) -> str:
    """A legend entry, prefixed with the plan's name when charts of several plans share axes."""
    return text if label is None else f"{label}: {text}"


def format_share(share: float) -> str:
    """Format a share (0-1) as a percentage: "62%", with one decimal only near 0% and 100%.

    A tiny miss is never shown as "100%", nor a rare success as "0%".
    """
    return percent(share)


# --- shared helpers ------------------------------------------------------------------------


def _new_axes(ax: Axes | None, figure_class: type[Figure] = Figure) -> Axes:
    if ax is not None:
        return ax
    return new_figure(figure_class).add_subplot()


def new_figure(figure_class: type[Figure] = Figure) -> Figure:
    """A figure whose plot area has the same place and width whatever its legend says.

    Fixed margins (not a constrained layout) keep charts shown one above another, as in
    the report, aligned: the legend and notes live in the right-hand quarter.
    """
    figure = figure_class(figsize=FIGSIZE_INCHES)
    figure.subplots_adjust(left=0.085, right=0.74, bottom=0.2, top=0.91)
    return figure


def _deadline_of(deadline: DateLike | None, timeline: Timeline | None) -> DateLike | None:
    if deadline is None and timeline is not None:
        return timeline.deadline
    return deadline


def _finish(ax: Axes, timeline: Timeline | None = None, deadline: DateLike | None = None) -> None:
    """Mark the calendar and the deadline, label dates with years, put the legend aside.

    The x range is the data's, widened to show the deadline; freezes, holidays and phases
    are drawn only where they fall inside it.
    """
    deadline_x = _date_num(deadline)
    left, right = ax.get_xlim()
    if deadline_x is not None and not _by_gid(ax, "deadline"):
        left, right = min(left, deadline_x - 3), max(right, deadline_x + 3)
        _deadline_line(ax, deadline_x)
    if timeline is not None and not any(
        _by_gid(ax, gid) for gid in ("blackout", "holiday", "phase")
    ):
        _mark_timeline(ax, timeline, left, right)
    ax.set_xlim(left, right)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(_dates_with_years(locator))
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        # The chart's own series first, then the calendar (deadline, freezes, holidays).
        order = sorted(
            range(len(handles)),
            key=lambda i: getattr(handles[i], "get_gid", lambda: None)() in CALENDAR_GIDS,
        )
        seen: set[str] = set()
        order = [i for i in order if not (labels[i] in seen or seen.add(labels[i]))]
        if _in_grid(ax):  # beside the panel would be over the next one
            ax.legend(
                [handles[i] for i in order],
                [labels[i] for i in order],
                loc="best",
                frameon=True,
                framealpha=0.8,
                fontsize="x-small",
            )
            _note_inside(ax)
            return
        legend = ax.legend(
            [handles[i] for i in order],
            [labels[i] for i in order],
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            frameon=False,
            fontsize="small",
        )
        _note_under_legend(ax, legend)
    elif _in_grid(ax):
        _note_inside(ax)


def _in_grid(ax: Axes) -> bool:
    """Whether ``ax`` shares its figure with other panels (a grid the caller made)."""
    figure = ax.figure
    return figure is not None and len([a for a in figure.axes if a.get_label() != "<colorbar>"]) > 1


def _note_inside(ax: Axes) -> None:
    """In a grid the margin belongs to the next panel: the note goes in the panel's corner."""
    for note in _by_gid(ax, "note"):
        note.set_position((0.01, 0.02))
        note.set_ha("left")
        note.set_va("bottom")
        note.set_fontsize("x-small")
        note.set_bbox({"facecolor": "white", "alpha": 0.7, "linewidth": 0, "pad": 1})


def _note_under_legend(ax: Axes, legend) -> None:
    """Put the margin note just under the legend; a long legend pushes it down into the
    figure's bottom margin, and when even that is too little room both get smaller type.

    A note pinned to the axes' foot collided with a long legend (the desk chart with a
    freeze, holidays and phases) and printed over its last entries.
    """
    notes = _by_gid(ax, "note")
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


def _dates_with_years(locator: mdates.DateLocator) -> ticker.Formatter:
    """Concise date labels that always carry the year ("Oct\n2020", "05 Oct\n2020")."""
    return mdates.ConciseDateFormatter(
        locator,
        formats=["%Y", "%b\n%Y", "%d %b\n%Y", "%H:%M", "%H:%M", "%S.%f"],
        zero_formats=["", "%b\n%Y", "%d %b\n%Y", "%d %b", "%H:%M", "%H:%M"],
        show_offset=False,
    )


def _mark_timeline(ax: Axes, timeline: Timeline, left: float, right: float) -> None:
    """Hatch change freezes, shade bank holidays and mark phase starts within [left, right]."""
    for period in timeline.blackouts:
        start_x = _date_num(period.start) - 0.5
        end_x = _date_num(period.end) + 0.5
        if end_x < left or start_x > right:
            continue
        reason = textwrap.shorten(period.label, 40, placeholder="...")
        ax.axvspan(
            start_x,
            end_x,
            facecolor=(*_rgb(COLOUR_BLACKOUT), 0.12),
            edgecolor=(*_rgb(COLOUR_BLACKOUT), 0.4),
            hatch="///",
            linewidth=0,
            label=textwrap.fill(
                f"freeze {period.start:%d %b} to {period.end:%d %b %Y}: {reason}", 30
            ),
            gid="blackout",
            zorder=0,
        )
    holiday_x = np.array([_date_num(day) for day in timeline.holidays], dtype=float)
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
    shown = [mark for mark in timeline.phases if left <= _date_num(mark.date) <= right]
    for number, mark in enumerate(shown):
        x = _date_num(mark.date)
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


def _rgb(colour: str) -> tuple[float, float, float]:
    from matplotlib.colors import to_rgb

    return to_rgb(colour)


def _by_gid(ax: Axes, gid: str) -> list:
    return [artist for artist in ax.get_children() if artist.get_gid() == gid]


def _side_note(ax: Axes, text: str, colour: str = "#333333") -> None:
    """A note in the margin under the legend, where it cannot cover data.

    A second note joins the first (one text, blank line between), so notes never overlap.
    """
    existing = _by_gid(ax, "note")
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


def _no_data(ax: Axes, timeline: Timeline | None = None, deadline: DateLike | None = None) -> Axes:
    ax.text(0.5, 0.5, "no daily data", transform=ax.transAxes, ha="center", va="center")
    deadline_x = _date_num(deadline)
    if deadline_x is not None:
        ax.set_xlim(deadline_x - 30, deadline_x + 30)
        _finish(ax, timeline, deadline)
    return ax


def _thousands() -> ticker.Formatter:
    return ticker.StrMethodFormatter("{x:,.0f}")


def _fan(
    ax: Axes,
    x: np.ndarray,
    fan: pd.DataFrame,
    n_runs: int,
    what: str,
    colour: str,
    unit: str = "",
    *,
    one_entry: bool = False,
) -> None:
    """P10-P90 band edged by thin lines (none for a single replication) and a P50 line.

    ``one_entry``: the P50 line alone is in the legend, as ``what`` (a plan's name).

    A band too thin to see (replications that agree) gets a note giving its widest extent,
    so "no band" never reads as "no doubt computed".
    """
    if n_runs > 1:
        low, high = fan[0.1].to_numpy(), fan[0.9].to_numpy()
        ax.fill_between(
            x,
            low,
            high,
            step="mid",
            color=colour,
            alpha=BAND_ALPHA,
            linewidth=0,
            label="_nolegend_" if one_entry else f"{what}, P10-P90",
            gid="band",
        )
        for edge, values in (("p10", low), ("p90", high)):
            ax.step(
                x,
                values,
                where="mid",
                color=colour,
                linewidth=0.7,
                alpha=0.7,
                label="_nolegend_",
                gid=edge,
            )
        width = np.nanmax(np.r_[high - low, 0.0])
        top = np.nanmax(np.r_[high, 0.0])
        if top > 0 and width < THIN_BAND_SHARE * top:
            _side_note(
                ax,
                (f"{what}: " if one_entry else "")
                + f"P10-P90 band at most\n{width:,.2g}{unit} wide: the\nreplications agree",
            )
    ax.step(
        x,
        fan[0.5].to_numpy(),
        where="mid",
        color=colour,
        linewidth=2,
        label=what if one_entry or n_runs == 1 else f"{what}, P50",
        gid="p50",
        zorder=3,  # above the per-day flow lines drawn later
    )


def _deadline_line(ax: Axes, deadline_x: float, detail: str = "") -> None:
    label = f"deadline {_iso(deadline_x)}" + (f"\n{detail}" if detail else "")
    ax.axvline(deadline_x, color=COLOUR_DEADLINE, linewidth=1.8, label=label, gid="deadline")


def _per_date_quantiles(daily: pd.DataFrame, column: str, fill: str) -> pd.DataFrame:
    """P10/P50/P90 of ``column`` across replications, one row per date (columns 0.1/0.5/0.9).

    Replications may stop at different dates. ``fill`` says what such a replication counts as
    afterwards: "carry" its last value (levels such as cumulative_migrated), "zero" (flows per
    day) or "skip" it (states only observed while simulated: backlog, throttle).
    """
    wide = daily.pivot(index="date", columns="replication", values=column).sort_index()
    wide = wide.astype(float)
    if fill == "carry":
        wide = wide.ffill().fillna(0.0)
    elif fill == "zero":
        wide = wide.fillna(0.0)
    elif fill != "skip":
        raise ValueError(f"fill must be 'carry', 'zero' or 'skip' (got {fill!r})")
    return wide.quantile(list(QUANTILES), axis=1).T


def _paused_share(daily: pd.DataFrame) -> pd.Series:
    """Share of replications that paused on each date (replications without that date skipped)."""
    wide = daily.pivot(index="date", columns="replication", values="paused").sort_index()
    return wide.astype(float).mean(axis=1).fillna(0.0)


def _shade_pauses(ax: Axes, daily: pd.DataFrame) -> None:
    """Shade the days paused by the go/no-go gate and those paused by a risk, each labelled
    for what it is (a table without ``paused_by_risk`` cannot tell them apart)."""
    if "paused_by_risk" not in daily:
        _shade_paused(ax, _paused_share(daily), "paused (go/no-go or a risk)", "paused")
        return
    by_risk = daily["paused_by_risk"].astype(bool)
    gate = daily.assign(paused=daily["paused"].astype(bool) & ~by_risk)
    _shade_paused(ax, _paused_share(gate), "paused by go/no-go", "paused")
    risk = daily.assign(paused=by_risk)
    _shade_paused(ax, _paused_share(risk), "paused by risks", "paused_risk", COLOUR_RISK_PAUSE)


def _shade_paused(
    ax: Axes, share: pd.Series, label: str, gid: str, colour: str = COLOUR_PAUSED
) -> None:
    if not (share > 0).any():
        return
    x = _to_num(share.index)
    mostly_paused = share.to_numpy() >= 0.5
    # One band per run of consecutive paused days, half a day either side of each day, so a
    # single paused day is a visible band, not a hairline.
    days = np.flatnonzero(mostly_paused)
    if days.size:
        breaks = np.flatnonzero(np.diff(x[days]) > 1.5) + 1
        for number, run in enumerate(np.split(days, breaks)):
            ax.axvspan(
                x[run[0]] - 0.5,
                x[run[-1]] + 0.5,
                color=colour,
                alpha=0.25,
                linewidth=0,
                label=f"{label}\n(most replications)" if number == 0 else "_nolegend_",
                gid=gid,
                zorder=0,
            )
    # Scattered pauses in a minority of runs would grey out the whole chart; count them instead.
    some_days = int(((share > 0) & ~mostly_paused).sum())
    if some_days:
        days = "day" if some_days == 1 else "days"
        what = "paused" if label.startswith("paused (") else label
        _side_note(ax, f"{some_days:,} more {days} {what}\nin some replications")


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
    return float((_to_num(done) <= deadline_x).sum() / len(runs))


def _n_replications(daily: pd.DataFrame) -> int:
    return int(daily["replication"].nunique()) if not daily.empty else 0


def _replications(n_runs: int) -> str:
    return f"{n_runs:,} replication" + ("" if n_runs == 1 else "s")


def _to_num(dates: pd.Index | pd.Series) -> np.ndarray:
    """Matplotlib date numbers (float days) for naive datetimes of any resolution."""
    values = np.asarray(pd.DatetimeIndex(dates).as_unit("ns").to_numpy())
    if values.size == 0:
        return np.array([], dtype=float)
    return np.asarray(mdates.date2num(values), dtype=float)


def _date_num(value: DateLike | float | None) -> float | None:
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


def _iso(date_num: float) -> str:
    return mdates.num2date(date_num).date().isoformat()
