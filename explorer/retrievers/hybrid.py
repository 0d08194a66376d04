"""Hybrid retrieval: BM25 fused with a dense model (MiniLM by default).

Each retriever returns its top :data:`DEPTH` (or k, if larger); the two lists are fused per query by
:func:`explorer.retrievers.fusion.fuse`: by default a min-max normalized weighted sum, which beat reciprocal
rank fusion on SciFact's training queries (the weights are chosen on a dev split of the training queries,
never on the test queries; see :mod:`explorer.retrievers.fusion`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from explorer.core.progress import Progress, prefixed
from explorer.retrievers.base import DenseRetriever, Hits, Retriever
from explorer.retrievers.bm25 import BM25Retriever
from explorer.retrievers.fusion import DEFAULT_DENSE_WEIGHT, DEFAULT_METHOD, fuse

DEPTH = 100
"""Passages each side contributes to the fusion."""


class HybridRetriever(Retriever):
    """BM25 and a dense retriever, fused.

    Args:
        dense: the dense side.
        sparse: the BM25 side (a new one by default).
        method: "wsum" (min-max weighted sum) or "rrf".
        dense_weight: the dense list's weight in the weighted sum (BM25's is 1 - it).
        name: display name; by default "BM25 + <dense name>".
    """

    def __init__(self, dense: DenseRetriever, sparse: BM25Retriever | None = None, method: str = DEFAULT_METHOD,
                 dense_weight: float = DEFAULT_DENSE_WEIGHT, name: str | None = None) -> None:
        if method not in ("wsum", "rrf"):
            raise ValueError(f"fusion method must be 'wsum' or 'rrf', got {method!r}")
        if not 0.0 <= dense_weight <= 1.0:
            raise ValueError(f"dense_weight must be between 0 and 1, got {dense_weight}")
        self.dense, self.sparse = dense, sparse or BM25Retriever()
        self.method, self.dense_weight = method, float(dense_weight)
        self.name = name or f"BM25 + {dense.name}"

    def index(self, passage_ids: Sequence[str], texts: Sequence[str], progress: Progress | None = None) -> None:
        started = time.perf_counter()
        self.dense.index(passage_ids, texts, prefixed(progress, "dense "))
        self.sparse.index(passage_ids, texts, prefixed(progress, "bm25 "))
        self.index_seconds = time.perf_counter() - started

    def search_both(self, queries: Sequence[str], k: int, progress: Progress | None = None) -> tuple[list[Hits], list[Hits]]:
        """Each side's lists before fusion (what :func:`~explorer.retrievers.fusion.choose_fusion` needs)."""
        depth = max(k, DEPTH)
        return (self.dense.search(queries, depth, prefixed(progress, "dense ")),
                self.sparse.search(queries, depth, prefixed(progress, "bm25 ")))

    def search(self, queries: Sequence[str], k: int, progress: Progress | None = None) -> list[Hits]:
        dense, sparse = self.search_both(queries, k, progress)
        return [dict(list(fuse(d, s, self.method, self.dense_weight).items())[:k]) for d, s in zip(dense, sparse)]

    @property
    def dim(self) -> int | None:
        return self.dense.dim

    def index_bytes(self) -> int:
        return self.dense.index_bytes() + self.sparse.index_bytes()
