"""What the browser tests and ``screenshots.py`` share: start/stop the app, drive it like a user, check pages.

Streamlit redraws a page by rerunning its script; while it runs, the "Running…" status widget shows and old
elements are greyed out. So every step waits on what the user would wait for (a heading, a chart, a
table), then for the status widget to stay hidden a moment, never on fixed sleeps.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("EXPLORER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 800}  # a laptop screen
START_TIMEOUT_S = 90.0
STEP_TIMEOUT_MS = 60_000  # the CPU is shared with other work: a rerun can take a while

ERROR_MARKERS = ("Traceback", "Something went wrong")
STATUS_WIDGET = '[data-testid="stStatusWidget"]'
EXCEPTION = '[data-testid="stException"]'
PLOT = ".js-plotly-plot"
TABLE = '[data-testid="stDataFrame"]'


# ------------------------------------------------------------------------------------------ the server
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
                 timeout: float = START_TIMEOUT_S, env: dict[str, str] | None = None) -> AppServer:
    """Start ``streamlit run app.py`` on a free port and wait until it serves.

    Args:
        home: the EXPLORER_HOME of the server (a temporary folder in tests).
        log: file receiving the server's stdout and stderr.
        public: public mode (``EXPLORER_PUBLIC=1``: private workspaces named in the URL).
        encoder: ``"fake"`` for the deterministic fake encoder; None for the real bundled MiniLM.
        timeout: seconds to wait for the health endpoint.
        env: more environment variables of the server (settings).
    """
    port = _free_port()
    settings = {**os.environ, "EXPLORER_HOME": str(home), "EXPLORER_PUBLIC": "1" if public else "0",
                "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    settings.pop("EXPLORER_ENCODER", None)
    settings.update(env or {})
    if encoder:
        settings["EXPLORER_ENCODER"] = encoder
    home.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:  # the child keeps its own handle
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=settings, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
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


def launch_chromium(playwright):
    """Headless Debian chromium with the flags our sandbox needs."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def new_context(browser):
    """A fresh browser context (own cookies and session) at laptop size with generous timeouts."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    return context


# ------------------------------------------------------------------------------------------ driving
def settle(page, quiet_s: float = 1.0, timeout_s: float = 60.0) -> bool:
    """Wait until the "Running…" status widget stays hidden for ``quiet_s``; False if it never does.

    A page with a live job panel reruns a fragment every 1.5 s, so "never quiet" is not an error.
    """
    widget = page.locator(STATUS_WIDGET)
    deadline = time.monotonic() + timeout_s
    quiet_since = None
    while time.monotonic() < deadline:
        if widget.count() and widget.first.is_visible():
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            return True
        page.wait_for_timeout(200)
    return False


def heading(page, title: str):
    """The page's ``st.title`` (an h1) with exactly this text."""
    return page.locator("h1").filter(has_text=title).first


def open_app(page, server: AppServer, path: str = "") -> None:
    """Load the app and wait for the first page to be drawn."""
    page.goto(f"{server.url}/{path}")
    page.locator('[data-testid="stSidebar"] a').first.wait_for()
    settle(page)


def nav(page, label: str) -> None:
    """Click a page link in the sidebar, as a user does (keeps the browser session).

    Raises:
        AssertionError: the link did not show up; the message says what the sidebar and the page showed instead.
    """
    # Not get_by_role("link"): the link of the page on screen may have no href, hence no link role.
    links = page.locator('[data-testid="stSidebar"] [data-testid="stPageLink-NavLink"]')
    link = links.filter(has=page.get_by_text(label, exact=True))
    try:
        link.wait_for(timeout=STEP_TIMEOUT_MS)
    except Exception as exc:  # Playwright's TimeoutError: say what was on screen instead
        raise AssertionError(f"no sidebar link {label!r} after {STEP_TIMEOUT_MS / 1000:.0f} s; {what_is_shown(page)}") from exc
    link.click()


def what_is_shown(page) -> str:
    """A short description of the page for failure messages: URL, sidebar text, status widget, main text."""
    def text(selector: str) -> str:
        found = page.locator(selector)
        return found.first.inner_text()[:600] if found.count() else "(absent)"

    return (f"url {page.url}; sidebar: {text('[data-testid=stSidebar]')!r}; expanded: "
            f"{page.locator('[data-testid=stSidebar]').first.get_attribute('aria-expanded') if page.locator('[data-testid=stSidebar]').count() else None}; "
            f"status widget: {text(STATUS_WIDGET)!r}; main: {text('[data-testid=stMain]')!r}")


def screenshot(page, path: Path) -> None:
    """A screenshot of the whole page at laptop width.

    Streamlit scrolls inside ``<main>``, not the document, so Playwright's ``full_page`` sees one screen only;
    the viewport is stretched to the content's height for the shot, then restored.
    """
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]')?.scrollHeight || 0")
    size = page.viewport_size or VIEWPORT
    if height > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": min(int(height), 6000)})
        page.wait_for_timeout(500)  # let plotly re-layout at the new size
        settle(page, quiet_s=0.5, timeout_s=10)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)


def errors_on(page) -> list[str]:
    """Exceptions and error texts on the page (empty when the page is clean)."""
    found = [f"stException: {t[:300]}" for t in page.locator(EXCEPTION).all_inner_texts()]
    body = page.locator("body").inner_text()
    found += [f"text {marker!r} on the page" for marker in ERROR_MARKERS if marker in body]
    return found


def wait_or_fail(page, target, what: str, timeout_ms: int = STEP_TIMEOUT_MS) -> None:
    """Wait for ``target``, but fail at once, with the app's own message, if an error shows up instead."""
    failure = page.locator(f'{EXCEPTION}, [data-testid="stAlertContentError"]')
    target.or_(failure.first).first.wait_for(timeout=timeout_ms)
    assert not failure.count(), f"{what} failed: {failure.first.inner_text()!r}"


def run_demo(page, method: str = "adapter", timeout_ms: int = 120_000) -> None:
    """Press the one-click demo on Home and wait until it lands on the Metrics page with its table and charts."""
    heading(page, "Embedding fine-tuning explorer").wait_for()
    label = {"adapter": "Adapter (fast)", "full": "Full fine-tune (best, slower)"}[method]
    page.get_by_text(label, exact=True).click()
    page.get_by_role("button", name="Run the demo").click()
    wait_or_fail(page, heading(page, "Metrics"), "the demo", timeout_ms)
    page.locator(PLOT).first.wait_for(timeout=timeout_ms)


RUN_ID = re.compile(r"Run (\S+) ·")
"""The run id in a job panel's first line."""


def load_demo(page) -> None:
    """Choose the demo dataset on the Data page, as a user does, and wait for its statistics."""
    nav(page, "Data")
    heading(page, "Data").wait_for()
    page.get_by_role("button", name="Use the demo dataset").click()
    wait_or_fail(page, page.get_by_text("Statistics:").first, "loading the demo dataset")
    settle(page)


def choose(page, box, option: str, tries: int = 6) -> None:
    """Open the select box ``box`` (a locator) and click the first option whose text contains ``option``.

    A rerun that lands between the two clicks closes the list again, so a list that shows no such option
    within a few seconds is closed and opened again (the last try fails with Playwright's own message).
    """
    for attempt in range(tries):
        box.click()
        item = page.get_by_role("option").filter(has_text=option).first
        try:
            item.wait_for(timeout=10_000 if attempt < tries - 1 else 60_000)
        except Exception:  # noqa: BLE001 - the list closed under a rerun, or is not drawn yet: open it again
            if attempt == tries - 1:
                raise
            page.keyboard.press("Escape")
            settle(page)
            continue
        item.click()
        settle(page)
        return


def pick(page, label: str, option: str) -> None:
    """Choose ``option`` in the select box labelled ``label``."""
    choose(page, page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first, option)


def type_into(page, label: str, value: str) -> None:
    """Type ``value`` into the text field labelled ``label`` and press Enter."""
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")
    settle(page)


def start_training(page, method: str = "Adapter") -> str:
    """Pick ``method`` in the Train page's form, press Start training; the new run's id (from its job panel)."""
    page.locator('[data-testid="stForm"]').get_by_text(method, exact=True).click()
    page.get_by_role("button", name="Start training").click()
    panel = page.locator('[class*="st-key-job_panel_"]').first
    panel.wait_for()
    match = RUN_ID.search(panel.inner_text())
    assert match, f"no run id in the job panel: {panel.inner_text()!r}"
    return match.group(1)


def wait_for_run(page, server: AppServer, run_id: str, timeout_s: float = 300) -> None:
    """Wait until the run's folder says it succeeded (failing with the server's log tail)."""
    status = server.home / "runs" / run_id / "status.json"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and '"succeeded"' not in (status.read_text() if status.exists() else ""):
        page.wait_for_timeout(500)
    assert status.exists() and '"succeeded"' in status.read_text(), server.log_tail()


def _search_ready(page) -> None:
    box = page.get_by_label("Query")
    box.fill("waterproof trail shoes for wide feet")
    box.press("Enter")
    page.locator(TABLE).nth(1).wait_for()


def _distributions_open(page) -> None:
    """The Data page with its charts open (they are drawn on request)."""
    page.get_by_text("Statistics:").first.wait_for()
    if not page.locator(PLOT).count():
        page.locator("summary").filter(has_text="Distributions").click()
    page.locator(PLOT).nth(2).wait_for()


# Every page of the app: (sidebar label, h1 title, asset file name, what shows the page's main content).
PAGES: list[tuple[str, str, str, Callable]] = [
    ("Home", "Embedding fine-tuning explorer", "home.png", lambda p: p.get_by_text("One-click demo").wait_for()),
    ("Data", "Data", "data.png", lambda p: _distributions_open(p)),
    ("Train", "Train", "train.png", lambda p: p.locator(TABLE).first.wait_for()),
    ("Latent space", "Latent space", "latent.png", lambda p: p.locator(PLOT).first.wait_for()),
    ("Similarity", "Similarity", "similarity.png", lambda p: p.locator(PLOT).nth(1).wait_for()),
    ("Metrics", "Metrics", "metrics.png", lambda p: (p.locator(TABLE).first.wait_for(), p.locator(PLOT).nth(1).wait_for())),
    ("Inspect", "Inspect", "inspect.png", lambda p: p.locator(TABLE).nth(1).wait_for()),
    ("Search", "Search", "search.png", _search_ready),
]


def visit_all(page, out_dirs: list[Path]) -> dict[str, float]:
    """Visit every page through the sidebar, check it, and save a full-page screenshot into each folder.

    Returns:
        Seconds each page took to show its main content.

    Raises:
        AssertionError: a page shows an exception or an error text.
    """
    timings = {}
    for label, title, file_name, ready in PAGES:
        start = time.monotonic()
        nav(page, label)
        heading(page, title).wait_for()
        ready(page)
        settle(page)
        timings[label] = round(time.monotonic() - start, 1)
        problems = errors_on(page)
        for folder in out_dirs:
            folder.mkdir(parents=True, exist_ok=True)
            screenshot(page, folder / file_name)
        assert not problems, f"page {label!r}: {problems}"
    return timings
