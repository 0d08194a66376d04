"""Compare two encoders on the same queries: metric deltas with significance, overlap, per-query changes.

Per metric: both means with bootstrap intervals, the mean difference with its paired bootstrap interval
and a paired p-value (see :mod:`explorer.evaluation.significance`). Per query: NDCG@10 and MRR@10 of each
encoder, the rank of the first relevant passage in each top k, the RBO of the two top-10 lists, and a
status: "fixed" (B's NDCG@10 higher by more than ``eps``), "broken" (lower) or "unchanged".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from explorer.evaluation.overlap import rbo_per_query, top_ids
from explorer.evaluation.retrieval import DEFAULT_METRICS, RetrievalResult, evaluate_encoder
from explorer.evaluation.significance import bootstrap_ci, paired_bootstrap_ci, paired_test
from explorer.core.progress import Progress, prefixed

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset
    from explorer.encoders.base import Encoder

STATUSES = ("fixed", "broken", "unchanged")


@dataclass
class MetricComparison:
    """One metric of A against B (delta = B - A)."""

    metric: str
    mean_a: float
    mean_b: float
    delta: float
    p_value: float
    ci_a: tuple[float, float]
    ci_b: tuple[float, float]
    ci_delta: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {
            "mean_a": self.mean_a, "mean_b": self.mean_b, "delta": self.delta, "p_value": self.p_value,
            "ci_a": list(self.ci_a), "ci_b": list(self.ci_b), "ci_delta": list(self.ci_delta),
        }


@dataclass
class Comparison:
    """Encoder A (baseline) against encoder B (candidate) on one split."""

    name_a: str
    name_b: str
    split: str
    result_a: RetrievalResult
    result_b: RetrievalResult
    metrics: dict[str, MetricComparison]
    mean_rbo: float
    per_query: pd.DataFrame
    counts: dict[str, int]
    qrels: dict[str, dict[str, int]] = field(default_factory=dict, repr=False)
    test: str = "student"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (no per-query table; use ``per_query.to_dict("records")`` for that)."""
        return {
            "a": self.name_a, "b": self.name_b, "split": self.split, "n_queries": int(len(self.per_query)),
            "test": self.test,
            "metrics": {m: c.to_dict() for m, c in self.metrics.items()},
            "mean_rbo@10": self.mean_rbo,
            "counts": dict(self.counts),
        }

    def ranked_lists(self, qid: str, k: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Both encoders' top-k for a query, each row knowing its rank in the other list.

        Returns:
            (A's list, B's list), columns rank, pid, score, grade, other_rank (rank in the other
            encoder's top k, <NA> when absent), moved (other_rank - rank: negative means the other
            encoder ranks it higher).
        """
        a = ranked_list(self.result_a, qid, k, self.qrels)
        b = ranked_list(self.result_b, qid, k, self.qrels)
        for this, other in ((a, b), (b, a)):
            where = dict(zip(other["pid"], other["rank"]))
            this["other_rank"] = pd.array([where.get(p) for p in this["pid"]], dtype="Int64")
            this["moved"] = this["other_rank"] - this["rank"]
        return a, b


def ranked_list(
    result: RetrievalResult, qid: str, k: int = 10, qrels: dict[str, dict[str, int]] | None = None
) -> pd.DataFrame:
    """One encoder's top-k for a query: columns rank (1-based), pid, score, grade (0 when unjudged)."""
    docs = result.run.get(qid, {})
    ids = top_ids(docs, k)
    judged = (qrels or {}).get(qid, {})
    return pd.DataFrame(
        {
            "rank": pd.array(range(1, len(ids) + 1), dtype="Int64"),
            "pid": ids,
            "score": [float(docs[p]) for p in ids],
            "grade": [int(judged.get(p, 0)) for p in ids],
        }
    )


def first_relevant_rank(docs: dict[str, float], relevant: dict[str, int]) -> int | None:
    """1-based rank of the first passage with a positive grade, or None when none was retrieved."""
    for rank, pid in enumerate(top_ids(docs), start=1):
        if relevant.get(pid, 0) > 0:
            return rank
    return None


def compare_results(
    dataset: "Dataset",
    result_a: RetrievalResult,
    result_b: RetrievalResult,
    split: str = "test",
    name_a: str = "A",
    name_b: str = "B",
    method: str = "student",
    eps: float = 1e-9,
    seed: int = 0,
) -> Comparison:
    """Build a :class:`Comparison` from two results already computed on the same split.

    Raises:
        ValueError: the results cover different queries or lack a metric.
    """
    qids = sorted(result_a.per_query.get("ndcg@10", {}))
    if qids != sorted(result_b.per_query.get("ndcg@10", {})) or not qids:
        raise ValueError("the two results must hold per-query ndcg@10 for the same (non-empty) set of queries")
    metrics: dict[str, MetricComparison] = {}
    for m in DEFAULT_METRICS:
        if m not in result_a.per_query or m not in result_b.per_query:
            raise ValueError(f"both results need per-query scores of {m}")
        a = [result_a.per_query[m][q] for q in qids]
        b = [result_b.per_query[m][q] for q in qids]
        mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
        metrics[m] = MetricComparison(
            metric=m, mean_a=mean_a, mean_b=mean_b, delta=mean_b - mean_a,
            p_value=paired_test(a, b, method=method, seed=seed),
            ci_a=bootstrap_ci(a, seed=seed), ci_b=bootstrap_ci(b, seed=seed),
            ci_delta=paired_bootstrap_ci(a, b, seed=seed),
        )
    qrels = {q: dict(dataset.qrels.get(q, {})) for q in qids}
    overlap = rbo_per_query(result_a.run, result_b.run, k=10, p=0.9, query_ids=qids)
    rows = []
    for q in qids:
        na, nb = result_a.per_query["ndcg@10"][q], result_b.per_query["ndcg@10"][q]
        delta = nb - na
        rows.append({
            "qid": q,
            "query": dataset.queries.get(q, ""),
            "ndcg@10_a": na, "ndcg@10_b": nb, "delta_ndcg@10": delta,
            "mrr@10_a": result_a.per_query["mrr@10"][q], "mrr@10_b": result_b.per_query["mrr@10"][q],
            "first_relevant_a": first_relevant_rank(result_a.run.get(q, {}), qrels[q]),
            "first_relevant_b": first_relevant_rank(result_b.run.get(q, {}), qrels[q]),
            "rbo": overlap[q],
            "status": "fixed" if delta > eps else "broken" if delta < -eps else "unchanged",
        })
    table = pd.DataFrame(rows)
    for col in ("first_relevant_a", "first_relevant_b"):
        table[col] = pd.array(table[col].tolist(), dtype="Int64")
    counts = {s: int((table["status"] == s).sum()) for s in STATUSES}
    return Comparison(
        name_a=name_a, name_b=name_b, split=split, result_a=result_a, result_b=result_b, metrics=metrics,
        mean_rbo=float(sum(overlap.values()) / len(overlap)), per_query=table, counts=counts, qrels=qrels,
        test=method,
    )


def compare_encoders(
    dataset: "Dataset",
    encoder_a: "Encoder | None",
    encoder_b: "Encoder | None",
    split: str = "test",
    k: int = 100,
    progress: Progress | None = None,
    results: tuple[RetrievalResult | None, RetrievalResult | None] | None = None,
    method: str = "student",
) -> Comparison:
    """Evaluate two encoders on a split (or reuse given results) and compare them.

    Args:
        dataset: the dataset.
        encoder_a: the baseline (may be None when ``results[0]`` is given).
        encoder_b: the candidate (may be None when ``results[1]`` is given).
        split: "train" or "test".
        k: passages retrieved per query.
        progress: hears each evaluation's stages (see :func:`evaluate_encoder`), prefixed "a:" / "b:".
        results: already computed (result_a, result_b); a None entry is computed.
        method: significance test, "student" or "fisher".

    Returns:
        The :class:`Comparison`.
    """
    given = results or (None, None)
    computed: list[RetrievalResult] = []
    for tag, encoder, result in (("a", encoder_a, given[0]), ("b", encoder_b, given[1])):
        if result is None:
            if encoder is None:
                raise ValueError(f"encoder_{tag} is None and no result was given for it")
            result = evaluate_encoder(dataset, encoder, split=split, k=k, progress=prefixed(progress, f"{tag}:"))
        computed.append(result)
    name_a = getattr(encoder_a, "name", "A") if encoder_a is not None else "A"
    name_b = getattr(encoder_b, "name", "B") if encoder_b is not None else "B"
    return compare_results(dataset, computed[0], computed[1], split=split, name_a=name_a, name_b=name_b, method=method)
