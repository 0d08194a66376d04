"""Fixtures for the browser tests: a real ``streamlit run app.py`` server and a headless Debian chromium.

The server runs in a subprocess with the deterministic fake encoder (``EXPLORER_ENCODER=fake``), a temporary
``EXPLORER_HOME`` and no model-hub access, so a whole demo takes seconds. Playwright's own browser download
does not work in our sandbox, so the tests drive the system chromium (``/usr/bin/chromium``) and are skipped,
with the reason, where it is missing (CI installs it, see ``.ci/run``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("EXPLORER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 800}  # a laptop screen
START_TIMEOUT_S = 90.0


@dataclass
class AppServer:
    """A running Streamlit server: its base URL, workspace root and log file."""

    url: str
    home: Path
    log: Path
    process: subprocess.Popen

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's output (for assertion messages)."""
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(server: AppServer, timeout: float) -> None:
    # /_stcore/health answers "ok" once the server serves; the app script itself runs per browser session.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {server.process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"streamlit did not answer on {server.url} within {timeout:.0f} s:\n{server.log_tail()}")


def start_server(home: Path, log: Path, *, public: bool = False, encoder: str | None = "fake",
                 timeout: float = START_TIMEOUT_S) -> AppServer:
    """Start ``streamlit run app.py`` on a free port and wait until it serves.

    Args:
        home: the EXPLORER_HOME of the server (a temporary folder in tests).
        log: file receiving the server's stdout and stderr.
        public: run in public mode (``EXPLORER_PUBLIC=1``: private workspaces named in the URL).
        encoder: ``"fake"`` for the deterministic fake encoder; None for the real bundled MiniLM.
        timeout: seconds to wait for the health endpoint.
    """
    port = _free_port()
    env = {**os.environ, "EXPLORER_HOME": str(home), "EXPLORER_PUBLIC": "1" if public else "0",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", "PYTHONUNBUFFERED": "1"}
    env.pop("EXPLORER_ENCODER", None)
    if encoder:
        env["EXPLORER_ENCODER"] = encoder
    home.mkdir(parents=True, exist_ok=True)
    out = open(log, "wb")  # noqa: SIM115 - closed with the process in stop_server
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    out.close()
    server = AppServer(url=f"http://127.0.0.1:{port}", home=home, log=log, process=process)
    try:
        _wait_healthy(server, timeout)
    except BaseException:
        stop_server(server)
        raise
    return server


def stop_server(server: AppServer) -> None:
    """Stop the server (SIGTERM, then SIGKILL), its training threads included."""
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=15)


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


def launch_chromium(playwright):
    """Headless Debian chromium with the flags our sandbox needs."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


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
def new_page(browser):
    """Open pages in fresh browser contexts at laptop size; every context is closed after the test."""
    contexts = []

    def factory():
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(60_000)  # the CPU is shared: reruns can take a while
        contexts.append(context)
        return context.new_page()

    yield factory
    for context in contexts:
        context.close()
