"""A pilot calibrates the plan: move speeds and failures fitted from a move report.

Vendors tell planners to size a migration from a pilot and then refuse to
predict. Here the pilot's ``Get-MoveRequestStatistics`` export
(``sim.experiments.move_report``) becomes the scenario's throttle and failure
keys, each with the evidence behind it and its doubt::

    >>> cal = sim.calibrate(sc, moves="scenarios/pilot-moves.csv")
    >>> cal.table          # key, value, moves, estimate, 90% interval, evidence
    >>> cal.scenario       # the scenario with the fitted keys replaced
    >>> cal.plot()         # observed against fitted speeds, on a log axis

**The model fitted is the one simulated.** A move of ``s`` GB holding ``n``
items takes ``max(s / g, n / r) / f`` hours in progress, where ``g`` is the
programme's median GB/hour, ``r`` its items/hour and ``f`` the mailbox's own
lognormal speed factor (median 1, sigma ``per_move_sigma``). On the log scale
``log t = max(log s - log g, log n - log r) + e`` with ``e`` normal: least
squares is the maximum-likelihood fit of ``log g``, ``log r`` and ``sigma``.
Each move is bound by size or by items at the fitted rates; the standard error
of ``log g`` is ``sigma / sqrt(moves bound by size)`` (of ``log r``, by items),
so the doubt shrinks with the pilot. They become:

* ``throttle.per_move_gb_per_hour = {dist = "lognormal", median = g, sigma = se}``
  (``se`` widened so that the 90% interval is Student's t interval);
* ``throttle.per_move_items_per_hour``, the same, from the item-bound moves;
* ``throttle.per_move_sigma = sigma`` (its 90% chi-square interval in the table);
* ``failures.rate = {dist = "beta", alpha = failed + 1/2, beta = completed + 1/2}``,
  the posterior of the failure rate per completion attempt under Jeffreys' prior.

Speeds come from Completed and Synced moves (bytes transferred over time in
progress); failures from Completed and Failed ones. A key with fewer than
:data:`MIN_MOVES` usable moves is left as it was, and the table says so.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.experiments.move_report import MoveReport, gb, read_move_report
from sim.model.scenario import Scenario, ScenarioError, with_overrides
from sim.outputs.scenario_edit import replace_keys, toml_value

MIN_MOVES = 10  # fewer usable moves than this leave a key alone
LEVEL = 0.90  # the intervals the table states
SPEED_KEYS = ("throttle.per_move_gb_per_hour", "throttle.per_move_sigma")
ITEMS_KEY = "throttle.per_move_items_per_hour"
FAILURE_KEY = "failures.rate"
KEYS = (*SPEED_KEYS, ITEMS_KEY, FAILURE_KEY)
Z = float(stats.norm.ppf(0.5 + LEVEL / 2))


@dataclass(frozen=True)
class KeyFit:
    """One scenario key: the value written (a number or a ``{dist = ...}`` table) and why."""

    key: str
    fitted: bool
    value: Any  # None when left alone
    moves: int  # the usable moves behind it
    estimate: float  # point estimate (NaN when left alone)
    low: float  # the LEVEL interval
    high: float
    evidence: str


@dataclass(frozen=True)
class SpeedFit:
    """The least-squares fit of ``log t = max(log s - log g, log n - log r) + e``."""

    log_gb_per_hour: float
    log_items_per_hour: float | None  # None: items never bind (or too few moves to tell)
    sigma: float
    bound_by_items: np.ndarray  # bool per move
    dof: int

    @property
    def moves(self) -> int:
        return len(self.bound_by_items)

    def fitted_hours(self, size_gb: np.ndarray, items: np.ndarray | None) -> np.ndarray:
        hours = size_gb / math.exp(self.log_gb_per_hour)
        if items is not None and self.log_items_per_hour is not None:
            hours = np.maximum(hours, items / math.exp(self.log_items_per_hour))
        return hours

    def standard_error(self, moves: int) -> float:
        """Of a log-rate estimated from ``moves`` moves, as a lognormal sigma whose central
        LEVEL interval is Student's t interval."""
        widen = stats.t.ppf(0.5 + LEVEL / 2, self.dof) / Z
        return self.sigma / math.sqrt(moves) * widen

    def sigma_interval(self) -> tuple[float, float]:
        tail = (1 - LEVEL) / 2
        chi2 = stats.chi2.ppf([1 - tail, tail], self.dof)
        low, high = np.sqrt(self.dof * self.sigma**2 / chi2)
        return float(low), float(high)


@dataclass(frozen=True)
class Calibration:
    """What a pilot says: per key the value, its evidence and its interval; the scenario."""

    scenario: Scenario
    base: Scenario
    fits: tuple[KeyFit, ...]
    moves: pd.DataFrame  # one row per move used for speeds: gb, hours, speeds, bound
    source: str
    report: MoveReport = field(repr=False)

    @property
    def keys(self) -> dict[str, Any]:
        """The fitted keys and their new values (numbers or ``{dist = ...}`` tables)."""
        return {f.key: f.value for f in self.fits if f.fitted}

    @property
    def table(self) -> pd.DataFrame:
        """One row per key: key, fitted, value (TOML), moves, estimate, low, high, evidence."""
        rows = [
            {
                "key": f.key,
                "fitted": f.fitted,
                "value": toml_value(f.value) if f.fitted else None,
                "moves": f.moves,
                "estimate": f.estimate,
                "low": f.low,
                "high": f.high,
                "evidence": f.evidence,
            }
            for f in self.fits
        ]
        return pd.DataFrame(rows)

    @property
    def summary(self) -> dict[str, Any]:
        """The fit as JSON-able data (``migsim calibrate --json``)."""

        def number(x: float) -> float | None:
            return float(x) if np.isfinite(x) else None

        return {
            "scenario": self.base.scenario.name,
            "moves": self.source,
            "statuses": self.report.counts(),
            "level": LEVEL,
            "keys": {
                f.key: {
                    "fitted": f.fitted,
                    "value": f.value,
                    "moves": f.moves,
                    "estimate": number(f.estimate),
                    "interval": [number(f.low), number(f.high)],
                    "evidence": f.evidence,
                }
                for f in self.fits
            },
        }

    def plot(self):
        """Observed against fitted per-move speeds, on log axes (a matplotlib Figure)."""
        from sim.outputs.calibration_plot import calibration_figure

        return calibration_figure(self)

    def toml(self, text: str, *, extra: dict[str, tuple[Any, str]] | None = None) -> str:
        """``text`` (the scenario file) with the fitted keys replaced, each with its evidence.

        ``extra`` adds other replacements (dotted key -> (value, comment)).
        """
        name = Path(self.source).name
        changes = {f.key: (f.value, f"{name}: {f.evidence}") for f in self.fits if f.fitted}
        return replace_keys(text, {**(extra or {}), **changes})

    def _repr_html_(self) -> str:
        rows = "".join(
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>".format(
                html.escape(f.key),
                html.escape(toml_value(f.value)) if f.fitted else "<i>left alone</i>",
                html.escape(f.evidence),
            )
            for f in self.fits
        )
        counts = ", ".join(f"{v} {k}" for k, v in self.report.counts().items())
        return (
            f"<div><b>Calibration from {html.escape(Path(self.source).name)}</b> "
            f"({len(self.report)} moves: {html.escape(counts)}; intervals {LEVEL:.0%})"
            "<table><tr><th>key</th><th>value</th><th>evidence</th></tr>"
            f"{rows}</table></div>"
        )


def calibrate(
    scenario: Scenario,
    moves: str | Path | pd.DataFrame | MoveReport,
    *,
    source: str | None = None,
) -> Calibration:
    """Fit ``scenario``'s move speeds and failure rate from a pilot's move report.

    ``moves`` is a ``Get-MoveRequestStatistics`` CSV, a DataFrame of its columns, or a
    read :class:`MoveReport`; ``source`` names it in errors and evidence.
    Raises :class:`ScenarioError` (one line naming the file, row and column) for a bad
    report, and for one with no Completed move.
    """
    report = moves if isinstance(moves, MoveReport) else read_move_report(moves, display=source)
    source = source or report.source
    counts = report.counts()
    if counts.get("completed", 0) == 0:
        seen = ", ".join(f"{v} {k}" for k, v in counts.items()) or "no moves"
        raise ScenarioError(
            source, "column Status", f"no move is Completed ({seen}): nothing to calibrate from"
        )
    usable = _usable_for_speed(report)
    n_usable = int(usable.sum())
    size_gb = gb(report.bytes_transferred[usable])
    hours = report.hours[usable]
    items = report.items[usable] if report.items is not None else None
    if items is not None and np.isnan(items).any():
        items = np.where(np.isnan(items), 0.0, items)  # an unknown count never binds
    speed = fit_speeds(size_gb, hours, items) if n_usable >= MIN_MOVES else None
    fits = (*_speed_keys(speed, n_usable), _items_key(speed, items), _failure_key(report))
    overrides = {f.key: f.value for f in fits if f.fitted}
    calibrated = with_overrides(scenario, overrides, source=f"calibrate({source})")
    table = _moves_table(report, usable, size_gb, hours, items, speed)
    return Calibration(calibrated, scenario, fits, table, source, report)


def _usable_for_speed(report: MoveReport) -> np.ndarray:
    moved = np.isin(report.status, ("completed", "synced"))
    with np.errstate(invalid="ignore"):
        return moved & (report.bytes_transferred > 0) & (report.hours > 0)


# --- the fit --------------------------------------------------------------------------------


def fit_speeds(size_gb: np.ndarray, hours: np.ndarray, items: np.ndarray | None) -> SpeedFit:
    """Least squares of ``log t = max(log s - lg, log n - lr) + e`` (see the module docstring).

    The objective is piecewise quadratic: for a fixed split of the moves into
    size-bound and item-bound the optimum is two means, so the fit alternates
    (split at the current rates, then the means) from several starts and keeps the
    smallest sum of squares. With fewer than :data:`MIN_MOVES` moves bound by items,
    or an improvement the Bayesian information criterion calls chance, items are taken
    never to bind.
    """
    y = np.log(hours)
    a = np.log(size_gb)
    size_only = _size_only(a, y)
    if items is None or np.count_nonzero(items > 0) < MIN_MOVES:
        return size_only
    b = np.full(len(items), -np.inf)
    b[items > 0] = np.log(items[items > 0])
    finite = np.isfinite(b)
    best = None
    for q_size in (0.5, 0.75, 0.9):
        for q_items in (0.5, 0.75, 0.9):
            start = (np.quantile(a - y, q_size), np.quantile((b - y)[finite], q_items))
            candidate = _alternate(a, b, y, *start)
            if candidate is not None and (best is None or candidate[0] < best[0]):
                best = candidate
    if best is None:
        return size_only
    ssr, lg, lr, by_items = best
    n = len(y)
    ssr_size_only = _ssr(a - y - size_only.log_gb_per_hour)
    if int(by_items.sum()) < MIN_MOVES or not _items_earn_their_keep(ssr_size_only, ssr, n):
        return size_only  # items bind too rarely to tell, or explain no more than chance
    dof = n - 2
    return SpeedFit(lg, lr, math.sqrt(ssr / dof), by_items, dof)


def _items_earn_their_keep(ssr_size_only: float, ssr_with_items: float, n: int) -> bool:
    """The Bayesian information criterion: the items rate and the split it makes (two more
    parameters) must improve the log-likelihood by more than they cost. Without it, moves
    that happened to be slow and full of items would make a rate out of chance."""
    if ssr_with_items <= 0:
        return ssr_size_only > 0
    return n * math.log(ssr_size_only / ssr_with_items) > 2 * math.log(n)


def _ssr(residuals: np.ndarray) -> float:
    return float(np.dot(residuals, residuals))


def _size_only(a: np.ndarray, y: np.ndarray) -> SpeedFit:
    lg = float(np.mean(a - y))
    dof = max(len(y) - 1, 1)
    sigma = math.sqrt(_ssr(a - y - lg) / dof)
    return SpeedFit(lg, None, sigma, np.zeros(len(y), bool), dof)


def _alternate(a, b, y, lg, lr, rounds: int = 100):
    """Split by the current rates, refit the two means; until the split stops changing."""
    split = None
    for _ in range(rounds):
        by_items = (b - lr) > (a - lg)
        if split is not None and np.array_equal(by_items, split):
            break
        split = by_items
        if by_items.all() or not by_items.any():
            return None
        lg = float(np.mean((a - y)[~by_items]))
        lr = float(np.mean((b - y)[by_items]))
    by_items = (b - lr) > (a - lg)
    residual = y - np.maximum(a - lg, b - lr)
    return _ssr(residual), lg, lr, by_items


# --- keys -----------------------------------------------------------------------------------


def _left_alone(key: str, moves: int, why: str) -> KeyFit:
    return KeyFit(key, False, None, moves, math.nan, math.nan, math.nan, why)


def _lognormal_key(key: str, log_rate: float, se: float, moves: int, what: str) -> KeyFit:
    """A rate as ``{dist = "lognormal", median, sigma = its standard error}``."""
    median = math.exp(log_rate)
    low, high = median * math.exp(-Z * se), median * math.exp(Z * se)
    value = {"dist": "lognormal", "median": _round(median), "sigma": _round(se)}
    unit = "GB/h" if "gb" in key else "items/h"
    shown = (lambda x: f"{x:.3g}") if unit == "GB/h" else (lambda x: f"{x:,.0f}")
    evidence = (
        f"{moves} {what}, median {shown(median)} {unit} "
        f"({LEVEL:.0%} interval {shown(low)}-{shown(high)})"
    )
    return KeyFit(key, True, value, moves, median, low, high, evidence)


def _speed_keys(speed: SpeedFit | None, usable: int) -> tuple[KeyFit, KeyFit]:
    if speed is None:
        why = (
            f"left alone: {usable} usable moves (Completed or Synced, with bytes and time), "
            f"fewer than {MIN_MOVES}"
        )
        return _left_alone(SPEED_KEYS[0], usable, why), _left_alone(SPEED_KEYS[1], usable, why)
    n_size = int((~speed.bound_by_items).sum())
    if n_size >= MIN_MOVES:
        se = speed.standard_error(n_size)
        what = "moves bound by size" if speed.log_items_per_hour is not None else "moves"
        gb_key = _lognormal_key(SPEED_KEYS[0], speed.log_gb_per_hour, se, n_size, what)
    else:
        why = f"left alone: {n_size} moves bound by size, fewer than {MIN_MOVES}"
        gb_key = _left_alone(SPEED_KEYS[0], n_size, why)
    low, high = speed.sigma_interval()
    sigma_key = KeyFit(
        SPEED_KEYS[1],
        True,
        _round(speed.sigma),
        speed.moves,
        speed.sigma,
        low,
        high,
        f"spread of {speed.moves} moves' speeds about the fit, sigma {speed.sigma:.3g} "
        f"({LEVEL:.0%} interval {low:.3g}-{high:.3g})",
    )
    return gb_key, sigma_key


def _items_key(speed: SpeedFit | None, items: np.ndarray | None) -> KeyFit:
    if items is None:
        return _left_alone(ITEMS_KEY, 0, "left alone: the report has no TotalMailboxItemCount")
    if speed is None:
        return _left_alone(ITEMS_KEY, 0, f"left alone: fewer than {MIN_MOVES} usable moves")
    if speed.log_items_per_hour is None:
        why = f"left alone: fewer than {MIN_MOVES} moves bound by items at the fitted rates"
        return _left_alone(ITEMS_KEY, 0, why)
    n_items = int(speed.bound_by_items.sum())
    se = speed.standard_error(n_items)
    return _lognormal_key(ITEMS_KEY, speed.log_items_per_hour, se, n_items, "moves bound by items")


def _failure_key(report: MoveReport) -> KeyFit:
    failed = int(np.sum(report.status == "failed"))
    completed = int(np.sum(report.status == "completed"))
    attempts = failed + completed
    if attempts < MIN_MOVES:
        why = (
            f"left alone: {attempts} completion attempts (Completed or Failed), "
            f"fewer than {MIN_MOVES}"
        )
        return _left_alone(FAILURE_KEY, attempts, why)
    alpha, beta = failed + 0.5, completed + 0.5  # Jeffreys' prior Beta(1/2, 1/2)
    posterior = stats.beta(alpha, beta)
    low, high = (float(v) for v in posterior.ppf([(1 - LEVEL) / 2, (1 + LEVEL) / 2]))
    return KeyFit(
        FAILURE_KEY,
        True,
        {"dist": "beta", "alpha": alpha, "beta": beta},
        attempts,
        float(posterior.mean()),
        low,
        high,
        f"{failed} failed of {attempts} completion attempts ({failed / attempts:.1%}; "
        f"{LEVEL:.0%} interval {low:.2%}-{high:.2%})",
    )


def _moves_table(report, usable, size_gb, hours, items, speed) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "move": report.name[usable],
            "row": report.row[usable],
            "status": report.status[usable],
            "size_gb": size_gb,
            "items": items if items is not None else np.nan,
            "hours": hours,
            "gb_per_hour": size_gb / hours,
        }
    )
    if speed is not None:
        frame["fitted_gb_per_hour"] = size_gb / speed.fitted_hours(size_gb, items)
        frame["bound"] = np.where(speed.bound_by_items, "items", "size")
    return frame


def _round(value: float, digits: int = 4) -> float:
    """``value`` to ``digits`` significant figures (what the scenario file shows)."""
    return float(f"{value:.{digits}g}")
