"""Serving the what-if page: one page per browser tab, loopback unless asked otherwise.

``serve(sc)`` is what ``migsim app`` runs: Panel's server (Bokeh's, as ``panel
serve`` uses) on 127.0.0.1, building a fresh :class:`~sim.app.page.WhatIfPage`
for every session so that tabs never see each other's results. Anyone who can
reach the port can run simulations, so another host is used only when asked,
with a warning; each click is bounded (replications capped on the page) and the
pages of one server take turns (``RUNS_AT_ONCE``) for the machine's cores.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
from collections.abc import Callable, Sequence

from sim.model.scenario import Scenario

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
RUNS_AT_ONCE = 1  # jobs of all tabs together; each job already uses every core


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, port: int) -> str:
    """What ``migsim app`` prints when it listens beyond this machine."""
    return (
        f"warning: serving on {host}:{port}: anyone who can reach this address can open the "
        "page and run simulations on this machine (no login); use the default 127.0.0.1 "
        "(and an SSH tunnel or a reverse proxy with authentication) unless the network is trusted"
    )


def origins(host: str, port: int, extra: Sequence[str] = ()) -> list[str]:
    """The browser origins allowed to open the page's websocket."""
    names = {"localhost", "127.0.0.1"} if is_loopback(host) else {host}
    if not is_loopback(host):
        names |= {socket.gethostname(), socket.getfqdn(), "localhost", "127.0.0.1"}
    return sorted(f"{name}:{port}" for name in names if name and name != "0.0.0.0") + list(extra)


def page_factory(scenario: Scenario, *, workers: int | None = None) -> Callable[[], object]:
    """A function building one page per session, all sharing the server's run slots."""
    from sim.app.page import WhatIfPage

    slots = threading.BoundedSemaphore(RUNS_AT_ONCE)

    def build() -> object:
        import panel as pn

        page = WhatIfPage(scenario, workers=workers, slots=slots)
        # A closed tab's job would only keep the others waiting.
        pn.state.on_session_destroyed(lambda context: page.cancel())
        return page.view

    return build


def serve(
    scenario: Scenario,
    host: str = "127.0.0.1",
    port: int = 5006,
    *,
    allow_origins: Sequence[str] = (),
    workers: int | None = None,
    show: bool = False,
) -> None:
    """Serve the page until interrupted (Ctrl-C)."""
    import panel as pn

    if not is_loopback(host):
        print(exposure_warning(host, port), file=sys.stderr, flush=True)
    shown = "localhost" if is_loopback(host) else host
    print(f"migsim app: serving {scenario.name!r} at http://{shown}:{port}/ (Ctrl-C to stop)",
          flush=True)  # fmt: skip
    pn.serve(
        {"/": page_factory(scenario, workers=workers)},
        port=port,
        address=host,
        websocket_origin=origins(host, port, allow_origins),
        show=show,
        title=f"migsim: {scenario.name}",
        verbose=False,
    )
