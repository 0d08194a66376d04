"""A 20,000-passage corpus in a real browser (fake encoder): uploaded as a BEIR zip, its encoding cost shown
before the encode, a first look on a sample and progress during it, every page without an exception after it,
and the Latent page drawing all 20,000 passages in 2D (WebGL), animated from model A to model B.

Set ``EXPLORER_SCREENSHOTS=<folder>`` to keep the Latent page's screenshot.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import time
import zipfile
from pathlib import Path

import pytest

from browser_flows import (PLOT, ROOT, errors_on, heading, nav, open_app, screenshot, settle, start_server,
                           start_training, stop_server, visit_all, wait_for_run, wait_or_fail)

pytestmark = pytest.mark.browser

PASSAGES = 20_000
QUERIES = 300
WORDS = ("river mountain protein enzyme market voltage orbit glacier neuron vaccine bridge harvest signal "
         "copper lattice monsoon reactor plankton algorithm cathedral fossil tariff quartz migraine").split()


def beir_zip(n_passages: int = PASSAGES, n_queries: int = QUERIES, seed: int = 5) -> bytes:
    """A BEIR folder as a zip: queries each judged against one passage that shares its words, distractors."""
    rng = random.Random(seed)
    corpus, queries, rows = [], [], {"train": [], "test": []}
    for i in range(n_passages):
        corpus.append({"_id": f"p{i}", "title": f"note {i}", "text": " ".join(rng.choices(WORDS, k=24))})
    for q in range(n_queries):
        target = rng.randrange(n_passages)
        words = corpus[target]["text"].split()[:6]
        queries.append({"_id": f"q{q}", "text": " ".join(words)})
        rows["test" if q % 3 == 0 else "train"].append(f"q{q}\tp{target}\t1")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("corpus.jsonl", "\n".join(json.dumps(d) for d in corpus) + "\n")
        z.writestr("queries.jsonl", "\n".join(json.dumps(d) for d in queries) + "\n")
        for split, lines in rows.items():
            z.writestr(f"qrels/{split}.tsv", "query-id\tcorpus-id\tscore\n" + "\n".join(lines) + "\n")
    return out.getvalue()


@pytest.fixture
def scale_server(tmp_path):
    """A local server on the fake encoder that counts every encode as long (the sample comes first)."""
    server = start_server(tmp_path / "home", tmp_path / "streamlit.log", env={"EXPLORER_SAMPLE_FIRST_SECONDS": "0"})
    yield server
    stop_server(server)


def _plot_counts(page) -> dict:
    """Points per trace type in the page's first chart, and its animation frames' point counts."""
    return page.evaluate("""() => {
        const el = document.querySelector('.js-plotly-plot');
        const size = {f8: 8, f4: 4, i4: 4, u4: 4, i2: 2, u2: 2, i1: 1, u1: 1};
        // Plotly 6 ships arrays as base64 ({dtype, bdata}) until it decodes them.
        const length = (x) => !x ? 0 : (x.length !== undefined ? x.length : atob(x.bdata).length / size[x.dtype]);
        const count = (traces) => traces.filter(t => (t.mode || '').includes('markers')).reduce((n, t) => n + length(t.x), 0);
        const frames = (el._transitionData && el._transitionData._frames) || [];
        return {types: [...new Set(el._fullData.map(t => t.type))], points: count(el._fullData),
                frames: frames.map(f => count(f.data || []))};
    }""")


def _drawn(page, ready, timeout_s: float = 120) -> dict:
    """The first chart's counts once ``ready(counts)`` holds (plotly draws tens of thousands of points a
    moment after the page's script ends), or the last counts seen."""
    deadline = time.monotonic() + timeout_s
    counts = _plot_counts(page)
    while time.monotonic() < deadline and not ready(counts):
        page.wait_for_timeout(250)
        counts = _plot_counts(page)
    settle(page)
    return counts


def test_a_20000_passage_corpus_from_upload_to_every_page(scale_server, new_page, tmp_path):
    page = new_page()
    open_app(page, scale_server)
    nav(page, "Data")
    heading(page, "Data").wait_for()
    page.get_by_text("Upload a file", exact=True).click()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": "corpus20k.zip", "mimeType": "application/zip", "buffer": beir_zip()}])
    button = page.get_by_role("button", name="Load this file")
    button.wait_for()
    settle(page, quiet_s=0.5)
    button.click()
    wait_or_fail(page, page.get_by_text("Statistics:").first, "loading 20,000 passages", timeout_ms=120_000)
    settle(page)

    # Before the encode: what it will cost on this machine.
    cost = page.get_by_text("Encoding before the first results:").first
    cost.wait_for()
    found = re.search(r"([\d,]+) of ([\d,]+) texts to embed, about", cost.inner_text())
    assert found and int(found.group(2).replace(",", "")) >= PASSAGES, cost.inner_text()

    # During it: a first look on a sample, and a progress bar with its count.
    nav(page, "Metrics")
    seen_sample = seen_progress = False
    done = page.get_by_text("test queries; intervals: 95% bootstrap over queries.").first
    deadline = time.monotonic() + 180
    folders = [tmp_path] + ([Path(ROOT / os.environ["EXPLORER_SCREENSHOTS"])] if os.environ.get("EXPLORER_SCREENSHOTS") else [])
    while time.monotonic() < deadline and not done.count():
        if not seen_sample and page.get_by_text("A first look, on a sample").count():
            seen_sample = True
            for folder in folders:
                folder.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(folder / "metrics_sample_first.png"))
        bars = page.locator('[data-testid="stProgress"]')
        seen_progress = seen_progress or any("/" in t for t in bars.all_inner_texts())
        page.wait_for_timeout(100)
    wait_or_fail(page, done, "the baseline on 20,000 passages", timeout_ms=5_000)
    assert seen_sample, "no first look on a sample while the corpus was embedded"
    assert seen_progress, "no progress bar with a count while the corpus was embedded"
    assert not errors_on(page), scale_server.log_tail()

    # A model B to compare with: an adapter over the fake encoder.
    nav(page, "Train")
    heading(page, "Train").wait_for()
    wait_for_run(page, scale_server, start_training(page))

    # Every page renders without an exception (the Data page's charts, Search's query included).
    visit_all(page, [])

    # The Latent page: every passage in 2D (WebGL), then animated from A to B.
    nav(page, "Latent space")
    heading(page, "Latent space").wait_for()
    page.locator(PLOT).first.wait_for(timeout=120_000)
    settle(page)
    handle = page.locator('[class*="st-key-latent_max"] input[type="range"]')
    handle.focus()
    handle.press("End")
    wait_or_fail(page, page.get_by_text(f"{PASSAGES:,} of {PASSAGES:,} passages shown").first, "20,000 points",
                 timeout_ms=180_000)
    counts = _drawn(page, lambda c: c["points"] >= 2 * PASSAGES)
    assert counts["types"] == ["scattergl"] and counts["points"] >= 2 * PASSAGES, counts  # A and B side by side
    page.locator('[class*="st-key-latent_view"]').get_by_text("animated", exact=True).click()
    counts = _drawn(page, lambda c: len(c["frames"]) >= 2)
    assert counts["types"] == ["scattergl"] and counts["points"] >= PASSAGES, counts
    assert len(counts["frames"]) >= 2 and min(counts["frames"]) >= PASSAGES, counts
    assert not errors_on(page), scale_server.log_tail()
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        screenshot(page, folder / "latent_20k_animated.png")
