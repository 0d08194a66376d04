"""An API model in a real browser: pick "OpenAI / compatible endpoint" on the Train page, point it at an
OpenAI-compatible server on 127.0.0.1 (the tests' fake server), type a key, see the cost estimate before any
request, embed and train an adapter, and find the run on Metrics; the key is then in no file the server wrote
and not in its log."""

from __future__ import annotations

import re
import time

import pytest

from browser_flows import PLOT, errors_on, heading, nav, open_app, settle, wait_or_fail
from tests.encoders.openai_server import serve
from tests.encoders.test_api_key_leaks import KEY, files_with_leaks, leaks

pytestmark = pytest.mark.browser

RUN_ID = re.compile(r"Run (\S+) ·")


def _pick(page, label: str, option: str) -> None:
    """Choose ``option`` in the select box labelled ``label``, as a user does."""
    page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first.click()
    page.get_by_role("option", name=option).click()
    settle(page)


def _type(page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")
    settle(page)


def test_an_api_model_from_the_picker_to_metrics(app_server, new_page, httpserver):
    handler = serve(httpserver, dim=16)
    url = httpserver.url_for("/v1")
    page = new_page()
    open_app(page, app_server)
    nav(page, "Data")
    heading(page, "Data").wait_for()
    page.get_by_role("button", name="Use the demo dataset").click()
    wait_or_fail(page, page.get_by_text("Statistics:").first, "loading the demo dataset")
    settle(page)
    nav(page, "Train")
    heading(page, "Train").wait_for()
    _pick(page, "Base model", "OpenAI / compatible endpoint")
    _type(page, "Base URL", url)
    _type(page, "API key", KEY)
    estimate = page.get_by_text("Before the first call:").first
    wait_or_fail(page, estimate, "the cost estimate")
    assert "tokens" in estimate.inner_text()
    assert handler.requests == [], "the estimate is made before any request"

    page.locator('[data-testid="stForm"]').get_by_text("Adapter", exact=True).click()
    page.get_by_role("button", name="Start training").click()
    panel = page.locator('[class*="st-key-job_panel_"]').first
    panel.wait_for()
    match = RUN_ID.search(panel.inner_text())
    assert match, f"no run id in the job panel: {panel.inner_text()!r}"
    run_id = match.group(1)
    status = app_server.home / "runs" / run_id / "status.json"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and '"succeeded"' not in (status.read_text() if status.exists() else ""):
        page.wait_for_timeout(500)
    assert '"succeeded"' in status.read_text(), app_server.log_tail()
    assert handler.requests and set(handler.authorizations) == {f"Bearer {KEY}"}, "the typed key paid"

    nav(page, "Metrics")
    wait_or_fail(page, heading(page, "Metrics"), "the Metrics page")
    page.locator(PLOT).first.wait_for()
    settle(page)
    sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
    assert "Compared run: OpenAI text-embedding-3-small + adapter" in sidebar, "Metrics compares the new run"
    assert not errors_on(page), app_server.log_tail()
    assert files_with_leaks(app_server.home) == {}
    assert leaks(app_server.log.read_bytes()) == []
