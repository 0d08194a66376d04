"""One encoder's retrieval result on its own: metric means with bootstrap intervals, and its worst queries.

What the pages show before any fine-tune has finished: the baseline's quality with the same 95% bootstrap
intervals a comparison uses (:func:`explorer.evaluation.significance.bootstrap_ci`, same seed), so the numbers
match the "before" column a comparison shows later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from explorer.evaluation.compare import first_relevant_rank
from explorer.evaluation.significance import bootstrap_ci

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset
    from explorer.evaluation.retrieval import RetrievalResult


def metric_summary(result: "RetrievalResult", seed: int = 0) -> pd.DataFrame:
    """One row per metric: ``metric``, ``mean``, ``ci_low``, ``ci_high`` (95% bootstrap over queries).

    Args:
        result: the encoder's result (its per-query scores are resampled).
        seed: bootstrap seed (0, as :func:`explorer.evaluation.compare.compare_results` uses).
    """
    rows = []
    for metric, scores in result.per_query.items():
        values = [scores[q] for q in sorted(scores)]
        if not values:
            continue
        low, high = bootstrap_ci(values, seed=seed)
        rows.append({"metric": metric, "mean": sum(values) / len(values), "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=["metric", "mean", "ci_low", "ci_high"])


def per_query(dataset: "Dataset", result: "RetrievalResult") -> pd.DataFrame:
    """One row per evaluated query, worst first (lowest NDCG@10, then lowest MRR@10).

    Columns: qid, query, ndcg@10, mrr@10, recall@10, first_relevant (1-based rank of the first relevant
    passage in the retrieved list, <NA> when none was retrieved), relevant (number of relevant passages).
    """
    scores = result.per_query
    qids = sorted(scores.get("ndcg@10", {}))
    rows = []
    for q in qids:
        judged = {p: g for p, g in dataset.qrels.get(q, {}).items() if g > 0}
        rows.append({
            "qid": q, "query": dataset.queries.get(q, ""),
            **{m: scores[m][q] for m in ("ndcg@10", "mrr@10", "recall@10") if m in scores},
            "first_relevant": first_relevant_rank(result.run.get(q, {}), judged), "relevant": len(judged),
        })
    table = pd.DataFrame(rows)
    if not len(table):
        return table
    table["first_relevant"] = pd.array(table["first_relevant"].tolist(), dtype="Int64")
    order = [c for c in ("ndcg@10", "mrr@10") if c in table]
    return table.sort_values(order + ["qid"], kind="stable").reset_index(drop=True)
