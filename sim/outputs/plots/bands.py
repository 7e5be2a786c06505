"""Across replications: per-date P10/P50/P90, the fan that draws them, and paused days.

Replications may stop at different dates; each column says what a stopped one counts
as (its last value, zero, or nothing)::

    fan = per_date_quantiles(res.daily, "ticket_backlog", fill="skip")
    draw_fan(ax, date_nums(fan.index), fan, n_replications(res.daily), "open", COLOUR_MAIN)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from sim.outputs.plots.calendar_marks import date_nums
from sim.outputs.plots.frame import new_axes, side_note
from sim.outputs.plots.style import (
    BAND_ALPHA,
    COLOUR_PAUSED,
    COLOUR_RISK_PAUSE,
    QUANTILES,
    THIN_BAND_SHARE,
    thousands,
)


def per_date_quantiles(daily: pd.DataFrame, column: str, fill: str) -> pd.DataFrame:
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


def draw_fan(
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
            side_note(
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


def paused_share(daily: pd.DataFrame) -> pd.Series:
    """Share of replications that paused on each date (replications without that date skipped)."""
    wide = daily.pivot(index="date", columns="replication", values="paused").sort_index()
    return wide.astype(float).mean(axis=1).fillna(0.0)


def shade_pauses(ax: Axes, daily: pd.DataFrame) -> None:
    """Shade the days paused by the go/no-go gate and those paused by a risk, each labelled
    for what it is (a table without ``paused_by_risk`` cannot tell them apart)."""
    if "paused_by_risk" not in daily:
        _shade_paused(ax, paused_share(daily), "paused (go/no-go or a risk)", "paused")
        return
    by_risk = daily["paused_by_risk"].astype(bool)
    gate = daily.assign(paused=daily["paused"].astype(bool) & ~by_risk)
    _shade_paused(ax, paused_share(gate), "paused by go/no-go", "paused")
    risk = daily.assign(paused=by_risk)
    _shade_paused(ax, paused_share(risk), "paused by risks", "paused_risk", COLOUR_RISK_PAUSE)


def _shade_paused(
    ax: Axes, share: pd.Series, label: str, gid: str, colour: str = COLOUR_PAUSED
) -> None:
    if not (share > 0).any():
        return
    x = date_nums(share.index)
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
        side_note(ax, f"{some_days:,} more {days} {what}\nin some replications")


def n_replications(daily: pd.DataFrame) -> int:
    return int(daily["replication"].nunique()) if not daily.empty else 0


def replications_label(n_runs: int) -> str:
    return f"{n_runs:,} replication" + ("" if n_runs == 1 else "s")


def daily_axes(
    ax: Axes | None, daily: pd.DataFrame, title: str, ylabel: str | None = None
) -> tuple[Axes, int]:
    """A daily chart's axes (a new figure's, or the caller's) and how many replications
    ``daily`` holds: ``title`` names them where it has ``{}``, dates run along, ``ylabel``
    (when given) labels a thousands-separated axis, and a grid marks its values."""
    ax = new_axes(ax)
    n_runs = n_replications(daily)
    ax.set_title(title.format(replications_label(n_runs)))
    ax.set_xlabel("date")
    if ylabel is not None:
        ax.set_ylabel(ylabel)
        ax.yaxis.set_major_formatter(thousands())
    ax.grid(axis="y", alpha=0.3)
    return ax, n_runs


__all__ = [
    "daily_axes",
    "draw_fan",
    "n_replications",
    "paused_share",
    "per_date_quantiles",
    "replications_label",
    "shade_pauses",
]
