"""An API model in a real browser: pick "OpenAI / compatible endpoint" on the Train page, point it at an
OpenAI-compatible server on 127.0.0.1 (the tests' fake server), type a key, see the cost estimate before any
request, embed and train an adapter, and find the run on Metrics; the key is then in no file the server wrote
and not in its log."""

from __future__ import annotations

import pytest

from browser_flows import (PLOT, errors_on, heading, load_demo, nav, open_app, pick, settle, start_training, type_into,
                           wait_for_run, wait_or_fail)
from tests.encoders.openai_server import serve
from tests.encoders.test_api_key_leaks import KEY, files_with_leaks, leaks

pytestmark = pytest.mark.browser


def test_an_api_model_from_the_picker_to_metrics(app_server, new_page, httpserver):
    handler = serve(httpserver, dim=16)
    url = httpserver.url_for("/v1")
    page = new_page()
    open_app(page, app_server)
    load_demo(page)
    nav(page, "Train")
    heading(page, "Train").wait_for()
    pick(page, "Base model", "OpenAI / compatible endpoint")
    type_into(page, "Base URL", url)
    type_into(page, "API key", KEY)
    estimate = page.get_by_text("Before the first call:").first
    wait_or_fail(page, estimate, "the cost estimate")
    assert "tokens" in estimate.inner_text()
    assert handler.requests == [], "the estimate is made before any request"

    wait_for_run(page, app_server, start_training(page))
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
