"""The what-if page in a real browser: `migsim app` served, driven by headless Chromium.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them) and
selenium; skipped, saying which is missing, only where they cannot be found.
``MIGSIM_SCREENSHOT_DIR=docs`` also keeps the screenshot there (as ``app.png``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("panel")
pytest.importorskip("selenium")
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.keys import Keys

import sim

ROOT = Path(__file__).resolve().parents[1]
SMALL = "scenarios/small-trust.toml"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or (
    "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None
)
START_SECONDS = 60
RUN_SECONDS = 120

# Panel widgets live in shadow roots: search the document and every shadow root below it.
DEEP_QUERY = """
const selector = arguments[0];
function search(root) {
  const hit = root.querySelector(selector);
  if (hit) return hit;
  for (const element of root.querySelectorAll('*')) {
    if (element.shadowRoot) {
      const found = search(element.shadowRoot);
      if (found) return found;
    }
  }
  return null;
}
return search(document);
"""
INSIDE = "return arguments[0].shadowRoot.querySelector(arguments[1]);"

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="chromium or chromedriver not found (Debian: apt-get install chromium chromium-driver)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path):
    """`python -m sim app` on 127.0.0.1 and a free port, until the test ends.

    Its output goes to a file; at the end it must hold no traceback and no deprecation
    warning (Panel's current names only).
    """
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "PYTHONWARNINGS": "default::DeprecationWarning,default::PendingDeprecationWarning",
    }
    log = tmp_path / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "sim", "app", SMALL, "--port", str(port)],
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
        yield url
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    said = log.read_text()
    assert f"serving 'One trust, 5,000 users' at http://localhost:{port}/" in said
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
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        element = driver.execute_script(DEEP_QUERY, selector)
        if element is not None:
            return element
        time.sleep(0.2)
    raise AssertionError(f"nothing matches {selector!r} on the page")


def control(driver, host_class: str, tag: str):
    """The ``tag`` inside the Panel widget whose host element has ``host_class``."""
    host = deep(driver, f".{host_class}")
    return driver.execute_script(INSIDE, host, tag) or host


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
