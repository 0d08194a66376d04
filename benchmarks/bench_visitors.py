"""Several visitors at once on one public server: the server's memory and page-switch time by visitor count.

For each count in (1, 2, 4, 8) a fresh ``streamlit run app.py`` starts in public mode (fake encoder, so the
numbers are the app's own cost, not the model's) and that many Playwright browser contexts drive it the way
``tests/browser/test_load.py`` does (``tests/browser/visitors.py``): each uploads its own ``data.csv``, the
first two press Start training back to back (the second job waits in the queue), then all switch
Home -> Data -> Train together while the jobs run. Reported per count: the server process tree's resident memory (start,
peak, end; psutil every 50 ms) and the switch times (click -> new title on screen, "painted"; and -> script
finished, "settled"; median / p90 / max), with the load average before and after, since the CPUs are shared.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, Context, Skip, loadavg

NAME = "visitors"
COUNTS = (1, 2, 4, 8)
BROWSER_TESTS = REPO / "tests" / "browser"


def run(ctx: Context) -> dict[str, Any]:
    """Sweep the visitor counts; one fresh server per count."""
    sys.path.insert(0, str(BROWSER_TESTS))
    import browser_flows
    import visitors

    if not Path(browser_flows.CHROMIUM).exists():
        raise Skip(f"{browser_flows.CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover
        raise Skip("playwright is not installed (requirements-dev.txt)") from exc

    counts = COUNTS[:3] if ctx.quick else COUNTS
    rounds = 1  # Home -> Data -> Train once per visitor: 3 switches each (the CPUs are shared; keep it short)
    sweep = []
    with sync_playwright() as p:
        browser = browser_flows.launch_chromium(p)
        try:
            for n in counts:
                folder = Path(tempfile.mkdtemp(prefix=f"bench_visitors_{n}_"))
                server = browser_flows.start_server(folder / "home", folder / "streamlit.log", public=True)
                try:
                    before = loadavg()
                    result = visitors.run_visitors(server, browser, n, trainers=min(2, n), rounds=rounds)
                    result["loadavg_before"], result["loadavg_after"] = before, loadavg()
                finally:
                    browser_flows.stop_server(server)
                    shutil.rmtree(folder, ignore_errors=True)
                print(f"   {n} visitors: memory peak {result['memory_peak_mb']} MB, settled "
                      f"{result['switch_seconds']}, painted {result['painted_seconds']}, load {before} -> "
                      f"{result['loadavg_after']}", flush=True)
                sweep.append(result)
        finally:
            browser.close()
    return {
        "what": "public-mode server, fake encoder; each visitor uploads data.csv, two train, all switch pages",
        "cpus": os.cpu_count(),
        "rounds": rounds,
        "sweep": sweep,
        "summary": {str(r["visitors"]): {"memory_peak_mb": r["memory_peak_mb"], "memory_end_mb": r["memory_end_mb"],
                                         "settled_s": r["switch_seconds"], "painted_s": r["painted_seconds"],
                                         "queued_seen": bool(r.get("queued_seen")),
                                         "loadavg": [r["loadavg_before"], r["loadavg_after"]]} for r in sweep},
    }
