"""Hard-negative mining at scale: 10,000 queries against 100,000 passages (synthetic unit vectors).

A tiny encoder maps texts like ``"topic 17 doc 123"`` to a topic centroid plus seeded noise, so mining sees
realistic structure (positives near their query, many close non-relevant passages) without a model.
Target: peak extra memory < 1 GB. Time is reported (mining only; the encoder costs almost nothing).
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from benchmarks.common import Context, PeakRSS, loadavg, r, timed

NAME = "mining"
DIM = 384


def _encoder() -> Any:
    from explorer.encoders.base import Encoder

    class TopicEncoder(Encoder):
        """Unit vectors = topic centroid + noise, seeded by the text (deterministic, no model)."""

        name = "topic-synthetic"
        batch_size = 4096

        def __init__(self, n_topics: int) -> None:
            super().__init__(cache_dir=None)
            self.centroids = np.random.default_rng(0).standard_normal((n_topics, DIM)).astype(np.float32)

        @property
        def fingerprint(self) -> str:
            return "topic-synthetic"

        def embed_batch(self, texts: list[str], kind: str) -> np.ndarray:
            out = np.empty((len(texts), DIM), dtype=np.float32)
            for i, text in enumerate(texts):
                topic = int(text.split()[1])
                noise = np.random.default_rng(zlib.crc32(text.encode())).standard_normal(DIM).astype(np.float32)
                out[i] = self.centroids[topic] + 0.9 * noise
            return out

    return TopicEncoder


def build(n_queries: int, n_passages: int, n_topics: int = 500) -> Any:
    from explorer.data.model import Dataset, Passage

    corpus = {f"p{j}": Passage(f"p{j}", f"topic {j % n_topics} doc {j}", "") for j in range(n_passages)}
    queries = {f"q{i}": f"topic {i % n_topics} question {i}" for i in range(n_queries)}
    # query i is answered by passage i (same topic, since both use i % n_topics)
    qrels = {f"q{i}": {f"p{i % n_passages}": 1} for i in range(n_queries)}
    split = {q: "train" for q in queries}
    return Dataset("synthetic", queries, corpus, qrels, split)


def run(ctx: Context) -> dict[str, Any]:
    from explorer.data.negatives import mine_hard_negatives

    n_q, n_p = (2_000, 20_000) if ctx.quick else (10_000, 100_000)
    dataset = build(n_q, n_p)
    encoder = _encoder()(500)
    before = loadavg()
    with PeakRSS() as mem:
        seconds, negs = timed(lambda: mine_hard_negatives(dataset, encoder, split="train", num_negatives=3))
    # the same again with vectors precomputed, to separate the scoring from the synthetic encoder
    qv = encoder.encode([dataset.queries[q] for q in dataset.query_ids("train")], "query")
    pv = encoder.encode(dataset.passage_texts(), "passage")
    vectors = {"q": qv, "p": pv}

    class Precomputed(type(encoder)):
        def encode(self, texts: Any, kind: str = "passage", **kw: Any) -> np.ndarray:  # noqa: D102
            return vectors["q" if kind == "query" else "p"]

    pre = Precomputed(500)
    with PeakRSS() as mem2:
        mine_seconds, _ = timed(lambda: mine_hard_negatives(dataset, pre, split="train", num_negatives=3))
    extra = mem.extra_mb
    summary = {
        "queries": n_q, "passages": n_p, "dim": DIM,
        "seconds_total": r(seconds, 2), "seconds_mining_only": r(mine_seconds, 2),
        "peak_extra_mb": r(extra, 1), "peak_extra_mb_mining_only": r(mem2.extra_mb, 1),
        "negatives": len(negs), "skipped": dict(negs.skipped),
        "target_peak_extra_mb": 1024, "met": bool(extra < 1024),
        "loadavg_before": before,
    }
    return {"summary": summary}
