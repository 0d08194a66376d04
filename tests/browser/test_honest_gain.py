"""In a real browser, after the one-click demo: the Metrics page splits the gain into new and seen passages, and
the Train page draws the learning curve on a button press."""

from __future__ import annotations

import pytest

from browser_flows import PLOT, errors_on, heading, nav, open_app, run_demo, settle, wait_or_fail

pytestmark = pytest.mark.browser


def test_new_passages_split_and_learning_curve_on_the_demo(app_server, new_page):
    page = new_page()
    open_app(page, app_server)
    run_demo(page, "adapter", timeout_ms=300_000)  # the CPU is shared: the demo can take minutes
    settle(page)
    section = page.get_by_text("Gain on new passages", exact=True)
    wait_or_fail(page, section, "the new-passages split")
    table = page.locator('[class*="st-key-novelty_split"] [data-testid="stDataFrame"]')
    table.first.wait_for()
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert "relevant passages no training query has" in main
    assert any(s in main for s in ("within noise", "clear of noise", "Every test query has", "No test query shares"))
    assert not errors_on(page), app_server.log_tail()

    nav(page, "Train")
    heading(page, "Train").wait_for()
    page.get_by_role("button", name="Draw the learning curve").click()
    chart = page.locator(f'[class*="st-key-learning_curve_chart"] {PLOT}')
    wait_or_fail(page, chart, "the learning curve", timeout_ms=180_000)
    settle(page)
    assert "Learning curve: dev NDCG@10" in chart.first.inner_text()
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert "Still rising" in main or "Flattening" in main
    assert not errors_on(page), app_server.log_tail()
