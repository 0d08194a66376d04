"""One encoder's metric summary equals the "A" side of a comparison; worst queries come first."""

from __future__ import annotations

from explorer.evaluation.compare import compare_results
from explorer.evaluation.retrieval import RetrievalResult, evaluate_run
from explorer.evaluation.summary import metric_summary, per_query


class _Dataset:
    queries = {"q1": "one", "q2": "two", "q3": "three"}
    qrels = {"q1": {"a": 1}, "q2": {"b": 2}, "q3": {"c": 1, "d": 1}}


def _result(run: dict[str, dict[str, float]]) -> RetrievalResult:
    return evaluate_run(_Dataset.qrels, run)


def test_summary_matches_the_comparison_and_sorts_worst_first():
    a = _result({"q1": {"a": 0.9, "x": 0.5}, "q2": {"x": 0.9, "b": 0.8}, "q3": {"x": 0.9, "y": 0.8}})
    b = _result({"q1": {"a": 0.9}, "q2": {"b": 0.9}, "q3": {"c": 0.9, "d": 0.8}})
    summary = metric_summary(a).set_index("metric")
    comp = compare_results(_Dataset(), a, b)  # type: ignore[arg-type]
    for metric, m in comp.metrics.items():
        assert summary.at[metric, "mean"] == m.mean_a
        assert (summary.at[metric, "ci_low"], summary.at[metric, "ci_high"]) == m.ci_a
    table = per_query(_Dataset(), a)  # type: ignore[arg-type]
    assert list(table["qid"]) == ["q3", "q2", "q1"]  # NDCG@10: 0, 1/log2(3), 1
    assert table["first_relevant"].isna().tolist() == [True, False, False] and list(table["relevant"]) == [2, 1, 1]
    assert list(table["query"]) == ["three", "two", "one"]
