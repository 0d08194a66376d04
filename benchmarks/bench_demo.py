"""The one-click demo end to end in a real browser, and what the app costs next to the same job from the CLI.

1. CLI: ``python -m explorer train --data demo --method full`` in a fresh ``EXPLORER_HOME`` (the job alone).
2. App: ``streamlit run app.py`` in another fresh home; Playwright + Debian chromium open the home page and
   press *Run the demo* (full fine-tune). Measured from the click: when the job panel first shows an ETA for the
   whole job (and that ETA), page switches to Data and back every ~20 s while the job runs (painted time), the
   moment the app lands on the Metrics page by itself with its comparison drawn, and then how long the Latent
   space, Similarity and Inspect pages take to finish their scripts (are they ready?).
   CPU seconds from the click to landing: the server's own, the training process's, the browser's.
3. Both runs' ``status.json``/``evaluation.json``: job seconds, training seconds, NDCG@10 before/after, the paired
   test's p-value. App overhead = app job seconds / CLI job seconds - 1 (target <= 10%).

Targets: click -> significant gain (p < 0.01, NDCG@10 >= +0.05) on the Metrics page in <= 180 s;
page switches < 1 s meanwhile; ETA within 30% of the real remaining time from the first seconds.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_app import ARGS, CHROMIUM, IDLE, _port, _title, _wait_health, require_browser
from benchmarks.common import REPO, Context, loadavg, r

NAME = "demo"
ETA = re.compile(r"about (?:(\d+) min )?(\d+) s left in all")


def _run_summary(home: Path) -> dict[str, Any]:
    """The newest run under ``home``: timings from status.json and the comparison from evaluation.json."""
    runs = sorted(home.rglob("status.json"), key=lambda p: p.stat().st_mtime)
    if not runs:
        return {"error": "no run folder"}
    folder = runs[-1].parent
    status = json.loads((folder / "status.json").read_text())
    out: dict[str, Any] = {"state": status.get("state"), "training_seconds": status.get("training_seconds")}
    if status.get("started") and status.get("finished"):
        out["job_seconds"] = r(float(status["finished"]) - float(status["started"]), 1)
    try:
        evaluation = json.loads((folder / "evaluation.json").read_text())
        ndcg = evaluation["comparison"]["metrics"]["ndcg@10"]
        out.update(ndcg_before=r(ndcg["mean_a"], 4), ndcg_after=r(ndcg["mean_b"], 4), delta=r(ndcg["delta"], 4),
                   p_value=ndcg["p_value"], test=evaluation["comparison"].get("test"))
        out["significant_gain"] = bool(ndcg["p_value"] < 0.01 and ndcg["delta"] >= 0.05)
    except (OSError, KeyError, ValueError) as exc:
        out["evaluation_error"] = f"{type(exc).__name__}: {exc}"
    config = json.loads((folder / "config.json").read_text())
    out["config"] = {k: config.get(k) for k in ("epochs", "batch_size", "learning_rate", "loss", "train_layers",
                                                "max_seq_length", "eval_every_steps")}
    events = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line.strip()]
    plans = [e["plan"] for e in events if e.get("plan")]
    if plans:
        out["plan_seconds"] = plans[0]
    phases: dict[str, list[float]] = {}
    for e in events:
        phases.setdefault(e["phase"], []).append(float(e["time"]))
    out["phase_seconds"] = {p: r(max(t) - min(t), 1) for p, t in phases.items()}
    first_eval = next((e["time"] for e in events if e["phase"] == "training" and e.get("metrics")), None)
    train_start = min(phases.get("training", [0.0]))
    out["first_heldout_eval_after_s"] = r(first_eval - train_start, 1) if first_eval else None
    return out


def _cli_job(home: Path) -> dict[str, Any]:
    env = {**os.environ, "EXPLORER_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    env.pop("EXPLORER_ENCODER", None)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "explorer", "train", "--data", "demo", "--method", "full"],
                          cwd=REPO, env=env, capture_output=True, text=True)
    out = {"wall_seconds": r(time.perf_counter() - start, 1), "returncode": proc.returncode,
           "loadavg_after": loadavg(), **_run_summary(home)}
    if proc.returncode:
        out["stderr_tail"] = proc.stderr[-800:]
    return out


def _ticks(pid: int) -> tuple[float, float]:
    """(own, reaped children's) CPU seconds of a process, from /proc (0, 0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0.0
    hz = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / hz, (int(fields[13]) + int(fields[14])) / hz


def _cpu(server_pid: int) -> dict[str, float]:
    """CPU seconds so far of the server (its own, and its finished children's: the training process), of its
    running children, and of every Chromium process: where the cores went while the job ran."""
    own, reaped = _ticks(server_pid)
    children = browser = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")[0]
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == server_pid:
            children += sum(_ticks(int(entry.name)))
        elif b"chrom" in cmd:
            browser += _ticks(int(entry.name))[0]
    return {"server": own, "training_process": reaped + children, "browser": browser}


def _eta_seconds(text: str) -> float | None:
    m = ETA.search(text)
    return None if m is None else int(m.group(1) or 0) * 60 + int(m.group(2))


def _app_demo(home: Path, out: dict[str, Any]) -> None:
    from playwright.sync_api import sync_playwright

    port = _port()
    env = {**os.environ, "EXPLORER_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    env.pop("EXPLORER_ENCODER", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--browser.gatherUsageStats", "false"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_health(port, 120)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/")
            _title(page, "Embedding fine-tuning explorer")
            page.wait_for_selector(IDLE, timeout=180_000)
            time.sleep(3)  # let the server's warm-up imports finish, as a visitor reading the page would
            out["loadavg_at_click"] = loadavg()
            cpu_at_click = _cpu(server.pid)
            click = time.perf_counter()
            page.get_by_role("button", name="Run the demo").click()
            etas: list[dict[str, float]] = []
            switches: list[dict[str, Any]] = []
            last_switch = time.perf_counter()
            landed = None
            while time.perf_counter() - click < 1800:
                text = page.inner_text("body")
                if page.locator("h1", has_text="Metrics").count():
                    page.wait_for_selector("text=Fixed queries", timeout=300_000)
                    landed = time.perf_counter() - click
                    cpu_now = _cpu(server.pid)
                    out["cpu_seconds_click_to_metrics"] = {k: r(cpu_now[k] - cpu_at_click[k], 1) for k in cpu_now}
                    break
                seconds = _eta_seconds(text)
                if seconds is not None and (not etas or etas[-1]["eta_s"] != seconds):
                    etas.append({"at_s": r(time.perf_counter() - click, 1), "eta_s": seconds})
                if etas and time.perf_counter() - last_switch > 20:
                    for label, title in (("Data", "Data"), ("Home", "Embedding fine-tuning explorer")):
                        t = time.perf_counter()
                        try:
                            page.locator('[data-testid="stSidebar"] [data-testid="stPageLink-NavLink"]').get_by_text(
                                label, exact=True).first.click()
                            _title(page, title)
                        except Exception as exc:  # noqa: BLE001 - a switch that never painted is a result too
                            switches.append({"page": label, "painted_s": None, "at_s": r(t - click, 1),
                                             "error": f"{type(exc).__name__}: {str(exc)[:200]}",
                                             "body": page.inner_text("body")[:400]})
                            continue
                        switches.append({"page": label, "painted_s": r(time.perf_counter() - t, 3),
                                         "at_s": r(t - click, 1)})
                    last_switch = time.perf_counter()
                time.sleep(0.5)
            out["click_to_metrics_seconds"] = r(landed, 1) if landed else None
            out["etas"] = etas
            if etas and landed:
                first = etas[0]
                real = landed - first["at_s"]
                out["first_eta"] = {"shown_at_s": first["at_s"], "eta_s": first["eta_s"], "real_remaining_s": r(real, 1),
                                    "error_pct": r(100 * (first["eta_s"] - real) / real, 1)}
            out["page_switches"] = switches
            out["page_switch_max_painted_s"] = max((s["painted_s"] for s in switches if s["painted_s"] is not None),
                                               default=None)
            out["page_switches_failed"] = sum(s["painted_s"] is None for s in switches)
            ready = []
            for label, title in (("Latent space", "Latent space"), ("Similarity", "Similarity"), ("Inspect", "Inspect")):
                if not landed:
                    break
                t = time.perf_counter()
                page.locator('[data-testid="stSidebar"] [data-testid="stPageLink-NavLink"]').get_by_text(
                    label, exact=True).first.click()
                _title(page, title)
                page.wait_for_selector(IDLE, timeout=300_000)
                ready.append({"page": label, "script_done_s": r(time.perf_counter() - t, 2)})
            out["other_pages_after_landing"] = ready
            browser.close()
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


def run(ctx: Context) -> dict[str, Any]:
    require_browser()
    out: dict[str, Any] = {"loadavg_before": loadavg(), "bf16": os.environ.get("EXPLORER_BF16", "auto")}
    homes = [Path(tempfile.mkdtemp(prefix="bench-demo-cli-")), Path(tempfile.mkdtemp(prefix="bench-demo-app-"))]
    try:
        if os.environ.get("BENCH_DEMO_SKIP_CLI") != "1":
            out["cli"] = _cli_job(homes[0])
        app: dict[str, Any] = {}
        try:
            _app_demo(homes[1], app)
        finally:
            app.update(_run_summary(homes[1]))
            out["app"] = app
    finally:
        for home in homes:
            shutil.rmtree(home, ignore_errors=True)
    app, cli = out["app"], out.get("cli", {})
    overhead = None
    if app.get("job_seconds") and cli.get("job_seconds"):
        overhead = r(app["job_seconds"] / cli["job_seconds"] - 1, 3)
    landed = app.get("click_to_metrics_seconds")
    out["summary"] = {
        "click_to_metrics_s": landed, "target_s": 180, "met_time": bool(landed and landed <= 180),
        "significant_gain": app.get("significant_gain"), "ndcg_before": app.get("ndcg_before"),
        "ndcg_after": app.get("ndcg_after"), "p_value": app.get("p_value"),
        "app_job_s": app.get("job_seconds"), "cli_job_s": cli.get("job_seconds"), "app_overhead": overhead,
        "met_overhead": bool(overhead is not None and overhead <= 0.10),
        "first_eta": app.get("first_eta"), "page_switch_max_painted_s": app.get("page_switch_max_painted_s"),
        "first_heldout_eval_after_s": app.get("first_heldout_eval_after_s"), "loadavg_after": loadavg(),
        "cpu_seconds_click_to_metrics": app.get("cpu_seconds_click_to_metrics"),
    }
    return out
