"""Retrieval metrics: exact top-k search over unit vectors, then ranx for NDCG, MRR, recall, MAP, precision.

The metrics come from ranx (Bassani, "ranx: A Blazing-Fast Python Library for Ranking Evaluation and
Comparison", ECIR 2022), whose ``ndcg`` is the Järvelin & Kekäläinen formulation with *linear* gains
(``rel_i / log2(i + 1)``), the one ``pytrec_eval``'s ``ndcg_cut`` and therefore BEIR and MTEB report; ranx's
``ndcg_burges`` (``2^rel - 1`` gains) would give different numbers on graded judgements.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from explorer.core.errors import DataError
from explorer.core.progress import Progress, named, silent

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset
    from explorer.encoders.base import Encoder
    from explorer.retrievers.base import Retriever

DEFAULT_METRICS: tuple[str, ...] = ("ndcg@10", "mrr@10", "recall@10", "recall@100", "map@100", "precision@10")
"""Metric keys every result carries, spelled the ranx way."""


@dataclass
class RetrievalResult:
    """Metrics of one encoder on one split.

    Attributes:
        metrics: metric -> mean over the split's judged queries.
        per_query: metric -> query id -> score (every judged query, 0 where nothing relevant was found).
        run: query id -> passage id -> cosine similarity of the top-k passages.
        n_queries: number of judged queries evaluated.
        seconds: wall time of the evaluation (encoding included), 0 when unknown.
    """

    metrics: dict[str, float]
    per_query: dict[str, dict[str, float]]
    run: dict[str, dict[str, float]]
    n_queries: int
    seconds: float = 0.0

    def to_dict(self, per_query: bool = False, run: bool = False) -> dict[str, Any]:
        """A JSON-able dict: flat metric keys plus ``n_queries``; optionally the per-query scores and run."""
        out: dict[str, Any] = {m: float(v) for m, v in self.metrics.items()}
        out["n_queries"] = int(self.n_queries)
        if self.seconds:
            out["seconds"] = round(float(self.seconds), 3)
        if per_query:
            out["per_query"] = {m: {q: float(s) for q, s in sc.items()} for m, sc in self.per_query.items()}
        if run:
            out["run"] = {q: {p: float(s) for p, s in docs.items()} for q, docs in self.run.items()}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RetrievalResult":
        """Rebuild a result written by :meth:`to_dict` (e.g. a run's evaluation.json)."""
        reserved = {"n_queries", "seconds", "per_query", "run"}
        metrics = {k: float(v) for k, v in data.items() if k not in reserved and isinstance(v, (int, float))}
        return cls(
            metrics=metrics,
            per_query={m: dict(v) for m, v in (data.get("per_query") or {}).items()},
            run={q: dict(v) for q, v in (data.get("run") or {}).items()},
            n_queries=int(data.get("n_queries", 0)),
            seconds=float(data.get("seconds", 0.0)),
        )


def search_exact(
    query_vectors: np.ndarray,
    passage_vectors: np.ndarray,
    query_ids: Sequence[str],
    passage_ids: Sequence[str],
    k: int = 100,
    chunk_size: int = 1024,
) -> dict[str, dict[str, float]]:
    """Exact top-k by cosine similarity (dot product of unit vectors), brute force.

    Queries are scored in chunks by :func:`explorer.core.topk.top_k_chunks`, so memory stays bounded
    by ``chunk_size x n_passages`` floats (and never much above 128 MB).

    Args:
        query_vectors: (n_queries, dim) unit vectors.
        passage_vectors: (n_passages, dim) unit vectors.
        query_ids: ids of the query rows.
        passage_ids: ids of the passage rows.
        k: passages kept per query (all of them when the corpus is smaller).
        chunk_size: queries scored at once.

    Returns:
        query id -> {passage id: similarity}, in descending order of similarity.
    """
    from explorer.core.topk import top_k_chunks

    q = np.asarray(query_vectors, dtype=np.float32)
    p = np.asarray(passage_vectors, dtype=np.float32)
    if k < 1 or chunk_size < 1:
        raise ValueError(f"k and chunk_size must be >= 1, got k={k}, chunk_size={chunk_size}")
    if len(q) != len(query_ids) or len(p) != len(passage_ids):
        raise ValueError(
            f"{len(q)} query vectors for {len(query_ids)} ids, {len(p)} passage vectors for {len(passage_ids)} ids"
        )
    if len(p) == 0:
        return {qid: {} for qid in query_ids}
    run: dict[str, dict[str, float]] = {}
    pids = list(passage_ids)
    for start, top, top_scores in top_k_chunks(q, p, k, chunk_size=chunk_size):
        for row in range(top.shape[0]):
            run[query_ids[start + row]] = {pids[j]: float(s) for j, s in zip(top[row], top_scores[row])}
    return run


def evaluate_run(
    qrels: Mapping[str, Mapping[str, int]],
    run: Mapping[str, Mapping[str, float]],
    metrics: Sequence[str] = DEFAULT_METRICS,
) -> RetrievalResult:
    """Score a run against graded judgements with ranx.

    Every query of ``qrels`` with at least one positive grade counts, including those the run has no
    results for (they score 0); queries only in the run are ignored; grades <= 0 are dropped (ranx treats
    a listed document as relevant).

    Args:
        qrels: query id -> passage id -> grade.
        run: query id -> passage id -> score (higher is better).
        metrics: ranx metric names, e.g. ``"ndcg@10"``.

    Returns:
        A :class:`RetrievalResult` (its ``run`` restricted to the judged queries).

    Raises:
        DataError: no query has a positive judgement.
    """
    from numba.core.errors import NumbaTypeSafetyWarning
    from ranx import evaluate

    from explorer.latent.projection import NUMBA_LOCK

    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    positive = {q: {p: int(g) for p, g in docs.items() if g > 0} for q, docs in qrels.items()}
    positive = {q: docs for q, docs in sorted(positive.items()) if docs}
    if not positive:
        raise DataError("No query has a relevant passage (grade > 0) in the judgements; nothing to evaluate.")
    kept = {q: {p: float(s) for p, s in run.get(q, {}).items()} for q in positive}
    # Every metric here is 0 for an empty result list, so ranx only sees the queries with results. Plain
    # dicts, not ranx.Qrels/Run: those build numba typed dicts, which compile anew in every process (20+ s
    # for Run.make_comparable alone on this machine), while the dict path only uses cached kernels.
    answered = [q for q in positive if kept[q]]
    per_query = {m: {q: 0.0 for q in positive} for m in metrics}
    if answered:
        # ranx's kernels are numba-parallel; numba aborts when two threads launch kernels at once.
        with NUMBA_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore", NumbaTypeSafetyWarning)
            # A lone metric is asked twice: ranx 0.3.21 fails on one metric with return_mean=False.
            scores = evaluate({q: positive[q] for q in answered}, {q: kept[q] for q in answered},
                              metrics if len(metrics) > 1 else metrics * 2, return_mean=False)
        for m in metrics:
            # ranx keeps the dicts' query order (it only sorts documents within a query).
            per_query[m].update(zip(answered, (float(x) for x in scores[m])))
    means = {m: float(np.mean(list(per_query[m].values()))) for m in metrics}
    return RetrievalResult(metrics=means, per_query=per_query, run=kept, n_queries=len(positive))


def evaluate_encoder(
    dataset: "Dataset",
    encoder: "Encoder",
    split: str = "test",
    k: int = 100,
    progress: Progress | None = None,
) -> RetrievalResult:
    """Embed a split's queries and the whole corpus, retrieve the top k exactly, and score with ranx.

    Args:
        dataset: the dataset (its whole corpus is searched).
        encoder: any :class:`~explorer.encoders.base.Encoder`; its cache makes a second call cheap.
        split: "train" or "test".
        k: passages retrieved per query (metrics at cut-offs above k see only k).
        progress: hears the stages "queries" and "passages" (texts embedded), "search" (queries), "metrics".

    Returns:
        The :class:`RetrievalResult`.

    Raises:
        DataError: the split has no judged query.
    """
    started = time.perf_counter()
    qrels = judged_qrels(dataset, split)

    qids = list(qrels)
    pids = dataset.passage_ids()
    qv = encoder.encode([dataset.queries[q] for q in qids], "query", progress=named(progress, "queries"))
    pv = encoder.encode(dataset.passage_texts(pids), "passage", progress=named(progress, "passages"))
    report = progress or silent
    report("search", 0, len(qids))
    run = search_exact(qv, pv, qids, pids, k=k)
    report("search", len(qids), len(qids))
    report("metrics", 0, 1)
    result = evaluate_run(qrels, run)
    report("metrics", 1, 1)
    result.seconds = time.perf_counter() - started
    return result


def judged_qrels(dataset: "Dataset", split: str) -> dict:
    """The judgements of a split's queries (raises DataError when the split has no judged query)."""
    qrels = dataset.qrels_for(split)
    if not qrels:
        raise DataError(
            f"Split {split!r} of dataset {dataset.name!r} has no query with a relevant passage; "
            "choose the other split or re-split the dataset."
        )
    return qrels


def evaluate_retriever(
    dataset: "Dataset",
    retriever: "Retriever",
    split: str = "test",
    k: int = 100,
    progress: Progress | None = None,
) -> RetrievalResult:
    """Index the whole corpus with any :class:`~explorer.retrievers.base.Retriever` (an encoder over the
    corpus, BM25, a hybrid), retrieve a split's queries' top k, and score with ranx.

    Same arguments and result as :func:`evaluate_encoder`; ``progress`` hears the retriever's stages
    ("passages", "queries" and its own).

    Raises:
        DataError: the split has no judged query.
    """
    started = time.perf_counter()
    qrels = judged_qrels(dataset, split)
    qids = list(qrels)
    pids = dataset.passage_ids()
    retriever.index(pids, dataset.passage_texts(pids), progress=named(progress, "passages"))
    hits = retriever.search([dataset.queries[q] for q in qids], k, progress=named(progress, "queries"))
    report = progress or silent
    report("metrics", 0, 1)
    result = evaluate_run(qrels, dict(zip(qids, hits)))
    report("metrics", 1, 1)
    result.seconds = time.perf_counter() - started
    return result
