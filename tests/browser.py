"""Driving the what-if page in a browser: what the browser test and docs/app_screenshot.py share.

Panel's widgets live in shadow roots, so an element is looked up through every
shadow root below the document, and a widget's own control inside its host.
"""

from __future__ import annotations

import socket
import time

# Search the document and every shadow root below it for the first match.
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


def free_port() -> int:
    """A TCP port free on the loopback interface now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def deep(driver, selector: str, timeout: float):
    """The first element matching ``selector`` anywhere in the page, shadow roots included,
    waiting up to ``timeout`` seconds for it; :class:`LookupError` if none appears."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        element = driver.execute_script(DEEP_QUERY, selector)
        if element is not None:
            return element
        time.sleep(0.2)
    raise LookupError(f"nothing matches {selector!r} on the page within {timeout:.0f} s")


def control(driver, host_class: str, tag: str, timeout: float):
    """The ``tag`` inside the Panel widget whose host element has ``host_class``."""
    host = deep(driver, f".{host_class}", timeout)
    return driver.execute_script(INSIDE, host, tag) or host
