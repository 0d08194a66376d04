"""Fusing two ranked lists per query: a min-max normalized weighted sum, or reciprocal rank fusion (RRF).

Both are ranx's definitions (``ranx.fuse(runs, norm="min-max", method="wsum", params={"weights": ...})`` and
``ranx.fuse(runs, norm=None, method="rrf", params={"k": 60})``; Cormack, Clarke & Büttcher, SIGIR 2009, for
RRF), written out here because ranx builds numba typed dictionaries for its ``Run`` objects, which compile
anew in each process: on this project's 2-core machine building two 300-query runs and fusing them once took
minutes, against milliseconds for these loops. A test checks both against ``ranx.fuse`` on the same input.

Which one, and with which weight: :func:`choose_fusion` tries RRF and the weighted sum at dense weights
0.1 … 0.9 on a dev split of the *training* queries and keeps the best NDCG@10; the test queries are never
used. On 300 of SciFact's training queries, BM25 with the bundled MiniLM, the min-max weighted sum beat RRF
(NDCG@10 0.724 at dense weight 0.5, against 0.708 for RRF and 0.686-0.722 for the other weights), and on the
test queries that choice gives 0.726 (benchmarks/bench_models.py, benchmarks/results/models.json). So
:data:`DEFAULT_METHOD` and :data:`DEFAULT_DENSE_WEIGHT` are what that dev split chose; a dataset with too few
training queries gets those defaults.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from explorer.retrievers.base import Hits

DEFAULT_METHOD = "wsum"
"""Fusion used when no dev split chooses one (chosen on SciFact's training queries)."""
DEFAULT_DENSE_WEIGHT = 0.5
"""Weight of the dense list in the weighted sum (BM25 gets 1 - it), chosen with :data:`DEFAULT_METHOD`."""
RRF_K = 60
"""RRF's rank offset (ranx's and the paper's default)."""
WEIGHTS = tuple(round(0.1 * i, 1) for i in range(1, 10))
"""Dense weights :func:`choose_fusion` tries."""


def min_max(hits: Hits) -> Hits:
    """Scores scaled to [0, 1] within one list (ranx's min-max: a constant list scores 0)."""
    if not hits:
        return {}
    low, high = min(hits.values()), max(hits.values())
    span = max(high - low, 1e-9)
    return {pid: (s - low) / span for pid, s in hits.items()}


def wsum(dense: Hits, sparse: Hits, dense_weight: float) -> Hits:
    """Min-max normalized weighted sum of two lists (a passage missing from one list gets 0 there), best first."""
    fused: dict[str, float] = {}
    for hits, weight in ((min_max(dense), dense_weight), (min_max(sparse), 1.0 - dense_weight)):
        for pid, s in hits.items():
            fused[pid] = fused.get(pid, 0.0) + weight * s
    return dict(sorted(fused.items(), key=lambda item: -item[1]))


def rrf(dense: Hits, sparse: Hits, k: int = RRF_K) -> Hits:
    """Reciprocal rank fusion: the sum of 1 / (k + rank) over the lists (ranks from 1), best first."""
    fused: dict[str, float] = {}
    for hits in (dense, sparse):
        ranked = sorted(hits.items(), key=lambda item: -item[1])
        for rank, (pid, _) in enumerate(ranked, start=1):
            fused[pid] = fused.get(pid, 0.0) + 1.0 / (k + rank)
    return dict(sorted(fused.items(), key=lambda item: -item[1]))


def fuse(dense: Hits, sparse: Hits, method: str = DEFAULT_METHOD, dense_weight: float = DEFAULT_DENSE_WEIGHT) -> Hits:
    """Fuse two lists with ``method`` ("wsum" or "rrf")."""
    if method == "rrf":
        return rrf(dense, sparse)
    if method == "wsum":
        return wsum(dense, sparse, dense_weight)
    raise ValueError(f"fusion method must be 'wsum' or 'rrf', got {method!r}")


def choose_fusion(dense: Sequence[Hits], sparse: Sequence[Hits], query_ids: Sequence[str],
                  qrels: Mapping[str, Mapping[str, int]]) -> tuple[str, float, dict[str, float]]:
    """The fusion with the best NDCG@10 on judged dev queries.

    Args:
        dense, sparse: each dev query's lists from the two retrievers (aligned with ``query_ids``).
        query_ids: the dev queries.
        qrels: their judgements.

    Returns:
        (method, dense weight, NDCG@10 of every candidate: "rrf" and "wsum@<weight>").
    """
    from explorer.evaluation.retrieval import evaluate_run

    tried: dict[str, float] = {}
    candidates = [("rrf", DEFAULT_DENSE_WEIGHT), *(("wsum", w) for w in WEIGHTS)]
    for method, weight in candidates:
        run = {q: fuse(d, s, method, weight) for q, d, s in zip(query_ids, dense, sparse)}
        label = "rrf" if method == "rrf" else f"wsum@{weight}"
        tried[label] = evaluate_run(qrels, run, ("ndcg@10",)).metrics["ndcg@10"]
    best = max(tried, key=lambda label: (tried[label], label == f"wsum@{DEFAULT_DENSE_WEIGHT}"))
    if best == "rrf":
        return "rrf", DEFAULT_DENSE_WEIGHT, tried
    return "wsum", float(best.split("@")[1]), tried
