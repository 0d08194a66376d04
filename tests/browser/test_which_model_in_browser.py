"""Which model? in a real browser, on the real bundled MiniLM: the one-click demo fine-tunes MiniLM; the bake-off
compares MiniLM, static, BM25 and the hybrid with intervals; the Train page trains an adapter over the static
model, and another over an API model (an OpenAI-compatible server on 127.0.0.1, a key typed in); each run
(256 and 16 dimensions) is compared with the MiniLM fine-tune (384) on Latent, Metrics and Inspect; BM25 is
compared with the fine-tune on Inspect and gets its one-line explanation on Latent.

Set ``EXPLORER_SCREENSHOTS=<folder>`` to keep the Latent page's screenshot of the two models.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from browser_flows import (PLOT, ROOT, choose, errors_on, heading, nav, open_app, pick, run_demo, screenshot, settle,
                           start_server, start_training, stop_server, type_into, wait_for_run, wait_or_fail)
from tests.encoders.openai_server import serve
from tests.encoders.test_api_key_leaks import KEY

pytestmark = [pytest.mark.browser, pytest.mark.model]


@pytest.fixture
def real_server(tmp_path):
    """A local-mode server on the real bundled MiniLM (static comes from its shipped table)."""
    server = start_server(tmp_path / "home", tmp_path / "streamlit.log", encoder=None)
    yield server
    stop_server(server)


def _choose(page, key: str, option: str) -> None:
    """Pick the option whose text contains ``option`` in the select box with this widget key."""
    choose(page, page.locator(f'[class*="st-key-{key}"]'), option)


def _pair(page, a: str, b: str) -> None:
    """Model B, then model A, in the results pages' selector (A's options leave B out)."""
    _choose(page, "pair_b", b)
    _choose(page, "pair_a", a)


def _train_adapter(page, server, base_model: str, endpoint: str | None = None) -> str:
    """Train an adapter over the base model picked by its label (an API model: at ``endpoint``, with the key)."""
    nav(page, "Train")
    heading(page, "Train").wait_for()
    pick(page, "Base model", base_model)
    if endpoint:
        type_into(page, "Base URL", endpoint)
        type_into(page, "API key", KEY)
        wait_or_fail(page, page.get_by_text("Before the first call:").first, "the cost estimate")
    run_id = start_training(page)
    wait_for_run(page, server, run_id)
    return run_id


def _against_the_fine_tune(page, server, a: str, widths: str, shots: list[Path], name: str) -> None:
    """Run ``a`` (A) against the MiniLM fine-tune (B) on Latent (one aligned picture of two widths), Metrics
    and Inspect, without an error."""
    nav(page, "Latent space")
    heading(page, "Latent space").wait_for()
    _pair(page, a=a, b="MiniLM fine-tune")
    note = page.get_by_text(widths).first
    wait_or_fail(page, note, "the Latent page with two widths", timeout_ms=180_000)
    assert "no single fit takes both" in note.inner_text()
    page.locator(PLOT).first.wait_for()
    settle(page)
    assert not errors_on(page), server.log_tail()
    for folder in shots:
        folder.mkdir(parents=True, exist_ok=True)
        screenshot(page, folder / name)
    nav(page, "Metrics")
    heading(page, "Metrics").wait_for()
    page.locator(PLOT).first.wait_for()
    settle(page)
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert a in main and "MiniLM fine-tune" in main, "Metrics compares the two runs"
    assert not errors_on(page), server.log_tail()
    nav(page, "Inspect")
    heading(page, "Inspect").wait_for()
    settle(page)
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert f"A: {a}" in main and "B: MiniLM fine-tune" in main
    assert not errors_on(page), server.log_tail()


def test_which_model_from_the_bakeoff_to_three_pages(real_server, new_page, tmp_path, httpserver):
    serve(httpserver, dim=16)
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
    assert page.get_by_text("95% bootstrap intervals").count(), "the table says no intervals"
    assert "95% intervals" in chart.first.inner_text(), "the chart draws no intervals"
    assert not errors_on(page), real_server.log_tail()
    shots = [tmp_path] + ([Path(ROOT / os.environ["EXPLORER_SCREENSHOTS"])] if os.environ.get("EXPLORER_SCREENSHOTS") else [])
    for folder in shots:
        folder.mkdir(parents=True, exist_ok=True)
        chart.first.scroll_into_view_if_needed()
        page.screenshot(path=str(folder / "bakeoff_real.png"))

    shots = [tmp_path] + ([Path(ROOT / os.environ["EXPLORER_SCREENSHOTS"])] if os.environ.get("EXPLORER_SCREENSHOTS") else [])
    _train_adapter(page, real_server, "Static embeddings (model2vec, distilled from MiniLM)")
    _against_the_fine_tune(page, real_server, "static (MiniLM, model2vec) + adapter", "A has 256 dimensions and B 384",
                           shots, "latent_static_vs_finetune.png")
    _train_adapter(page, real_server, "OpenAI / compatible endpoint", endpoint=httpserver.url_for("/v1"))
    _against_the_fine_tune(page, real_server, "OpenAI text-embedding-3-small + adapter", "A has 16 dimensions and B 384",
                           shots, "latent_api_vs_finetune.png")

    # BM25 against the fine-tune: its rankings side by side on Inspect, one line on Latent.
    _choose(page, "pair_a", "BM25")
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert "A: BM25" in main and "B: MiniLM fine-tune" in main
    assert not errors_on(page), real_server.log_tail()
    nav(page, "Latent space")
    heading(page, "Latent space").wait_for()
    wait_or_fail(page, page.get_by_text("without vectors").first, "the Latent page with BM25")
    assert not errors_on(page), real_server.log_tail()
