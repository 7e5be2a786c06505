"""Sensitivity charts: the tornado, sorted bars of rank or Sobol indices, and risk costs.

The tornado reads top-down: the key that moves the outcome most is the top
bar; each key has a bar for its low value and one for its high value, drawn
from the base (the P50 or P90 the title states, or P(meet)) to the shifted
value (left: earlier, right: later). A chart that shows fewer keys than the
table says how many it left out, and which keys were left out for being 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.outputs.notebook import ResultFigure

LOW_COLOUR, HIGH_COLOUR = "#4c72b0", "#dd8452"
RISK_COLOUR, INPUT_COLOUR = "#c1121f", "#4c72b0"
MAX_BARS = 25  # a readable chart; the table keeps every key
BAR_HEIGHT, BAR_OFFSET = 0.36, 0.19  # a key's low and high bars side by side, not stacked
SIGNIFICANT = 0.05  # rank: a p-value below this is marked


def sensitivity_figure(sens, ax: Axes | None = None, max_bars: int = MAX_BARS) -> Figure:
    """The chart for a :class:`sim.experiments.sensitivity.Sensitivity` result."""
    outcome = getattr(sens, "outcome", "p50")
    if sens.method == "tornado":
        return tornado_figure(
            sens.table,
            title=_tornado_title(sens, outcome),
            max_bars=max_bars,
            outcome=outcome,
            left_out=sens.base.get("left_out", []),
            ax=ax,
        )
    if sens.method == "risks":
        return risks_figure(sens.table, outcome, title=_risks_title(sens), ax=ax)
    if sens.method == "rank":
        against = "meeting the deadline" if outcome == "p_meet" else "completion days"
        return bars_figure(
            sens.table,
            ["rho"],
            title=f"Rank correlation with {against}: {sens.scenario}",
            max_bars=max_bars,
            p_values=True,
            ax=ax,
        )
    xlabel = "share of the outcome's variance"
    if sens.warnings:
        xlabel += f" ({len(sens.warnings)} warning(s): see .warnings)"
    return bars_figure(
        sens.table,
        ["S1", "ST"],
        errors=["S1_conf", "ST_conf"],
        title=f"Sobol indices of {_outcome_label(outcome)}: {sens.scenario}",
        max_bars=max_bars,
        xlabel=xlabel,
        ax=ax,
    )


def _outcome_label(outcome: str) -> str:
    return {"p50": "P50 completion", "p90": "P90 completion", "p_meet": "P(meet deadline)"}[outcome]


def _tornado_title(sens, outcome: str) -> str:
    title = f"What moves {_outcome_label(outcome)}: {sens.scenario}"
    base = sens.base
    if outcome == "p_meet" and base.get("p_meet_deadline") is not None:
        title += f"\n(base P(meet) {base['p_meet_deadline']:.0%}"
    elif base.get(f"completion_{'p90' if outcome == 'p90' else 'p50'}"):
        quantile = "p90" if outcome == "p90" else "p50"
        title += f"\n(base {quantile.upper()} {base[f'completion_{quantile}']}"
    else:
        return title
    return title + f", {sens.replications} replications)"


def _risks_title(sens) -> str:
    base = sens.base
    title = f"What each risk costs: {sens.scenario}"
    if base.get("completion_p50"):
        title += f"\n(all risks on: P50 {base['completion_p50']}, P90 {base['completion_p90']}"
        if base.get("p_meet_deadline") is not None:
            title += f", P(meet) {base['p_meet_deadline']:.0%}"
        title += f";\n{sens.replications} replications, the same dice with each risk off)"
    return title


def _axes(ax: Axes | None, rows: int) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    height = 1.2 + 0.5 * max(rows, 1)
    figure = ResultFigure(figsize=(9, height), layout="constrained")  # a PNG in Jupyter
    return figure, figure.subplots()


def tornado_figure(
    table: pd.DataFrame,
    title: str = "",
    max_bars: int = MAX_BARS,
    outcome: str = "p50",
    left_out: list[str] | tuple[str, ...] = (),
    ax: Axes | None = None,
) -> Figure:
    """Sorted horizontal bars: the outcome's change from the base at each key's low and high.

    Days earlier (-) or later (+) for ``p50``/``p90``; percentage points of
    P(meet) for ``p_meet``.
    """
    rows = table.head(max_bars).iloc[::-1]  # largest swing at the top
    figure, ax = _axes(ax, len(rows))
    if outcome == "p_meet":
        low, high = (100 * rows[f"p_meet_change_{s}"].astype(float) for s in ("low", "high"))
        unit, xlabel = "pts", "P(meet) change from the base, percentage points"
    else:
        low, high = rows["days_low"].astype(float), rows["days_high"].astype(float)
        unit = "d"
        xlabel = f"days earlier (-) / later (+) than the base {outcome.upper()} completion"
    y = np.arange(len(rows))
    # Low above, high below: when both move the finish the same way (a key whose effect is
    # not monotone, or noise), one bar must not hide the other.
    ax.barh(
        y + BAR_OFFSET, low, height=BAR_HEIGHT, color=LOW_COLOUR,
        label="key at its low value", gid="low",
    )  # fmt: skip
    ax.barh(
        y - BAR_OFFSET, high, height=BAR_HEIGHT, color=HIGH_COLOUR,
        label="key at its high value", gid="high",
    )  # fmt: skip
    ax.set_yticks(y, [_label(r) for _, r in rows.iterrows()], fontsize=9)
    for position, low_value, high_value in zip(y, low, high, strict=True):
        if low_value == 0 and high_value == 0:
            ax.annotate(
                "no change", (0, position), xytext=(4, 0), textcoords="offset points",
                va="center", fontsize=8, color="grey",
            )  # fmt: skip
        for value, offset in ((low_value, BAR_OFFSET), (high_value, -BAR_OFFSET)):
            if value == 0 or not np.isfinite(value):
                continue
            ax.annotate(
                f"{value:+.3g} {unit}",
                (value, position + offset),
                xytext=(4 if value > 0 else -4, 0),
                textcoords="offset points",
                ha="left" if value > 0 else "right",
                va="center",
                fontsize=8,
            )
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(xlabel)
    span = float(np.nanmax(np.abs(np.r_[low, high, 1.0])))
    ax.set_xlim(-span * 1.3, span * 1.3)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    if title:
        ax.set_title(title, fontsize=11)
    if "from_median" in rows and rows["from_median"].any():
        ax.set_xlabel(
            f"{xlabel}\n* an uncertain key: its bars start from the plan with it at its median"
        )
    _note_left_out(ax, len(table) - len(rows), left_out)
    return figure


def _note_left_out(ax: Axes, hidden: int, zero: list[str] | tuple[str, ...] = ()) -> None:
    """Say under the chart what it does not show: the smallest effects, and keys at 0."""
    parts = []
    if hidden > 0:
        parts.append(
            f"{hidden} more key{'s' if hidden > 1 else ''} with smaller effects not shown "
            "(see the table)"
        )
    if zero:
        parts.append(
            f"{len(zero)} key{'s' if len(zero) > 1 else ''} fixed at 0 left out "
            "(-/+ a share of 0 moves nothing)"
        )
    if parts:  # under the axis label, where it cannot cover a bar
        label = ax.get_xlabel()
        ax.set_xlabel(f"{label}\n" + "; ".join(parts) if label else "; ".join(parts))


def risks_figure(
    table: pd.DataFrame, outcome: str = "p50", title: str = "", ax: Axes | None = None
) -> Figure:
    """What each risk costs: days later at P50, at P90 and on average (paired), side by
    side; or, for ``outcome="p_meet"``, the points of P(meet) it takes away."""
    rows = table.iloc[::-1]
    figure, ax = _axes(ax, len(rows))
    y = np.arange(len(rows))
    if outcome == "p_meet":
        bars = {"P(meet) lost": (100 * rows["p_meet_cost"].astype(float), RISK_COLOUR)}
        unit, xlabel = "pts", "P(meet) lost with the risk on, percentage points"
    else:
        bars = {
            "P50": (rows["p50_days_cost"].astype(float), "#4c72b0"),
            "P90": (rows["p90_days_cost"].astype(float), RISK_COLOUR),
            "mean of the paired differences": (rows["mean_days_cost"].astype(float), "#999999"),
        }
        unit, xlabel = "d", "days later with the risk on than off (same dice)"
    height = 0.8 / len(bars)
    for k, (label, (cost, colour)) in enumerate(bars.items()):
        at = y + ((len(bars) - 1) / 2 - k) * height  # first listed on top
        ax.barh(at, cost, height=height, color=colour, label=label, gid=label)
        for position, value in zip(at, cost, strict=True):
            if np.isfinite(value) and value != 0:
                ax.annotate(
                    f"{value:+.3g} {unit}", (value, position), xytext=(4 if value > 0 else -4, 0),
                    textcoords="offset points", ha="left" if value > 0 else "right",
                    va="center", fontsize=7,
                )  # fmt: skip
    labels = [f"{r['risk']}\n(struck in {r['struck_share']:.0%})" for _, r in rows.iterrows()]
    ax.set_yticks(y, labels, fontsize=9)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(xlabel)
    every = np.concatenate([np.asarray(cost, dtype=float) for cost, _ in bars.values()])
    span = float(np.nanmax(np.abs(np.r_[every, 1.0])))
    ax.set_xlim(min(0.0, float(np.nanmin(np.r_[every, 0.0]))) * 1.3 - 0.05 * span, span * 1.3)
    ax.grid(axis="x", alpha=0.3)
    if len(bars) > 1:
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
    p_values: bool = False,
    xlabel: str = "",
    ax: Axes | None = None,
) -> Figure:
    """Horizontal bars of one or more index columns per key, the largest at the top.

    With ``p_values`` (rank), each bar is annotated with its p-value and risks
    are drawn in their own colour.
    """
    rows = table.head(max_bars).iloc[::-1]
    figure, ax = _axes(ax, len(rows))
    y = np.arange(len(rows))
    width = 0.8 / len(columns)
    for j, column in enumerate(columns):
        err = rows[errors[j]] if errors else None
        colour = None
        if p_values and "kind" in rows:
            colour = [RISK_COLOUR if k == "risk" else INPUT_COLOUR for k in rows["kind"]]
        ax.barh(
            y + (j - (len(columns) - 1) / 2) * width,
            rows[column],
            height=width,
            xerr=err,
            label=column,
            color=colour,
        )
    if p_values:
        for position, (_, row) in zip(y, rows.iterrows(), strict=True):
            if not np.isfinite(row["rho"]):
                continue
            mark = "" if row["p_value"] >= SIGNIFICANT else " *"
            ax.annotate(
                f"p = {row['p_value']:.2g}{mark}", (row["rho"], position),
                xytext=(4 if row["rho"] >= 0 else -4, 0), textcoords="offset points",
                ha="left" if row["rho"] >= 0 else "right", va="center", fontsize=8,
            )  # fmt: skip
        ax.set_xlim(-1.35, 1.35)
        ax.set_xlabel(
            f"Spearman rho (* p < {SIGNIFICANT:g}); red: a risk's count of strikes", fontsize=9
        )
    if xlabel:
        ax.set_xlabel(xlabel)
    ax.set_yticks(y, rows["key"], fontsize=9)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.grid(axis="x", alpha=0.3)
    if not p_values:
        ax.legend(loc="lower right", fontsize=8)
    if title:
        ax.set_title(title, fontsize=11)
    _note_left_out(ax, len(table) - len(rows))
    return figure


def _label(row) -> str:
    star = "*" if row.get("from_median", False) else ""
    return f"{row['key']}{star}  ({_short(row['low'])} / {_short(row['high'])})"


def _short(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.3g}"
