"""Comparison of two encoders: statuses, counts, ranked lists, JSON."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from explorer.data.model import Dataset, Passage
from explorer.encoders.fake import FakeEncoder
from explorer.evaluation.compare import compare_encoders, compare_results, first_relevant_rank
from explorer.evaluation.retrieval import DEFAULT_METRICS, evaluate_run


def _dataset() -> Dataset:
    corpus = {p: Passage(p, f"text {p}") for p in ("a", "b", "c", "d", "e")}
    queries = {"q1": "one", "q2": "two", "q3": "three"}
    qrels = {"q1": {"a": 1}, "q2": {"b": 2}, "q3": {"c": 1}}
    return Dataset("d", queries, corpus, qrels, {q: "test" for q in queries}).validate()


# A finds q1's passage first, q2's second, q3's third; B moves q1's down to rank 2 (broken), q2's up to
# rank 1 (fixed) and leaves q3 alone (unchanged).
RUN_A = {"q1": {"a": 0.9, "d": 0.5, "e": 0.1}, "q2": {"d": 0.9, "b": 0.5, "e": 0.1}, "q3": {"d": 0.9, "e": 0.5, "c": 0.1}}
RUN_B = {"q1": {"d": 0.9, "a": 0.5, "e": 0.1}, "q2": {"b": 0.9, "d": 0.5, "e": 0.1}, "q3": {"d": 0.8, "e": 0.4, "c": 0.2}}


def _comparison():
    ds = _dataset()
    qrels = ds.qrels_for("test")
    return ds, compare_results(ds, evaluate_run(qrels, RUN_A), evaluate_run(qrels, RUN_B), name_a="base", name_b="tuned")


def test_statuses_counts_and_first_relevant_ranks():
    _, cmp = _comparison()
    table = cmp.per_query.set_index("qid")
    assert table.loc["q1", "status"] == "broken"
    assert table.loc["q2", "status"] == "fixed"
    assert table.loc["q3", "status"] == "unchanged"
    assert cmp.counts == {"fixed": 1, "broken": 1, "unchanged": 1}
    assert table.loc["q1", "first_relevant_a"] == 1 and table.loc["q1", "first_relevant_b"] == 2
    assert table.loc["q2", "mrr@10_b"] == 1.0 and table.loc["q2", "mrr@10_a"] == 0.5
    assert table.loc["q3", "rbo"] == pytest.approx(1.0)  # same order, other scores
    assert table.loc["q1", "query"] == "one"
    assert first_relevant_rank({"x": 1.0}, {"a": 1}) is None


def test_metric_summary_and_json():
    _, cmp = _comparison()
    assert set(cmp.metrics) == set(DEFAULT_METRICS)
    ndcg = cmp.metrics["ndcg@10"]
    assert ndcg.delta == pytest.approx(ndcg.mean_b - ndcg.mean_a)
    assert 0.0 <= ndcg.p_value <= 1.0
    assert ndcg.ci_a[0] <= ndcg.mean_a <= ndcg.ci_a[1]
    data = json.loads(json.dumps(cmp.to_dict()))
    assert data["counts"] == {"fixed": 1, "broken": 1, "unchanged": 1}
    assert data["a"] == "base" and data["n_queries"] == 3 and 0.0 <= data["mean_rbo@10"] <= 1.0
    assert set(data["metrics"]["mrr@10"]) >= {"mean_a", "mean_b", "delta", "p_value", "ci_a", "ci_b", "ci_delta"}


def test_ranked_lists_know_each_others_ranks():
    _, cmp = _comparison()
    a, b = cmp.ranked_lists("q1", k=3)
    assert list(a["pid"]) == ["a", "d", "e"] and list(b["pid"]) == ["d", "a", "e"]
    assert list(a["grade"]) == [1, 0, 0]
    assert list(a["other_rank"]) == [2, 1, 3] and list(a["moved"]) == [1, -1, 0]
    top1, _ = cmp.ranked_lists("q1", k=1)
    assert pd.isna(top1["other_rank"].iloc[0])  # "a" is not in B's top 1


def test_mismatched_results_are_rejected():
    ds = _dataset()
    qrels = ds.qrels_for("test")
    partial = {q: v for q, v in qrels.items() if q != "q3"}
    with pytest.raises(ValueError, match="same"):
        compare_results(ds, evaluate_run(qrels, RUN_A), evaluate_run(partial, RUN_B))


def test_compare_encoders_end_to_end_and_reuses_given_results(tiny_dataset, tmp_path):
    a = FakeEncoder(dim=64, seed=0, cache_dir=tmp_path / "c")
    b = FakeEncoder(dim=32, seed=1, cache_dir=tmp_path / "c")
    stages = []
    cmp = compare_encoders(tiny_dataset, a, b, k=10, progress=lambda s, d, t: stages.append(s))
    assert {"a:passages", "b:passages"} <= set(stages)
    assert sum(cmp.counts.values()) == len(tiny_dataset.query_ids("test")) == len(cmp.per_query)
    again = compare_encoders(tiny_dataset, None, None, results=(cmp.result_a, cmp.result_b))
    pd.testing.assert_frame_equal(again.per_query, cmp.per_query)
    same = compare_encoders(tiny_dataset, a, a, k=10)
    assert same.counts["unchanged"] == len(same.per_query)
    assert same.metrics["ndcg@10"].p_value == 1.0 and same.mean_rbo == pytest.approx(1.0)
    with pytest.raises(ValueError):
        compare_encoders(tiny_dataset, None, b)
