"""Encoding with several processes (sentence-transformers' multi-process pool) against one process.

``python -m benchmarks processes``: the bundled MiniLM embeds the same SciFact abstracts (1,000; 300 with
``--quick``) in fp32, batch 32, three ways, each twice in turns (ABCABC, so all see the same machine load):

- one process with torch's threads over every core (what the explorer's encoder does without bf16);
- ``SentenceTransformer.encode(pool=...)`` with one CPU process per core, each left at torch's default threads;
- the same pool with one thread per process (``OMP_NUM_THREADS=1`` in the workers).

The explorer's default path on this CPU (bf16 autocast where the CPU has it) is timed alongside for scale. The
result says whether the pool is worth using on this machine (faster by 10 % or more).
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

from benchmarks.common import Context, load_scifact, loadavg, minilm_path

NAME = "processes"
COMPARES_BF16 = True
"""The explorer's default path is one row among the others: one run."""
BATCH = 32


def _texts(ctx: Context) -> list[str]:
    ds = load_scifact(ctx.need_scifact())
    n = 300 if ctx.quick else 1000
    return ds.passage_texts(ds.passage_ids()[:n])


def run(ctx: Context) -> dict[str, Any]:
    import torch
    from sentence_transformers import SentenceTransformer

    from explorer.encoders.sentence import SentenceTransformerEncoder

    texts = _texts(ctx)
    cores = os.cpu_count() or 1
    model = SentenceTransformer(minilm_path(), device="cpu")
    model.encode(texts[:8], batch_size=BATCH)  # warm up
    pools: dict[str, Any] = {}
    threads_before = os.environ.get("OMP_NUM_THREADS")
    pools["pool_default_threads"] = model.start_multi_process_pool(["cpu"] * cores)
    os.environ["OMP_NUM_THREADS"] = "1"  # read by the workers' torch at import
    try:
        pools["pool_one_thread_each"] = model.start_multi_process_pool(["cpu"] * cores)
    finally:
        if threads_before is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = threads_before
    explorer = SentenceTransformerEncoder(minilm_path(), cache_dir=None)
    explorer.embed_batch(texts[:8], "passage")

    variants = {
        "one_process": lambda: model.encode(texts, batch_size=BATCH),
        **{name: (lambda p=pool: model.encode(texts, batch_size=BATCH, pool=p)) for name, pool in pools.items()},
        "explorer_default": lambda: explorer.encode(texts, "passage", batch_size=BATCH, use_cache=False),
    }
    for fn in variants.values():
        fn()  # each pool's workers load the model on their first call
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(2):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            seconds[name].append(time.perf_counter() - start)
    for pool in pools.values():
        model.stop_multi_process_pool(pool)
    rate = {name: round(len(texts) / statistics.median(s), 1) for name, s in seconds.items()}
    best_pool = max(pools, key=lambda n: rate[n])
    gain = rate[best_pool] / rate["one_process"]
    return {
        "texts": len(texts), "cores": cores, "torch_threads": torch.get_num_threads(), "loadavg_after": loadavg(),
        "seconds": {k: [round(x, 2) for x in v] for k, v in seconds.items()}, "texts_per_s": rate,
        "explorer_runtime": explorer.runtime, "explorer_bf16": explorer.bf16,
        "summary": {"texts_per_s": rate, "best_pool": best_pool, "pool_vs_one_process": round(gain, 2),
                    "pool_worth_it": bool(gain >= 1.10)},
    }
