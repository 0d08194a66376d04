"""The bake-off in a real browser: compare MiniLM, BM25 and a hybrid on the demo, see the table and the chart,
then pick BM25 as model A and get its one-line explanation on the Latent page.

Static embeddings are left out: their first distillation takes minutes on two cores. Set
``EXPLORER_SCREENSHOTS=<folder>`` to keep the section's screenshot.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from browser_flows import PLOT, ROOT, TABLE, errors_on, heading, load_demo, nav, open_app, screenshot, settle, wait_or_fail

pytestmark = pytest.mark.browser


def test_bakeoff_on_the_demo(app_server, new_page, tmp_path):
    page = new_page()
    open_app(page, app_server)
    load_demo(page)
    nav(page, "Metrics")
    heading(page, "Metrics").wait_for()
    section = page.get_by_text("Compare models", exact=True)
    section.wait_for()
    for name in ("MiniLM", "BM25", "BM25 + MiniLM (hybrid)"):
        assert page.get_by_text(name, exact=True).count(), f"{name} is not picked by default"
    page.get_by_role("button", name="Compare these models").click()
    chart = page.locator(PLOT).filter(has_text="against encode cost")
    wait_or_fail(page, chart.first, "the bake-off", timeout_ms=240_000)
    settle(page)
    assert page.locator(TABLE).count() >= 2  # the A/B comparison's table, then the bake-off's
    assert page.get_by_text("CPU:").count(), "the bake-off's caption is missing"
    assert not errors_on(page), app_server.log_tail()
    folders = [tmp_path]
    if os.environ.get("EXPLORER_SCREENSHOTS"):
        folders.append(Path(ROOT / os.environ["EXPLORER_SCREENSHOTS"]))
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        chart.first.scroll_into_view_if_needed()
        screenshot(page, folder / "bakeoff.png")
    # The compared models are offered as A and B (before any run, B is the first of them): pick the hybrid as B;
    # the Latent page then says in one line why there is nothing to draw.
    page.locator('[class*="st-key-pair_b"]').click()
    page.get_by_role("option", name="BM25 + MiniLM (hybrid)", exact=True).click()
    settle(page)
    nav(page, "Latent space")
    heading(page, "Latent space").wait_for()
    wait_or_fail(page, page.get_by_text("without vectors").first, "the Latent page with the hybrid")
    assert "BM25 + MiniLM (hybrid)" in page.get_by_text("without vectors").first.inner_text()
    assert not errors_on(page), app_server.log_tail()
