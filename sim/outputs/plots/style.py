"""The charts' look: sizes, colours, quantiles, number formats and legend entries.

One place for what every chart shares, so a plan drawn on the progress fan and on
the desk chart has the same blue, and a share reads "62%" everywhere::

    ax.bar(x, moved, color=COLOUR_OK, label=legend_entry("plan B", "initial sync moved"))
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from matplotlib import ticker

from sim.experiments.metrics import QUANTILES as SUMMARY_QUANTILES
from sim.outputs.headline import percent

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


def format_share(share: float) -> str:
    """Format a share (0-1) as a percentage: "62%", with one decimal only near 0% and 100%.

    A tiny miss is never shown as "100%", nor a rare success as "0%".
    """
    return percent(share)


def thousands() -> ticker.Formatter:
    return ticker.StrMethodFormatter("{x:,.0f}")


def legend_entry(label: str | None, text: str) -> str:
    """A legend entry, prefixed with the plan's name when charts of several plans share axes."""
    return text if label is None else f"{label}: {text}"


__all__ = [
    "BAND_ALPHA",
    "CALENDAR_GIDS",
    "COLOUR_BLACKOUT",
    "COLOUR_DEADLINE",
    "COLOUR_DEFERRED",
    "COLOUR_FAILED",
    "COLOUR_HOLIDAY",
    "COLOUR_MAIN",
    "COLOUR_OK",
    "COLOUR_PAUSED",
    "COLOUR_PHASE",
    "COLOUR_RISK_PAUSE",
    "COLOUR_SLIPPED",
    "FIGSIZE_INCHES",
    "GB_PER_TB",
    "QUANTILES",
    "TB_AXIS_FROM_GB",
    "THIN_BAND_SHARE",
    "THRESHOLD_SHOWN_UP_TO",
    "DateLike",
    "format_share",
    "legend_entry",
    "thousands",
]
