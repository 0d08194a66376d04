"""Under load, for real: one public server, four browser sessions at once.

Each visitor uploads its own ``data.csv`` (same name, different rows), two of them start a training (the
second waits in the FIFO queue and says so), and all four switch pages together while the jobs run. Nobody
may see another's data; the server's process tree must stay under Community Cloud's 2.7 GB; every page switch
(click to the new title on screen with the script finished) must take under 1 s. If one does not, all the
switches are measured once more, and that second measurement must hold: one slow moment of a shared machine
is forgiven once, a page that is slow is not.

The timings are measured on whatever machine runs the suite, which may be shared: the load average is
printed with the numbers, and ``docs/benchmarks.md`` (``python -m benchmarks visitors``) records them.
"""

from __future__ import annotations

import json
import os

import pytest

from visitors import run_visitors, secret_word, visitor_csv

pytestmark = pytest.mark.browser

VISITORS = 4
SWITCH_LIMIT_S = 1.0
MEMORY_LIMIT_MB = 2.7 * 1024


def test_four_visitors_at_once(app_server_factory, browser):
    server = app_server_factory(public=True)
    load_before = os.getloadavg()
    result = run_visitors(server, browser, VISITORS, rounds=1, remeasure_over=SWITCH_LIMIT_S)
    result["loadavg_before"] = [round(x, 2) for x in load_before]
    result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps({k: v for k, v in result.items() if k != "per_visitor"}, indent=1))
    for v in result["per_visitor"]:
        print(v["index"], v["queries_shown"], [s["seconds"] for s in v["switches"]])

    assert result["errors"] == {}, server.log_tail()
    # Private data: four workspaces; each visitor always sees its own number of queries, and its file (same
    # name as everyone's) holds its own rows, in its own workspace.
    visitors = result["per_visitor"]
    assert len({v["workspace"] for v in visitors}) == VISITORS
    for v in visitors:
        assert set(v["queries_shown"]) == {v["n_queries"]}, v
        folder = server.home / "workspaces" / v["workspace"] / "uploads"
        assert (folder / "data.csv").read_bytes() == visitor_csv(v["index"], v["n_queries"])
        others = [secret_word(o["index"]) for o in visitors if o["index"] != v["index"]]
        for path in (server.home / "workspaces" / v["workspace"]).rglob("*"):
            if path.is_file() and path.suffix in {".csv", ".json", ".jsonl"}:
                text = path.read_text(encoding="utf-8", errors="replace")
                assert not any(word in text for word in others), f"{path} holds another visitor's data"
    # The two runs belong to their own trainers only (a job still queued has no run folder yet).
    runs = {v["index"]: v["run_id"] for v in visitors if v["run_id"]}
    assert len(runs) == 2 and len(set(runs.values())) == 2
    for v in visitors:
        # A run folder, and the training process's log beside it (".<run id>.log") while it works.
        listed = {p.name.lstrip(".").removesuffix(".log")
                  for p in (server.home / "workspaces" / v["workspace"] / "runs").glob("*")}
        assert listed <= ({runs[v["index"]]} if v["index"] in runs else set()), (v["index"], listed)
    # The job submitted second waited in the queue, and its panel said where.
    assert result["queued_seen"] and "place 1 in the queue" in result["queued_seen"], result["job_panels"]
    # Bounded: the whole server process tree, sampled every 50 ms.
    assert result["memory_peak_mb"] < MEMORY_LIMIT_MB
    # Responsive: all four visitors clicking at once, while training runs (a trainer's sidebar still shows its
    # job after the switches, so they all competed with a training).
    assert any(result["jobs_running_after_switches"]), result["jobs_running_after_switches"]
    settled = result["switch_seconds"]
    numbers = (f"settled {settled}, painted {result['painted_seconds']}; first measurement "
               f"{result.get('first_measurement', 'held')}; load average before/after "
               f"{result['loadavg_before']} / {result['loadavg_after']} on {os.cpu_count()} CPUs")
    slow = [(v["index"], s) for v in visitors for s in v["switches"] if s["seconds"] >= SWITCH_LIMIT_S]
    assert not slow, f"{len(slow)} of {settled['n']} page switches took {SWITCH_LIMIT_S} s or more: {slow} ({numbers})"
