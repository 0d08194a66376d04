"""Which model? in a real browser, on the real bundled MiniLM: the one-click demo fine-tunes MiniLM; the bake-off
compares MiniLM, static, BM25 and the hybrid with intervals; the Train page trains an adapter over the static
model; that run (256 dimensions) is compared with the MiniLM fine-tune (384) on Latent, Metrics and Inspect;
BM25 is compared with the fine-tune on Inspect and gets its one-line explanation on Latent.

Set ``EXPLORER_SCREENSHOTS=<folder>`` to keep the Latent page's screenshot of the two models.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from browser_flows import (PLOT, ROOT, errors_on, heading, nav, open_app, run_demo, screenshot, settle, start_server,
                           stop_server, wait_or_fail)

pytestmark = [pytest.mark.browser, pytest.mark.model]

RUN_ID = re.compile(r"Run (\S+) ·")


@pytest.fixture
def real_server(tmp_path):
    """A local-mode server on the real bundled MiniLM (static comes from its shipped table)."""
    server = start_server(tmp_path / "home", tmp_path / "streamlit.log", encoder=None)
    yield server
    stop_server(server)


def _choose(page, key: str, option: str) -> None:
    """Pick the option whose text contains ``option`` in the select box with this widget key."""
    page.locator(f'[class*="st-key-{key}"]').click()
    page.get_by_role("option").filter(has_text=option).first.click()
    settle(page)


def _pair(page, a: str, b: str) -> None:
    """Model B, then model A, in the results pages' selector (A's options leave B out)."""
    _choose(page, "pair_b", b)
    _choose(page, "pair_a", a)


def _train_adapter_over_static(page, server) -> str:
    nav(page, "Train")
    heading(page, "Train").wait_for()
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Base model").first.click()
    page.get_by_role("option", name="Static embeddings (model2vec, distilled from MiniLM)").click()
    settle(page)
    page.locator('[data-testid="stForm"]').get_by_text("Adapter", exact=True).click()
    page.get_by_role("button", name="Start training").click()
    panel = page.locator('[class*="st-key-job_panel_"]').first
    panel.wait_for()
    match = RUN_ID.search(panel.inner_text())
    assert match, f"no run id in the job panel: {panel.inner_text()!r}"
    status = server.home / "runs" / match.group(1) / "status.json"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and '"succeeded"' not in (status.read_text() if status.exists() else ""):
        page.wait_for_timeout(500)
    assert '"succeeded"' in status.read_text(), server.log_tail()
    return match.group(1)


def test_which_model_from_the_bakeoff_to_three_pages(real_server, new_page, tmp_path):
    page = new_page()
    open_app(page, real_server)
    run_demo(page, "full", timeout_ms=420_000)  # a MiniLM fine-tune on the demo: the run to compare with
    settle(page)

    # The bake-off: MiniLM, static, BM25 and the hybrid are picked by default; a table with intervals and the
    # quality-against-cost chart with error bars.
    section = page.get_by_text("Compare models", exact=True)
    section.scroll_into_view_if_needed()
    for name in ("MiniLM", "static (MiniLM, model2vec)", "BM25", "BM25 + MiniLM (hybrid)"):
        assert page.get_by_text(name, exact=True).count(), f"{name} is not picked by default"
    page.get_by_role("button", name="Compare these models").click()
    chart = page.locator(PLOT).filter(has_text="against encode cost")
    wait_or_fail(page, chart.first, "the bake-off", timeout_ms=300_000)
    settle(page)
    table = page.locator('[class*="st-key-bakeoff_table"]')
    assert "95% CI" in table.inner_text() or page.get_by_text("95% CI").count(), "the table shows no intervals"
    assert not errors_on(page), real_server.log_tail()

    _train_adapter_over_static(page, real_server)

    # The static adapter (256 dimensions) against the MiniLM fine-tune (384): one aligned picture on Latent.
    nav(page, "Latent space")
    heading(page, "Latent space").wait_for()
    _pair(page, a="+ adapter", b="MiniLM fine-tune")
    note = page.get_by_text("no single fit takes both").first
    wait_or_fail(page, note, "the Latent page with two widths", timeout_ms=180_000)
    assert "A has 256 dimensions and B 384" in note.inner_text()
    page.locator(PLOT).first.wait_for()
    settle(page)
    assert not errors_on(page), real_server.log_tail()
    folders = [tmp_path] + ([Path(ROOT / os.environ["EXPLORER_SCREENSHOTS"])] if os.environ.get("EXPLORER_SCREENSHOTS") else [])
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        screenshot(page, folder / "latent_two_models.png")

    nav(page, "Metrics")
    heading(page, "Metrics").wait_for()
    page.locator(PLOT).first.wait_for()
    settle(page)
    sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert "adapter" in main and "MiniLM fine-tune" in main, "Metrics compares the two runs"
    assert not errors_on(page), real_server.log_tail() + sidebar

    nav(page, "Inspect")
    heading(page, "Inspect").wait_for()
    settle(page)
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert "A: static" in main and "B: MiniLM fine-tune" in main
    assert not errors_on(page), real_server.log_tail()

    # BM25 against the fine-tune: its rankings side by side on Inspect, one line on Latent.
    _choose(page, "pair_a", "BM25")
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert "A: BM25" in main and "B: MiniLM fine-tune" in main
    assert not errors_on(page), real_server.log_tail()
    nav(page, "Latent space")
    heading(page, "Latent space").wait_for()
    wait_or_fail(page, page.get_by_text("without vectors").first, "the Latent page with BM25")
    assert not errors_on(page), real_server.log_tail()
