"""Planning backwards: the smallest plan that still meets the deadline.

A programme board asks "what is the smallest weekday batch that finishes by
31 March with 90% confidence?"::

    sol = sim.solve(sc, "batches.weekday", low=5000, high=60000, confidence=0.9)
    sol.value            # 13,742: the smallest batch that meets the target
    sol.table            # every candidate tried: value, P(meet), P50/P90 dates

The search brackets the answer and shrinks the bracket: each candidate is a
Monte Carlo run with the *same* seeds (common random numbers), so replication
``i`` sees the same dice at every candidate and P(meet) moves only because
the plan moved. The next candidate interpolates how many days late the two
ends finish (as the ITP method does: leaning to the middle, and never so far
from it that bisection would have needed fewer evaluations), so a range of
1,000 whole numbers needs at most 2 + 10 evaluations (both ends, then one
halving each), often fewer. Each candidate stops running replications once
its verdict is certain (too many late to reach the confidence, or enough on
time); the answer's numbers come from all of them. A whole-number key gives
an exact whole number; a real-valued key a value within ``tolerance``
(default 1/1000 of the range) of the boundary, on its meeting side.

Direction. For most keys larger values help (batch sizes, throttle, agents):
the answer is the smallest value that meets the target. For the keys in
:data:`SMALLER_HELPS` (failure and ticket rates, mailbox counts and sizes,
handle times, ...) smaller values help: the answer is the largest value that
still meets it. Pass ``direction="smaller_helps"`` or ``"larger_helps"`` for
any other key. Where the model is not monotone in the key the answer is still
a value that meets the target next to one that does not (the boundary the
search found), and the table shows every candidate tried.

Default range when ``low``/``high`` are not given: for a key whose larger
values help, a quarter to four times its current value; for one whose smaller
values help, its least valid value (0 for rates) to four times its current
value; both clipped to the key's valid range.

With ``wait_hours_p90=H`` the target also needs the desk to keep up: the P90
across replications of each replication's P90 ticket wait must be <= H hours
(with ``key="support.agents"``: the fewest agents that keep waits under H).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from sim.experiments.check import TOLERANCE, _confidence, deadline_applied
from sim.experiments.keys import NumericKey, numeric_key
from sim.experiments.runner import check_before_running, checked_arguments, default_workers
from sim.experiments.variants import Variants, completion_days, outcome
from sim.model.scenario import Scenario, ScenarioError, with_overrides

Direction = Literal["larger_helps", "smaller_helps"]

SMALLER_HELPS = frozenset(
    {
        "population.mailboxes",
        "population.size_gb.mean",
        "population.size_gb.sigma",
        "population.size_gb.max",
        "population.legacy_client_share",
        "failures.rate",
        "failures.persistent_share",
        "failures.retry_after_days",
        "support.ticket_rate",
        "support.legacy_ticket_rate",
        "support.failed_cutover_ticket_rate",
        "support.handle_minutes.median",
        "support.handle_minutes.sigma",
        "throttle.daily_variation",
        "throttle.per_move_sigma",
    }
)
"""Keys for which a smaller value makes the plan finish sooner (or the desk cope better)."""

DEFAULT_SPAN = 4.0  # default range: current / 4 .. current * 4
DEFAULT_TOLERANCE_SHARE = 1e-3  # real-valued keys: the answer within range / 1000


@dataclass(frozen=True)
class Trial:
    """One candidate value and what its replications gave."""

    value: float | int
    meets: bool
    p_meet_deadline: float | None  # over the replications run (see replications_run)
    completion_p50: str | None
    completion_p90: str | None
    wait_hours_p90: float
    seconds: float
    replications_run: int  # fewer than all when the verdict was settled early
    days_late: float | None = None  # completion at the confidence quantile minus the deadline


@dataclass
class Solution:
    """The outcome of :func:`solve`; ``value`` is None when no value in the range meets it."""

    key: str
    value: float | int | None
    direction: Direction
    low: float | int
    high: float | int
    integer: bool
    tolerance: float  # 1 for whole numbers (exact); the bracket width reached for real values
    confidence: float
    deadline: dt.date | None
    wait_hours_p90_limit: float | None
    replications: int
    seed: int
    trials: list[Trial] = field(default_factory=list)
    wall_seconds: float = 0.0

    @property
    def found(self) -> bool:
        return self.value is not None

    @property
    def at_range_end(self) -> bool:
        """True when even the end of the range where the key helps least meets the target."""
        worst = self.low if self.direction == "larger_helps" else self.high
        return self.found and self.value == worst

    @property
    def evaluations(self) -> int:
        return len(self.trials)

    @property
    def best(self) -> Trial | None:
        """The trial at the answer."""
        return next((t for t in self.trials if t.value == self.value), None)

    @property
    def table(self) -> pd.DataFrame:
        """Every candidate tried, in the order tried (completion dates as datetime64)."""
        table = pd.DataFrame([asdict(t) for t in self.trials])
        for column in ("completion_p50", "completion_p90"):
            if column in table:
                table[column] = pd.to_datetime(table[column])
        return table

    def to_dict(self) -> dict[str, Any]:
        """The SPEC's JSON: key, value, p_meet_deadline, completion, evaluations, and the rest."""
        best = self.best
        return {
            "key": self.key,
            "value": self.value,
            "p_meet_deadline": best.p_meet_deadline if best else None,
            "completion": (
                {"p50": best.completion_p50, "p90": best.completion_p90} if best else None
            ),
            "evaluations": self.evaluations,
            "found": self.found,
            "at_range_end": self.at_range_end,
            "direction": self.direction,
            "low": self.low,
            "high": self.high,
            "tolerance": self.tolerance,
            "confidence": self.confidence,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "wait_hours_p90_limit": self.wait_hours_p90_limit,
            "wait_hours_p90": best.wait_hours_p90 if best else None,
            "replications": self.replications,
            "seed": self.seed,
            "wall_seconds": round(self.wall_seconds, 3),
            "trials": [asdict(t) for t in self.trials],
        }

    def __repr__(self) -> str:
        verb = "smallest" if self.direction == "larger_helps" else "largest"
        if not self.found:
            return f"<Solution {self.key}: no value in [{self.low}, {self.high}] meets the target>"
        return (
            f"<Solution {self.key} = {self.value} ({verb} meeting the target; "
            f"{self.evaluations} evaluations)>"
        )


def solve(
    scenario: Scenario,
    key: str,
    low: float | None = None,
    high: float | None = None,
    *,
    confidence: float | None = None,
    deadline: dt.date | str | None = None,
    wait_hours_p90: float | None = None,
    direction: Direction | None = None,
    tolerance: float | None = None,
    replications: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    dask: str | None = None,
    progress: Callable[[int], None] | None = None,
    source: str = "key",
    max_memory_gb: float | None = None,
    names: Mapping[str, str] | None = None,
) -> Solution:
    """The smallest (or largest tolerable) value of ``key`` in [low, high] meeting the target.

    The target: P(done by ``deadline``) >= ``confidence`` (defaults: the
    scenario's), and with ``wait_hours_p90`` also the desk constraint. See the
    module docstring for the direction, default range and tolerance.
    ``progress`` is called with 1 after each evaluation. Raises
    :class:`ScenarioError` for an unknown or non-numeric key, an empty range or
    any other bad input, before simulating; like :func:`sim.run`, a plan that
    can never finish or needs more than ``max_memory_gb`` is refused.
    Errors name the Python arguments (``low``, ``tolerance``); ``names`` renames them
    (the command line passes ``{"low": "--low", ...}``).
    """
    started = time.perf_counter()
    names = {**ARGUMENT_NAMES, **(names or {})}
    spec = numeric_key(scenario, key, source)
    if wait_hours_p90 is not None and not (
        isinstance(wait_hours_p90, int | float) and wait_hours_p90 >= 0
    ):
        raise ScenarioError(
            names["wait_hours_p90"], "", f"must be >= 0 hours (got {wait_hours_p90})"
        )
    if wait_hours_p90 is None or deadline is not None or scenario.scenario.deadline is not None:
        scenario = deadline_applied(scenario, deadline, "<scenario>")
    confidence = _confidence(scenario, confidence)
    direction = direction or ("smaller_helps" if key in SMALLER_HELPS else "larger_helps")
    if direction not in ("larger_helps", "smaller_helps"):
        raise ValueError(f"direction must be 'larger_helps' or 'smaller_helps' (got {direction!r})")
    low, high = _range(spec, low, high, direction, names)
    step = 1 if spec.integer else _tolerance(tolerance, low, high, names)
    # Both ends are validated now, so a bad bound is an error before any simulating.
    for bound, name in ((low, names["low"]), (high, names["high"])):
        with_overrides(scenario, {key: bound}, source=name)
    replications, seed, workers = checked_arguments(scenario, replications, seed, workers)
    solution = Solution(
        key=key,
        value=None,
        direction=direction,
        low=low,
        high=high,
        integer=spec.integer,
        tolerance=step,
        confidence=confidence,
        deadline=scenario.scenario.deadline,
        wait_hours_p90_limit=wait_hours_p90,
        replications=replications,
        seed=seed,
    )
    check_before_running(scenario, workers or default_workers(), dask, max_memory_gb)
    with Variants(seed, replications, workers, dask) as variants:
        search = _Search(scenario, key, variants, confidence, wait_hours_p90, source)

        def evaluate(value: float | int) -> Trial:
            trial = search.evaluate(value)
            solution.trials.append(trial)
            if progress:
                progress(1)
            return trial

        solution.value, width = _bracket(evaluate, low, high, step, spec.integer, direction)
        if solution.value is not None:  # the answer's numbers from all its replications
            index = next(i for i, t in enumerate(solution.trials) if t.value == solution.value)
            solution.trials[index] = search.finish(solution.trials[index])
    if not spec.integer:
        solution.tolerance = width
    solution.wall_seconds = time.perf_counter() - started
    return solution


def max_evaluations(low: float, high: float, step: float) -> int:
    """The most evaluations a search over [low, high] to ``step`` can take: both ends + halvings."""
    width = (high - low) / step
    return 2 + (math.ceil(math.log2(width)) if width > 1 else 0) if high > low else 1


def _bracket(
    evaluate: Callable[[float | int], Trial],
    low: float | int,
    high: float | int,
    step: float,
    integer: bool,
    direction: Direction,
) -> tuple[float | int | None, float]:
    """Search [low, high]: (the boundary value on its meeting side, final bracket width).

    ``good`` is the end where the key helps most (high when larger helps); the
    invariant is that ``good`` meets the target and ``bad`` does not. Each
    candidate is :func:`_next_candidate`: an interpolation on how late the
    bracket's ends finish, kept close enough to the middle that the search
    never needs more evaluations than plain bisection (:func:`max_evaluations`).
    """
    budget = max_evaluations(low, high, step)
    good, bad = (high, low) if direction == "larger_helps" else (low, high)
    at_good = evaluate(good)
    if not at_good.meets:
        return None, abs(high - low)
    if good == bad:
        return good, 0.0
    at_bad = evaluate(bad)
    if at_bad.meets:
        return bad, 0.0
    spent, initial_width, halved = 2, abs(good - bad), True
    while abs(good - bad) > step:
        width = abs(good - bad)
        # Brent's safeguard: after a guess that did not halve the bracket, bisect once.
        late_good, late_bad = (at_good.days_late, at_bad.days_late) if halved else (None, None)
        candidate = _next_candidate(
            good, bad, late_good, late_bad, budget - spent, step, integer, initial_width
        )
        if candidate in (good, bad):
            break
        trial = evaluate(candidate)
        spent += 1
        if trial.meets:
            good, at_good = candidate, trial
        else:
            bad, at_bad = candidate, trial
        halved = abs(good - bad) <= width / 2 + step
    return good, abs(good - bad)


TRUNCATION = 0.2  # ITP's kappa_1 (Oliveira & Takahashi 2020): how far a guess leans to the middle
MIN_DAYS_TO_INTERPOLATE = 4  # below this span of lateness between the ends, bisect


def _next_candidate(
    good: float,
    bad: float,
    late_good: float | None,
    late_bad: float | None,
    evaluations_left: int,
    step: float,
    integer: bool,
    initial_width: float,
) -> float | int:
    """The next value to try between ``bad`` and ``good``.

    Regula falsi on the days late at the two ends guesses where the plan
    starts to make it; like the ITP method the guess leans towards the middle
    (so a one-sided run of guesses still shrinks the bracket) and is then kept
    within reach of the middle: both sides it leaves must still be halvable
    down to ``step`` in the evaluations left. So the search is never slower
    than bisection, and much faster when the finish date moves smoothly.
    Where lateness says nothing (no deadline signal, the desk constraint) it
    is bisection.
    """
    lo, hi = min(good, bad), max(good, bad)
    middle = (lo + hi) // 2 if integer else (lo + hi) / 2
    if late_good is None or late_bad is None or not late_bad > max(late_good, 0):
        return middle
    if late_bad - late_good < MIN_DAYS_TO_INTERPOLATE:
        return middle  # whole days, weekends and holidays: a few days' span says nothing finer
    width = hi - lo
    # Aim between the last late day and the first on-time day of the interpolated line.
    share = (late_bad - 0.5) / (late_bad - late_good)
    guess = bad + min(max(share, 0.0), 1.0) * (good - bad)
    lean = TRUNCATION * width * width / initial_width
    guess = guess + math.copysign(lean, middle - guess) if lean < abs(middle - guess) else middle
    reach = step * 2 ** max(evaluations_left - 1, 0)  # halvings left after this one
    lowest, highest = hi - reach, lo + reach
    if integer:
        guess = round(guess)
        lowest, highest = max(math.ceil(lowest), lo + 1), min(math.floor(highest), hi - 1)
    if lowest > highest:
        return middle
    return min(max(guess, lowest), highest)


class _Search:
    """Evaluates candidates, stopping each once its verdict is certain.

    The target needs at least ``required`` of ``n`` replications on time. A
    candidate with more than ``n - required`` late replications fails whatever
    the rest do, so its remaining replications are not run (far below the
    answer that is after a handful); without a wait limit, one with
    ``required`` on time meets it. The same seeds make the verdict the one the
    full run would give. The answer's missing replications are run at the end.
    """

    def __init__(
        self,
        scenario: Scenario,
        key: str,
        variants: Variants,
        confidence: float,
        wait_limit: float | None,
        source: str = "key",
    ) -> None:
        self.scenario, self.key, self.variants = scenario, key, variants
        self.source = source
        self.confidence, self.wait_limit = confidence, wait_limit
        self.n = variants.replications
        self.required = math.ceil(confidence * self.n - TOLERANCE)
        self.has_deadline = scenario.scenario.deadline is not None
        self.partial: dict[float | int, tuple[Scenario, pd.DataFrame, list]] = {}

    def evaluate(self, value: float | int) -> Trial:
        started = time.perf_counter()
        candidate = with_overrides(self.scenario, {self.key: value}, source=self.source)
        runs, remaining = self.variants.runs_until(candidate, self._decided)
        if remaining:
            self.partial[value] = (candidate, runs, remaining)
        return self._trial(value, candidate, runs, time.perf_counter() - started)

    def finish(self, trial: Trial) -> Trial:
        """``trial`` with all its replications run."""
        if trial.value not in self.partial:
            return trial
        started = time.perf_counter()
        candidate, runs, remaining = self.partial.pop(trial.value)
        rest, _ = self.variants.runs_until(candidate, lambda rows: False, remaining)
        runs = pd.concat([runs, rest]).sort_values("replication", ignore_index=True)
        seconds = trial.seconds + time.perf_counter() - started
        return self._trial(trial.value, candidate, runs, seconds)

    def _days_late(self, runs: pd.DataFrame) -> float | None:
        """Days from the deadline to the finish at the confidence quantile (< 0: early).

        From the replications run (an estimate when the verdict came early);
        not completed counts as the horizon + 1. It only steers the search.
        """
        sc = self.scenario.scenario
        if sc.deadline is None or runs.empty:
            return None
        days = completion_days(runs, sc.horizon_days)
        deadline_days = (sc.deadline - sc.start).days + 1
        return float(np.quantile(days, self.confidence, method="inverted_cdf")) - deadline_days

    def _decided(self, rows: list[dict]) -> bool:
        if not self.has_deadline:
            return False
        on_time = sum(bool(row["met_deadline"]) for row in rows)
        if on_time + (self.n - len(rows)) < self.required:
            return True  # fails, whatever the rest do
        return self.wait_limit is None and on_time >= self.required

    def _trial(self, value, candidate: Scenario, runs: pd.DataFrame, seconds: float) -> Trial:
        out = outcome(candidate, runs, self.confidence)
        on_time = int(runs["met_deadline"].sum())
        meets_deadline = not self.has_deadline or on_time >= self.required
        complete = len(runs) == self.n
        meets_desk = self.wait_limit is None or (complete and out.wait_hours_p90 <= self.wait_limit)
        return Trial(
            value=value,
            meets=bool(meets_deadline and meets_desk),
            p_meet_deadline=None if out.p_meet_deadline is None else round(out.p_meet_deadline, 4),
            completion_p50=out.completion["p50"],
            completion_p90=out.completion["p90"],
            wait_hours_p90=round(out.wait_hours_p90, 3),
            seconds=round(seconds, 3),
            replications_run=len(runs),
            days_late=self._days_late(runs),
        )


ARGUMENT_NAMES = {
    "low": "low",
    "high": "high",
    "tolerance": "tolerance",
    "wait_hours_p90": "wait_hours_p90",
    "key": "key",
}
CLI_NAMES = {
    "low": "--low",
    "high": "--high",
    "tolerance": "--tolerance",
    "wait_hours_p90": "--wait-hours-p90",
    "key": "--for",
}


def _range(
    spec: NumericKey,
    low: float | None,
    high: float | None,
    direction: Direction,
    names: Mapping[str, str] = ARGUMENT_NAMES,
) -> tuple[float | int, float | int]:
    for bound, name in ((low, names["low"]), (high, names["high"])):
        if bound is not None and (
            not isinstance(bound, int | float)
            or isinstance(bound, bool)
            or not math.isfinite(bound)
        ):
            raise ScenarioError(name, spec.key, f"must be a number (got {bound!r})")
        if bound is not None and spec.integer and float(bound) != int(bound):
            raise ScenarioError(name, spec.key, f"must be a whole number (got {bound!r})")
    current = spec.value if spec.value is not None else (1 if spec.integer else 1.0)
    given_low, given_high = low is not None, high is not None
    if low is None:
        low = spec.clip(current / DEFAULT_SPAN if direction == "larger_helps" else spec.lower)
        if given_high and high < low:  # only --high, below the default: search down from it
            low = spec.clip(max(spec.lower, 0) if math.isfinite(spec.lower) else 0)
    if high is None:
        high = spec.clip(current * DEFAULT_SPAN if current > 0 else min(spec.upper, 1))
        if given_low and high < low:  # only --low, above the default: search up from it
            high = spec.clip(low * DEFAULT_SPAN if low > 0 else min(spec.upper, 1))
    if spec.integer:
        low, high = int(low), int(high)
    if high < low:
        blame = names["low"] if given_low else names["high"]
        raise ScenarioError(blame, spec.key, f"the range [{low}, {high}] is empty")
    return low, high


def _tolerance(
    tolerance: float | None, low: float, high: float, names: Mapping[str, str] = ARGUMENT_NAMES
) -> float:
    if tolerance is None:
        return (high - low) * DEFAULT_TOLERANCE_SHARE or 1e-12
    if not tolerance > 0:
        raise ScenarioError(names["tolerance"], "", f"must be > 0 (got {tolerance})")
    return float(tolerance)
