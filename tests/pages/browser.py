"""Real headless Chromium for the page tests: Debian's /usr/bin/chromium driven by Playwright.

Never downloads a browser. When Chromium (or the playwright package) is missing the tests fail
with what to run, they are not skipped: run ``scripts/chromium.sh`` and
``pip install playwright``.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("VBR_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def chromium_path() -> str:
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if not path:
        pytest.fail(f"Chromium is not installed (looked for {CHROMIUM}): run scripts/chromium.sh, which "
                    "apt-installs Debian's chromium and chromium-driver. The browser tests are not skipped "
                    "without it.", pytrace=False)
    return path


def sync_playwright():
    try:
        from playwright.sync_api import sync_playwright as sp
    except ImportError:
        pytest.fail("the playwright package is not installed: pip install playwright (never run "
                    "`playwright install`; the tests use Debian's chromium from scripts/chromium.sh)",
                    pytrace=False)
    return sp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """uvicorn serving ``app`` on 127.0.0.1 and a free port, in a thread."""

    def __init__(self, app) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def shot(page, name: str, *, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


ACCESSIBILITY_JS = """
() => {
  const problems = [];
  const h1 = document.querySelectorAll('h1');
  if (h1.length !== 1) problems.push(`${h1.length} h1 headings`);
  let last = 0;
  for (const h of document.querySelectorAll('h1, h2, h3, h4, h5, h6')) {
    const level = Number(h.tagName[1]);
    if (last && level > last + 1) problems.push(`heading level skips from h${last} to h${level}: ${h.textContent.trim()}`);
    last = level;
  }
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden') continue;
    if (!(el.labels && el.labels.length) && !el.getAttribute('aria-label')) problems.push(`unlabelled ${el.tagName} ${el.name}`);
  }
  for (const el of document.querySelectorAll('[role=img]')) {
    if (!el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby')) problems.push('an image without a name');
  }
  for (const el of document.querySelectorAll('a, button')) {
    if (!el.textContent.trim() && !el.getAttribute('aria-label')) problems.push(`an empty ${el.tagName}`);
  }
  if (document.documentElement.lang !== 'en-GB') problems.push('no page language');
  return problems;
}
"""


def assert_accessible(page) -> None:
    """Structural checks: one h1, no skipped heading levels, a label on every field, named images."""
    problems = page.evaluate(ACCESSIBILITY_JS)
    assert problems == [], f"{page.url}: {problems}"
