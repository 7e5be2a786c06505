"""One self-contained HTML report of a Monte Carlo run, for planners and their managers.

``report.html`` answers the planner's three questions up front (when do we finish, how sure
are we, what does the service desk see), then gives the key metrics and the five charts of
:mod:`sim.outputs.plots`. It needs nothing else to open: the charts are base64 PNGs, the CSS inline,
no scripts and no external URLs, so it can be mailed or attached to a change ticket::

    path = write_report("out/", summary=res.summary, runs=res.runs, daily=res.daily,
                        name="NHSmail", start=date(2020, 8, 3), deadline=date(2021, 3, 31),
                        population=2_100_000, pause_backlog=5_000, scenario_text=toml_text)

The file is written to a temporary file beside it and moved into place, so an interrupted
or failing run leaves either the previous report or the new one, never half of one.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import html
import io
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

import pandas as pd
from matplotlib.axes import Axes

from . import plots

REPORT_NAME = "report.html"
IMAGE_DPI = 110
MISSING = "—"

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1b1b;
       max-width: 1100px; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } .sub { color: #555; margin-top: 0; }
.verdict { border-left: 6px solid #1d4e89; background: #f2f5fa; padding: 0.8rem 1.2rem; }
.verdict.good { border-color: #2a9d8f; } .verdict.bad { border-color: #c1121f; }
.verdict .big { font-size: 1.35rem; margin: 0.2rem 0; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { padding: 0.3rem 0.8rem; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { border-bottom: 2px solid #999; }
figure { margin: 1.5rem 0; } figure img { max-width: 100%; height: auto; }
figcaption { color: #444; font-size: 0.92rem; }
pre { background: #f6f6f6; padding: 1rem; overflow-x: auto; font-size: 0.85rem; }
"""

# (label, path into the summary, unit, number format, shown even when missing) for the table.
METRIC_ROWS: tuple[tuple[str, tuple[str, ...], str, str, bool], ...] = (
    ("Days to complete", ("days_to_complete",), "days", "{:,.0f}", False),
    ("Mailboxes migrated", ("migrated",), "mailboxes", "{:,.0f}", True),
    ("Need manual remediation", ("needs_remediation",), "mailboxes", "{:,.0f}", True),
    ("Not migrated within the horizon", ("not_migrated",), "mailboxes", "{:,.0f}", False),
    ("Failed cutover attempts", ("cutover_failures",), "attempts", "{:,.0f}", False),
    ("Users deferred (sync not done)", ("deferred_users",), "users", "{:,.0f}", False),
    ("Users slipped (no place that evening)", ("slipped_users",), "users", "{:,.0f}", False),
    ("Data moved", ("data_tb",), "TB", "{:,.1f}", True),
    ("Service desk tickets", ("support", "tickets"), "tickets", "{:,.0f}", True),
    (
        "Users needing support",
        ("support", "users_needing_support_pct"),
        "% of users",
        "{:.2f}",
        True,
    ),
    ("Peak open tickets", ("support", "peak_backlog"), "tickets", "{:,.0f}", True),
    ("Ticket wait, 90th percentile", ("support", "wait_hours"), "hours", "{:,.1f}", True),
    ("Ticket wait, mean", ("support", "mean_wait_hours"), "hours", "{:,.1f}", False),
    ("Days paused by go/no-go", ("paused_days",), "days", "{:,.0f}", True),
)
QUANTILE_KEYS = ("p10", "p50", "p90")


def write_report(
    out_dir: str | os.PathLike[str],
    *,
    summary: Mapping[str, Any],
    runs: pd.DataFrame,
    daily: pd.DataFrame,
    name: str,
    start: dt.date,
    deadline: dt.date | None,
    population: int,
    pause_backlog: int | None = None,
    scenario_text: str | None = None,
) -> Path:
    """Write ``out_dir/report.html`` atomically and return its path.

    ``summary``, ``runs`` and ``daily`` are a run's results (``sim.run``); the scenario facts
    label the charts; ``scenario_text`` (the TOML) is appended, escaped, when given.
    ``out_dir`` is created if missing. On any failure the previous report, if any, is left
    untouched and no temporary file remains.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / REPORT_NAME
    charts: tuple[tuple[str, Callable[[], Axes]], ...] = (
        (
            "When do we finish? Share of replications completed by each date.",
            lambda: plots.completion_distribution(
                runs, deadline, marks=summary.get("completion") or None
            ),
        ),
        (
            "Progress: share of mailboxes migrated, median and P10-P90 across replications.",
            lambda: plots.progress_fan(daily, population, start=start, deadline=deadline),
        ),
        (
            "Daily cutovers: mailboxes cut over, failed and deferred per day (medians).",
            lambda: plots.daily_cutovers(daily),
        ),
        (
            "Throttle: initial-sync data moved per day against the service's capacity.",
            lambda: plots.throttle_utilisation(daily),
        ),
        (
            "Service desk: open tickets (fan) and tickets opened and closed per day.",
            lambda: plots.support_backlog(daily, pause_backlog=pause_backlog),
        ),
    )
    with _atomic_text_file(target) as handle:
        handle.write(_head(name))
        handle.write(_verdict(summary, start, deadline, population, pause_backlog))
        handle.write(_metrics_table(summary))
        handle.write("<h2>Charts</h2>\n")
        # Charts are rendered one at a time and streamed out, so only one image is in memory.
        for caption, draw in charts:
            handle.write(_figure(draw(), caption))
        if scenario_text is not None:
            handle.write("<h2>Scenario</h2>\n<pre>" + html.escape(scenario_text) + "</pre>\n")
        handle.write("</body>\n</html>\n")
    return target


# --- HTML sections -------------------------------------------------------------------------


def _head(name: str) -> str:
    title = html.escape(f"migsim report: {name}")
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        f"<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<h1>{title}</h1>\n"
    )


def _verdict(
    summary: Mapping[str, Any],
    start: dt.date,
    deadline: dt.date | None,
    population: int,
    pause_backlog: int | None,
) -> str:
    """The headline: P50 completion, P10-P90 range, P(meet deadline), completed share."""
    completion = summary.get("completion") or {}
    replications = summary.get("replications")
    p_meet = summary.get("p_meet_deadline")
    completed = summary.get("completed_share")

    facts = [f"{population:,} mailboxes", f"first cutover {start.isoformat()}"]
    facts.append(f"deadline {deadline.isoformat()}" if deadline else "no deadline")
    if replications is not None:
        facts.append(f"{replications:,} replications")
    if summary.get("seed") is not None:
        facts.append(f"seed {summary['seed']}")

    p50 = completion.get("p50")
    headline = (
        f"Likely finish (P50): <strong>{_text(p50)}</strong>"
        if p50
        else "<strong>Fewer than half of the replications finished within the horizon.</strong>"
    )
    lines = [f"<p class='big'>{headline}</p>"]
    p10, p90 = completion.get("p10"), completion.get("p90")
    if p10:
        lines.append(
            f"<p>80% of replications finish between <strong>{_text(p10)}</strong> (P10) and "
            f"<strong>{_text(p90)}</strong> (P90)"
            + ("" if p90 else "; P90 is beyond the simulated horizon")
            + ".</p>"
        )
    if deadline is not None and p_meet is not None:
        lines.append(
            f"<p>Probability of finishing by the deadline ({deadline.isoformat()}): "
            f"<strong>{_share(p_meet)}</strong>.</p>"
        )
    if completed is not None:
        lines.append(
            f"<p>Completed within the horizon: <strong>{_share(completed)}</strong> of "
            "replications.</p>"
        )
    if pause_backlog:
        lines.append(
            f"<p>Go/no-go: a day's cutovers are skipped when more than {pause_backlog:,} "
            "tickets are open.</p>"
        )
    return (
        f"<p class='sub'>{html.escape(' · '.join(facts))}</p>\n"
        f"<section class='{_verdict_class(deadline, p_meet, summary)}'>\n"
        + "\n".join(lines)
        + "\n</section>\n"
    )


def _verdict_class(deadline: dt.date | None, p_meet: float | None, summary: Mapping) -> str:
    """Colour the verdict only against an explicit confidence target, never a guessed one."""
    confidence = summary.get("confidence")
    if deadline is None or p_meet is None or confidence is None:
        return "verdict"
    return "verdict good" if p_meet >= confidence else "verdict bad"


def _metrics_table(summary: Mapping[str, Any]) -> str:
    rows = []
    completion = summary.get("completion") or {}
    rows.append(
        "<tr><td>Completion date</td>"
        + "".join(f"<td>{_text(completion.get(key))}</td>" for key in QUANTILE_KEYS)
        + "<td>date</td></tr>"
    )
    for label, path, unit, number_format, always in METRIC_ROWS:
        quantiles = _lookup(summary, path)
        if quantiles is None and not always:
            continue
        quantiles = quantiles if isinstance(quantiles, Mapping) else {}
        cells = "".join(
            f"<td>{_number(quantiles.get(key), number_format)}</td>" for key in QUANTILE_KEYS
        )
        rows.append(f"<tr><td>{html.escape(label)}</td>{cells}<td>{html.escape(unit)}</td></tr>")
    wall_seconds = summary.get("wall_seconds")
    footer = (
        f"<p class='sub'>Simulated in {wall_seconds:,.1f} s of wall time.</p>\n"
        if isinstance(wall_seconds, int | float)
        else ""
    )
    return (
        "<h2>Key metrics across replications</h2>\n<table>\n<thead><tr><th>Metric</th>"
        "<th>P10</th><th>P50</th><th>P90</th><th>Unit</th></tr></thead>\n<tbody>\n"
        + "\n".join(rows)
        + "\n</tbody>\n</table>\n"
        + footer
    )


def _figure(ax: Axes, caption: str) -> str:
    buffer = io.BytesIO()
    # No "Software" metadata: it carries matplotlib's URL into the file.
    ax.figure.savefig(buffer, format="png", dpi=IMAGE_DPI, metadata={"Software": None})
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    alt = html.escape(ax.get_title() or caption, quote=True)
    return (
        f'<figure><img alt="{alt}" src="data:image/png;base64,{encoded}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>\n"
    )


# --- formatting and file helpers -----------------------------------------------------------


def _lookup(summary: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = summary
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def _number(value: Any, number_format: str) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return MISSING
    return html.escape(number_format.format(value))


def _text(value: Any) -> str:
    return MISSING if value is None else html.escape(str(value))


def _share(value: float) -> str:
    return html.escape(plots.format_share(float(value)))


@contextlib.contextmanager
def _atomic_text_file(target: Path) -> Iterator[TextIO]:
    """Yield a temporary file beside ``target``; move it over ``target`` only on success."""
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    temp_path = Path(temp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes the file private (0600); a report is meant to be shared.
        os.chmod(temp_path, target.stat().st_mode & 0o777 if target.exists() else 0o644)
        os.replace(temp_path, target)
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
