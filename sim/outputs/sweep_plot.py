"""A sweep's charts: a metric's P50 and P10-P90 against a varied key, and P(meet) as a heatmap.

A planner who swept the pace against the throttle asks two things: how the
finish date moves with the pace at each throttle, and where on the grid the
deadline is safe::

    sw = sim.sweep(sc, {"throttle.scale": [0.25, 0.5, 1.0], "batches.weekday": [200, 400, 800]})
    sw.plot(x="batches.weekday", hue="throttle.scale")   # one line per throttle, bars P10-P90
    sw.plot()                                            # two keys: the P(meet) heatmap

Every number comes from the sweep table (the summary's quantiles, read from
the metrics record); nothing is recomputed here. Series at the same ``x`` are
set a little apart so their bars do not hide each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.experiments.metrics import METRICS, Metric
from sim.outputs.notebook import ResultFigure

KINDS = ("line", "heatmap")
DEADLINE_COLOUR = "#c1121f"
DODGE = 0.3  # the series at one x spread over this share of the gap to the next x
FIGSIZE_INCHES = (8.5, 4.8)
MAX_TICKS = 12  # up to this many x values are each a tick


def sweep_figure(
    result: Any,
    x: str | None = None,
    hue: str | None = None,
    *,
    y: str | None = None,
    kind: str | None = None,
    metric: str = "completion_date",
    where: Mapping[str, Any] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """The chart of a :class:`~sim.experiments.sweep.SweepResult` (see ``SweepResult.plot``).

    ``where`` fixes varied keys at one of their values (``{"support.agents": 3}``),
    so a sweep over three keys or more draws the slice through the other two.
    Raises ``ValueError`` naming the argument for a key the sweep did not vary,
    a sweep over more keys than the chart can show, an unknown metric or kind,
    or a heatmap of a plan without a deadline.
    """
    deadline = result.plan.base.scenario.deadline
    table = result.table
    for key, value in (where or {}).items():
        if key not in result.plan.keys:
            raise ValueError(f"where: {key!r} is not a key this sweep varied")
        if not (table[key] == value).any():
            values = ", ".join(_tick(v) for v in sorted(table[key].unique()))
            raise ValueError(f"where: {key}: {value!r} is not one of its values ({values})")
        table = table[table[key] == value]
    keys = [key for key in result.plan.keys if key not in (where or {})]
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)} (got {kind!r})")
    for name, key in (("x", x), ("hue", hue), ("y", y)):
        if key is not None and key not in keys:
            raise ValueError(f"{name}: {key!r} is not a key this sweep varied ({', '.join(keys)})")
    if kind is None:
        two_keys = len(keys) == 2 and hue is None and deadline is not None
        kind = "heatmap" if two_keys or y is not None else "line"
    x = x or keys[0]
    if kind == "heatmap":
        if deadline is None:
            raise ValueError("kind: a P(meet) heatmap needs a deadline; use kind='line'")
        y = y or hue or _the_other(keys, x, "y")
        return heatmap(table, x, y, deadline, method=result.plan.method, ax=ax)
    if y is not None:
        raise ValueError("y: only a heatmap has a y key; a line chart takes hue")
    hue = hue if hue is not None else _the_other(keys, x, "hue", optional=True)
    return lines(table, x, hue, _metric(metric), deadline, ax=ax)


def _the_other(keys: list[str], x: str, name: str, optional: bool = False) -> str | None:
    others = [key for key in keys if key != x]
    if not others and optional:
        return None
    if len(others) != 1:
        shown = ", ".join(others) or "none"
        raise ValueError(
            f"{name}: name one of the other varied keys ({shown}); a chart shows two at most: "
            "fix the rest with where={key: value}"
        )
    return others[0]


def _metric(name: str) -> Metric:
    for m in METRICS:
        if name in (m.name, m.key) and m.kind != "share":
            return m
    names = ", ".join(m.name for m in METRICS if m.kind != "share")
    raise ValueError(f"metric: {name!r} is not a per-replication metric with quantiles ({names})")


def _axes(ax: Axes | None) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    figure = ResultFigure(figsize=FIGSIZE_INCHES, layout="constrained")  # a PNG in Jupyter
    return figure, figure.subplots()


def lines(
    table: pd.DataFrame,
    x: str,
    hue: str | None,
    metric: Metric,
    deadline: Any = None,
    ax: Axes | None = None,
) -> Figure:
    """P50 of ``metric`` against ``x`` with P10-P90 bars: one series per value of ``hue``."""
    figure, ax = _axes(ax)
    quantiles = [q for q in ("p10", "p50", "p90") if q in metric.quantiles]
    if "p50" not in quantiles:
        raise ValueError(f"metric: {metric.name} has no P50 in the summary")
    numeric = pd.api.types.is_numeric_dtype(table[x])
    xs = sorted(table[x].unique())
    position = {value: (value if numeric else i) for i, value in enumerate(xs)}
    groups = list(table.groupby(hue, sort=True)) if hue is not None else [(None, table)]
    gap = float(np.min(np.diff([position[v] for v in xs]))) if len(xs) > 1 else 1.0
    offsets = (np.arange(len(groups)) - (len(groups) - 1) / 2) * (DODGE * gap / len(groups))
    colours = _colours(len(groups))
    dates = metric.kind == "date"
    for offset, colour, (value, rows) in zip(offsets, colours, groups, strict=True):
        rows = rows.sort_values(x)
        at = np.array([position[v] for v in rows[x]], dtype=float) + offset
        low, mid, high = (_values(rows, metric.column(q), dates) for q in ("p10", "p50", "p90"))
        ax.errorbar(
            at,
            mid,
            yerr=[mid - low, high - mid] if "p10" in quantiles and "p90" in quantiles else None,
            marker="o",
            capsize=3,
            color=colour,
            label=f"{hue} = {value:g}" if _is_number(value) else f"{hue} = {value}",
        )
    if dates and deadline is not None:
        ax.axhline(
            mdates.date2num(pd.Timestamp(deadline)), color=DEADLINE_COLOUR, linewidth=1.5,
            linestyle="--", label=f"deadline {deadline}", gid="deadline",
        )  # fmt: skip
    if dates:
        ax.yaxis.set_major_formatter(mdates.DateFormatter("%d %b %Y"))
    if not numeric:
        ax.set_xticks(range(len(xs)), [str(v) for v in xs])
    elif len(xs) <= MAX_TICKS:  # a grid's values, not matplotlib's round numbers
        ax.set_xticks([float(v) for v in xs], [_tick(v) for v in xs])
    ax.set_xlabel(x)
    unit = f" ({metric.unit})"
    ax.set_ylabel(metric.label if dates or unit in metric.label else metric.label + unit)
    ax.set_title(f"{metric.label[:1].upper()}{metric.label[1:]}: P50, bars P10-P90", fontsize=11)
    ax.grid(alpha=0.3)
    if hue is not None or deadline is not None:
        ax.legend(fontsize="small", loc="best")
    return figure


def _values(rows: pd.DataFrame, column: str, dates: bool) -> np.ndarray:
    if column not in rows:
        return np.full(len(rows), np.nan)
    if dates:  # NaT (not completed by then) -> NaN: a gap, not a point
        stamps = pd.to_datetime(rows[column])
        return np.where(stamps.notna(), mdates.date2num(stamps.fillna(pd.Timestamp(0))), np.nan)
    return rows[column].to_numpy(dtype=float)


def _colours(n: int) -> list:
    from matplotlib import colormaps

    return list(colormaps["viridis"](np.linspace(0.0, 0.85, max(n, 1))))[:n]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def heatmap(
    table: pd.DataFrame,
    x: str,
    y: str,
    deadline: Any,
    method: str = "grid",
    ax: Axes | None = None,
) -> Figure:
    """P(meet the deadline) over two varied keys: a grid's cells, or a Latin hypercube's points."""
    figure, ax = _axes(ax)
    column = "p_meet_deadline"
    title = f"P(meet the {pd.Timestamp(deadline):%d %b %Y} deadline)"
    if method != "grid":  # scattered points: one coloured dot each
        image = ax.scatter(
            table[x], table[y], c=table[column], cmap="RdYlGn", vmin=0, vmax=1, s=60,
            edgecolors="grey",
        )  # fmt: skip
    else:
        share = table.pivot_table(index=y, columns=x, values=column, aggfunc="first")
        image = ax.imshow(
            share.to_numpy(dtype=float), cmap="RdYlGn", vmin=0, vmax=1, aspect="auto",
            origin="lower",
        )  # fmt: skip
        for (row, col), value in np.ndenumerate(share.to_numpy(dtype=float)):
            if np.isfinite(value):
                ax.text(col, row, f"{value:.0%}", ha="center", va="center", fontsize=9)
        ax.set_xticks(range(len(share.columns)), [_tick(v) for v in share.columns])
        ax.set_yticks(range(len(share.index)), [_tick(v) for v in share.index])
    colourbar = figure.colorbar(image, ax=ax)
    colourbar.set_label("P(meet)")
    colourbar.ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set(xlabel=x, ylabel=y)
    ax.set_title(title, fontsize=11)
    return figure


def _tick(value: Any) -> str:
    return f"{value:g}" if _is_number(value) else str(value)
