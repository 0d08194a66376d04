"""The two recipes for a frozen model on SciFact: the adapter (query side) and NUDGE-N (corpus side).

Both train over the bundled MiniLM's embeddings (one embedding pass, then the embedding cache), as they would
over an API model's, each as a whole run of the engine (``explorer.jobs.execute.execute_run``: baseline,
training with the choice on the dev split, tuned evaluation) with the shipped defaults (only ``method`` set).
For each: test NDCG@10 before and after, and the change split by novelty (test queries whose relevant
abstracts no training query cites, "new", and the rest, "seen"), from the run's own evaluation.json.
NUDGE moves only passages that training queries reach, so its change on new passages should be about zero:
that is the honest number to read beside the overall one. ``measure`` takes any base model spec.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.common import Context, load_scifact, loadavg, machine_info, r

NAME = "recipes_api"
METHODS = ("adapter", "nudge")


def measure(dataset: Any, method: str, base_model: str, ctx: Context, base_encoder: Any = None) -> dict[str, Any]:
    """One run of ``method`` over ``base_model`` (``base_encoder``: that model already built, e.g. an API model
    with its key): NDCG@10 overall and by novelty, time, the dev choice."""
    from explorer.jobs.execute import execute_run
    from explorer.jobs.runs import RunStore
    from explorer.training.config import TrainConfig

    started = time.perf_counter()
    config = TrainConfig(method=method, base_model=base_model).validate(dataset).resolve(dataset)
    run = execute_run(dataset, config, run_store=RunStore(ctx.home / "runs"), base_encoder=base_encoder)
    wall = time.perf_counter() - started
    ev = run.evaluation() or {}
    parts = {p["part"]: p for p in (ev.get("novelty") or {}).get("parts", [])}
    return {
        "run_id": run.id, "base_model": base_model, "job_wall_seconds": r(wall, 1),
        "training_seconds": ev.get("training_seconds"),
        "ndcg@10": {"baseline": r(ev["baseline"]["ndcg@10"], 4), "tuned": r(ev["tuned"]["ndcg@10"], 4),
                    "delta": r(ev["tuned"]["ndcg@10"] - ev["baseline"]["ndcg@10"], 4),
                    "p_value": (ev.get("comparison") or {}).get("metrics", {}).get("ndcg@10", {}).get("p_value")},
        "by_novelty": {name: {"queries": p["n_queries"], "baseline": r(p["mean_a"], 4), "tuned": r(p["mean_b"], 4),
                              "delta": r(p["delta"], 4), "ci_delta": [r(x, 4) for x in p["ci_delta"] or []],
                              "p_value": p["p_value"]}
                       for name, p in parts.items() if p.get("n_queries")},
        "selection": (ev.get("selection") or {}).get("summary"),
        "nudge": ev.get("nudge"),
    }


def run(ctx: Context) -> dict[str, Any]:
    ds = load_scifact(ctx.need_scifact())
    out: dict[str, Any] = {"machine": machine_info(), "loadavg_before": loadavg(), "results": {}}
    for method in METHODS:
        print(f"   scifact / minilm / {method} ...", flush=True)
        out["results"][f"minilm/{method}"] = measure(ds, method, "minilm", ctx)
    out["loadavg_after"] = loadavg()
    out["summary"] = {k: {"ndcg@10": v["ndcg@10"], "delta_new": v["by_novelty"].get("new", {}).get("delta"),
                          "delta_seen": v["by_novelty"].get("seen", {}).get("delta"),
                          "training_seconds": v["training_seconds"]}
                      for k, v in out["results"].items()}
    return out
