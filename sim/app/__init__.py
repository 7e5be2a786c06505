"""The what-if page for planners (Panel): ``sim.app(sc)`` in Jupyter, ``migsim app`` served.

>>> import sim
>>> page = sim.app(sim.load("scenarios/small-trust.toml"))   # shows itself in a notebook
>>> page.form.field("batches.weekday").widgets[0].value = 500
>>> page.start_run(); page.wait(); page.result.summary["completion"]

The form is :mod:`sim.app.form`, the page and its background jobs
:mod:`sim.app.page`, the verdict and the comparison with plan A
:mod:`sim.app.verdict`, and serving :mod:`sim.app.serve`. Panel is an optional
dependency (``pip install 'migsim[app]'``); importing this package does not
need it until a page is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

INSTALL_HINT = "the what-if page needs Panel: pip install 'migsim[app]' (or: pip install panel)"
REFERENCE = Path(__file__).resolve().parents[2] / "scenarios" / "nhsmail-2020.toml"


class PanelMissing(ImportError):
    """Panel is not installed; ``str(error)`` says how to install it."""


def require_panel() -> Any:
    """The ``panel`` module, or :class:`PanelMissing` with the install hint."""
    try:
        import panel
    except ImportError:
        raise PanelMissing(INSTALL_HINT) from None
    return panel


def app(scenario: Any = None, *, workers: int | None = None, max_replications: int | None = None):
    """The what-if page for ``scenario`` (default: the bundled reference), a Panel viewable.

    In Jupyter it shows itself; ``page.view`` is its layout, ``page.start_run()``
    and ``page.wait()`` drive it from code.
    """
    pn = require_panel()
    from sim.app.form import MAX_REPLICATIONS
    from sim.app.page import WhatIfPage
    from sim.model.scenario import load

    if scenario is None:
        scenario = load(REFERENCE)
    elif isinstance(scenario, str | Path):
        scenario = load(scenario)
    pn.extension()
    return WhatIfPage(
        scenario, workers=workers, max_replications=max_replications or MAX_REPLICATIONS
    )


__all__ = ["INSTALL_HINT", "REFERENCE", "PanelMissing", "app", "require_panel"]
