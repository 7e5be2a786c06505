"""Sensitivity charts: the tornado, and sorted bars of rank or Sobol indices.

The tornado reads top-down: the key that moves the P50 finish most is the top
bar; each key has a bar for its low value and one for its high value, drawn
from the base P50 to the shifted P50 (left: days earlier, right: days later).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.outputs.notebook import ResultFigure

LOW_COLOUR, HIGH_COLOUR = "#4c72b0", "#dd8452"
MAX_BARS = 25  # a readable chart; the table keeps every key
BAR_HEIGHT, BAR_OFFSET = 0.36, 0.19  # a key's low and high bars side by side, not stacked


def sensitivity_figure(sens, **kwargs) -> Figure:
    """The chart for a :class:`sim.experiments.sensitivity.Sensitivity` result."""
    if sens.method == "tornado":
        title = f"What moves the P50 finish: {sens.scenario}"
        if sens.base.get("completion_p50"):
            title += f"\n(base P50 {sens.base['completion_p50']}, {sens.replications} replications)"
        return tornado_figure(sens.table, title=title, **kwargs)
    if sens.method == "rank":
        return bars_figure(
            sens.table,
            ["rho"],
            title=f"Rank correlation with completion: {sens.scenario}",
            **kwargs,
        )
    return bars_figure(
        sens.table,
        ["S1", "ST"],
        errors=["S1_conf", "ST_conf"],
        title=f"Sobol indices of P50 completion: {sens.scenario}",
        **kwargs,
    )


def tornado_figure(table: pd.DataFrame, title: str = "", max_bars: int = MAX_BARS) -> Figure:
    """Sorted horizontal bars: days earlier (-) or later (+) than the base P50, at low and high."""
    rows = table.head(max_bars).iloc[::-1]  # largest swing at the top
    height = 0.8 + 0.42 * max(len(rows), 1)
    figure = ResultFigure(figsize=(9, height), layout="constrained")  # a PNG in Jupyter
    ax = figure.subplots()
    y = np.arange(len(rows))
    # Low above, high below: when both move the finish the same way (a key whose effect is
    # not monotone, or noise), one bar must not hide the other.
    ax.barh(
        y + BAR_OFFSET, rows["days_low"], height=BAR_HEIGHT, color=LOW_COLOUR,
        label="key at its low value", gid="low",
    )  # fmt: skip
    ax.barh(
        y - BAR_OFFSET, rows["days_high"], height=BAR_HEIGHT, color=HIGH_COLOUR,
        label="key at its high value", gid="high",
    )  # fmt: skip
    ax.set_yticks(y, [_label(r) for _, r in rows.iterrows()], fontsize=9)
    for position, (_, row) in zip(y, rows.iterrows(), strict=True):
        if row["days_low"] == 0 and row["days_high"] == 0:
            ax.annotate(
                "no change", (0, position), xytext=(4, 0), textcoords="offset points",
                va="center", fontsize=8, color="grey",
            )  # fmt: skip
        for days, offset in ((row["days_low"], BAR_OFFSET), (row["days_high"], -BAR_OFFSET)):
            if days == 0:
                continue
            ax.annotate(
                f"{days:+g} d",
                (days, position + offset),
                xytext=(4 if days > 0 else -4, 0),
                textcoords="offset points",
                ha="left" if days > 0 else "right",
                va="center",
                fontsize=8,
            )
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("days earlier (-) / later (+) than the base P50 completion")
    span = float(np.nanmax(np.abs(np.r_[rows["days_low"], rows["days_high"], 1.0])))
    ax.set_xlim(-span * 1.3, span * 1.3)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    if title:
        ax.set_title(title, fontsize=11)
    return figure


def bars_figure(
    table: pd.DataFrame,
    columns: list[str],
    errors: list[str] | None = None,
    title: str = "",
    max_bars: int = MAX_BARS,
) -> Figure:
    """Horizontal bars of one or more index columns per key, the largest at the top."""
    rows = table.head(max_bars).iloc[::-1]
    height = 0.8 + 0.42 * max(len(rows), 1)
    figure = ResultFigure(figsize=(9, height), layout="constrained")  # a PNG in Jupyter
    ax = figure.subplots()
    y = np.arange(len(rows))
    width = 0.8 / len(columns)
    for j, column in enumerate(columns):
        err = rows[errors[j]] if errors else None
        ax.barh(
            y + (j - (len(columns) - 1) / 2) * width,
            rows[column],
            height=width,
            xerr=err,
            label=column,
        )
    ax.set_yticks(y, rows["key"], fontsize=9)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    if title:
        ax.set_title(title, fontsize=11)
    return figure


def _label(row) -> str:
    return f"{row['key']}  ({_short(row['low'])} / {_short(row['high'])})"


def _short(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.3g}"
