"""Peak memory of ONE training job under the public-mode bounds, at their worst.

``explorer.training.config.bound_for_public`` caps what a visitor may ask for on the shared host; this
measures the most memory a job can take within those caps: long passages (SciFact abstracts, ~215 words, so
every passage fills the 256-token cap), the largest batch allowed, the most hard negatives, for the in-batch
loss (cached) and for the pair loss (contrastive, no cached form). Each case runs the whole job
(``execute_run``: baseline evaluation, training, saving, tuned evaluation) in a fresh child process with
``EXPLORER_PUBLIC=1``; the peak RSS is ``ru_maxrss`` cross-checked with a 50 ms psutil sampler. One epoch on a
sample of the training pairs: the peak is reached at every step, so more steps only repeat it.

Budget: Community Cloud gives 2.7 GB to the whole server; a job's peak must leave room for the server itself
(Streamlit, the baseline encoder, a visitor's dataset and caches: ~0.5 GB) and the other visitors' pages.
"""

from __future__ import annotations

import random
import resource
import time
from typing import Any

from benchmarks.common import Context, PeakRSS, load_scifact, loadavg, r

NAME = "public_training"
BUDGET_MB = 2048
"""A job's peak may use at most this: 2.7 GB less ~0.65 GB for the server and the other visitors' pages."""
CASES = {
    "cached_mnrl, batch 128 asked (64 allowed), 512 tokens asked (256), 5 hard negatives asked (3)":
        {"loss": "mnrl", "batch_size": 128, "max_seq_length": 512, "num_hard_negatives": 5},
    "contrastive, batch 128 asked (16 allowed), 512 tokens asked (256)":
        {"loss": "contrastive", "batch_size": 128, "max_seq_length": 512},
}


def run(ctx: Context) -> dict[str, Any]:
    """Each case in a fresh child process (ru_maxrss covers a process's whole life)."""
    ctx.need_scifact()
    return {"summary": {"budget_mb": BUDGET_MB, "cases": {name: _child(ctx, name) for name in CASES}}}


def _child(ctx: Context, case: str) -> dict[str, Any]:
    import json
    import os
    import subprocess
    import sys
    import tempfile

    from benchmarks.common import REPO

    with tempfile.TemporaryDirectory(prefix="bench-pub-") as tmp:
        out = os.path.join(tmp, "out.json")
        code = ("import json; from pathlib import Path; from benchmarks.common import Context; "
                "from benchmarks.bench_public_training import measure; "
                f"ctx = Context(quick={ctx.quick!r}, scifact=Path({str(ctx.scifact)!r}), home=Path({tmp!r})); "
                f"json.dump(measure(ctx, {case!r}), open({out!r}, 'w'), default=str)")
        env = {**os.environ, "EXPLORER_PUBLIC": "1", "EXPLORER_HOME": tmp}
        env.pop("EXPLORER_LOW_MEMORY", None)
        subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True)
        with open(out) as fh:
            return json.load(fh)


def _sample(ctx: Context) -> Any:
    """SciFact: a sample of train and test queries, their passages and others (all long abstracts)."""
    from explorer.data.model import Dataset

    ds = load_scifact(ctx.need_scifact())
    rng = random.Random(0)
    n_train, n_test, n_passages = (64, 20, 300) if ctx.quick else (192, 40, 600)
    qids = rng.sample(ds.query_ids("train"), n_train) + rng.sample(ds.query_ids("test"), n_test)
    keep = {p for q in qids for p in ds.qrels[q]}
    rest = [p for p in ds.passage_ids() if p not in keep]
    keep.update(rng.sample(rest, n_passages - len(keep)))
    return Dataset("scifact-sample", {q: ds.queries[q] for q in qids},
                   {p: ds.corpus[p] for p in ds.passage_ids() if p in keep},
                   {q: dict(ds.qrels[q]) for q in qids}, {q: ds.split[q] for q in qids})


def measure(ctx: Context, case: str) -> dict[str, Any]:
    """One job of ``case`` in this process (call it in a fresh one, with EXPLORER_PUBLIC=1)."""
    from explorer.core.config import get_settings
    from explorer.training.config import TrainConfig
    from explorer.jobs.execute import execute_run
    from explorer.jobs.runs import RunStore

    assert get_settings().public, "run with EXPLORER_PUBLIC=1"
    ds = _sample(ctx)
    from explorer import pipeline

    config = pipeline.training_config(ds, TrainConfig(epochs=1, **CASES[case]), get_settings())  # public bounds
    started = time.perf_counter()
    with PeakRSS() as mem:
        run = execute_run(ds, config, run_store=RunStore(ctx.home / "runs"))
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak = max(mem.peak_mb, maxrss)
    used = run.config
    return {
        "peak_rss_mb": r(peak, 0), "peak_rss_sampled_mb": r(mem.peak_mb, 0), "rss_before_job_mb": r(mem.start_mb, 0),
        "within_budget": bool(peak < BUDGET_MB), "seconds": r(time.perf_counter() - started, 1),
        "asked": CASES[case],
        "used": {k: used.get(k) for k in ("loss", "batch_size", "mini_batch_size", "max_seq_length",
                                          "num_hard_negatives", "epochs")},
        "dataset": {"train_queries": len(ds.query_ids("train")), "test_queries": len(ds.query_ids("test")),
                    "passages": len(ds.corpus), "mean_passage_words": r(sum(len(p.text.split()) for p in ds.corpus.values()) / len(ds.corpus), 0)},
        "state": run.state, "loadavg": loadavg(),
    }
