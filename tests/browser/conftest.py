"""Fixtures for the browser tests: a real ``streamlit run app.py`` server and a headless Debian chromium.

The server runs in a subprocess with the deterministic fake encoder (``EXPLORER_ENCODER=fake``), a temporary
``EXPLORER_HOME`` and no model-hub access, so a whole demo takes seconds. Playwright's own browser download
does not work in our sandbox, so the tests drive the system chromium (``/usr/bin/chromium``) and are skipped,
with the reason, where it is missing (CI installs it, see ``.ci/run``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from browser_flows import CHROMIUM, AppServer, launch_chromium, new_context, start_server, stop_server


@pytest.fixture
def app_server_factory(tmp_path_factory) -> Iterator[Callable[..., AppServer]]:
    """Start servers on demand (``factory(public=True)``); all are stopped after the test."""
    started: list[AppServer] = []

    def factory(*, public: bool = False) -> AppServer:
        folder = tmp_path_factory.mktemp("public_app" if public else "app")
        server = start_server(folder / "home", folder / "streamlit.log", public=public)
        started.append(server)
        return server

    yield factory
    for server in started:
        stop_server(server)


@pytest.fixture
def app_server(app_server_factory) -> AppServer:
    """One local-mode server with the fake encoder and an empty workspace."""
    return app_server_factory()


@pytest.fixture(scope="session")
def browser():
    """A headless chromium for the whole session (skipped with the reason when it cannot run)."""
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) to run the "
                    "browser tests; Playwright's own browser download is not used.")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")
    with sync_api.sync_playwright() as p:
        browser = launch_chromium(p)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser) -> Iterator[Callable]:
    """``new_page()`` opens a page in a fresh browser context; every context is closed after the test."""
    contexts = []

    def factory():
        context = new_context(browser)
        contexts.append(context)
        return context.new_page()

    yield factory
    for context in contexts:
        context.close()
