"""Quality: baseline vs fine-tuned (full and adapter) NDCG@10, MRR@10, Recall@100 with training time.

Each method runs ``explorer.jobs.execute.execute_run`` with the *default* ``TrainConfig`` (only
``method`` set), i.e. the shipped defaults: baseline evaluation, hard-negative mining with the base model,
training, tuned evaluation, on SciFact (BEIR train/test qrels) and on the bundled demo dataset when present.
``--quick`` trains the adapter only (a full fine-tune of SciFact takes tens of minutes on 2 shared cores).
Significance (paired, per query) comes from the run's own evaluation.json comparison.
``BENCH_QUALITY_RUNS=demo/full,scifact/full`` runs only those (one heavy job at a time on a shared machine);
results of other runs already in ``benchmarks/results/quality.json`` are kept.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from benchmarks.common import REPO, Context, load_scifact, loadavg, machine_info, r

NAME = "quality"
METRICS = ("ndcg@10", "mrr@10", "recall@100")


def train_and_evaluate(dataset: Any, method: str, ctx: Context) -> dict[str, Any]:
    from explorer.training.config import TrainConfig
    from explorer.jobs.execute import execute_run
    from explorer.jobs.runs import RunStore

    started = time.perf_counter()
    run = execute_run(dataset, TrainConfig(method=method).resolve(dataset), run_store=RunStore(ctx.home / "runs"))
    wall = time.perf_counter() - started
    ev = run.evaluation() or {}
    comparison = ev.get("comparison", {})
    return {
        "run_id": run.id, "config": run.config, "training_seconds": ev.get("training_seconds"),
        "job_wall_seconds": r(wall, 1),
        "baseline": {m: r(ev["baseline"][m], 4) for m in METRICS},
        "tuned": {m: r(ev["tuned"][m], 4) for m in METRICS},
        "delta": {m: r(ev["tuned"][m] - ev["baseline"][m], 4) for m in METRICS},
        "comparison": {k: v for k, v in comparison.items() if k not in ("per_query",)},
        "n_test_queries": ev["baseline"].get("n_queries"),
        "negatives": ev.get("negatives"),
    }


def run(ctx: Context) -> dict[str, Any]:
    from explorer.data.demo import demo_available
    from explorer.data.loaders import load_dataset

    out: dict[str, Any] = {"loadavg_before": loadavg(), "results": {}}
    only = [x for x in os.environ.get("BENCH_QUALITY_RUNS", "").split(",") if x]
    previous = REPO / "benchmarks" / "results" / "quality.json"
    if only and previous.is_file():  # keep the other runs' results (each says when and where it ran)
        out["results"] = {k: v for k, v in json.loads(previous.read_text()).get("results", {}).items() if k not in only}
    datasets = []
    if ctx.scifact is not None:
        datasets.append(("scifact", lambda: load_scifact(ctx.scifact)))
    else:
        out["scifact"] = "skipped: SciFact not found (pass --scifact PATH)"
    if demo_available():
        datasets.append(("demo", lambda: load_dataset("demo")))
    else:
        out["demo"] = "not measured: explorer/data/demo/ is not there yet"
    methods = ("adapter",) if ctx.quick else ("adapter", "full")
    for name, load in datasets:
        ds = load()
        for method in methods:
            if only and f"{name}/{method}" not in only:
                continue
            print(f"   {name} / {method} ...", flush=True)
            out["results"][f"{name}/{method}"] = train_and_evaluate(ds, method, ctx)
            out["results"][f"{name}/{method}"]["loadavg_after"] = loadavg()
            out["results"][f"{name}/{method}"]["machine"] = {k: machine_info().get(k) for k in ("cpu_model", "bf16_native", "date")}
            print(f"   {name} / {method}: {out['results'][f'{name}/{method}']['tuned']}", flush=True)
    out["summary"] = {k: {"baseline": v["baseline"], "tuned": v["tuned"], "training_seconds": v["training_seconds"]}
                      for k, v in out["results"].items()}
    return out
