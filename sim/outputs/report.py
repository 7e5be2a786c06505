"""One self-contained HTML report of a Monte Carlo run, for planners and their managers.

``report.html`` answers the planner's questions up front: does the plan meet its deadline at
the target confidence (PASS or FAIL), how sure is that (P(meet) with its Monte Carlo
interval), how many days are left to spare, when do we finish, what does the service desk
see. Then the key metrics, the uncertain inputs and risks when the scenario has them, the
five charts of :mod:`sim.outputs.plots`, and the scenario as run (every key, overrides
applied). It needs nothing else to open: the charts are base64 PNGs, the CSS inline, no
scripts and no external URLs, so it can be mailed or attached to a change ticket::

    res = sim.run(sc, replications=200, seed=1)
    path = write_report("out/", res, confidence=0.9, overrides={"batches.weekday": 30000})

The file is written to a temporary file beside it and moved into place, so an interrupted
or failing run leaves either the previous report or the new one, never half of one.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

import pandas as pd
import tomli_w
from matplotlib.axes import Axes
from pydantic import BaseModel

from sim.model.scenario import Scenario, to_dict
from sim.outputs import plots
from sim.outputs.headline import Headline, headline, percent
from sim.outputs.timeline import timeline_of

REPORT_NAME = "report.html"
IMAGE_DPI = 110
MISSING = "—"

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1b1b;
       max-width: 1100px; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } .sub { color: #555; margin-top: 0; }
.verdict { border-left: 6px solid #1d4e89; background: #f2f5fa; padding: 0.8rem 1.2rem; }
.verdict.good { border-color: #2a9d8f; background: #eef8f6; }
.verdict.bad { border-color: #c1121f; background: #fbefef; }
.verdict .big { font-size: 1.35rem; margin: 0.2rem 0; }
.stamp { font-weight: 700; padding: 0 0.4rem; color: white; border-radius: 3px; }
.good .stamp { background: #2a9d8f; } .bad .stamp { background: #c1121f; }
.warning { background: #fff4e0; border-left: 6px solid #f4a261; padding: 0.4rem 1rem;
           margin: 0.6rem 0; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { padding: 0.3rem 0.8rem; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
td.text, th.text { text-align: left; }
thead th { border-bottom: 2px solid #999; }
figure { margin: 1.5rem 0; } figure img { max-width: 100%; height: auto; }
figcaption { color: #444; font-size: 0.92rem; }
pre { background: #f6f6f6; padding: 1rem; overflow-x: auto; font-size: 0.85rem; }
code { background: #f6f6f6; padding: 0 0.2rem; }
"""

# (label, path into the summary, unit, number format, shown even when missing) for the table.
METRIC_ROWS: tuple[tuple[str, tuple[str, ...], str, str, bool], ...] = (
    ("Days to complete", ("days_to_complete",), "days", "{:,.0f}", False),
    ("Mailboxes migrated", ("migrated",), "mailboxes", "{:,.0f}", True),
    ("Need manual remediation", ("needs_remediation",), "mailboxes", "{:,.0f}", True),
    ("Not migrated within the horizon", ("not_migrated",), "mailboxes", "{:,.0f}", False),
    ("Failed cutover attempts", ("cutover_failures",), "attempts", "{:,.0f}", False),
    # Lateness per user, not slip events: a user is late when cut over (or sent to
    # remediation) after the day they were first told.
    (
        "Users late (after the day they were told)",
        ("lateness", "users_late"),
        "users",
        "{:,.0f}",
        False,
    ),
    (
        "Days late, 90th percentile of users",
        ("lateness", "days_late_p90"),
        "days",
        "{:,.0f}",
        False,
    ),
    ("Notices of a new date", ("lateness", "date_changes"), "notices", "{:,.0f}", False),
    ("Data moved", ("data_tb",), "TB", "{:,.1f}", True),
    ("Service desk tickets", ("support", "tickets"), "tickets", "{:,.0f}", True),
    (
        "Users needing support",
        ("support", "users_needing_support_pct"),
        "% of users",
        "{:.2f}",
        True,
    ),
    ("Peak open tickets (at any moment)", ("support", "peak_backlog"), "tickets", "{:,.0f}", True),
    ("Ticket wait, 90th percentile", ("support", "wait_hours"), "hours", "{:,.1f}", True),
    ("Ticket wait, mean", ("support", "wait_hours_mean"), "hours", "{:,.1f}", False),
    ("Days paused by go/no-go", ("paused_days_gate",), "days", "{:,.0f}", False),
    ("Days paused by risks", ("paused_days_risk",), "days", "{:,.0f}", False),
    (
        "Sync buffer before the evening, 10th pct of mailboxes",
        ("sync_buffer_hours",),
        "hours",
        "{:,.1f}",
        False,
    ),
)
QUANTILE_KEYS = ("p10", "p50", "p90")


def write_report(
    out_dir: str | os.PathLike[str],
    result: Any,
    *,
    confidence: float | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``out_dir/report.html`` atomically and return its path.

    ``result`` is what :func:`sim.run` returns (its ``scenario`` must be set).
    ``confidence`` is the target P(meet deadline) the verdict is judged against (default:
    the scenario's ``scenario.confidence``); ``overrides`` (dotted key -> value, as given to
    ``--set``) are listed above the scenario, which is shown as run, overrides applied.
    ``out_dir`` is created if missing. On any failure the previous report, if any, is left
    untouched and no temporary file remains.
    """
    sc: Scenario | None = getattr(result, "scenario", None)
    if sc is None:
        raise ValueError("the result carries no scenario: pass the Result of sim.run")
    summary, runs, daily = result.summary, result.runs, result.daily
    confidence = sc.scenario.confidence if confidence is None else float(confidence)
    head = headline(summary, runs, deadline=sc.scenario.deadline, confidence=confidence)
    timeline = timeline_of(sc)
    population = sc.population.mailboxes
    pause_backlog = sc.support.pause_backlog
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / REPORT_NAME
    charts: tuple[tuple[str, Callable[[], Axes]], ...] = (
        (
            "When do we finish? Share of replications completed by each date (P10 to P90 "
            "shaded where they differ).",
            lambda: plots.completion_distribution(
                runs, marks=summary.get("completion") or None, timeline=timeline
            ),
        ),
        (
            "Progress: share of mailboxes migrated, median and P10-P90 across replications.",
            lambda: plots.progress_fan(daily, population, timeline=timeline),
        ),
        (
            "Daily cutovers: mailboxes cut over and failed per day (bars), and the users due "
            "who waited (line): deferred (sync not finished) or slipped (evening full or day "
            "paused) (medians).",
            lambda: plots.daily_cutovers(daily, timeline=timeline),
        ),
        (
            "Throttle: initial-sync data moved per day against the service's capacity.",
            lambda: plots.throttle_utilisation(daily, timeline=timeline),
        ),
        (
            "Service desk: tickets open at the end of each day (fan), opened and closed per "
            "day, and the peak open at any moment (dashed: the table's 'Peak open tickets').",
            lambda: plots.support_backlog(
                daily,
                pause_backlog=pause_backlog,
                peak_backlog=(summary.get("support") or {}).get("peak_backlog"),
                timeline=timeline,
            ),
        ),
    )
    with _atomic_text_file(target) as handle:
        handle.write(_head(sc.name))
        handle.write(_facts(summary, sc))
        handle.write(_verdict(head, pause_backlog))
        handle.write(_metrics_table(summary))
        handle.write(_lanes_table(summary))
        handle.write(_uncertain_table(sc, runs))
        handle.write(_risks_table(sc, summary, runs))
        handle.write("<h2>Charts</h2>\n")
        # Charts are rendered one at a time and streamed out, so only one image is in memory.
        for caption, draw in charts:
            handle.write(_figure(draw(), caption))
        handle.write(_scenario_section(sc, overrides))
        handle.write(_provenance(summary.get("provenance")))
        handle.write("</body>\n</html>\n")
    return target


def scenario_toml(scenario: Scenario) -> str:
    """The validated scenario as TOML: every key (defaults included), overrides applied.

    Loading the text back gives an equal scenario. A ``None`` becomes an absent key where
    that is the key's default (``deadline``) and an empty list where it is not (closed
    desk hours, written ``[]``).
    """
    return tomli_w.dumps(_toml_ready(scenario, to_dict(scenario)))


# --- HTML sections -------------------------------------------------------------------------


def _head(name: str) -> str:
    title = html.escape(f"migsim report: {name}")
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        f"<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<h1>{title}</h1>\n"
    )


def _facts(summary: Mapping[str, Any], sc: Scenario) -> str:
    deadline = sc.scenario.deadline
    facts = [f"{sc.population.mailboxes:,} mailboxes", f"first cutover {sc.scenario.start}"]
    facts.append(f"deadline {deadline}" if deadline else "no deadline")
    if summary.get("replications") is not None:
        facts.append(f"{summary['replications']:,} replications")
    if summary.get("seed") is not None:
        facts.append(f"seed {summary['seed']}")
    return f"<p class='sub'>{html.escape(' · '.join(facts))}</p>\n"


def _verdict(head: Headline, pause_backlog: int | None) -> str:
    """PASS/FAIL at the target confidence, slack or overrun, P(meet), then P10/P50/P90."""
    level = f"{head.confidence * 100:.4g}%"
    lines = []
    if head.deadline is None:
        lines.append(
            "<p class='big'>No deadline is set: nothing to pass or fail. "
            "Set <code>scenario.deadline</code> to judge the plan.</p>"
        )
    else:
        outcome = "meets" if head.passed else "misses"
        lines.append(
            f"<p class='big'><span class='stamp'>{head.verdict}</span> The plan {outcome} its "
            f"deadline of <strong>{head.deadline}</strong> at the target confidence of "
            f"<strong>{level}</strong>.</p>"
        )
        if head.done_by is not None:
            lines.append(
                f"<p>At {level} confidence the plan is done by <strong>{head.done_by}</strong>: "
                f"<strong>{html.escape(head.slack_text())}</strong>"
                + (" before the deadline" if (head.slack_days or 0) > 0 else "")
                + ".</p>"
            )
        else:
            lines.append(
                f"<p>Fewer than {level} of the replications finish within the simulated "
                "horizon: the overrun is at least to the end of the horizon.</p>"
            )
        interval = ""
        if head.p_meet_interval is not None:
            low, high = head.p_meet_interval
            interval = (
                f"; Monte Carlo error: 95% interval <strong>{percent(low)} to "
                f"{percent(high)}</strong>"
            )
        lines.append(
            f"<p>P(meet deadline) = <strong>{percent(head.p_meet)}</strong> "
            f"({head.met:,} of {head.replications:,} replications done by {head.deadline}"
            f"{interval}); target at least {level}.</p>"
        )
    completion = head.completion
    p10, p50, p90 = (completion.get(key) for key in QUANTILE_KEYS)
    if p50:
        finish = (
            f"<p>Likely finish (P50): <strong>{_text(p50)}</strong>; 80% of replications "
            f"finish between <strong>{_text(p10)}</strong> (P10) and "
            f"<strong>{_text(p90)}</strong> (P90)"
            + ("" if p90 else ": P90 is beyond the simulated horizon")
            + ".</p>"
        )
    else:
        finish = (
            "<p><strong>Fewer than half of the replications finished within the "
            "horizon.</strong></p>"
        )
    lines.append(finish)
    if pause_backlog:
        lines.append(
            f"<p>Go/no-go: a day's cutovers are skipped when more than {pause_backlog:,} "
            "tickets are open.</p>"
        )
    warnings = "".join(
        f"<p class='warning'>Warning: {html.escape(text)}</p>\n" for text in head.warnings
    )
    css = {True: "verdict good", False: "verdict bad", None: "verdict"}[head.passed]
    return f"<section class='{css}'>\n" + "\n".join(lines) + "\n</section>\n" + warnings


def _provenance(made: Mapping[str, Any] | None) -> str:
    """How the report was made: what a reader needs to make it again."""
    if not made:
        return ""
    facts = [
        f"migsim {made.get('migsim')}",
        f"scenario SHA-256 {made.get('scenario_sha256')}",
        f"seed {made.get('seed')}",
        f"{made.get('replications')} replications",
        f"Python {made.get('python')}, numpy {made.get('numpy')}",
        f"{made.get('cores')} cores",
        f"{made.get('wall_seconds')} s",
    ]
    overrides = made.get("overrides") or {}
    if overrides:
        facts.append("overrides: " + ", ".join(f"{k} ({v})" for k, v in overrides.items()))
    return "<h2>Provenance</h2>\n<p class='sub'>" + html.escape(" · ".join(facts)) + "</p>\n"


def _interval_text(interval: Any) -> str:
    """A completion date's 95% order-statistic interval, or why there is none."""
    if not interval:
        return "too few replications"
    low, high = interval
    return f"{low} to {high or 'beyond the horizon'}"


def _metrics_table(summary: Mapping[str, Any]) -> str:
    rows = []
    completion = summary.get("completion") or {}
    rows.append(
        "<tr><td>Completion date</td>"
        + "".join(f"<td>{_text(completion.get(key))}</td>" for key in QUANTILE_KEYS)
        + "<td>date</td></tr>"
    )
    intervals = summary.get("completion_interval") or {}
    if intervals:
        rows.append(
            "<tr><td>&nbsp;&nbsp;95% interval of the date</td>"
            + "".join(
                f"<td>{html.escape(_interval_text(intervals.get(key)))}</td>"
                for key in QUANTILE_KEYS
            )
            + "<td>dates</td></tr>"
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


def _lanes_table(summary: Mapping[str, Any]) -> str:
    """Each lane's completion P10/P50/P90 and median migrated, when there is more than one."""
    lanes = summary.get("lanes") or {}
    if len(lanes) < 2:
        return ""
    rows = "".join(
        f"<tr><td class='text'>{html.escape(name)}</td>"
        + "".join(f"<td>{_text((lane.get('completion') or {}).get(q))}</td>" for q in QUANTILE_KEYS)
        + f"<td>{_number((lane.get('migrated') or {}).get('p50'), '{:,.0f}')}</td></tr>\n"
        for name, lane in lanes.items()
    )
    return (
        "<h2>Lanes</h2>\n<p>Each lane moves its kinds of mailbox on its own schedule "
        "(<code>[batches]</code> is <code>main</code>); the plan completes with the last.</p>\n"
        "<table>\n<thead><tr><th class='text'>Lane</th><th>P10</th><th>P50</th><th>P90</th>"
        "<th>Migrated (P50)</th></tr></thead>\n<tbody>\n" + rows + "</tbody>\n</table>\n"
    )


def _uncertain_table(sc: Scenario, runs: pd.DataFrame) -> str:
    """The inputs drawn once per replication: their distribution and the values drawn."""
    uncertain = uncertain_inputs(sc)
    if not uncertain:
        return ""
    rows = []
    for key, dist in uncertain.items():
        quantiles = _distribution_quantiles(dist)
        cells = "".join(f"<td>{_number(q, '{:,.4g}')}</td>" for q in quantiles)
        column = f"param.{key}"
        drawn = MISSING
        if column in runs and len(runs):
            values = runs[column].astype(float)
            drawn = f"{values.min():,.4g} to {values.max():,.4g}"
        rows.append(
            f"<tr><td><code>{html.escape(key)}</code></td>"
            f"<td class='text'>{html.escape(describe_distribution(dist))}</td>{cells}"
            f"<td>{html.escape(drawn)}</td></tr>"
        )
    return (
        "<h2>Uncertain inputs</h2>\n<p class='sub'>Each is drawn once per replication; the "
        "quantiles are the distribution's, the last column the range actually drawn.</p>\n"
        "<table>\n<thead><tr><th>Key</th><th class='text'>Distribution</th><th>P10</th>"
        "<th>P50</th><th>P90</th><th>Drawn</th></tr></thead>\n<tbody>\n"
        + "\n".join(rows)
        + "\n</tbody>\n</table>\n"
    )


def _risks_table(sc: Scenario, summary: Mapping[str, Any], runs: pd.DataFrame) -> str:
    """The risk register: when each risk may strike, what it does, how often it did."""
    risks = list(getattr(sc, "risks", None) or [])
    if not risks:
        return ""
    hit_share = summary.get("risks") or {}
    rows = []
    for risk in risks:
        fields = _as_dict(risk)
        name = str(fields.get("name", ""))
        share = hit_share.get(name)
        column = f"risk.{name}"
        if share is None and column in runs and len(runs):
            share = float((runs[column] > 0).mean())
        rows.append(
            f"<tr><td class='text'>{html.escape(name)}</td>"
            f"<td class='text'>{html.escape(_risk_when(fields))}</td>"
            f"<td class='text'>{html.escape(_risk_effect(fields))}</td>"
            f"<td>{MISSING if share is None else percent(share)}</td></tr>"
        )
    return (
        "<h2>Risks</h2>\n<table>\n<thead><tr><th class='text'>Risk</th>"
        "<th class='text'>When</th><th class='text'>Effect</th>"
        "<th>Replications hit</th></tr></thead>\n<tbody>\n"
        + "\n".join(rows)
        + "\n</tbody>\n</table>\n"
    )


def _scenario_section(sc: Scenario, overrides: Mapping[str, Any] | None) -> str:
    parts = ["<h2>Scenario as run</h2>\n"]
    if overrides:
        listed = ", ".join(
            f"<code>{html.escape(f'{key} = {_toml_value(value)}')}</code>"
            for key, value in overrides.items()
        )
        parts.append(f"<p>Overrides applied to the file (<code>--set</code>): {listed}.</p>\n")
    parts.append(
        "<p class='sub'>Every key as validated, defaults included, overrides applied: "
        "save it as a .toml file to run this exact plan again.</p>\n"
    )
    parts.append("<pre>" + html.escape(scenario_toml(sc)) + "</pre>\n")
    return "".join(parts)


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


# --- uncertain inputs and risks, read defensively (the schema may not carry them yet) ---------


def uncertain_inputs(sc: Scenario) -> dict[str, Any]:
    """Dotted key -> distribution of the scenario's uncertain inputs (empty when none)."""
    try:
        from sim.model.uncertainty import uncertain_keys  # type: ignore[import-not-found]
    except ImportError:
        return dict(getattr(sc, "uncertain", None) or {})
    return dict(uncertain_keys(sc))


def describe_distribution(dist: Any) -> str:
    """ "pert(low=0.003, mode=0.006, high=0.02)" from a distribution model or dict."""
    if not isinstance(dist, BaseModel | Mapping):
        return _toml_value(dist)
    fields = {k: v for k, v in _as_dict(dist).items() if v is not None}
    name = fields.pop("dist", type(dist).__name__.lower())
    # In the order a planner writes them (SPEC): low, mode, high; not the model's field order.
    order = {key: rank for rank, key in enumerate(PARAMETER_ORDER)}
    keys = sorted(fields, key=lambda key: order.get(key, len(order)))
    params = ", ".join(f"{key}={_toml_value(fields[key])}" for key in keys)
    return f"{name}({params})"


PARAMETER_ORDER = ("low", "mode", "high", "median", "mean", "sigma", "sd", "alpha", "beta")


def _distribution_quantiles(dist: Any) -> list[float | None]:
    try:
        return [float(q) for q in dist.frozen().ppf([0.1, 0.5, 0.9])]
    except Exception:  # a stand-in without scipy behind it: show the description only
        return [None, None, None]


def _risk_when(fields: Mapping[str, Any]) -> str:
    if fields.get("per_week") is not None:
        return f"{fields['per_week']:g} a week on average"
    when = f"{percent(float(fields.get('probability') or 0))} chance"
    between = fields.get("between")
    if between:
        when += f", starting between {between[0]} and {between[1]}"
    return when


def _risk_effect(fields: Mapping[str, Any]) -> str:
    effects = []
    if fields.get("pause_days") is not None:
        effects.append(f"no cutovers for {_amount(fields['pause_days'])} days")
    for key, what in (("throttle_factor", "throttle"), ("failure_factor", "failure rate")):
        if fields.get(key) is not None:
            days = fields.get("days")
            effects.append(
                f"{what} x {_amount(fields[key])}"
                + (f" for {_amount(days)} days" if days is not None else "")
            )
    return "; ".join(effects) or MISSING


def _amount(value: Any) -> str:
    if isinstance(value, BaseModel | Mapping):
        return describe_distribution(value)
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True)
    return dict(value)


def _toml_value(value: Any) -> str:
    """A value as it would be written in TOML (``30000``, ``2024-01-22``, ``"x"``)."""
    if isinstance(value, BaseModel):
        value = _as_dict(value)
    text = tomli_w.dumps({"v": value}).strip()
    return text[len("v = ") :] if text.startswith("v = ") else text


def _toml_ready(model: Any, dumped: Any) -> Any:
    """``dumped`` (the model's dump) with None made TOML-writable (see scenario_toml)."""
    if isinstance(dumped, dict):
        fields = type(model).model_fields if isinstance(model, BaseModel) else {}
        by_alias = {(info.alias or name): (name, info) for name, info in fields.items()}
        out = {}
        for key, value in dumped.items():
            name, info = by_alias.get(key, (key, None))
            child = getattr(model, name, None) if isinstance(model, BaseModel) else None
            if value is None:
                if info is not None and info.default is None:
                    continue
                out[key] = []
            else:
                out[key] = _toml_ready(child, value)
        return out
    if isinstance(dumped, list | tuple):
        children = list(model) if isinstance(model, list | tuple) else [None] * len(dumped)
        return [_toml_ready(c, v) for c, v in zip(children, dumped, strict=True)]
    return dumped


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
