"""Retake ``docs/app.png``: the what-if page on a scenario, run in headless Chromium.

Serves ``migsim app SCENARIO`` on 127.0.0.1 and a free port (as a planner would
start it), opens it in headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by Selenium, as ``tests/test_app_browser.py`` does),
sets the replications, clicks Run, waits for the verdict and the charts, and
saves a screenshot of the whole page::

    python docs/app_screenshot.py            # the bundled reference, into docs/app.png
    python docs/app_screenshot.py scenarios/small-trust.toml --out /tmp/small.png -n 50

Look at the picture before committing it, and keep docs/app.md's text true to it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.keys import Keys

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser import control, deep, free_port  # noqa: E402  (shared with the browser test)

REFERENCE = ROOT / "scenarios" / "nhsmail-2020.toml"
WIDTH = 1180  # wide enough for the form and the charts side by side

# The page's height: the deepest bottom edge of anything drawn (leaf elements: the
# containers stretch to the window), shadow roots included.
PAGE_HEIGHT = """
let bottom = 0;
function walk(root) {
  for (const element of root.querySelectorAll('*')) {
    const box = element.getBoundingClientRect();
    const leaf = element.children.length === 0 && !element.shadowRoot;
    if (leaf && box.height > 0) bottom = Math.max(bottom, box.bottom + window.scrollY);
    if (element.shadowRoot) walk(element.shadowRoot);
  }
}
walk(document);
return Math.ceil(bottom);
"""


def wait_for(what: str, check, timeout: float):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise SystemExit(f"app_screenshot: {what} did not appear within {timeout:.0f} s")


def browser(width: int) -> webdriver.Chrome:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not chromium or not Path(driver_path).exists():
        raise SystemExit("app_screenshot: needs chromium and chromedriver (Debian: chromium "
                         "chromium-driver)")  # fmt: skip
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     f"--window-size={width},1500", "--disable-gpu",
                     "--hide-scrollbars"):  # fmt: skip
        options.add_argument(argument)
    return webdriver.Chrome(service=webdriver.ChromeService(driver_path), options=options)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default=str(REFERENCE))
    parser.add_argument("--out", default=str(ROOT / "docs" / "app.png"))
    parser.add_argument("-n", "--replications", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the run")
    parser.add_argument("--width", type=int, default=WIDTH)
    args = parser.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "-m", "sim", "app", args.scenario, "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    driver = None
    try:

        def answers() -> bool:
            if server.poll() is not None:
                raise SystemExit(f"app_screenshot: migsim app exited; see {log.name}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    return response.status == 200
            except OSError:
                return False

        wait_for(f"the page at {url}", answers, 120)
        driver = browser(args.width)
        driver.get(url)
        replications = control(driver, "key-scenario-replications-0", "input", 120)
        replications.click()
        old = replications.get_attribute("value") or ""
        replications.send_keys(Keys.END, Keys.BACKSPACE * len(old), str(args.replications),
                               Keys.ENTER)  # fmt: skip
        time.sleep(0.5)  # the value travels to the server over the websocket
        started = time.monotonic()
        control(driver, "run-button", "button", 60).click()
        p50 = deep(driver, "#p50", args.timeout).text.strip()
        print(f"verdict after {time.monotonic() - started:.1f} s: P50 {p50}")
        time.sleep(3)  # the charts arrive after the verdict
        driver.execute_script("window.scrollTo(0, 0)")
        height = driver.execute_script(PAGE_HEIGHT) + 20
        # The viewport itself (not the window, whose frame would eat part of it) at full height.
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": args.width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        time.sleep(1)
        height = max(height, driver.execute_script(PAGE_HEIGHT) + 20)  # after any re-layout
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": args.width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        time.sleep(1)
        out = Path(args.out)
        if not driver.save_screenshot(str(out)):
            raise SystemExit(f"app_screenshot: could not write {out}")
        print(f"written: {out} ({args.width} x {height})")
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        try:
            server.wait(120)
        except subprocess.TimeoutExpired:
            server.kill()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except LookupError as error:  # an element of the page never appeared
        sys.exit(f"app_screenshot: {error}")
