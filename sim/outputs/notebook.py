"""What a :class:`~sim.experiments.results.Result` shows in Jupyter.

``res`` as the last line of a cell shows an HTML headline (:func:`headline_html`): the verdict
against the scenario's confidence, P10/P50/P90 completion against the deadline, P(meet) with
its Monte Carlo interval, and the service desk's load. ``res.plot.<name>()`` draws one chart
and returns its :class:`matplotlib.figure.Figure` (never through pyplot, so a figure is shown
once, as the cell's value)::

    res = sim.run(sc, replications=50, seed=1)
    res                      # the headline
    res.plot.progress()      # a Figure; also completion, cutovers, throttle, desk
    fc = sim.forecast(sc, actuals, plan=True)
    fc.plot.forecast()       # actuals against the forecast fan
"""

from __future__ import annotations

import datetime as dt
import html
import io
import sys
import time
from functools import cached_property
from typing import Any

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.outputs import plots
from sim.outputs.headline import Headline, headline, percent
from sim.outputs.timeline import Timeline, timeline_of

QUANTILE_KEYS = ("p10", "p50", "p90")
_VERDICT_COLOUR = {True: "#2a9d8f", False: "#c1121f", None: "#1d4e89"}


class ResultFigure(Figure):
    """A Figure that Jupyter shows as a PNG even when pyplot (and its inline backend) is
    never imported: ``res.plot.progress()`` as a cell's value draws the chart, once."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    return plots.new_figure(ResultFigure).add_subplot()


class PlotAccessor:
    """``res.plot``: one method per chart, each returning a Figure.

    Every method takes an optional ``ax`` to draw into an existing figure (then that
    figure is returned), ``timeline`` to replace the scenario's, and ``label`` and
    ``color`` to overlay results on one ``ax`` with one legend entry each::

        fig, axes = plt.subplots(1, 2, figsize=(14, 4))
        a.plot.completion(ax=axes[0], label="plan A", color="C0")
        b.plot.completion(ax=axes[0], label="plan B", color="C1")
        a.plot.desk(ax=axes[1])
    """

    NAMES = ("completion", "progress", "cutovers", "throttle", "desk")
    FORECAST_NAMES = ("forecast",)  # only for what sim.forecast returned (it has actuals)

    def __init__(self, result: Any) -> None:
        self._result = result

    @property
    def names(self) -> tuple[str, ...]:
        """The charts this result can draw: a forecast's adds ``forecast``."""
        if getattr(self._result, "actuals", None) is not None:
            return (*self.FORECAST_NAMES, *self.NAMES)
        return self.NAMES

    def __repr__(self) -> str:
        return f"<res.plot: {', '.join(f'{name}()' for name in self.names)}>"

    def __dir__(self) -> list[str]:
        return [*self.names, *super().__dir__()]

    def forecast(
        self,
        ax: Axes | None = None,
        *,
        plan_result: Any = None,
        label: str | None = None,
        color: str | None = None,
    ) -> Figure:
        """A re-forecast: the actuals against the forecast fan (and the plan's, when
        ``sim.forecast(..., plan=True)`` ran it), deadline and as-of day marked."""
        from sim.outputs.forecast_plot import forecast_figure

        if getattr(self._result, "actuals", None) is None:
            raise ValueError(
                "res.plot.forecast() needs the result of sim.forecast (this one has no actuals)"
            )
        return forecast_figure(
            self._result,
            plan_result,
            ax=ax,
            figure_class=ResultFigure,
            label=label,
            color=color,
        )

    @cached_property
    def _timeline(self) -> Timeline | None:
        sc = self._result.scenario
        return timeline_of(sc) if sc is not None else None

    def completion(
        self,
        ax: Axes | None = None,
        *,
        timeline: Timeline | None = None,
        label: str | None = None,
        color: str | None = None,
    ) -> Figure:
        """When do we finish: the share of replications completed by each date."""
        res = self._result
        return plots.completion_distribution(
            res.runs,
            ax=_axes(ax),
            marks=res.summary.get("completion") or None,
            timeline=timeline or self._timeline,
            label=label,
            color=color,
        ).figure

    def progress(
        self,
        ax: Axes | None = None,
        *,
        timeline: Timeline | None = None,
        label: str | None = None,
        color: str | None = None,
    ) -> Figure:
        """Share of mailboxes migrated over time: median and P10-P90."""
        res = self._result
        population = (
            res.scenario.population.mailboxes
            if res.scenario is not None
            else int(res.runs["migrated"].max() + res.runs["not_migrated"].max())
        )
        drawn = plots.progress_fan(
            res.daily,
            population,
            ax=_axes(ax),
            timeline=timeline or self._timeline,
            label=label,
            color=color,
        )
        actuals = getattr(res, "actuals", None)
        if isinstance(actuals, pd.DataFrame) and not actuals.empty:
            plots.actuals_line(drawn, actuals, population, as_of=getattr(res, "as_of", None))
        return drawn.figure

    def cutovers(
        self,
        ax: Axes | None = None,
        *,
        timeline: Timeline | None = None,
        label: str | None = None,
        color: str | None = None,
    ) -> Figure:
        """Mailboxes cut over, failed, deferred and slipped per day (medians)."""
        return plots.daily_cutovers(
            self._result.daily,
            ax=_axes(ax),
            timeline=timeline or self._timeline,
            label=label,
            color=color,
        ).figure

    def throttle(
        self,
        ax: Axes | None = None,
        *,
        timeline: Timeline | None = None,
        label: str | None = None,
        color: str | None = None,
    ) -> Figure:
        """Initial-sync data moved per day against the throttle's capacity (medians)."""
        return plots.throttle_utilisation(
            self._result.daily,
            ax=_axes(ax),
            timeline=timeline or self._timeline,
            label=label,
            color=color,
        ).figure

    def desk(
        self,
        ax: Axes | None = None,
        *,
        timeline: Timeline | None = None,
        label: str | None = None,
        color: str | None = None,
    ) -> Figure:
        """Open tickets (end of day, fan), daily flow, and the peak at any moment."""
        res = self._result
        sc = res.scenario
        return plots.support_backlog(
            res.daily,
            pause_backlog=sc.support.pause_backlog if sc is not None else None,
            ax=_axes(ax),
            peak_backlog=(res.summary.get("support") or {}).get("peak_backlog"),
            timeline=timeline or self._timeline,
            label=label,
            color=color,
        ).figure


class TextProgress:
    """A progress bar for Jupyter without widgets: one line on stderr, redrawn with ``\\r``,
    shown only once the work has taken ``after_seconds`` (short runs stay quiet)."""

    WIDTH = 30

    def __init__(self, total: int, label: str = "replications", after_seconds: float = 2.0):
        self.total, self.label, self.after = max(int(total), 1), label, after_seconds
        self.done = 0
        self.started = time.perf_counter()
        self.shown = False

    def __call__(self, n: int) -> None:
        self.done += n
        elapsed = time.perf_counter() - self.started
        if elapsed < self.after and self.done < self.total:
            return
        if elapsed < self.after and not self.shown:
            return  # finished before it was worth showing
        self.shown = True
        share = min(self.done / self.total, 1.0)
        filled = round(share * self.WIDTH)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        end = "\n" if self.done >= self.total else ""
        sys.stderr.write(
            f"\r{self.label} [{bar}] {self.done:,}/{self.total:,} {elapsed:,.0f} s{end}"
        )
        sys.stderr.flush()


def in_notebook() -> bool:
    """Whether this is a Jupyter kernel (where a terminal's progress bar would not show)."""
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    ip = shell.get_ipython()
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def result_headline(result: Any, confidence: float | None = None) -> Headline:
    """The :class:`Headline` of a result, at ``confidence`` (default: the scenario's)."""
    sc = result.scenario
    deadline = result.summary.get("deadline")
    if sc is not None:
        deadline = sc.scenario.deadline
        confidence = sc.scenario.confidence if confidence is None else confidence
    elif isinstance(deadline, str):
        deadline = dt.date.fromisoformat(deadline)
    return headline(result.summary, result.runs, deadline=deadline, confidence=confidence or 0.9)


def headline_html(result: Any, confidence: float | None = None) -> str:
    """An HTML block for Jupyter: verdict, completion against the deadline, P(meet), desk."""
    head = result_headline(result, confidence)
    summary = result.summary
    level = f"{head.confidence * 100:.4g}%"
    colour = _VERDICT_COLOUR[head.passed]
    title = html.escape(str(summary.get("scenario", "")))
    parts = [
        f"<div style='border-left:6px solid {colour};padding:0.4em 1em'>",
        f"<div><strong>{title}</strong>: {head.replications:,} replications"
        + (f", seed {summary['seed']}" if summary.get("seed") is not None else "")
        + "</div>",
    ]
    if summary.get("as_of"):
        parts.append(f"<div>{html.escape(_forecast_line(summary))}</div>")
    if head.deadline is not None:
        parts.append(
            f"<div style='font-size:1.2em;margin:0.3em 0'>"
            f"<span style='background:{colour};color:white;padding:0 0.3em;font-weight:bold'>"
            f"{head.verdict}</span> at {level} confidence against the deadline "
            f"{head.deadline}: done by {head.done_by or 'beyond the horizon'} "
            f"({html.escape(head.slack_text())})</div>"
        )
        low, high = head.p_meet_interval or (None, None)
        interval = f" (95% interval {percent(low)} to {percent(high)})" if low is not None else ""
        parts.append(
            f"<div>P(meet deadline) = <strong>{percent(head.p_meet)}</strong>{interval}: "
            f"{head.met:,} of {head.replications:,} replications</div>"
        )
    rows = []
    intervals = summary.get("completion_interval") or {}
    for key in QUANTILE_KEYS:
        date = head.completion.get(key)
        rows.append(
            f"<tr><td style='text-align:left'>{key.upper()}</td>"
            f"<td>{html.escape(date or 'not within the horizon')}</td>"
            f"<td>{html.escape(_against(date, head.deadline))}</td>"
            f"<td>{html.escape(interval_text(intervals.get(key)))}</td></tr>"
        )
    parts.append(
        "<table><thead><tr><th style='text-align:left'>completion</th><th>date</th>"
        "<th>against the deadline</th><th>95% interval of the date</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )
    support = summary.get("support") or {}
    desk = []
    for label, key, number_format in (
        ("tickets", "tickets", "{:,.0f}"),
        ("peak open at any moment", "peak_backlog", "{:,.0f}"),
        ("ticket wait, 90th pct", "wait_hours", "{:,.1f} h"),
    ):
        quantiles = support.get(key) or {}
        if quantiles.get("p50") is not None:
            text = number_format.format(quantiles["p50"])
            if quantiles.get("p90") is not None:
                text += f" (P90 {number_format.format(quantiles['p90'])})"
            desk.append(f"{label} {text}")
    if desk:
        parts.append("<div>Service desk, P50: " + html.escape("; ".join(desk)) + "</div>")
    parts.extend(
        f"<div style='color:#9a4b00'>Warning: {html.escape(text)}</div>" for text in head.warnings
    )
    parts.append("</div>")
    return "\n".join(parts)


def interval_text(interval: list[str | None] | None) -> str:
    """``2021-01-30 to 2021-02-03`` (a completion quantile's 95% interval), or why not."""
    if not interval:
        return "too few replications"
    low, high = interval
    return f"{low} to {high or 'beyond the horizon'}"


def _forecast_line(summary: dict[str, Any]) -> str:
    """A re-forecast says so: from which day's actuals, and the pace they showed."""
    line = f"Re-forecast from the actuals as of {summary['as_of']}"
    observed = summary.get("observed") or {}
    pace = (observed.get("pace") or {}).get("observed")
    if observed.get("migrated") is not None:
        line += f": {observed['migrated']:,} migrated"
        if pace is not None:
            line += f", {percent(pace)} of the plan's pace"
    return line


def _against(date: str | None, deadline: dt.date | None) -> str:
    if deadline is None:
        return "no deadline"
    if date is None:
        return "after the horizon"
    days = (deadline - dt.date.fromisoformat(date)).days
    if days == 0:
        return "on the deadline day"
    plural = "s" if abs(days) != 1 else ""
    return f"{days} day{plural} before" if days > 0 else f"{-days} day{plural} after"


# --- comparisons -------------------------------------------------------------------------------

PLAN_COLOURS = ("#1d4e89", "#e76f51", "#2a9d8f", "#8d5a97", "#e9c46a", "#6c757d")


def plan_colour(index: int) -> str:
    """The colour of the ``index``-th plan of a comparison (the base is 0)."""
    return PLAN_COLOURS[index % len(PLAN_COLOURS)]


class ComparisonPlots:
    """``cmp.plot``: every plan on one chart, one colour and one legend entry each."""

    NAMES = ("completion", "progress")

    def __init__(self, comparison: Any) -> None:
        self._cmp = comparison

    def __repr__(self) -> str:
        return f"<cmp.plot: {', '.join(f'{name}()' for name in self.NAMES)}>"

    def _overlay(self, chart: str, ax: Axes | None) -> Figure:
        ax = _axes(ax)
        for index, (name, res) in enumerate(self._cmp.results.items()):
            getattr(res.plot, chart)(ax=ax, label=name, color=plan_colour(index))
        return ax.figure

    def completion(self, ax: Axes | None = None) -> Figure:
        """The plans' completion S-curves overlaid, against the base's deadline."""
        return self._overlay("completion", ax)

    def progress(self, ax: Axes | None = None) -> Figure:
        """The plans' progress fans (P50 line, P10-P90 band) overlaid."""
        return self._overlay("progress", ax)

    def both(self) -> Figure:
        """S-curves above progress fans: the picture ``compare --out`` saves."""
        figure = ResultFigure(figsize=(10.0, 8.4))
        figure.subplots_adjust(left=0.085, right=0.97, bottom=0.08, top=0.95, hspace=0.4)
        top, bottom = figure.subplots(2, 1)
        self.completion(ax=top)
        self.progress(ax=bottom)
        return figure


def comparison_html(comparison: Any) -> str:
    """An HTML table for Jupyter: each alternative against the base, days earlier and P(meet)."""
    summary = comparison.summary
    base = html.escape(str(summary["base"]))
    head = (
        "<tr><th style='text-align:left'>plan</th><th>completion P50</th>"
        "<th>P90 (95% interval)</th><th>P(meet)</th><th>days earlier P10 / P50 / P90</th>"
        "<th>P(earlier)</th>"
        "<th>P(meet) difference (95% interval)</th></tr>"
    )
    rows = [
        f"<tr><td style='text-align:left'><strong>{base}</strong> (base)</td>"
        f"<td>{summary['completion']['p50'] or 'not reached'}</td>"
        f"<td>{_p90_cell(summary['completion'], summary.get('completion_interval'))}</td>"
        f"<td>{_share_or_dash(summary.get('p_meet_deadline'))}</td><td></td><td></td><td></td></tr>"
    ]
    for alt in summary["alternatives"]:
        earlier = " / ".join(
            "?" if alt["days_earlier"][q] is None else f"{alt['days_earlier'][q]:+d}"
            for q in QUANTILE_KEYS
        )
        difference = "-"
        if alt["p_meet_difference"] is not None:
            low, high = alt["p_meet_difference_interval"]
            difference = (
                f"{alt['p_meet_difference'] * 100:+.1f} points "
                f"({low * 100:+.1f} to {high * 100:+.1f})"
            )
        rows.append(
            f"<tr><td style='text-align:left'>{html.escape(alt['name'])}</td>"
            f"<td>{alt['completion']['p50'] or 'not reached'}</td>"
            f"<td>{_p90_cell(alt['completion'], alt.get('completion_interval'))}</td>"
            f"<td>{_share_or_dash(alt['p_meet_deadline'])}</td><td>{earlier}</td>"
            f"<td>{percent(alt['p_earlier'])}</td><td>{difference}</td></tr>"
        )
    return (
        f"<div><strong>Compared with {base}</strong>: {summary['replications']:,} replications "
        f"each on the same seeds (seed {summary['seed']}); days earlier = base minus plan."
        f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _p90_cell(completion: dict, intervals: dict | None) -> str:
    date = completion.get("p90")
    if date is None:
        return "not reached"
    interval = (intervals or {}).get("p90")
    return html.escape(f"{date} ({interval_text(interval)})")


def _share_or_dash(share: float | None) -> str:
    return "-" if share is None else percent(share)
