"""The CI gate: does the plan still meet its deadline, at the required confidence?

A CI job runs ``migsim check scenarios/plan.toml --junit report.xml`` on every
change to the plan. The plan passes when the share of replications done by the
end of the deadline day is at least ``confidence`` (0.9: nine runs in ten make
it), e.g.::

    PASS: "NHSmail to Exchange Online (2020-21 reference)" meets its deadline of
    2021-03-31: P(done by 2021-03-31) = 94.0% (47 of 50 replications, seed
    2020; 95% interval 83.8% to 97.9%), at least the required 90.0%. Completion
    P50 is 2021-02-01 and P90 2021-03-01; at 90% confidence the plan is done by
    2021-03-01, 30 days before the deadline.

The interval is the Monte Carlo error of P (Wilson); the CLI adds the warnings of
:func:`sim.outputs.headline.doubt_warnings` when it contains the target.

:func:`check` returns a :class:`Verdict`; :func:`write_junit` and
:func:`append_step_summary` turn it into a JUnit XML report (a missed deadline
is a ``<failure>``) and a Markdown table for a GitHub Actions step summary.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.experiments.metrics import buffer_warning, metric
from sim.experiments.results import (
    completion_at,
    completion_interval_at,
    p_meet_interval,
    precision_advice,
)
from sim.experiments.runner import run
from sim.model.scenario import Scenario, ScenarioError, parse_value, with_overrides
from sim.outputs.files import append_text, write_text

# A share of replications is a fraction of n; never let float rounding fail 90 of 100 at 0.9.
TOLERANCE = 1e-9


@dataclass(frozen=True)
class Verdict:
    """The outcome of a check, with what a person or a CI report needs to explain it."""

    scenario: str
    deadline: dt.date
    confidence: float
    replications: int
    met: int  # replications done by the end of the deadline day
    seed: int
    completion: dict[str, str | None]  # P10 / P50 / P90 completion dates (None: not reached)
    done_by: str | None  # the completion date at the confidence quantile
    completed_share: float
    horizon_days: int
    wall_seconds: float
    file: str | None = None
    warnings: tuple[str, ...] = ()  # about the plan itself (e.g. a sync buffer under a day)
    precision: dict[str, Any] | None = None  # summary["precision"] when precision_days was asked
    done_by_interval: list[str | None] | None = None  # 95% interval of done_by
    advice: str | None = None  # how many more replications would make done_by precise

    @property
    def p_meet_deadline(self) -> float:
        return self.met / self.replications

    @property
    def p_meet_interval(self) -> tuple[float, float]:
        """The 95% Wilson interval of P(meet): the Monte Carlo error of a finite run."""
        low, high = p_meet_interval(self.met, self.replications)
        return low, high

    @property
    def passed(self) -> bool:
        return self.met >= self.confidence * self.replications - TOLERANCE

    def headline(self) -> str:
        """``P(done by 2021-03-31) = 97.0% < required 99.0%``: the failure message."""
        relation = ">=" if self.passed else "<"
        return (
            f"P(done by {self.deadline}) = {self.p_meet_deadline:.1%} "
            f"{relation} required {self.confidence:.1%}"
        )

    def paragraph(self) -> str:
        """The verdict for a person: pass or fail, P, the P50 and P90 dates, the deadline."""
        p50, p90 = self.completion["p50"], self.completion["p90"]
        verdict, outcome = ("PASS", "meets") if self.passed else ("FAIL", "misses")
        low, high = self.p_meet_interval
        comparison = "at least" if self.passed else "below"
        return (
            f'{verdict}: "{self.scenario}" {outcome} its deadline of '
            f"{self.deadline}: P(done by {self.deadline}) = {self.p_meet_deadline:.1%} "
            f"({self.met} of {self.replications} replications, seed {self.seed}; "
            f"95% interval {low:.1%} to {high:.1%}), "
            f"{comparison} the required {self.confidence:.1%}. "
            f"Completion P50 is {_date_or_not(p50)} and P90 {_date_or_not(p90)}; "
            f"{self._confident_finish()}."
        )

    def _confident_finish(self) -> str:
        level = _percent(self.confidence)
        if self.done_by is None:
            return (
                f"fewer than {level} of replications finish within the "
                f"{self.horizon_days}-day horizon ({self.completed_share:.0%} do)"
            )
        margin = (self.deadline - dt.date.fromisoformat(self.done_by)).days
        when = (
            "on the deadline day"
            if margin == 0
            else f"{abs(margin)} day{'s' if abs(margin) != 1 else ''} "
            f"{'before' if margin > 0 else 'after'} the deadline"
        )
        return f"at {level} confidence the plan is done by {self.done_by}, {when}"

    def properties(self) -> dict[str, Any]:
        """The numbers behind the verdict, for machine-readable reports."""
        return {
            "scenario": self.scenario,
            "scenario_file": self.file,
            "deadline": self.deadline.isoformat(),
            "confidence": self.confidence,
            "p_meet_deadline": round(self.p_meet_deadline, 4),
            "p_meet_deadline_low": self.p_meet_interval[0],
            "p_meet_deadline_high": self.p_meet_interval[1],
            "replications": self.replications,
            "seed": self.seed,
            "completion_p10": self.completion["p10"],
            "completion_p50": self.completion["p50"],
            "completion_p90": self.completion["p90"],
            "done_by_at_confidence": self.done_by,
            "completed_share": self.completed_share,
            "passed": self.passed,
        }


def _percent(share: float) -> str:
    return f"{round(share * 100, 4):g}%"


def _date_or_not(value: str | None) -> str:
    return value if value is not None else "not reached within the horizon"


def check(
    scenario: Scenario,
    *,
    deadline: dt.date | str | None = None,
    confidence: float | None = None,
    replications: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    dask: str | None = None,
    progress: Callable[[int], None] | None = None,
    source: str = "<scenario>",
    max_memory_gb: float | None = None,
    precision_days: float | None = None,
    max_replications: int | None = None,
) -> Verdict:
    """Simulate ``scenario`` and judge it against ``deadline`` (default: the scenario's).

    ``confidence`` defaults to ``scenario.confidence``. With ``precision_days``,
    replications are added until the date at that confidence is known to
    +-``precision_days`` (95%), or ``max_replications`` have run (see :func:`sim.run`). Raises
    :class:`ScenarioError` when there is no deadline, an option is invalid or
    the plan can never finish (as :func:`sim.run` does).
    """
    scenario = deadline_applied(scenario, deadline, source)
    confidence = _confidence(scenario, confidence)
    result = run(
        scenario,
        replications,
        seed,
        workers,
        dask=dask,
        keep_daily=False,
        keep_mailboxes=False,
        progress=progress,
        max_memory_gb=max_memory_gb,
        precision_days=precision_days,
        max_replications=max_replications,
        precision_quantile=confidence,
    )
    return verdict_for(scenario, result.runs, confidence, result.summary, source)


def deadline_applied(
    scenario: Scenario,
    deadline: dt.date | str | None,
    source: str,
    *,
    option: str = "deadline",
    remedy: str = "set it in the scenario or pass deadline=",
) -> Scenario:
    """The scenario with ``deadline`` in place; an error when it has no deadline at all.

    ``option`` names the deadline in errors (the CLI passes ``--deadline``); ``source``
    and ``remedy`` make the error when neither the scenario nor the caller gives one.
    """
    if deadline is not None:
        value = parse_value(deadline) if isinstance(deadline, str) else deadline
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise ScenarioError(option, "", f"must be a date YYYY-MM-DD (got {deadline!r})")
        scenario = with_overrides(scenario, {"scenario.deadline": value}, source=option)
    if scenario.scenario.deadline is None:
        raise ScenarioError(source, "scenario.deadline", f"no deadline to check: {remedy}")
    return scenario


def _confidence(scenario: Scenario, confidence: float | None) -> float:
    if confidence is None:
        return scenario.scenario.confidence
    if not (isinstance(confidence, int | float) and 0 < confidence <= 1):
        raise ScenarioError("confidence", "", f"must be > 0 and <= 1 (got {confidence})")
    return float(confidence)


def verdict_for(
    scenario: Scenario, runs: pd.DataFrame, confidence: float, summary: dict, file: str | None
) -> Verdict:
    """Judge the per-replication table of a run against the scenario's deadline."""
    sc = scenario.scenario
    completion = runs[metric("completion_date").name]
    return Verdict(
        scenario=sc.name,
        deadline=sc.deadline,
        confidence=confidence,
        replications=len(runs),
        met=int(runs[metric("met_deadline").name].sum()),
        seed=summary["seed"],
        completion=summary["completion"],
        done_by=completion_at(runs[metric("completion_date").name], confidence),
        completed_share=summary["completed_share"],
        horizon_days=sc.horizon_days,
        wall_seconds=summary["wall_seconds"],
        file=file,
        warnings=tuple(w for w in (buffer_warning(summary),) if w),
        precision=summary.get("precision"),
        done_by_interval=completion_interval_at(completion, confidence),
        advice=precision_advice(completion, confidence),
    )


# --- reports --------------------------------------------------------------------------------


def junit_xml(verdict: Verdict) -> ET.ElementTree:
    """One test suite with one test case named after the scenario; a miss is a ``<failure>``."""
    failures = "0" if verdict.passed else "1"
    seconds = f"{verdict.wall_seconds:.3f}"
    suites = ET.Element(
        "testsuites", name="migsim check", tests="1", failures=failures, errors="0", time=seconds
    )
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="migsim check",
        tests="1",
        failures=failures,
        errors="0",
        skipped="0",
        time=seconds,
        timestamp=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in verdict.properties().items():
        text = "" if value is None else str(value).lower() if isinstance(value, bool) else value
        ET.SubElement(properties, "property", name=name, value=str(text))
    case = ET.SubElement(
        suite, "testcase", classname="migsim.check", name=verdict.scenario, time=seconds
    )
    if verdict.file:
        case.set("file", verdict.file)
    if not verdict.passed:
        failure = ET.SubElement(case, "failure", message=verdict.headline(), type="DeadlineMissed")
        failure.text = verdict.paragraph()
    ET.SubElement(case, "system-out").text = verdict.paragraph()
    for element in suites.iter():
        element.text = _xml_safe(element.text)
        for name, value in element.attrib.items():
            element.set(name, _xml_safe(value))
    tree = ET.ElementTree(suites)
    ET.indent(tree)
    return tree


# Characters XML 1.0 cannot hold at all, not even escaped (most C0 controls, lone surrogates).
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_safe(text: str | None) -> str | None:
    """``text`` with XML-invalid characters shown as ``\\xNN``, so the report stays valid XML."""
    if text is None:
        return None
    return _XML_INVALID.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def write_junit(path: str | Path, verdict: Verdict) -> Path:
    """Write the JUnit XML report atomically."""
    text = ET.tostring(junit_xml(verdict).getroot(), encoding="unicode", xml_declaration=True)
    return write_text(path, text + "\n")


def step_summary(verdict: Verdict) -> str:
    """A Markdown table for ``$GITHUB_STEP_SUMMARY``."""
    c = verdict.completion
    mark = "✅ passed" if verdict.passed else "❌ failed"
    rows = [
        ("Deadline", str(verdict.deadline)),
        (
            "P(done by deadline)",
            f"{verdict.p_meet_deadline:.1%} (required ≥ {verdict.confidence:.1%})",
        ),
        (
            "95% interval of P (Monte Carlo)",
            " to ".join(f"{share:.1%}" for share in verdict.p_meet_interval),
        ),
        ("Completion P10 / P50 / P90", " / ".join(c[k] or "not reached" for k in c)),
        (
            f"Done by, at {_percent(verdict.confidence)} confidence",
            verdict.done_by or "not reached",
        ),
        ("Replications", f"{verdict.replications} (seed {verdict.seed})"),
    ]
    lines = [
        f"### migsim check {mark}: {_cell(verdict.scenario)}",
        "",
        "| Measure | Value |",
        "| --- | --- |",
        *(f"| {_cell(name)} | {_cell(value)} |" for name, value in rows),
        "",
        verdict.paragraph(),
        "",
    ]
    return "\n".join(lines)


def append_step_summary(path: str | Path, verdict: Verdict) -> None:
    """Append to the GitHub step summary file (GitHub owns it: append, never replace)."""
    append_text(path, step_summary(verdict) + "\n")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
