"""The calibration picture: each pilot move's observed speed against the fitted one.

Two panels, both on log axes (move speeds span a factor of ten and more):

* left, each Completed or Synced move's observed GB/hour against the speed the fit
  gives it (``min(g, size x r / items)``: the GB rate, or slower where items bind),
  coloured by what binds it, with the line of equality and the band in which 90%
  of moves should fall given the fitted spread ``per_move_sigma``;
* right, the observed speeds' distribution (sorted, as an empirical CDF) against
  the fitted model's (each move's fitted speed times lognormal factors).

``calibration_figure(cal)`` returns a matplotlib Figure and never touches pyplot's
global state::

    calibration_figure(sim.calibrate(sc, moves="pilot-moves.csv")).savefig("calibration.png")
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

FIGSIZE_INCHES = (10.0, 4.4)
COLOURS = {"size": "#1d4e89", "items": "#e07a1f"}
COLOUR_FIT = "#111111"
BAND = 0.90


def calibration_figure(cal, *, figure_class: type[Figure] = Figure) -> Figure:
    """Observed against fitted per-move speeds (log axes), and their distributions."""
    moves = cal.moves
    figure = figure_class(figsize=FIGSIZE_INCHES, layout="constrained")
    left, right = figure.subplots(1, 2)
    observed = moves["gb_per_hour"].to_numpy()
    fitted_col = "fitted_gb_per_hour" in moves
    sigma = next((f.estimate for f in cal.fits if f.key == "throttle.per_move_sigma"), np.nan)
    if fitted_col:
        fitted = moves["fitted_gb_per_hour"].to_numpy()
        for bound, colour in COLOURS.items():
            chosen = (moves["bound"] == bound).to_numpy()
            if chosen.any():
                left.scatter(
                    fitted[chosen], observed[chosen], s=14, alpha=0.7, color=colour,
                    label=f"bound by {bound} ({chosen.sum()})",
                )  # fmt: skip
        lo, hi = (
            np.nanmin([fitted.min(), observed.min()]),
            np.nanmax([fitted.max(), observed.max()]),
        )
        line = np.geomspace(lo, hi, 50)
        left.plot(line, line, color=COLOUR_FIT, lw=1, label="observed = fitted")
        if np.isfinite(sigma):
            z = stats.norm.ppf(0.5 + BAND / 2)
            left.fill_between(
                line, line * np.exp(-z * sigma), line * np.exp(z * sigma), color="#999999",
                alpha=0.2, label=f"{BAND:.0%} of moves (sigma {sigma:.2f})",
            )  # fmt: skip
        left.set_xlabel("fitted GB/hour (size or items bind)")
    else:
        left.scatter(np.arange(len(observed)), observed, s=14, color=COLOURS["size"])
        left.set_xlabel("move")
    left.set_yscale("log")
    if fitted_col:
        left.set_xscale("log")
    left.set_ylabel("observed GB/hour (bytes transferred / time in progress)")
    left.set_title("Each move: observed against fitted speed")
    left.legend(loc="upper left", fontsize="small")

    ordered = np.sort(observed)
    share = (np.arange(len(ordered)) + 0.5) / max(len(ordered), 1)
    right.plot(ordered, share, drawstyle="steps-mid", color=COLOURS["size"], label="observed")
    if fitted_col and np.isfinite(sigma):
        rng = np.random.default_rng(0)  # a fixed picture of the fitted model
        draws = np.repeat(fitted, 200) * rng.lognormal(0.0, sigma, len(fitted) * 200)
        model = np.sort(draws)
        right.plot(model, (np.arange(len(model)) + 0.5) / len(model), color=COLOUR_FIT,
                   lw=1, label="fitted model")  # fmt: skip
    right.set_xscale("log")
    right.set_xlabel("GB/hour per move")
    right.set_ylabel("share of moves at or below")
    right.set_title(f"Speeds of {len(observed)} moves")
    right.legend(loc="upper left", fontsize="small")
    figure.suptitle(f"Calibration from {cal.source}")
    return figure
