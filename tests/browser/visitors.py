"""Several visitors at once on one public server: what the load test and ``benchmarks/bench_visitors.py`` share.

Each visitor is a browser context of its own (its own Streamlit session and, in public mode, workspace).
Every visitor uploads a file named ``data.csv`` with rows of its own (a different number of queries, and a
word only it uses), the first two press Start training back to back (the job submitted second waits in the
server's FIFO queue), and all of them switch pages together while the jobs run.

A page switch is timed in the browser itself: a small script started just before the click records when the
new page's title is on screen ("painted") and when, in addition, Streamlit reports the script as finished
(``stApp[data-test-script-state=notRunning]``, "settled"), so waiting on one visitor never inflates another's.
The server's memory is the resident size of its whole process tree, sampled every 50 ms with psutil.
"""

from __future__ import annotations

import random
import re
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from browser_flows import AppServer, errors_on, heading, nav, open_app, settle, wait_or_fail

FILE_NAME = "data.csv"
WORDS = ("alpha beta gamma delta epsilon zeta theta kappa lambda sigma omega river forest mountain cloud stone "
         "harbor lantern meadow copper").split()
# (sidebar label, page title) of the pages every visitor switches between: light pages that draw the
# visitor's own data (the dataset statistics, the runs) without recomputing anything heavy.
# Home first: after the upload and the training start, every visitor is on Data or Train.
ROUND = [("Home", "Embedding fine-tuning explorer"), ("Data", "Data"), ("Train", "Train")]
SWITCH_TIMER = """([title, timeout]) => {
  const t0 = performance.now();
  window.__switch = {done: null, painted: null};
  const timer = setInterval(() => {
    const shown = Array.from(document.querySelectorAll('h1')).some(h => h.textContent.trim().startsWith(title));
    const idle = document.querySelector('[data-testid="stApp"][data-test-script-state="notRunning"]');
    if (shown && window.__switch.painted === null) { window.__switch.painted = (performance.now() - t0) / 1000; }
    if (shown && idle) { window.__switch.done = (performance.now() - t0) / 1000; clearInterval(timer); }
    else if (performance.now() - t0 > timeout) { clearInterval(timer); }
  }, 20);
}"""


def secret_word(index: int) -> str:
    """A word only visitor ``index`` has in its data."""
    return f"secret{index}x"


def visitor_csv(index: int, n_queries: int) -> bytes:
    """Visitor ``index``'s ``data.csv``: ``n_queries`` queries with two graded passages each."""
    rng = random.Random(index)
    lines = ["query,passage,label"]
    for q in range(n_queries):
        query = f"{secret_word(index)} question {q} " + " ".join(rng.choice(WORDS) for _ in range(4))
        for grade in (2, 1):
            passage = " ".join(rng.choice(WORDS) for _ in range(24))
            lines.append(f'"{query}","{secret_word(index)} {passage} doc {q}-{grade}",{grade}')
    return ("\n".join(lines) + "\n").encode("utf-8")


@dataclass
class Visitor:
    """One browser session: its page, its file and what it saw."""

    index: int
    page: Any
    n_queries: int
    workspace: str | None = None
    run_id: str | None = None
    switches: list[dict[str, Any]] = field(default_factory=list)
    seen_queries: list[int] = field(default_factory=list)

    @property
    def csv(self) -> bytes:
        return visitor_csv(self.index, self.n_queries)


class ServerMemory:
    """Peak resident memory (MB) of a server process and its children, sampled in a thread."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        import psutil

        self._root = psutil.Process(pid)
        self.every = every
        self.peak_mb = 0.0
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss_mb(self) -> float:
        """Resident size of the process tree now."""
        import psutil

        total = 0
        for proc in [self._root, *self._root.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except psutil.Error:  # a child that just exited
                pass
        return total / 2**20

    def _run(self) -> None:
        start = time.monotonic()
        while not self._stop.wait(self.every):
            try:
                mb = self.rss_mb()
            except Exception:  # the server exited: the test reports that elsewhere
                return
            self.peak_mb = max(self.peak_mb, mb)
            self.samples.append((round(time.monotonic() - start, 2), round(mb, 1)))

    def __enter__(self) -> "ServerMemory":
        self.peak_mb = self.rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def workspace_of(page: Any) -> str | None:
    """The ``?ws=`` of the page's URL."""
    from urllib.parse import parse_qs, urlparse

    return (parse_qs(urlparse(page.url).query).get("ws") or [None])[0]


def upload(visitor: Visitor) -> None:
    """On the Data page: upload the visitor's ``data.csv`` and load it (columns are guessed)."""
    page = visitor.page
    nav(page, "Data")
    heading(page, "Data").wait_for()
    page.get_by_text("Upload a file", exact=True).click()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": FILE_NAME, "mimeType": "text/csv", "buffer": visitor.csv}])
    button = page.get_by_role("button", name="Load this file")
    button.wait_for()
    settle(page, quiet_s=0.5)
    button.click()
    wait_or_fail(page, page.get_by_text("Statistics:").first, f"visitor {visitor.index} loading {FILE_NAME}")
    settle(page, quiet_s=0.5)


def queries_shown(page: Any) -> int:
    """The "Queries" count of the Data page's statistics."""
    metric = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]').get_by_text("Queries", exact=True)).first
    return int(metric.locator('[data-testid="stMetricValue"]').inner_text().replace(",", "").strip())


def prepare_training(visitor: Visitor) -> None:
    """On the Train page: choose the adapter method, ready to press Start."""
    page = visitor.page
    nav(page, "Train")
    heading(page, "Train").wait_for()
    page.locator('[data-testid="stForm"]').get_by_text("Adapter", exact=True).click()
    settle(page, quiet_s=0.5)


def start_trainings(trainers: list[Visitor]) -> list[str]:
    """Press Start on every trainer's page back to back (so all jobs are submitted before the first can end).

    Returns:
        The text of each trainer's job panel once it is drawn; each trainer's ``run_id`` is set from it.
    """
    for v in trainers:
        v.page.get_by_role("button", name="Start training").click()
    texts = []
    for v in trainers:
        # The panel's text, not only the panel: its container can be on screen a moment before its first line.
        panel = v.page.locator('[class*="st-key-job_panel_"]').filter(has_text="Run ").first
        panel.wait_for()
        text = panel.inner_text()
        v.run_id = text.split("Run ", 1)[-1].split(" ", 1)[0] if "Run " in text else None
        texts.append(text)
    return texts


def switch_all(visitors: list[Visitor], label: str, title: str, timeout_s: float = 60) -> None:
    """Every visitor clicks ``label`` at (nearly) the same moment; each one's switch time is recorded."""
    for v in visitors:
        v.page.evaluate(SWITCH_TIMER, [title, timeout_s * 1000])
        nav(v.page, label)
    for v in visitors:
        v.page.wait_for_function("() => window.__switch && window.__switch.done !== null", timeout=timeout_s * 1000,
                                 polling=100)  # not every frame: the page's own timer does the timing
        timer = v.page.evaluate("() => window.__switch")
        v.switches.append({"page": label, "seconds": round(float(timer["done"]), 3),
                           "painted": round(float(timer["painted"]), 3)})
        heading(v.page, title).wait_for()


def summary(values: list[float]) -> dict[str, float]:
    """Median, p90 and max of some seconds."""
    ordered = sorted(values)
    if not ordered:
        return {}
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {"n": len(ordered), "median": round(statistics.median(ordered), 3), "p90": round(p90, 3),
            "max": round(ordered[-1], 3)}


def run_visitors(server: AppServer, browser: Any, n: int, *, trainers: int = 2, rounds: int = 2,
                 first_queries: int = 200, remeasure_over: float | None = None) -> dict[str, Any]:
    """Drive ``n`` visitors through upload, training and page switches; returns what was measured.

    Args:
        server: a public-mode server.
        browser: a Playwright browser (each visitor gets a context of its own).
        n: number of visitors.
        trainers: how many of them start a training, pressing Start back to back (all but one wait in the
            queue).
        rounds: how many times all visitors go through Home -> Data -> Train together.
        first_queries: queries in the first visitor's file (a longer job, so switches happen while it runs).
        remeasure_over: if a switch took this many seconds or more, all the switches are measured once more
            (still during the jobs) and the second measurement is the one summarized; the first one is kept
            under ``"first_measurement"``. None: one measurement.

    Returns:
        Per visitor: workspace, queries shown, switch times; the queue text the second trainer saw; the
        server's memory (start, peak, end, MB); the page-switch summary; errors seen on pages.
    """
    from browser_flows import new_context

    contexts = [new_context(browser) for _ in range(n)]
    visitors = [Visitor(i, c.new_page(), first_queries if i == 0 else 20 + 7 * i) for i, c in enumerate(contexts)]
    result: dict[str, Any] = {"visitors": n}
    try:
        with ServerMemory(server.process.pid) as memory:
            result["memory_start_mb"] = round(memory.rss_mb(), 1)
            for v in visitors:
                open_app(v.page, server)
                v.workspace = workspace_of(v.page)
            for v in visitors:
                upload(v)
                v.seen_queries.append(queries_shown(v.page))
            for v in visitors[:trainers]:
                prepare_training(v)
            result["job_panels"] = start_trainings(visitors[:trainers])
            result["queued_seen"] = _wait_for_queue_text(visitors[:trainers]) if trainers > 1 else None
            started = time.monotonic()
            _switch_rounds(visitors, rounds)
            slow = [] if remeasure_over is None else [
                (v.index, s) for v in visitors for s in v.switches if s["seconds"] >= remeasure_over]
            if slow:
                result["first_measurement"] = {
                    "settled": summary([s["seconds"] for v in visitors for s in v.switches]), "slow": slow}
                for v in visitors:
                    v.switches.clear()
                _switch_rounds(visitors, rounds)
            result["switch_phase_s"] = round(time.monotonic() - started, 1)
            result["jobs_running_after_switches"] = _jobs_active(visitors[:trainers])
            result["errors"] = {v.index: errors_on(v.page) for v in visitors if errors_on(v.page)}
            result["memory_end_mb"] = round(memory.rss_mb(), 1)
        result["memory_peak_mb"] = round(memory.peak_mb, 1)
        result["memory_samples"] = len(memory.samples)
        result["switch_seconds"] = summary([s["seconds"] for v in visitors for s in v.switches])
        result["painted_seconds"] = summary([s["painted"] for v in visitors for s in v.switches])
        result["per_visitor"] = [{"index": v.index, "workspace": v.workspace, "n_queries": v.n_queries,
                                  "queries_shown": v.seen_queries, "run_id": v.run_id, "switches": v.switches}
                                 for v in visitors]
    finally:
        for c in contexts:
            c.close()
    return result


def _switch_rounds(visitors: list[Visitor], rounds: int) -> None:
    """All visitors go through :data:`ROUND` together ``rounds`` times; the Data page's query count is noted."""
    for _ in range(rounds):
        for label, title in ROUND:
            switch_all(visitors, label, title)
            if label == "Data":
                for v in visitors:
                    v.seen_queries.append(queries_shown(v.page))


def _wait_for_queue_text(trainers: list[Visitor], timeout_s: float = 60) -> str | None:
    """The text by which a trainer's page says its job waits in the queue (None if none ever does)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for v in trainers:
            queued = v.page.get_by_text(re.compile(r"place \d+ in the queue"))
            if queued.count():
                return queued.first.inner_text()
        trainers[0].page.wait_for_timeout(100)
    return None


def _jobs_active(trainers: list[Visitor]) -> list[bool]:
    """Whether each trainer's sidebar still shows its job (so the switches happened during training)."""
    out = []
    for v in trainers:
        sidebar = v.page.locator('[data-testid="stSidebar"]').inner_text()
        out.append(bool(v.run_id) and f"Training {v.run_id}" in sidebar)
    return out
