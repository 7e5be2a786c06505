"""Plots a migration planner reads: when do we finish, how fast, what does the desk see.

One module per chart family, each taking the result DataFrames of a Monte Carlo run
(see ``sim.run``) and an optional matplotlib ``ax``, drawing one chart and returning the
Axes:

* ``completion``: the share of replications finished by each date (``completion_distribution``);
* ``progress``: mailboxes migrated over time as a fan, and a migration's actuals on it
  (``progress_fan``, ``actuals_line``);
* ``cutovers``: cut over, failed and waiting users per day (``daily_cutovers``);
* ``throttle``: initial-sync data moved per day against the throttle (``throttle_utilisation``);
* ``desk``: the service desk's open tickets and daily flow (``support_backlog``).

What they share: ``style`` (sizes, colours, number formats), ``calendar_marks`` (dates on
the x axis, the deadline, freezes, holidays, phases), ``frame`` (the figure, the legend,
margin notes) and ``bands`` (P10/P50/P90 across replications, the fan, paused days).

Without an ``ax`` a new :class:`matplotlib.figure.Figure` is created; pyplot's global state is
never touched, so the functions are safe in worker processes, headless CI and notebooks
alike::

    ax = plots.progress_fan(res.daily, population=2_100_000, deadline=date(2021, 3, 31))
    ax.figure.savefig("progress.png")

Across replications the charts show the median (P50) as a line and the P10-P90 range as a
band. Dates on the x axis are matplotlib date numbers (days since its epoch), so a test or
caller can locate, say, the deadline line with ``matplotlib.dates.date2num``.

Every chart with dates takes a :class:`~sim.outputs.timeline.Timeline` (``timeline_of(sc)``):
change freezes are hatched, bank holidays shaded, the starts of the plan's phases marked, the
deadline drawn in red, and date labels carry their year. Artists carry a ``gid`` ("deadline",
"blackout", "holiday", "phase", "band", "p50", ...) so tests and callers can find them.

Charts compose. Every function takes ``label=`` and ``color=``: with a label, the chart's
series take that colour and one legend entry names the plan, so calling
``completion_distribution`` or ``progress_fan`` twice on one ``ax`` overlays two plans
(the calendar and the deadline are drawn once). Drawn into one panel of a grid, the legend
goes inside the panel, never over its neighbour.
"""

from sim.outputs.plots.completion import completion_distribution
from sim.outputs.plots.cutovers import daily_cutovers
from sim.outputs.plots.desk import support_backlog
from sim.outputs.plots.frame import new_figure
from sim.outputs.plots.progress import actuals_line, progress_fan
from sim.outputs.plots.style import FIGSIZE_INCHES, QUANTILES, DateLike, format_share
from sim.outputs.plots.throttle import throttle_utilisation

__all__ = [
    "FIGSIZE_INCHES",
    "QUANTILES",
    "DateLike",
    "actuals_line",
    "completion_distribution",
    "daily_cutovers",
    "format_share",
    "new_figure",
    "progress_fan",
    "support_backlog",
    "throttle_utilisation",
]
