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
import signal
import socket
import sys
import threading
import weakref
from collections.abc import Sequence

from sim.model.scenario import Scenario

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
RUNS_AT_ONCE = 1  # jobs of all tabs together; each job already uses every core
STOP_SECONDS = 120  # on stopping, how long a job under way may take to finish its block


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


class PageFactory:
    """Builds one page per session; all share the server's run slots, and can be stopped."""

    def __init__(self, scenario: Scenario, *, workers: int | None = None) -> None:
        self.scenario, self.workers = scenario, workers
        self.slots = threading.BoundedSemaphore(RUNS_AT_ONCE)
        self.pages: weakref.WeakSet = weakref.WeakSet()

    def build(self) -> object:
        """One session's page (Panel calls this, a method, once per session)."""
        import panel as pn

        from sim.app.page import WhatIfPage

        page = WhatIfPage(self.scenario, workers=self.workers, slots=self.slots)
        self.pages.add(page)
        # A closed tab's job would only keep the others waiting.
        pn.state.on_session_destroyed(lambda context: page.cancel())
        return page.view

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Cancel every page's job and wait for them, so no worker process is left behind."""
        pages = list(self.pages)
        for page in pages:
            page.stop()
        for page in pages:
            page.wait(timeout)


def page_factory(scenario: Scenario, *, workers: int | None = None) -> PageFactory:
    """``pn.serve({"/": page_factory(sc).build})``: one page per session, one shared run slot."""
    return PageFactory(scenario, workers=workers)


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
    factory = page_factory(scenario, workers=workers)
    # Panel stops its server on SIGINT (Ctrl-C); a service manager's SIGTERM does the same.
    previous = signal.signal(signal.SIGTERM, _as_ctrl_c)
    try:
        pn.serve(
            {"/": factory.build},
            port=port,
            address=host,
            websocket_origin=origins(host, port, allow_origins),
            show=show,
            title=f"migsim: {scenario.name}",
            verbose=False,
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
        factory.stop()
    print("migsim app: stopped", flush=True)


def _as_ctrl_c(signum: int, frame: object) -> None:
    signal.raise_signal(signal.SIGINT)
