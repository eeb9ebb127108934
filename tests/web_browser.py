"""Debian's Chromium under Playwright, for the web page's tests (Playwright's own browser download
does not work here): the skip when either is missing, the launch, and a page that fails its test
on any JavaScript error."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def playwright_or_skip() -> Any:
    """``playwright.sync_api``; skips the calling test module without the service extra,
    Playwright or /usr/bin/chromium."""
    pytest.importorskip("fastapi", reason="the service needs its extra: pip install 'faceprint[serve]'")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install playwright")
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install chromium); Playwright's own browser download is not used",
                    allow_module_level=True)
    return sync_api


@contextmanager
def launched(sync_api: Any) -> Iterator[Any]:
    """Chromium, headless, no network beyond what the page asks of the local server."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def opened(browser: Any, url: str, key: str | None = None, width: int = 1280, height: int = 900,
           clock: bool = False) -> Iterator[Any]:
    """A new page at ``url`` in its own context, with ``key`` saved when given (and accepted), and
    Playwright's fake clock with ``clock``; the test fails if the page raised a JavaScript error."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(60_000)
    try:
        if clock:
            page.clock.install()
        page.goto(url)
        if key is not None:
            page.fill("#key", key)
            page.click("#key-save")
            page.locator("#key-status.ok").wait_for()
        yield page
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
