"""What a person sees on a large corpus: ``python -m benchmarks scale_pages`` (fake encoder, real server, real browser).

A BEIR zip of ``BENCH_SCALE_PAGES`` passages (default 100,000: SciFact plus seeded distractors, as in
:mod:`benchmarks.bench_scale`) is uploaded on the Data page of a local server running the fake encoder; then it
times, as a person sees them: the load (click to the statistics), the Metrics page (click to the sampled first
look, and to the whole corpus' table), the first Search query (the index was built in the background), a query
after it, and every page switch twice (click to the new page's title, and to its script settled). The
server's process tree is sampled for its peak RSS. The fake encoder stands for everything but the model.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SIZE = int(os.environ.get("BENCH_SCALE_PAGES", "100000"))
PAGES = ("Home", "Data", "Train", "Latent space", "Similarity", "Metrics", "Inspect", "Search")
TITLES = {"Home": "Embedding fine-tuning explorer"}


def _zip(folder: Path) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                z.write(path, path.relative_to(folder).as_posix())
    return out.getvalue()


def run(ctx: Any) -> dict[str, Any]:
    """The benchmark entry of ``python -m benchmarks scale_pages``."""
    from benchmarks.bench_app import require_browser
    from benchmarks.bench_scale import TreePeak, make_corpus
    from benchmarks.common import machine_info

    require_browser()
    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    from browser_flows import start_server, stop_server
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {"machine": machine_info(), "passages": SIZE, "encoder": "fake"}
    with tempfile.TemporaryDirectory(prefix="scale_pages_") as tmp:
        data = _zip(make_corpus(ctx.need_scifact(), SIZE, Path(tmp) / "corpus"))
        out["zip_mb"] = round(len(data) / 2**20, 1)
        server = start_server(Path(tmp) / "home", Path(tmp) / "streamlit.log",
                              env={"EXPLORER_MAX_UPLOAD_MB": "400", "EXPLORER_MAX_UNPACKED_MB": "2000"})
        peak = TreePeak(every=0.2, pid=server.process.pid)
        try:
            with peak:
                _measure(out, server, sync_playwright, data)
        except Exception as exc:  # noqa: BLE001 - keep what was measured before the failure, and say where it stopped
            out["failed"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        finally:
            out["server_peak_rss_mb"] = round(peak.peak)
            stop_server(server)
    out["summary"] = {k: out.get(k) for k in ("load_seconds", "sample_shown_seconds", "metrics_whole_corpus_seconds",
                                               "search_first_seconds", "search_seconds", "server_peak_rss_mb", "failed")}
    return out


def _measure(out: dict[str, Any], server: Any, sync_playwright: Any, data: bytes) -> None:
    """The browser's part of :func:`run`, filling ``out`` as it goes."""
    from browser_flows import TABLE, heading, launch_chromium, nav, new_context, open_app, settle

    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = new_context(browser).new_page()
        open_app(page, server)
        nav(page, "Data")
        heading(page, "Data").wait_for()
        page.get_by_text("Upload a file", exact=True).click()
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
            files=[{"name": "corpus.zip", "mimeType": "application/zip", "buffer": data}])
        button = page.get_by_role("button", name="Load this file")
        button.wait_for(timeout=300_000)
        settle(page, quiet_s=0.5)
        t = time.perf_counter()
        button.click()
        page.get_by_text("Statistics:").first.wait_for(timeout=600_000)
        out["load_seconds"] = round(time.perf_counter() - t, 1)
        settle(page)
        cost = page.get_by_text("Encoding before the first results:").first
        try:  # drawn once the corpus' texts are hashed against the cache, a moment after the statistics
            cost.wait_for(timeout=60_000)
            out["cost_line"] = cost.inner_text()
        except Exception:  # noqa: BLE001 - recorded as missing, the rest is still measured
            out["cost_line"] = None

        t = time.perf_counter()
        nav(page, "Metrics")
        done = page.get_by_text("test queries; intervals: 95% bootstrap over queries.").first
        sample = page.get_by_text("A first look, on a sample").first
        while not done.count():
            if "sample_shown_seconds" not in out and sample.count():
                out["sample_shown_seconds"] = round(time.perf_counter() - t, 1)
            page.wait_for_timeout(100)
        out["metrics_whole_corpus_seconds"] = round(time.perf_counter() - t, 1)
        settle(page)

        nav(page, "Search")
        heading(page, "Search").wait_for()
        settle(page)
        for key, query in (("search_first_seconds", "vitamin D and bone fractures"),
                           ("search_seconds", "tumour suppressor genes in mice")):
            box = page.get_by_label("Query")
            t = time.perf_counter()
            box.fill(query)
            box.press("Enter")
            page.wait_for_timeout(100)  # the rerun's status widget shows
            settle(page, quiet_s=0.3, timeout_s=600)
            page.locator(TABLE).first.wait_for(timeout=60_000)
            out[key] = round(time.perf_counter() - t - 0.3, 2)  # less the quiet time settle waits for

        switches = []
        for _ in range(2):
            for label in PAGES:
                t = time.perf_counter()
                nav(page, label)
                heading(page, TITLES.get(label, label)).wait_for(timeout=600_000)
                painted = time.perf_counter() - t
                settle(page, quiet_s=0.3, timeout_s=600)
                switches.append({"page": label, "title_seconds": round(painted, 2),
                                 "settled_seconds": round(time.perf_counter() - t - 0.3, 2)})
        out["page_switches"] = switches
        second = switches[len(PAGES):]
        out["slowest_switch_second_round"] = max(second, key=lambda s: s["settled_seconds"])
        browser.close()
