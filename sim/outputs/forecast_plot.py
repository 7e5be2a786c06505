"""The re-forecast picture: what happened, where it is heading, and what the plan said.

One chart of cumulative mailboxes migrated against the date:

* the original plan's fan (P10-P90 band and median) in grey, behind everything;
* the actuals up to the as-of day as a black line;
* the forecast fan from the as-of day on (P10-P90 band and median), joined to the
  last actual point;
* freezes hatched, bank holidays shaded and phase starts marked (as on the other
  dated charts), the population as a horizontal line, the as-of day dotted, the
  deadline in red, and
  the forecast's P50 completion against the plan's in the title.

``forecast_figure(result, plan_result)`` returns a matplotlib Figure and never touches
pyplot's global state (safe in workers, CI and notebooks)::

    fig = forecast_figure(sim.forecast(sc, actuals, plan=True))
    fig.savefig("forecast.png", dpi=120)
"""

from __future__ import annotations

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.experiments.results import Result
from sim.outputs.plots.calendar_marks import dates_with_years, mark_timeline
from sim.outputs.timeline import timeline_of

FIGSIZE_INCHES = (10.0, 4.8)
COLOUR_PLAN = "#8d99ae"
COLOUR_FORECAST = "#1d4e89"
COLOUR_ACTUAL = "#111111"
COLOUR_DEADLINE = "#c1121f"
COLOUR_AS_OF = "#6c757d"


def forecast_figure(
    result: Result,
    plan_result: Result | None = None,
    *,
    ax: Axes | None = None,
    figure_class: type[Figure] = Figure,
    label: str | None = None,
    color: str | None = None,
) -> Figure:
    """Actuals against the forecast fan, with the plan's fan behind and the deadline marked.

    ``result`` is what :func:`sim.forecast` returned; ``plan_result`` defaults to the plan
    run it carries (``forecast(..., plan=True)``), and without one no plan fan is drawn.
    ``ax`` draws into an existing figure (then that figure is returned); otherwise a new
    ``figure_class`` is made (``res.plot.forecast()`` passes one Jupyter shows as a PNG).
    ``label`` and ``color`` name and colour the forecast's fan (to overlay forecasts).
    """
    plan_result = plan_result if plan_result is not None else getattr(result, "plan", None)
    actuals = getattr(result, "observed_actuals", None)
    if actuals is None:
        raise ValueError("forecast_figure needs the result of sim.forecast (it has no actuals)")
    summary = result.summary
    population = result.scenario.population.mailboxes if result.scenario is not None else None

    if ax is None:
        ax = figure_class(figsize=FIGSIZE_INCHES, layout="constrained").add_subplot()
    fig = ax.figure
    observed = actuals.cumulative()
    if plan_result is not None and not plan_result.daily.empty:
        _fan(ax, _per_date_quantiles(plan_result.daily), COLOUR_PLAN, "plan", alpha=0.25)
    if not result.daily.empty:
        last = observed.iloc[-1]
        joined = pd.concat(
            [
                pd.DataFrame(
                    {q: [last["cumulative_migrated"]] for q in (0.1, 0.5, 0.9)},
                    index=pd.DatetimeIndex([last["date"]]),
                ),
                _per_date_quantiles(result.daily),
            ]
        )
        _fan(ax, joined, color or COLOUR_FORECAST, label or "forecast", alpha=0.3)
    ax.plot(
        observed["date"],
        observed["cumulative_migrated"],
        color=COLOUR_ACTUAL,
        linewidth=2.2,
        label=f"actuals to {actuals.as_of}",
        gid="actuals",
        zorder=4,
    )
    ax.axvline(
        mdates.date2num(pd.Timestamp(actuals.as_of)),
        color=COLOUR_AS_OF,
        linestyle=":",
        linewidth=1.2,
        label=f"as of {actuals.as_of}",
        gid="as_of",
    )
    if population:
        ax.axhline(population, color="black", linewidth=0.6, alpha=0.5, gid="population")
    deadline = summary.get("deadline")
    if deadline:
        ax.axvline(
            mdates.date2num(pd.Timestamp(deadline)),
            color=COLOUR_DEADLINE,
            linewidth=1.8,
            label=f"deadline {deadline}",
            gid="deadline",
        )
    ax.set_title(_title(summary, plan_result))
    ax.set_xlabel("date")
    ax.set_ylabel("mailboxes migrated (cumulative)")
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(_count_label))
    ax.set_ylim(0, (population or ax.get_ylim()[1]) * 1.05)
    ax.set_xlim(left=mdates.date2num(pd.Timestamp(actuals.start) - pd.Timedelta(days=3)))
    if result.scenario is not None:
        # Freezes, bank holidays and phase starts as on every other dated chart.
        mark_timeline(ax, timeline_of(result.scenario), *ax.get_xlim())
    locator = mdates.AutoDateLocator(minticks=3, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(dates_with_years(locator))  # "Oct\n2020": the year shows
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower right", fontsize="small", framealpha=0.9)
    return fig


def _title(summary: dict, plan_result: Result | None) -> str:
    p50 = summary["completion"]["p50"] or "not within the horizon"
    title = f"Re-forecast as of {summary.get('as_of')}: P50 completion {p50}"
    if plan_result is not None:
        title += f" (plan: {plan_result.summary['completion']['p50'] or 'not within the horizon'})"
    p_meet = summary.get("p_meet_deadline")
    if p_meet is not None:
        title += f"; P(meet deadline) {p_meet:.0%}"
    return title


def _per_date_quantiles(daily: pd.DataFrame) -> pd.DataFrame:
    """P10/P50/P90 of cumulative migrated per date; a finished replication keeps its level."""
    wide = daily.pivot(index="date", columns="replication", values="cumulative_migrated")
    wide = wide.sort_index().astype(float).ffill().fillna(0.0)
    return wide.quantile([0.1, 0.5, 0.9], axis=1).T


def _fan(ax: Axes, fan: pd.DataFrame, colour: str, what: str, alpha: float) -> None:
    x = fan.index
    if len(fan.columns) and not np.allclose(fan[0.1], fan[0.9]):
        ax.fill_between(
            x,
            fan[0.1],
            fan[0.9],
            color=colour,
            alpha=alpha,
            linewidth=0,
            label=f"{what}, P10-P90",
            gid=f"{what}_band",
        )
    ax.plot(
        x,
        fan[0.5],
        color=colour,
        linewidth=1.8,
        linestyle="--" if what == "plan" else "-",
        label=f"{what}, P50",
        gid=f"{what}_p50",
    )


def _count_label(value: float, _position: int) -> str:
    if abs(value) >= 1e6:
        return f"{value / 1e6:g}M"
    if abs(value) >= 1e3:
        return f"{value / 1e3:.0f}k"
    return f"{value:.0f}"
