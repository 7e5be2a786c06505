"""The what-if page: the form on the left, Run and what it found on the right.

One :class:`WhatIfPage` per browser tab (the server builds one per session;
``sim.app(sc)`` builds one for a notebook), so tabs never share results. Run
and "what would it take?" work on a background thread, so the page stays live
and its progress bar moves; Cancel stops at the next block of replications.
Only one job runs at a time on a page, and a served app may share a
``slots`` semaphore between its pages to bound the work of the whole server.

Every failure becomes a message on the page: a bad value beside its field
(:mod:`sim.app.form`), anything else under the buttons; the traceback goes to
the server's log only.
"""

from __future__ import annotations

import html
import io
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import panel as pn

from sim.app.form import MAX_REPLICATIONS, Form
from sim.app.verdict import comparison_html, paired_comparison, solution_html, verdict_html
from sim.experiments.runner import run
from sim.experiments.solve import solve
from sim.model.scenario import Scenario, ScenarioError
from sim.outputs.report import scenario_toml

log = logging.getLogger(__name__)

SOLVE_KEYS = {
    "weekday batch": "batches.weekday",
    "weekend-day batch": "batches.weekend_day",
    "throttle scale": "throttle.scale",
    "concurrent moves": "throttle.concurrent_moves",
    "move speed (GB/hour)": "throttle.per_move_gb_per_hour",
    "failure rate": "failures.rate",
}
HEARTBEAT_SECONDS = 1.0  # the status line's clock while a job runs
CHARTS = (("progress", "Progress"), ("completion", "Completion"), ("desk", "Service desk"))


class Cancelled(Exception):
    """The planner pressed Cancel."""


class WhatIfPage(pn.viewable.Viewer):
    """The page for one scenario and one viewer; ``page.view`` (or the page itself) shows it."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        workers: int | None = None,
        max_replications: int = MAX_REPLICATIONS,
        slots: threading.Semaphore | None = None,
    ) -> None:
        super().__init__()
        self.workers = workers
        self.slots = slots
        self.form = Form(scenario, max_replications)
        self.result: Any = None  # the last run's Result
        self.plan_a: Any = None  # the Result kept as plan A
        self.solution: Any = None
        self._job: threading.Thread | None = None
        self._cancel = threading.Event()
        self._lock = threading.Lock()

        self.run_button = pn.widgets.Button(
            label="Run", color="primary", width=110, css_classes=["run-button"]
        )
        self.cancel_button = pn.widgets.Button(
            label="Cancel", disabled=True, width=110, css_classes=["cancel-button"]
        )
        self.keep_button = pn.widgets.Button(
            label="Keep as plan A", disabled=True, width=150, css_classes=["keep-button"]
        )
        self.progress = pn.indicators.Progress(
            value=0, max=100, visible=False, width=360, bar_color="primary"
        )
        self.status = pn.pane.HTML("", css_classes=["status"], margin=(0, 10))
        self.verdict = pn.pane.HTML("", css_classes=["verdict-pane"], sizing_mode="stretch_width")
        self.comparison = pn.pane.HTML("", visible=False, sizing_mode="stretch_width")
        self.charts = {
            name: pn.pane.Matplotlib(
                None, dpi=90, tight=True, format="png", visible=False, width=620
            )
            for name, _ in CHARTS
        }
        self.solve_key = pn.widgets.Select(label="", options=SOLVE_KEYS, width=200)
        self.solve_button = pn.widgets.Button(label="What would it take?", width=170)
        self.solution_pane = pn.pane.HTML("", sizing_mode="stretch_width")
        self.download = pn.widgets.FileDownload(
            callback=self._scenario_file,
            filename=_file_name(scenario.name),
            label="Download the edited scenario (TOML)",
            color="light",
            embed=False,
            width=330,
            css_classes=["download-button"],
        )

        self.run_button.on_click(lambda event: self.start_run())
        self.cancel_button.on_click(lambda event: self.cancel())
        self.keep_button.on_click(lambda event: self.keep_as_plan_a())
        self.solve_button.on_click(lambda event: self.start_solve())
        for widget in self.form.widgets:
            widget.param.watch(lambda event: self._check_form(), "value")

        self.view = self._layout(scenario.name)

    def __panel__(self) -> pn.viewable.Viewable:
        return self.view

    def _layout(self, title: str) -> pn.Row:
        """The form and the download on the left; buttons, answers and charts on the right."""
        return pn.Row(
            pn.Column(
                pn.pane.HTML(f"<h2 style='margin:0'>{html.escape(title)}</h2>"),
                self.form.panel,
                self.download,
                width=400,
            ),
            pn.Column(
                pn.Row(self.run_button, self.cancel_button, self.keep_button),
                self.progress,
                self.status,
                self.verdict,
                self.comparison,
                pn.Tabs(*((label, self.charts[name]) for name, label in CHARTS), width=640),
                pn.pane.HTML("<b>What would it take?</b> The least change of one input that "
                             "meets the deadline at the confidence. Each try runs the "
                             "replications set on the left: fewer give a quicker, rougher "
                             "answer.", margin=(15, 10, 0, 10)),
                pn.Row(self.solve_key, self.solve_button),
                self.solution_pane,
                width=660,
            ),
        )  # fmt: skip

    # --- state ---------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._job is not None and self._job.is_alive()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the current job (if any) has finished: for tests and scripts."""
        job = self._job
        if job is not None:
            job.join(timeout)

    def _check_form(self) -> None:
        self.download.disabled = self.form.scenario() is None

    def _scenario_file(self) -> io.BytesIO:
        edited = self.form.scenario()
        text = scenario_toml(edited if edited is not None else self.form.base)
        return io.BytesIO(text.encode("utf-8"))

    def scenario_toml(self) -> str | None:
        """The edited scenario as TOML (what the download gives), None when the form is bad."""
        edited = self.form.scenario()
        return None if edited is None else scenario_toml(edited)

    # --- actions -------------------------------------------------------------------------------

    def start_run(self) -> bool:
        """Run the edited scenario in the background; False when refused (busy or bad input)."""
        return self._start(self._run, "Run")

    def start_solve(self) -> bool:
        """Solve for the chosen key in the background; False when refused."""
        return self._start(self._solve, "What would it take?")

    def stop(self) -> None:
        """Cancel the job under way without touching the page (the server is stopping)."""
        self._cancel.set()

    def cancel(self) -> None:
        if self.busy:
            self._cancel.set()
            self.status.object = "Cancelling: stopping after the replications under way…"

    def keep_as_plan_a(self) -> None:
        if self.result is None:
            return
        self.plan_a = self.result
        self.comparison.visible = False
        self.status.object = (
            "Kept as plan A. Change the inputs and Run: the page compares the new plan with "
            "plan A on the same dice."
        )

    def _start(self, work: Callable[[Scenario], None], what: str) -> bool:
        with self._lock:
            if self.busy:
                self.status.object = f"{what}: another job is running on this page; wait or Cancel."
                return False
            scenario = self.form.scenario()
            if scenario is None:
                self.status.object = "Fix the values marked in red first."
                return False
            self._cancel.clear()
            self._set_running(True)
            self.progress.param.update(visible=True, value=-1)
            self.status.object = f"{what}: starting…"
            self._job = threading.Thread(target=self._guarded, args=(work, scenario), daemon=True)
            self._job.start()
        return True

    def _set_running(self, running: bool) -> None:
        self.run_button.disabled = running
        self.solve_button.disabled = running
        self.cancel_button.disabled = not running
        self.keep_button.disabled = running or self.result is None

    def _guarded(self, work: Callable[[Scenario], None], scenario: Scenario) -> None:
        """Run ``work`` so that whatever happens the page says so and stays usable."""
        try:
            if self.slots is not None:
                self._wait_for_slot()
            try:
                work(scenario)
            finally:
                if self.slots is not None:
                    self.slots.release()
        except Cancelled:
            self.status.object = "Cancelled; the results shown are from the last finished job."
        except ScenarioError as error:
            self.status.object = html.escape(f"Cannot run this plan: {error.key}: {error.message}")
            self.form.blame(error)
        except Exception as error:
            log.exception("what-if page job failed")
            self.status.object = html.escape(
                f"The job failed ({type(error).__name__}: {error}); the server's log has details."
            )
        finally:
            self.progress.visible = False
            self._set_running(False)

    def _wait_for_slot(self) -> None:
        assert self.slots is not None
        while not self.slots.acquire(timeout=0.2):
            self.status.object = "Waiting for another viewer's job to finish…"
            if self._cancel.is_set():
                raise Cancelled

    def _say(self, text: str) -> None:
        if not self._cancel.is_set():  # "Cancelling…" stays until the job stops
            self.status.object = text

    def _run(self, scenario: Scenario) -> None:
        n = scenario.scenario.replications
        started, done = time.monotonic(), 0

        def say() -> None:
            elapsed = time.monotonic() - started
            text = f"Running {n} replications: {done} done, {elapsed:.0f} s"
            if done:
                text += f", about {elapsed * (n - done) / done:.0f} s to go"
            self._say(text + "…")

        def tick(k: int) -> None:
            nonlocal done
            if self._cancel.is_set():
                raise Cancelled
            done += k
            self.progress.value = min(100, round(100 * done / n))
            say()

        say()
        with every(HEARTBEAT_SECONDS, say):
            result = run(scenario, workers=self.workers, keep_mailboxes=False, progress=tick)
        if self._cancel.is_set():
            raise Cancelled
        self.status.object = "Drawing the charts…"
        figures = {name: getattr(result.plot, name)() for name, _ in CHARTS}
        self.result = result
        self.verdict.object = verdict_html(result)
        if self.plan_a is not None:
            paired = paired_comparison(self.plan_a.runs, result.runs)
            self.comparison.param.update(object=comparison_html(paired), visible=True)
        for name, figure in figures.items():
            self.charts[name].param.update(object=figure, visible=True)
        self.status.object = f"Done: {n} replications in {result.summary['wall_seconds']:.1f} s."

    def _solve(self, scenario: Scenario) -> None:
        key = self.solve_key.value
        started, tries = time.monotonic(), 0

        def say() -> None:
            self._say(f"Searching {key}: {tries} values tried, {time.monotonic() - started:.0f} s…")

        def tick(n: int) -> None:
            nonlocal tries
            if self._cancel.is_set():
                raise Cancelled
            tries += n
            say()

        say()
        try:
            with every(HEARTBEAT_SECONDS, say):
                solution = solve(
                    scenario, key, workers=self.workers, progress=tick, source=SOLVE_SOURCE
                )
        except ScenarioError as error:  # about the search (no deadline, an empty range)
            self.solution_pane.object = html.escape(f"Cannot search {key}: {error.message}")
            self.status.object = "Search not started."
            return
        self.solution = solution
        self.solution_pane.object = solution_html(solution)
        self.status.object = f"Search done: {solution.evaluations} values tried."


SOLVE_SOURCE = "what would it take?"


@contextmanager
def every(seconds: float, action: Callable[[], None]) -> Iterator[None]:
    """Call ``action`` every ``seconds`` on a helper thread while the block runs."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(seconds):
            action()

    helper = threading.Thread(target=beat, daemon=True)
    helper.start()
    try:
        yield
    finally:
        stop.set()
        helper.join()


def _file_name(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "scenario"
    return f"{slug[:60]}-edited.toml"
