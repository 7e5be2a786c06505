"""The per-replication metrics: one record says what each is and how it is summarised.

Every replication produces one row of ``runs`` (``sim.model.replication``).
Each :class:`Metric` below names one column of that row and says, once, what
the summary (``results.summarise``), the sweep table, the CLI table, the CI
gate and the report need to know about it::

    Metric("tickets", "tickets", "tickets", at=("support", "tickets"))

is the ``tickets`` column of ``runs``, counted in tickets, shown as
"tickets", summarised as P10/P50/P90 whole numbers under
``summary["support"]["tickets"]``, and flattened to ``tickets_p10``,
``tickets_p50``, ``tickets_p90`` in a sweep table.

A metric added to the model is added here, and every reader picks it up.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

QUANTILES = {"p10": 0.1, "p50": 0.5, "p90": 0.9}
"""Summary quantile names and their levels, across replications."""

Kind = Literal["date", "count", "amount", "share"]


@dataclass(frozen=True)
class Metric:
    """One per-replication number and how the summary reports it.

    ``kind``: ``date`` (a day; quantiles as ISO dates), ``count`` (whole
    numbers; quantiles are observed values), ``amount`` (real numbers;
    interpolated quantiles, 3 decimals) or ``share`` (true/false per
    replication; the summary holds the share of replications where it is true).
    ``missing_is_late``: a missing value means "did not complete within the
    horizon", later than any value, so quantiles count it instead of dropping it
    (and are null where too few replications completed).
    """

    name: str  # the column of ``runs``
    unit: str
    label: str
    at: tuple[str, ...]  # where it sits in the summary dict
    kind: Kind = "count"
    quantiles: tuple[str, ...] = tuple(QUANTILES)
    missing_is_late: bool = False
    in_table: bool = True  # a row of the CLI summary table
    needs_deadline: bool = False  # null in the summary when the scenario has no deadline

    @property
    def key(self) -> str:
        """Its name in the summary (the last part of ``at``)."""
        return self.at[-1]

    def column(self, quantile: str | None = None) -> str:
        """Its column in a sweep table: ``tickets_p50``, or ``p_meet_deadline`` for a share."""
        return self.key if quantile is None else f"{self.key}_{quantile}"

    def columns(self) -> list[str]:
        """All its sweep-table columns, in order."""
        if self.kind == "share":
            return [self.column()]
        return [self.column(q) for q in self.quantiles]

    def read(self, summary: Mapping[str, Any]) -> Any:
        """Its entry in a summary dict (a quantile dict, or a share)."""
        node: Any = summary
        for part in self.at:
            node = node[part]
        return node


METRICS: tuple[Metric, ...] = (
    Metric(
        "completion_date", "date", "completion date", ("completion",), "date",
        missing_is_late=True,
    ),
    Metric("completed", "share", "completed within the horizon", ("completed_share",), "share",
           in_table=False),
    Metric("met_deadline", "share", "done by the deadline", ("p_meet_deadline",), "share",
           in_table=False, needs_deadline=True),
    Metric("days_to_complete", "days", "days to complete", ("days_to_complete",),
           missing_is_late=True, in_table=False),
    Metric("migrated", "mailboxes", "migrated", ("migrated",)),
    Metric("needs_remediation", "mailboxes", "needs remediation", ("needs_remediation",)),
    Metric("not_migrated", "mailboxes", "not migrated", ("not_migrated",), in_table=False),
    Metric("data_tb", "TB", "data moved (TB)", ("data_tb",), "amount"),
    Metric("tickets", "tickets", "tickets", ("support", "tickets")),
    Metric("users_needing_support_pct", "%", "users needing support (%)",
           ("support", "users_needing_support_pct"), "amount"),
    Metric("peak_backlog", "tickets", "peak ticket backlog", ("support", "peak_backlog")),
    Metric("wait_hours_90th_pct", "hours", "ticket wait, 90th pct (hours)",
           ("support", "wait_hours"), "amount"),
    Metric("wait_hours_mean", "hours", "ticket wait, mean (hours)",
           ("support", "wait_hours_mean"), "amount", in_table=False),
    Metric("paused_days", "days", "paused days (go/no-go and risks)", ("paused_days",)),
    Metric("paused_days_gate", "days", "days paused by go/no-go", ("paused_days_gate",)),
    Metric("paused_days_risk", "days", "days paused by risks", ("paused_days_risk",)),
    Metric("cutover_failures", "cutovers", "failed cutovers", ("cutover_failures",),
           in_table=False),
    Metric("deferred_users", "users", "users deferred",
           ("deferred_users",)),
    Metric("slipped_users", "users", "users slipped past their planned day", ("slipped_users",)),
    # Lateness per user: late = cut over (or sent to remediation) after the first day told.
    Metric("users_late", "users", "users late (after the day they were told)",
           ("lateness", "users_late")),
    Metric("days_late_p90", "days", "days late, 90th pct of users",
           ("lateness", "days_late_p90")),
    Metric("date_changes", "notices", "notices of a new date", ("lateness", "date_changes")),
    # Hours from the end of a mailbox's initial sync to its first due evening, 10th pct
    # of mailboxes: under a day, the throttle binds though the date has not moved yet.
    Metric("sync_buffer_hours_p10", "hours", "sync buffer, 10th pct of mailboxes (hours)",
           ("sync_buffer_hours",), "amount"),
)  # fmt: skip

LANE_PREFIX = "lane."
"""``runs`` columns ``lane.<name>.completion_date`` and ``lane.<name>.migrated``: one pair
per lane ("main" first), summarised under ``summary["lanes"][name]``."""

BUFFER_WARNING_HOURS = 24.0
"""Below this median ``sync_buffer_hours`` (P50 over replications of the per-replication
10th percentile), the throttle binds though the date has not moved yet."""


def lane_names(columns) -> list[str]:
    """The lanes a ``runs`` table has columns for, in order."""
    suffix = ".completion_date"
    return [
        c[len(LANE_PREFIX) : -len(suffix)]
        for c in columns
        if c.startswith(LANE_PREFIX) and c.endswith(suffix)
    ]


def buffer_warning(summary: Mapping[str, Any]) -> str | None:
    """The warning ``run``, ``check`` and the report give when the median sync buffer is
    under a day, else None."""
    buffer = summary.get("sync_buffer_hours") or {}
    median = buffer.get("p50")
    if median is None or median >= BUFFER_WARNING_HOURS:
        return None
    if median < 0:
        return (
            f"the median sync buffer is {median:.1f} hours: more than 10% of mailboxes "
            "finish their initial sync after their evening and are deferred: the throttle "
            "binds and moves dates"
        )
    return (
        f"the median sync buffer is {median:.1f} hours (10% of mailboxes finish their "
        "initial sync less than that before their evening): the throttle binds; "
        "the date has not moved yet"
    )


BY_NAME: dict[str, Metric] = {metric.name: metric for metric in METRICS}


def metric(name: str) -> Metric:
    """The record of the ``runs`` column ``name``."""
    return BY_NAME[name]


def quantile_rank(q: float, n: int) -> int:
    """The 0-based rank of the ``q`` quantile of ``n`` sorted values (inverted empirical CDF).

    The slack keeps ``q * n`` that rounding puts a hair above a whole number
    (0.7 * 10 = 7.000000000000001) on that number.
    """
    return max(math.ceil(q * n - 1e-9) - 1, 0)
