"""Cost of one training step: every layer trained vs the default recipe (top layers, frozen bottom cached).

Same process, same batch (32 demo training rows: query, positive, a random other passage; MNRL), same
optimizer (AdamW over the trainable weights), interleaved rounds (all, top, top, all, ...) so load drift hits
both; the one-time cost of computing the frozen layers for the batch's texts is reported apart. Load averages
are recorded: on a shared machine, read the ratio, not the seconds.
"""

from __future__ import annotations

import random
import statistics
import time
from typing import Any

from benchmarks.common import Context, loadavg, minilm_path, r

NAME = "recipe"


def _batch(n: int = 32) -> list[tuple[str, str, str]]:
    from explorer.data.demo import load_demo

    ds = load_demo()
    rng = random.Random(0)
    pids = ds.passage_ids()
    rows = []
    for q in ds.query_ids("train"):
        pos = sorted(ds.positives(q, 1))
        if pos:
            rows.append((ds.queries[q], ds.corpus[pos[0]].full_text, ds.corpus[pids[rng.randrange(len(pids))]].full_text))
        if len(rows) == n:
            break
    return rows


def run(ctx: Context) -> dict[str, Any]:
    import contextlib

    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import losses

    from explorer.training.config import DEFAULT_TRAIN_LAYERS
    from explorer.training.lower_cache import cached_lower_layers

    rows = _batch()
    texts = [t for row in rows for t in row]
    stacks = {}
    precompute = 0.0
    for name in ("all", "top"):
        model = SentenceTransformer(minilm_path(), device="cpu")
        context = contextlib.nullcontext()
        if name == "top":
            start = time.perf_counter()
            context = cached_lower_layers(model, 6 - DEFAULT_TRAIN_LAYERS, texts)
            context.__enter__()
            precompute = time.perf_counter() - start
        loss = losses.MultipleNegativesRankingLoss(model)
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
        stacks[name] = (model, loss, optimizer, context)

    def step(name: str) -> float:
        model, loss, optimizer, _ = stacks[name]
        model.train()
        features = [model.preprocess([row[i] for row in rows]) for i in range(3)]
        start = time.perf_counter()
        value = loss(features, None)
        value.backward()
        optimizer.step()
        optimizer.zero_grad()
        return time.perf_counter() - start

    for name in stacks:  # warm-up
        step(name)
    rounds = 2 if ctx.quick else 3
    times: dict[str, list[float]] = {"all": [], "top": []}
    order = []
    for i in range(rounds):
        for name in (("all", "top") if i % 2 == 0 else ("top", "all")):
            times[name].append(step(name))
            order.append(name)
    all_s, top_s = statistics.median(times["all"]), statistics.median(times["top"])
    return {"summary": {
        "batch_rows": len(rows), "texts_per_step": len(texts), "train_layers": DEFAULT_TRAIN_LAYERS,
        "all_layers_step_s": [r(t, 2) for t in times["all"]], "top_layers_cached_step_s": [r(t, 2) for t in times["top"]],
        "speedup_per_step": r(all_s / top_s, 2), "precompute_s_for_batch_texts": r(precompute, 2),
        "order": order, "loadavg_after": loadavg(), "torch_threads": torch.get_num_threads(),
    }}
