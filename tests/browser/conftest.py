"""Fixtures of the console's browser tests: one real `dummi run` (auth on, the sample data, a month of traffic
and an experiment), one headless Debian Chromium driven by Playwright, and a fresh page per test that records
every console message and page error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.console_server import CHROMIUM_ARGS, ConsoleServer, chromium, seed


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = chromium()
    if path is None:
        pytest.skip("no Chromium: `make browser-setup` installs Debian's (as root), or set DUMMI_CHROMIUM")
    pytest.importorskip("playwright", reason="the dev extra installs playwright")
    return path


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory, chromium_path: str) -> Iterator[ConsoleServer]:
    server = ConsoleServer(tmp_path_factory.mktemp("console")).start()
    try:
        server.traffic = seed(server)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(chromium_path: str):
    """Module-scoped: Playwright's sync API keeps an event loop running in this thread while it is open, and
    the function handlers tested after this module (Mangum) need to run one of their own."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, console):
    """A page in a fresh context (its own sessionStorage); ``page.problems`` lists console errors and warnings
    and uncaught page errors, ``page.requested`` every URL it asked for."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.problems, page.requested = [], []
    page.on("console", lambda m: m.type in ("error", "warning") and page.problems.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: page.problems.append(f"pageerror: {e}"))
    page.on("request", lambda r: page.requested.append(r.url))
    page.set_default_timeout(20_000)
    yield page
    context.close()
