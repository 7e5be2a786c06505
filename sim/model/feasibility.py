"""Plans that can never finish, found before anything is simulated.

The schema checks each value on its own; a plan can still be impossible as a
whole. A planner who writes ``weekday = 0`` and ``weekend_day = 0`` with no
phases, or sets every throttle window to 0 GB/h, or staffs the desk with no
agents while tickets are expected, has a plan that cannot finish: it is bad
input, reported like any other (:class:`ScenarioError`, one line naming the
file and the dotted key), not a simulation that "completes" nothing::

    >>> problems(sc)          # [] for a plan that can finish
    >>> check_feasible(sc)    # raises ScenarioError for the first problem
    >>> warnings(sc)          # e.g. a horizon that ends before the deadline

A memory estimate guards huge populations: :func:`check_memory` refuses a run
whose replications would not fit in memory instead of letting the operating
system kill it half-way.
"""

from __future__ import annotations

import datetime as dt
import os

import numpy as np

from sim.model.calendar import Calendar, build_calendar
from sim.model.scenario import Scenario, ScenarioError
from sim.model.throttle import build_capacity

# Measured with tracemalloc on the reference scenario at 100,000 and 400,000 mailboxes
# (benchmarks/bench_memory.py): one replication peaks at ~150 bytes per mailbox, ~240
# with replication 0's per-mailbox table; the parent holds that table and a pickled copy.
WORKER_BYTES_PER_MAILBOX = 250
PARENT_BYTES_PER_MAILBOX = 200
PROCESS_BASE_BYTES = 250 * 2**20  # Python, numpy, pandas and simpy imported
GB = 2**30


class MemoryLimitError(ScenarioError):
    """A run that would need more memory than allowed (``needed_gb`` > ``limit_gb``).

    ``str(error)`` says how to raise the limit in Python (``max_memory_gb=``),
    ``cli`` the same for the command line (``--max-memory``).
    """

    def __init__(self, source: str, mailboxes: int, needed_gb: float, limit_gb: float) -> None:
        self.needed_gb, self.limit_gb = needed_gb, limit_gb
        need = (
            f"{mailboxes:,} mailboxes need about {needed_gb:,.1f} GB of memory, "
            f"more than the {limit_gb:,.1f} GB allowed"
        )
        super().__init__(
            source,
            "population.mailboxes",
            f"{need} (raise it with max_memory_gb=, or use fewer workers)",
        )
        self.cli = (
            f"{source}: population.mailboxes: {need} (raise it with --max-memory GB, or use "
            "fewer --workers)"
        )


def problems(scenario: Scenario, calendar: Calendar | None = None) -> list[ScenarioError]:
    """Every reason ``scenario`` can never finish (empty when it can)."""
    cal = calendar or build_calendar(scenario)
    found = []
    for check in (_cutover_days, _lane_days, _throttle_capacity, _desk, _size_limits):
        error = check(scenario, cal)
        if error is not None:
            found.append(error)
    return found


def check_feasible(scenario: Scenario, calendar: Calendar | None = None) -> None:
    """Raise the first of :func:`problems` as a :class:`ScenarioError`."""
    found = problems(scenario, calendar)
    if found:
        raise found[0]


def warnings(scenario: Scenario) -> list[str]:
    """Things a planner should know that do not stop the plan (one line each)."""
    sc = scenario.scenario
    out = []
    horizon_end = sc.start + dt.timedelta(days=sc.horizon_days - 1)
    if sc.deadline is not None and horizon_end < sc.deadline:
        out.append(
            f"{_source(scenario, 'scenario.horizon_days')}: scenario.horizon_days: the "
            f"{sc.horizon_days}-day horizon ends on {horizon_end}, before the deadline "
            f"{sc.deadline}: a replication not done by {horizon_end} counts as not completed"
        )
    return out


def _error(scenario: Scenario, key: str, message: str) -> ScenarioError:
    return ScenarioError(_source(scenario, key), key, message)


def _source(scenario: Scenario, key: str) -> str:
    return scenario.source_of(key) if hasattr(scenario, "source_of") else "<scenario>"


def _cutover_days(scenario: Scenario, cal: Calendar) -> ScenarioError | None:
    if len(cal.cutover_days):
        return None
    batches = scenario.batches
    horizon = f"the {scenario.scenario.horizon_days}-day horizon from {scenario.scenario.start}"
    if batches.weekday == 0 and batches.weekend_day == 0 and not batches.phases:
        return _error(
            scenario,
            "batches.weekday",
            f"no cutover day within {horizon}: batches.weekday and batches.weekend_day "
            "are both 0 and no phase adds any",
        )
    return _error(
        scenario,
        "batches",
        f"no cutover day within {horizon}: every day with a batch is a holiday, "
        "a blackout or after the horizon",
    )


def _lane_days(scenario: Scenario, cal: Calendar) -> ScenarioError | None:
    """A lane ([[lanes]]) without a cutover day within the horizon never moves its kinds."""
    from sim.model.lanes import compile_lanes

    for lane in compile_lanes(scenario, cal)[1:]:
        if not len(lane.cutover_days):
            key = f"lanes[{lane.index - 1}].from"
            return _error(
                scenario,
                key,
                f"lane {lane.name!r} has no cutover day within the "
                f"{scenario.scenario.horizon_days}-day horizon from {scenario.scenario.start}",
            )
    return None


def _throttle_capacity(scenario: Scenario, cal: Calendar) -> ScenarioError | None:
    throttle = scenario.throttle
    capacity = build_capacity(cal, throttle)
    if capacity.daily_capacity_gb[: cal.last_cutover_index + 1].sum() > 0:
        return None
    if throttle.scale == 0:
        return _error(scenario, "throttle.scale", "is 0: no initial sync could ever run")
    return _error(
        scenario,
        "throttle.windows",
        "no window allows any transfer (all 0 GB/h): no initial sync could ever run",
    )


def _desk(scenario: Scenario, cal: Calendar) -> ScenarioError | None:
    support = scenario.support
    expected = (
        support.ticket_rate > 0
        or (support.legacy_ticket_rate > 0 and scenario.population.legacy_client_share > 0)
        or (support.failed_cutover_ticket_rate > 0 and scenario.failures.rate > 0)
    )
    if not expected:
        return None
    if support.agents == 0:
        return _error(
            scenario,
            "support.agents",
            "is 0 while tickets are expected (support.ticket_rate etc. > 0): "
            "no ticket would ever be answered",
        )
    if support.hours.weekdays is None and support.hours.weekend is None:
        return _error(
            scenario,
            "support.hours",
            "the desk never opens while tickets are expected: no ticket would ever be answered",
        )
    return None


def _size_limits(scenario: Scenario, cal: Calendar) -> ScenarioError | None:
    size = scenario.population.size_gb
    if size.max < size.mean:
        return _error(
            scenario,
            "population.size_gb.max",
            f"must be >= population.size_gb.mean ({size.mean}) (got {size.max}): "
            "sizes capped below their mean cannot have that mean",
        )
    return None


# --- memory ------------------------------------------------------------------------------------


def memory_needed_gb(mailboxes: int, workers: int) -> float:
    """Peak memory of a run, in GB: every worker holds one replication, the parent one table."""
    processes = workers + 1 if workers > 1 else 1
    per_mailbox = WORKER_BYTES_PER_MAILBOX * workers + PARENT_BYTES_PER_MAILBOX
    return (processes * PROCESS_BASE_BYTES + per_mailbox * mailboxes) / GB


def memory_limit_gb() -> float:
    """Default limit: this machine's physical memory."""
    pages = np.int64(_sysconf("SC_PHYS_PAGES")) * np.int64(_sysconf("SC_PAGE_SIZE"))
    return float(pages) / GB if pages > 0 else float("inf")


def _sysconf(name: str) -> int:
    try:
        return int(os.sysconf(name))
    except (ValueError, OSError, AttributeError):
        return -1


def check_memory(scenario: Scenario, workers: int, max_memory_gb: float | None = None) -> None:
    """Raise :class:`MemoryLimitError` when a run would need more than ``max_memory_gb``.

    ``max_memory_gb`` defaults to the machine's physical memory; ``workers``
    is how many replications are held at once on this machine.
    """
    limit = memory_limit_gb() if max_memory_gb is None else max_memory_gb
    mailboxes = scenario.population.mailboxes
    needed = memory_needed_gb(mailboxes, max(1, workers))
    if needed > limit:
        raise MemoryLimitError(_source(scenario, "population.mailboxes"), mailboxes, needed, limit)
