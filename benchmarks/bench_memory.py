"""Peak memory of the whole demo flow in ONE process: load the demo dataset, baseline evaluation, mine hard
negatives, train with the default TrainConfig (full fine-tune, through ``execute_run``), project before/after
(aligned PCA and UMAP), evaluate the comparison. Target: peak RSS < 1.5 GB (Community Cloud gives 2.7 GB).

Then a second model in use, in the same process (``second_model`` in the result): the fine-tune is let go, the
bake-off compares MiniLM, static (the shipped table; distilled here only if it is missing), BM25 and the hybrid, an adapter trains over
the static model, and the static model and its adapter are projected and compared. The peak covers both parts
(target < 1.5 GB still); the result lists what the encoder registry holds at the end (in public mode: the base
model and what fits the public budget; models not in use are released).

Peak RSS is sampled by a psutil thread every 50 ms and cross-checked with ``resource.getrusage`` ru_maxrss.
If ``explorer/data/demo/`` is not there yet, a demo-sized SciFact subset stands in (said in the result).
"""

from __future__ import annotations

import random
import resource
import time
from typing import Any

from benchmarks.common import Context, PeakRSS, load_scifact, loadavg, r

NAME = "memory"
SECOND_MODELS = ("minilm", "static", "bm25", "hybrid")
"""The bake-off of the second part."""


def demo_like(ctx: Context) -> tuple[Any, str]:
    from explorer.data.demo import demo_available
    from explorer.data.loaders import load_dataset
    from explorer.data.model import Dataset

    if demo_available():
        return load_dataset("demo"), "demo"
    ds = load_scifact(ctx.need_scifact())
    rng = random.Random(0)
    n_train, n_test, n_passages = (40, 20, 500) if ctx.quick else (120, 60, 1500)
    train = rng.sample(ds.query_ids("train"), n_train)
    test = rng.sample(ds.query_ids("test"), n_test)
    qids = train + test
    keep = {p for q in qids for p in ds.qrels[q]}
    rest = [p for p in ds.passage_ids() if p not in keep]
    keep.update(rng.sample(rest, n_passages - len(keep)))
    corpus = {p: ds.corpus[p] for p in ds.passage_ids() if p in keep}
    sub = Dataset("scifact-demo-size", {q: ds.queries[q] for q in qids}, corpus,
                  {q: dict(ds.qrels[q]) for q in qids}, {q: ds.split[q] for q in qids})
    return sub, (f"SciFact subset ({n_train} train / {n_test} test queries, {n_passages:,} passages): "
                 "explorer/data/demo/ not there yet")


def run(ctx: Context) -> dict[str, Any]:
    """Measure each mode in a fresh child process: ru_maxrss covers a whole process's life, so earlier
    benchmarks of the same ``python -m benchmarks`` run must not count. Two modes: "local" (the defaults on a
    workstation: MNRL) and "public" (``EXPLORER_PUBLIC=1``, as on Community Cloud: memory-bounded training,
    see ``Settings.low_memory``)."""
    results = {mode: _run_mode(ctx, mode) for mode in ("public", "local")}
    return {"summary": {mode: res["summary"] for mode, res in results.items()}}


def _run_mode(ctx: Context, mode: str) -> dict[str, Any]:
    import json
    import os
    import subprocess
    import sys
    import tempfile

    from benchmarks.common import REPO
    from explorer.data.demo import demo_available

    if not demo_available():
        ctx.need_scifact()  # raises Skip with the reason when neither the demo nor SciFact is there
    with tempfile.TemporaryDirectory(prefix="bench-mem-") as tmp:
        out = os.path.join(tmp, "out.json")
        scifact = f"Path({str(ctx.scifact)!r})" if ctx.scifact else "None"
        code = ("import json, sys; from pathlib import Path; from benchmarks.common import Context; "
                "from benchmarks.bench_memory import measure; "
                f"ctx = Context(quick={ctx.quick!r}, scifact={scifact}, "
                f"home=Path({str(ctx.home)!r})); "
                f"json.dump(measure(ctx), open({out!r}, 'w'), default=str)")
        env = {**os.environ, "EXPLORER_PUBLIC": "1" if mode == "public" else "0"}
        env.pop("EXPLORER_LOW_MEMORY", None)
        subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True)
        with open(out) as fh:
            return json.load(fh)


def measure(ctx: Context) -> dict[str, Any]:
    """The flow itself, in the current process (call it in a fresh one)."""
    import psutil

    start_rss = psutil.Process().memory_info().rss / 2**20
    steps: dict[str, dict[str, float]] = {}
    with PeakRSS() as mem:
        def step(name: str, fn: Any) -> Any:
            t = time.perf_counter()
            out = fn()
            steps[name] = {"seconds": r(time.perf_counter() - t, 1), "rss_mb_after": r(mem._rss(), 0),
                           "peak_mb_so_far": r(max(mem.peak_mb, mem._rss()), 0)}
            print(f"   {name}: {steps[name]}", flush=True)
            return out

        from explorer.encoders.registry import load_encoder
        from explorer.evaluation.compare import compare_encoders
        from explorer.data.negatives import mine_hard_negatives
        from explorer.pipeline.views import projection
        from explorer.training.config import TrainConfig
        from explorer.jobs.execute import execute_run
        from explorer.jobs.runs import RunStore

        ds, source = step("load dataset", lambda: demo_like(ctx))
        base = load_encoder("minilm")
        step("baseline evaluation", lambda: __import__("explorer.evaluation.retrieval", fromlist=["x"]).evaluate_encoder(ds, base))
        negs = step("mine negatives", lambda: mine_hard_negatives(ds, base, "train", num_negatives=3))
        # --quick: 1 epoch (the peak is per step, not per epoch; the default epochs only repeat the same steps)
        from explorer import pipeline
        from explorer.core.config import get_settings

        config = pipeline.training_config(ds, TrainConfig(epochs=1) if ctx.quick else TrainConfig(), get_settings())
        run = step("train (defaults)", lambda: execute_run(ds, config, run_store=RunStore(ctx.home / "runs-memory"),
                                                          negatives=negs, base_encoder=base))
        tuned = load_encoder(str(run.path))
        step("project (pca)", lambda: projection(ds, base, tuned, method="pca"))
        step("project (umap)", lambda: projection(ds, base, tuned, method="umap"))
        step("compare", lambda: compare_encoders(ds, base, tuned))
        del tuned  # the visitor moves on to another model: the fine-tune is no longer in use
        first_peak = max(mem.peak_mb, mem._rss())
        second = second_model(ctx, ds, negs, step)
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak = max(mem.peak_mb, maxrss_mb)
    ev = run.evaluation() or {}
    summary = {
        "dataset": source, "passages": len(ds.corpus), "queries": len(ds.queries),
        "peak_rss_mb": r(peak, 0), "peak_rss_sampled_mb": r(mem.peak_mb, 0), "ru_maxrss_mb": r(maxrss_mb, 0),
        "rss_at_start_mb": r(start_rss, 0), "target_mb": 1536, "met": bool(peak < 1536), "steps": steps,
        "ndcg@10": {"baseline": ev.get("baseline", {}).get("ndcg@10"), "tuned": ev.get("tuned", {}).get("ndcg@10")},
        "run_config": run.config, "training_seconds": ev.get("training_seconds"), "loadavg": loadavg(),
        "peak_rss_mb_minilm_flow_only": r(first_peak, 0), "second_model": second,
    }
    return {"summary": summary}


def second_model(ctx: Context, ds: Any, negs: Any, step: Any) -> dict[str, Any]:
    """The second part (see the module docstring): bake-off, adapter over static, projection and comparison."""
    import gc

    from explorer import pipeline
    from explorer.core.config import get_settings
    from explorer.core.memory import MB, encoder_bytes, encoders_budget
    from explorer.encoders import registry
    from explorer.encoders.registry import load_encoder
    from explorer.evaluation.compare import compare_encoders
    from explorer.jobs.execute import execute_run
    from explorer.jobs.runs import RunStore
    from explorer.pipeline.views import projection
    from explorer.retrievers.bakeoff import compare_models
    from explorer.training.config import TrainConfig

    settings = get_settings()
    from explorer.encoders.static import SHIPPED

    cold = not (settings.cache_dir / "static").is_dir() and not (SHIPPED / "config.json").is_file()
    bake = step("bake-off (minilm, static, bm25, hybrid)", lambda: compare_models(
        ds, SECOND_MODELS, settings=settings, models_dir=ctx.home / "models-memory"))
    static = load_encoder("static")
    config = pipeline.training_config(ds, TrainConfig(method="adapter", base_model="static"), settings)
    run = step("train adapter over static", lambda: execute_run(
        ds, config, run_store=RunStore(ctx.home / "runs-memory"), negatives=negs, base_encoder=static))
    adapter = load_encoder(str(run.path))
    step("project static vs adapter (pca)", lambda: projection(ds, static, adapter, method="pca"))
    step("compare static vs adapter", lambda: compare_encoders(ds, static, adapter))
    gc.collect()
    held = [{"name": e.name, "mb": r(encoder_bytes(e) / MB, 1)} for e in registry.held()]
    ev = run.evaluation() or {}
    return {"static_distilled_here": cold, "bakeoff_ndcg@10": {row.spec: r(row.result.metrics["ndcg@10"], 4)
                                                               for row in bake.rows},
            "adapter_ndcg@10": {"static": ev.get("baseline", {}).get("ndcg@10"),
                                "adapter": ev.get("tuned", {}).get("ndcg@10")},
            "encoders_budget_mb": encoders_budget(settings.public) // MB, "registry_holds_at_end": held}
