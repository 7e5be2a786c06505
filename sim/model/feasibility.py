"""Plans that can never finish, found before anything is simulated.

The schema checks each value on its own; a plan can still be impossible as a
whole. A planner who writes ``weekday = 0`` and ``weekend_day = 0`` with no
phases, or sets every throttle window to 0 GB/h, or staffs the desk with no
agents while tickets are expected, has a plan that cannot finish: it is bad
input, reported like any other (:class:`ScenarioError`, one line naming the
file and the dotted key), not a simulation that "completes" nothing::

    >>> problems(sc)          # [] for a plan that can finish; else every reason, one line each
    >>> check_feasible(sc)    # raises ScenarioError for the first problem
    >>> warnings(sc)          # e.g. a horizon that ends before the deadline

**This is the one check every command shares.** ``sim.run``, ``sweep``,
``check``, ``report``, ``solve``, ``sensitivity`` and ``forecast`` call it
through :func:`sim.experiments.runner.check_before_running` (which adds the
caller's workers, replications and memory limit); ``validate`` lists every
one of :func:`problems`. A new front end (``compare``, the app) should call
``check_before_running`` too, so that what one refuses, all refuse.

The rules (each a function below; ``docs/model.md`` lists them for planners):

- some cutover day lies within the horizon, for every lane;
- the horizon holds at least as many places (batch sizes summed over its
  cutover days, across every lane) as there are mailboxes;
- the throttle lets some data move, and the largest mailbox can sync within
  the horizon at the fastest pace the scenario allows;
- the desk has agents and opening hours when tickets are expected;
- sizes are not capped below their mean;
- a risk at its worst effect keeps ``failures.rate`` below 1, and no pause
  (or throttle cut to 0) lasts the whole horizon;
- the run fits in memory (:func:`check_memory`).

**Over the whole support.** An uncertain number (``{dist = ...}``) is checked
at the ends of what a replication can draw, not only at its median: every
schema rule at each end of each uncertain key, and each rule above in the
world it fears most (each key at the end that hurts that rule). An ``agents``
distribution that can draw 0 while tickets are expected is refused just as
``agents = 0`` is, instead of quietly losing the worlds that drew it.

A memory estimate guards huge runs: :func:`check_memory` refuses a run whose
population and replications would not fit in memory instead of letting the
operating system kill it half-way, and :func:`estimate` gives the memory and
a rough wall time for the progress line.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats

from sim.model.calendar import Calendar, build_calendar
from sim.model.distributions import U_EDGE, key_parts, range_of, set_at
from sim.model.inventory import load_inventory
from sim.model.lanes import compile_lanes
from sim.model.population import lognormal_mu
from sim.model.scenario import Scenario, ScenarioError, from_dict, to_dict
from sim.model.throttle import build_capacity
from sim.model.uncertainty import replaced

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
    ``cli`` the same for the command line (``--max-memory``), and what to change:
    fewer replications when their tables are most of it (``fit``: how many
    would fit), else fewer workers.
    """

    def __init__(
        self,
        source: str,
        mailboxes: int,
        needed_gb: float,
        limit_gb: float,
        replications: int = 1,
        tables_gb: float = 0.0,
        fit: int | None = None,
    ) -> None:
        self.needed_gb, self.limit_gb, self.fit = needed_gb, limit_gb, fit
        many = tables_gb > needed_gb / 2
        what = (
            f"{replications:,} replications of {mailboxes:,} mailboxes"
            if many
            else (f"{mailboxes:,} mailboxes")
        )
        need = f"{what} need about {needed_gb:,.1f} GB of memory, more than the "
        need += f"{limit_gb:,.1f} GB allowed"
        key = "scenario.replications" if many else "population.mailboxes"
        if many:
            fewer = f"at most {fit:,} replications fit" if fit else "use fewer replications"
            python, cli = (
                f"{fewer}, or raise max_memory_gb=",
                f"{fewer} (-n N), or raise --max-memory GB",
            )
        else:
            python = "raise it with max_memory_gb=, or use fewer workers"
            cli = "raise it with --max-memory GB, or use fewer --workers"
        super().__init__(source, key, f"{need} ({python})")
        self.cli = f"{source}: {key}: {need} ({cli})"


# Which end of an uncertain key each rule fears ("low": the rule fails as the value falls).
Fears = Mapping[str, str]  # regular expression over dotted keys -> "low" | "high"
BATCH_SIZES = {r"(^|\.)(weekday|weekend_day)$": "low"}
THROTTLE = {r"^throttle\.scale$": "low", r"^throttle\.windows\[\d+\]\.gb_per_hour$": "low"}
# Every world must let the largest mailbox sync: uncertain speeds at their slowest draw (within
# a world, the rule then allows the fastest pace its per-mailbox and daily variation give).
SYNC = {
    r"^throttle\.(scale|per_move_gb_per_hour|per_move_items_per_hour|presync_lead_days)$": "low",
    r"^throttle\.windows\[\d+\]\.gb_per_hour$": "low",
    r"^population\.size_gb\.(max|mean|sigma)$": "high",
}
DESK = {
    r"^support\.agents$": "low",
    r"ticket_rate$": "high",
    r"^population\.legacy_client_share$": "high",
    r"^failures\.rate$": "high",
}
SIZES = {r"^population\.size_gb\.max$": "low", r"^population\.size_gb\.mean$": "high"}
PLACES = {**BATCH_SIZES, r"^population\.mailboxes$": "high"}

# Per-mailbox speed factors are lognormal quantiles at (k + 0.5) / 4096 (sim.model.uncertainty).
FASTEST_SPEED_Z = float(stats.norm.ppf(1 - 0.5 / 4096))
FASTEST_DAY_Z = float(stats.norm.ppf(1 - U_EDGE))  # the luckiest day of daily variation


@dataclass(frozen=True)
class Rule:
    """A way a plan can never finish: ``check`` finds it, ``fears`` says where to look."""

    check: Callable[[Scenario, Calendar], ScenarioError | None]
    fears: Fears


def problems(
    scenario: Scenario,
    calendar: Calendar | None = None,
    *,
    workers: int | None = None,
    replications: int | None = None,
    max_memory_gb: float | None = None,
    remote: bool = False,
) -> list[ScenarioError]:
    """Every reason ``scenario`` can never finish (empty when it can), one error each.

    Uncertain numbers are checked over their whole support (see the module's
    docstring). With ``workers``, a run on that many local workers (``remote``:
    on a cluster, so this machine holds one table) must also fit in memory.
    """
    cal = calendar or build_calendar(scenario)
    found = list(_schema_at_the_ends(scenario))
    for rule in RULES:
        error = rule.check(scenario, cal)
        if error is None:
            worst, drawn = _at_worst(scenario, rule.fears)
            if drawn:
                error = _in_that_world(rule.check(worst, build_calendar(worst)), drawn)
        if error is not None:
            found.append(error)
    found += _risks_at_worst(scenario)
    if workers is not None:
        try:  # on a cluster the workers have their own memory; this machine holds one table
            check_memory(scenario, 1 if remote else workers, max_memory_gb, replications)
        except MemoryLimitError as error:
            found.append(error)
    return _unique(found)


def check_feasible(
    scenario: Scenario,
    calendar: Calendar | None = None,
    *,
    workers: int | None = None,
    replications: int | None = None,
    max_memory_gb: float | None = None,
    remote: bool = False,
) -> None:
    """Raise the first of :func:`problems` (the same arguments) as a :class:`ScenarioError`."""
    found = problems(
        scenario,
        calendar,
        workers=workers,
        replications=replications,
        max_memory_gb=max_memory_gb,
        remote=remote,
    )
    if found:
        raise found[0]


def _unique(errors: list[ScenarioError]) -> list[ScenarioError]:
    seen, out = set(), []
    for error in errors:
        if str(error) not in seen:
            seen.add(str(error))
            out.append(error)
    return out


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


def _error(scenario: Scenario, key: str, message: str, *also: str) -> ScenarioError:
    """The error on ``key``, or on the first of ``also`` that an override (``--set``) gave:
    a rule broken by an override is the override's fault."""
    file = _source(scenario, "")
    key = next((k for k in (key, *also) if _source(scenario, k) != file), key)
    return ScenarioError(_source(scenario, key), key, message)


def _source(scenario: Scenario, key: str) -> str:
    return scenario.source_of(key) if hasattr(scenario, "source_of") else "<scenario>"


# --- the whole support of uncertain numbers ----------------------------------------------------


def draw_ends(scenario: Scenario, key: str) -> tuple[float | int, float | int]:
    """The smallest and largest value a replication can draw for the uncertain ``key``.

    Exactly what :func:`sim.model.uncertainty.draw_value` can return: the inverse
    CDF at its extreme uniforms, kept inside the key's range (ints rounded).
    """
    dist = scenario.uncertain[key]
    spec = range_of(Scenario, key)
    ends = spec.clip(dist.ppf(np.array([U_EDGE, 1.0 - U_EDGE]), spec.bounds))
    if spec.integer:
        return int(ends[0]), int(ends[1])
    return float(ends[0]), float(ends[1])


def _schema_at_the_ends(scenario: Scenario) -> Iterator[ScenarioError]:
    """Each uncertain key at each end of its draws, validated as if written as a number."""
    for key in scenario.uncertain:
        for value in dict.fromkeys(draw_ends(scenario, key)):
            data = to_dict(scenario)
            set_at(data, key_parts(key), value)  # list items too: throttle.windows[0]....
            sources = dict(scenario._sources)
            try:
                from_dict(data, source=sources.pop("", "<scenario>"), sources=sources)
            except ScenarioError as error:
                yield ScenarioError(
                    _source(scenario, key),
                    error.key,
                    f"{error.message}, in a world where {key} draws {_shown(value)} "
                    "(an end of its distribution)",
                )


def _at_worst(scenario: Scenario, fears: Fears) -> tuple[Scenario, dict[str, float | int]]:
    """``scenario`` with each uncertain key that ``fears`` names at the end it fears."""
    drawn: dict[str, float | int] = {}
    worst = scenario
    for key in scenario.uncertain:
        end = next((side for pattern, side in fears.items() if re.search(pattern, key)), None)
        if end is None:
            continue
        low, high = draw_ends(scenario, key)
        drawn[key] = low if end == "low" else high
        worst = replaced(worst, key_parts(key), drawn[key])
    if drawn:
        worst = worst.model_copy()
        worst._sources = scenario._sources
        worst._uncertain = {}
    return worst, drawn


def _in_that_world(
    error: ScenarioError | None, drawn: Mapping[str, float | int]
) -> ScenarioError | None:
    if error is None:
        return None
    world = ", ".join(f"{key} = {_shown(value)}" for key, value in drawn.items())
    return ScenarioError(
        error.source,
        error.key,
        f"{error.message}, in a world its distributions can draw ({world})",
    )


def _shown(value: float | int) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:.6g}"


# --- the rules ---------------------------------------------------------------------------------


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


def _places(scenario: Scenario, cal: Calendar) -> ScenarioError | None:
    """Fewer places on the evenings of the horizon than mailboxes: some never get a date."""
    # With [[lanes]], every lane's places count: how the kinds split between lanes may be
    # drawn, but no world can move more mailboxes than all lanes together have places.
    within = slice(0, cal.last_cutover_index + 1)
    lanes = compile_lanes(scenario, cal)
    places = sum(int(lane.batch_size[within].sum()) for lane in lanes)
    mailboxes = scenario.population.mailboxes
    if not len(cal.cutover_days) or places >= mailboxes:
        return None
    across = " across its lanes" if len(lanes) > 1 else ""
    return _error(
        scenario,
        "batches.weekday",
        f"the {scenario.scenario.horizon_days}-day horizon has {places:,} places{across} "
        f"(batch sizes over its cutover days) for {mailboxes:,} mailboxes: "
        "raise the batch sizes, add phases or lengthen scenario.horizon_days",
        "population.mailboxes",
        "scenario.horizon_days",
    )


def _lane_days(scenario: Scenario, cal: Calendar) -> ScenarioError | None:
    """A lane ([[lanes]]) without a cutover day within the horizon never moves its kinds."""
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


def _largest_mailbox(scenario: Scenario) -> tuple[float, float | None]:
    """Size (GB) and item count of the largest mailbox a replication can hold."""
    population = scenario.population
    if population.inventory is None:
        # Drawn sizes: the typical largest of this many draws (the median of their
        # maximum, near the 1 - 1/(2n) quantile), never above the cap.
        size = population.size_gb
        if size.sigma == 0:
            return min(size.mean, size.max), None
        mu = lognormal_mu(size.mean, size.sigma)
        top = 1 - 1 / (2 * population.mailboxes)
        largest = float(stats.lognorm.ppf(top, size.sigma, scale=math.exp(mu)))
        return min(largest, size.max), None
    inventory = load_inventory(population.inventory)
    size = float(inventory.size_gb.max())
    items = None if inventory.item_count is None else float(inventory.item_count.max())
    return size, items


def _sync_within_horizon(scenario: Scenario, cal: Calendar) -> ScenarioError | None:
    """The largest mailbox, at the fastest pace the scenario allows, still not synced in time."""
    throttle = scenario.throttle
    size_gb, items = _largest_mailbox(scenario)
    luckiest_move = math.exp(throttle.per_move_sigma * FASTEST_SPEED_Z)
    luckiest_day = math.exp(throttle.daily_variation * FASTEST_DAY_Z)
    window_gb_per_hour = max((w.gb_per_hour for w in throttle.windows), default=0.0)
    move = throttle.per_move_gb_per_hour * luckiest_move
    tenant = window_gb_per_hour * throttle.scale * luckiest_day
    pace = min(move, tenant)
    if pace <= 0:
        return None  # no capacity at all: _throttle_capacity says so
    hours = size_gb / pace
    key = "throttle.per_move_gb_per_hour" if move <= tenant else "throttle.windows"
    if items is not None and throttle.per_move_items_per_hour is not None:
        item_hours = items / (throttle.per_move_items_per_hour * luckiest_move)
        if item_hours > hours:
            hours, key = item_hours, "throttle.per_move_items_per_hour"
    available = (scenario.scenario.horizon_days + throttle.presync_lead_days) * 24
    if hours <= available:
        return None
    return _error(
        scenario,
        key,
        f"the largest mailbox ({size_gb:,.4g} GB) needs {hours:,.0f} hours to sync at the "
        f"fastest pace the scenario allows ({pace:,.4g} GB/h), more than the "
        f"{available:,.0f} hours of the horizon and its presync lead: it could never move",
        "population.size_gb.max",
        "scenario.horizon_days",
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
    if scenario.population.inventory is None and size.max < size.mean:
        return _error(
            scenario,
            "population.size_gb.max",
            f"must be >= population.size_gb.mean ({size.mean}) (got {size.max}): "
            "sizes capped below their mean cannot have that mean",
        )
    return None


RULES = (
    Rule(_cutover_days, BATCH_SIZES),
    Rule(_lane_days, BATCH_SIZES),
    Rule(_places, PLACES),
    Rule(_throttle_capacity, THROTTLE),
    Rule(_sync_within_horizon, SYNC),
    Rule(_desk, DESK),
    Rule(_size_limits, SIZES),
)


def _risks_at_worst(scenario: Scenario) -> list[ScenarioError]:
    """Each risk at its worst effect, against the rules its keys' fixed values meet.

    A failure wave must keep ``failures.rate`` below 1, as the key itself must;
    a pause, or a throttle cut to 0, must not last the whole horizon (in the
    world where it strikes on the first day, no plan could finish).
    """
    found = []
    rate = scenario.failures.rate
    if "failures.rate" in scenario.uncertain:
        rate = draw_ends(scenario, "failures.rate")[1]
    horizon = scenario.scenario.horizon_days
    for index, risk in enumerate(scenario.risks):
        worst = {name: _risk_end(risk, name) for name in RISK_WORST}
        factor = worst["failure_factor"]
        if factor is not None and rate * factor >= 1:
            found.append(
                _error(
                    scenario,
                    f"risks[{index}].failure_factor",
                    f"at its worst ({_shown(factor)}) makes failures.rate "
                    f"{_shown(rate)} x {_shown(factor)} = {_shown(rate * factor)}, "
                    "but failures.rate must stay below 1: every cutover would fail",
                )
            )
        pause, days = worst["pause_days"], worst["days"]
        if pause is not None and pause >= horizon:
            found.append(
                _error(
                    scenario,
                    f"risks[{index}].pause_days",
                    f"at its worst ({pause:,} days) lasts the whole {horizon}-day horizon: "
                    "in a world where it strikes early, no cutover could happen",
                )
            )
        if worst["throttle_factor"] == 0 and days is not None and days >= horizon:
            found.append(
                _error(
                    scenario,
                    f"risks[{index}].days",
                    f"a throttle cut to 0 for up to {days:,} days lasts the whole "
                    f"{horizon}-day horizon: in a world where it strikes early, "
                    "no initial sync could run",
                )
            )
    return found


# The end of each risk effect that hurts most: long pauses, deep throttle cuts, big waves.
RISK_WORST = {
    "pause_days": "high",
    "days": "high",
    "throttle_factor": "low",
    "failure_factor": "high",
}


def _risk_end(risk, name: str) -> float | int | None:
    value = getattr(risk, name)
    if value is None or isinstance(value, int | float):
        return value
    spec = range_of(type(risk), name)
    u = U_EDGE if RISK_WORST[name] == "low" else 1.0 - U_EDGE
    end = float(spec.clip(value.ppf(np.array(u), spec.bounds))[()])
    return int(end) if spec.integer else end


# --- memory ------------------------------------------------------------------------------------


# What the parent holds per replication, measured with tracemalloc (100 against 400
# replications of a 500-mailbox plan finishing in 18 and in 45 days): ~8.7 kB a replication
# (its runs row and its frames) and ~330 bytes a daily row; the horizon bounds the rows.
RUNS_ROW_BYTES = 10_000
DAILY_ROW_BYTES = 350
# Wall time, measured on the reference (2.1M mailboxes: ~1.4 s a replication on one core) and
# on small plans (a few ms of set-up each); deliberately rough: it sizes work, it is no promise.
SECONDS_PER_MAILBOX = 1e-6
SECONDS_PER_REPLICATION = 0.01


def memory_needed_gb(mailboxes: int, workers: int, replications: int = 0, days: int = 0) -> float:
    """Peak memory of a run, in GB: every worker holds one replication, the parent one
    per-mailbox table and the ``runs``/``daily`` rows of ``replications`` of ``days`` days."""
    processes = workers + 1 if workers > 1 else 1
    per_mailbox = WORKER_BYTES_PER_MAILBOX * workers + PARENT_BYTES_PER_MAILBOX
    base = (processes * PROCESS_BASE_BYTES + per_mailbox * mailboxes) / GB
    return base + _tables_gb(replications, days)


def _tables_gb(replications: int, days: int) -> float:
    return replications * (RUNS_ROW_BYTES + DAILY_ROW_BYTES * days) / GB


@dataclass(frozen=True)
class Estimate:
    """What a run will take, before it starts: memory (GB) and a rough wall time (s)."""

    memory_gb: float
    seconds: float

    def describe(self) -> str:
        return f"about {self.memory_gb:,.1f} GB of memory and {duration(self.seconds)}"


def estimate(scenario: Scenario, replications: int, workers: int) -> Estimate:
    """Memory and rough wall time of ``replications`` replications on ``workers`` workers."""
    mailboxes = scenario.population.mailboxes
    days = scenario.scenario.horizon_days
    memory = memory_needed_gb(mailboxes, max(1, workers), replications, days)
    per_replication = SECONDS_PER_REPLICATION + SECONDS_PER_MAILBOX * mailboxes
    waves = math.ceil(replications / max(1, workers))
    return Estimate(memory, waves * per_replication)


def duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3.5 h``, ``2.1 days``."""
    if seconds < 90:
        return f"{seconds:,.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:,.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:,.1f} h"
    return f"{seconds / 86400:,.1f} days"


def memory_limit_gb() -> float:
    """Default limit: this machine's physical memory."""
    pages = np.int64(_sysconf("SC_PHYS_PAGES")) * np.int64(_sysconf("SC_PAGE_SIZE"))
    return float(pages) / GB if pages > 0 else float("inf")


def _sysconf(name: str) -> int:
    try:
        return int(os.sysconf(name))
    except (ValueError, OSError, AttributeError):
        return -1


def check_memory(
    scenario: Scenario,
    workers: int,
    max_memory_gb: float | None = None,
    replications: int | None = None,
) -> None:
    """Raise :class:`MemoryLimitError` when a run would need more than ``max_memory_gb``.

    ``max_memory_gb`` defaults to the machine's physical memory; ``workers``
    is how many replications are held at once on this machine; ``replications``
    (when known) adds the tables the parent collects.
    """
    limit = memory_limit_gb() if max_memory_gb is None else max_memory_gb
    mailboxes = scenario.population.mailboxes
    reps, days, held = replications or 0, scenario.scenario.horizon_days, max(1, workers)
    needed = memory_needed_gb(mailboxes, held, reps, days)
    if needed > limit:
        tables = _tables_gb(reps, days)
        room = limit - memory_needed_gb(mailboxes, held)
        per_replication = _tables_gb(1, days)
        fit = int(room / per_replication) if room > 0 else 0
        key = "scenario.replications" if tables > needed / 2 else "population.mailboxes"
        raise MemoryLimitError(
            _source(scenario, key), mailboxes, needed, limit, max(1, reps), tables, fit
        )
