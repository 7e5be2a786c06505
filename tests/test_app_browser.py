"""The what-if page in a real browser: `migsim app` served, driven by headless Chromium.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them) and
selenium; skipped, saying which is missing, only where they cannot be found.
``MIGSIM_SCREENSHOT_DIR=docs`` also keeps the screenshot there (as ``app.png``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest.importorskip("panel")
pytest.importorskip("selenium")
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.keys import Keys

import sim

from . import browser as browser_page
from .browser import DEEP_QUERY, free_port

ROOT = Path(__file__).resolve().parents[1]
SMALL = "scenarios/small-trust.toml"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or (
    "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None
)
START_SECONDS = 60
RUN_SECONDS = 120
STOP_SECONDS = 120

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="chromium or chromedriver not found (Debian: apt-get install chromium chromium-driver)",
)


@contextmanager
def app_server(log: Path, *args: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """`python -m sim app ARGS` on 127.0.0.1 and a free port, its output in ``log``."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "PYTHONWARNINGS": "default::DeprecationWarning,default::PendingDeprecationWarning",
    }
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "sim", "app", *args, "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + START_SECONDS
    try:
        while True:
            if server.poll() is not None:
                pytest.fail(f"migsim app exited {server.returncode}: {log.read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"migsim app did not answer on {url} within {START_SECONDS} s")
            time.sleep(0.3)
        yield url, server
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                server.kill()


@pytest.fixture
def served(tmp_path):
    """The small trust's page, served until the test ends.

    At the end the server's output must hold no traceback and no deprecation warning
    (Panel's current names only).
    """
    log = tmp_path / "server.log"
    with app_server(log, SMALL) as (url, _):
        yield url
    said = log.read_text()
    assert "serving 'One trust, 5,000 users' at http://localhost:" in said
    assert "Traceback" not in said and "DeprecationWarning" not in said, said


@pytest.fixture
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1180,1500", "--disable-gpu"):  # fmt: skip
        options.add_argument(argument)
    downloads = tmp_path_factory.mktemp("downloads")
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    try:
        driver = webdriver.Chrome(service=service, options=options)
    except WebDriverException as error:
        pytest.skip(f"headless chromium could not start: {error.msg}")
    driver.downloads = downloads
    yield driver
    driver.quit()


def deep(driver, selector: str, timeout: float = START_SECONDS):
    """The first element matching ``selector`` anywhere in the page, shadow roots included."""
    return browser_page.deep(driver, selector, timeout)


def control(driver, host_class: str, tag: str):
    """The ``tag`` inside the Panel widget whose host element has ``host_class``."""
    return browser_page.control(driver, host_class, tag, START_SECONDS)


def type_into(driver, field, text: str) -> None:
    """Replace a text box's value as a person does: delete it, type, press Enter."""
    field.click()
    old = field.get_attribute("value") or ""
    field.send_keys(Keys.END, Keys.BACKSPACE * len(old), text, Keys.ENTER)


def test_a_planner_changes_the_weekday_batch_runs_and_reads_the_p50(served, browser, tmp_path):
    browser.get(served)
    weekday = control(browser, "key-batches-weekday-0", "input")
    type_into(browser, weekday, "300")
    assert weekday.get_attribute("value") == "300"
    time.sleep(0.5)  # the value travels to the server over the websocket
    control(browser, "run-button", "button").click()
    p50 = deep(browser, "#p50", timeout=RUN_SECONDS).text.strip()

    expected = sim.run(sim.load(SMALL, overrides={"batches.weekday": 300}), workers=1)
    assert p50 == expected.summary["completion"]["p50"]
    status = deep(browser, ".status").text
    assert "Traceback" not in browser.page_source and "Traceback" not in status
    time.sleep(1.5)  # let the charts arrive before the picture is taken
    shot = tmp_path / "app.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    keep = os.environ.get("MIGSIM_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, Path(keep) / "app.png")

    # Another tab is another session: the scenario as the file gives it, and no result.
    browser.switch_to.new_window("tab")
    browser.get(served)
    assert control(browser, "key-batches-weekday-0", "input").get_attribute("value") == "400"
    assert browser.execute_script(DEEP_QUERY, "#p50") is None


def test_a_bad_value_is_a_message_on_the_page(served, browser):
    browser.get(served)
    type_into(browser, control(browser, "key-support-agents-0", "input"), "0")
    end = time.monotonic() + START_SECONDS
    text = ""
    while time.monotonic() < end and "support.agents" not in text:
        error = browser.execute_script(DEEP_QUERY, ".key-support-agents-error")
        text = browser.execute_script(
            "return arguments[0] ? (arguments[0].shadowRoot || arguments[0]).textContent : ''",
            error,
        )
        time.sleep(0.2)
    assert "support.agents: is 0 while tickets are expected" in text


def test_the_downloaded_scenario_is_the_edited_plan(served, browser):
    browser.get(served)
    type_into(browser, control(browser, "key-batches-weekday-0", "input"), "350")
    time.sleep(0.5)
    control(browser, "download-button", "button").click()
    end = time.monotonic() + START_SECONDS
    files = []
    while time.monotonic() < end and not files:
        files = list(browser.downloads.glob("*.toml"))
        time.sleep(0.2)
    assert len(files) == 1, list(browser.downloads.iterdir())
    assert files[0].name == "one-trust-5-000-users-edited.toml"
    assert sim.load(files[0]) == sim.load(SMALL, overrides={"batches.weekday": 350})


def children(pid: int) -> list[int]:
    """The processes ``pid`` started, from any of its threads."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:  # a thread that has just ended
            continue
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper is dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux's /proc")
def test_stopping_the_server_mid_run_leaves_no_worker_process_behind(browser, tmp_path):
    log = tmp_path / "server.log"
    with app_server(log) as (url, server):  # the 2.1M reference: a run takes a while
        browser.get(url)
        type_into(browser, control(browser, "key-scenario-replications-0", "input"), "20")
        time.sleep(0.5)
        control(browser, "run-button", "button").click()
        end = time.monotonic() + RUN_SECONDS
        workers: list[int] = []
        while time.monotonic() < end and not workers:
            workers = children(server.pid)
            time.sleep(0.2)
        assert workers, "the run started no worker process"
        server.send_signal(signal.SIGTERM)  # what a service manager sends
        assert server.wait(STOP_SECONDS) == 0
    assert "migsim app: stopped" in log.read_text()
    assert not [pid for pid in workers if alive(pid)]
