"""Retrieval metrics against hand-worked values, exact search against a brute-force reference."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.core.errors import DataError
from explorer.evaluation.retrieval import DEFAULT_METRICS, RetrievalResult, evaluate_encoder, evaluate_run, search_exact

# q1 judges d1 (grade 2), d2 (grade 1) and d3 (grade 0: not relevant); q2 judges d4; q3 judges d5 and the
# run has nothing for q3, which must still count (as 0) in every mean.
QRELS = {"q1": {"d1": 2, "d2": 1, "d3": 0}, "q2": {"d4": 1}, "q3": {"d5": 1}}
RUN = {
    "q1": {"d2": 0.9, "d9": 0.8, "d1": 0.7},  # ranks: d2 (g1), d9 (g0), d1 (g2)
    "q2": {"d8": 0.9, "d7": 0.8, "d4": 0.5},  # d4 at rank 3
    "q4": {"d1": 1.0},  # not judged: ignored
}
# Hand-worked, linear gains (Järvelin & Kekäläinen, as pytrec_eval/BEIR):
# q1: DCG@10 = 1/log2(2) + 2/log2(4) = 1 + 1 = 2; IDCG = 2/log2(2) + 1/log2(3) = 2.6309298
#     NDCG@10 = 0.7601838; RR = 1; recall@10 = 2/2 = 1; P@10 = 2/10; AP = (1/1 + 2/3) / 2 = 0.8333333
# q2: NDCG@10 = (1/log2(4)) / 1 = 0.5; RR = 1/3; recall@10 = 1; P@10 = 1/10; AP = (1/3) / 1
# q3: everything 0.
Q1_NDCG = 2 / (2 + 1 / math.log2(3))
EXPECTED = {
    "ndcg@10": (Q1_NDCG + 0.5 + 0) / 3,
    "mrr@10": (1 + 1 / 3 + 0) / 3,
    "recall@10": (1 + 1 + 0) / 3,
    "recall@100": (1 + 1 + 0) / 3,
    "map@100": ((1 + 2 / 3) / 2 + 1 / 3 + 0) / 3,
    "precision@10": (0.2 + 0.1 + 0) / 3,
}


def test_metrics_match_hand_worked_values():
    result = evaluate_run(QRELS, RUN)
    assert list(result.metrics) == list(DEFAULT_METRICS)
    for metric, value in EXPECTED.items():
        assert result.metrics[metric] == pytest.approx(value, abs=1e-9), metric
    assert result.n_queries == 3
    assert result.per_query["ndcg@10"] == pytest.approx({"q1": Q1_NDCG, "q2": 0.5, "q3": 0.0})
    assert result.per_query["mrr@10"]["q2"] == pytest.approx(1 / 3)
    assert set(result.run) == {"q1", "q2", "q3"}  # the unjudged q4 is dropped, q3 kept (empty)


def test_ndcg_uses_linear_gains_not_burges():
    # One grade-3 passage at rank 2 under a grade-1 passage at rank 1 (ideal: 3 then 1).
    # linear: (1 + 3/log2 3) / (3 + 1/log2 3) = 0.8412; exponential (2^g - 1): (1 + 7/log2 3)/(7 + 1/log2 3) = 0.7095
    result = evaluate_run({"q": {"a": 1, "b": 3}}, {"q": {"a": 2.0, "b": 1.0}}, metrics=["ndcg@10"])
    expected = (1 + 3 / math.log2(3)) / (3 + 1 / math.log2(3))
    assert result.metrics["ndcg@10"] == pytest.approx(expected)


def test_empty_run_scores_zero_and_no_positive_judgement_is_an_error():
    result = evaluate_run({"q": {"a": 1}}, {})
    assert result.metrics["ndcg@10"] == 0.0 and result.n_queries == 1
    with pytest.raises(DataError, match="relevant"):
        evaluate_run({"q": {"a": 0}}, {"q": {"a": 1.0}})


def test_to_dict_is_flat_json_and_round_trips():
    result = evaluate_run(QRELS, RUN)
    data = json.loads(json.dumps(result.to_dict(per_query=True, run=True)))
    assert data["n_queries"] == 3 and data["ndcg@10"] == pytest.approx(EXPECTED["ndcg@10"])
    again = RetrievalResult.from_dict(data)
    assert again.metrics == pytest.approx(result.metrics) and again.per_query == result.per_query


def _brute_force(q: np.ndarray, p: np.ndarray, k: int) -> list[list[int]]:
    scores = q @ p.T
    return [list(np.argsort(-row, kind="stable")[:k]) for row in scores]


@pytest.mark.parametrize("k, chunk", [(5, 3), (50, 1024), (1, 1)])
def test_search_exact_matches_brute_force(k, chunk):
    rng = np.random.default_rng(0)
    q = rng.normal(size=(10, 8)).astype(np.float32)
    p = rng.normal(size=(40, 8)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    qids, pids = [f"q{i}" for i in range(10)], [f"p{i}" for i in range(40)]
    run = search_exact(q, p, qids, pids, k=k, chunk_size=chunk)
    expected = _brute_force(q, p, min(k, 40))
    for i, qid in enumerate(qids):
        assert list(run[qid]) == [pids[j] for j in expected[i]]
        assert list(run[qid].values()) == pytest.approx([float(q[i] @ p[j]) for j in expected[i]], abs=1e-6)


def test_search_exact_validates_shapes():
    with pytest.raises(ValueError, match="ids"):
        search_exact(np.ones((2, 3)), np.ones((4, 3)), ["a"], list("abcd"))
    with pytest.raises(ValueError, match="k"):
        search_exact(np.ones((1, 3)), np.ones((4, 3)), ["a"], list("abcd"), k=0)


def test_evaluate_encoder_with_fake_encoder(tiny_dataset, fake_encoder):
    stages = []
    result = evaluate_encoder(tiny_dataset, fake_encoder, split="test", k=10,
                              progress=lambda stage, done, total: stages.append(stage))
    assert result.n_queries == 4 and set(result.run) == set(tiny_dataset.query_ids("test"))
    assert all(len(docs) == 10 for docs in result.run.values())
    assert result.metrics["ndcg@10"] > 0.6  # queries share their topic word with their passages
    assert {"queries", "passages", "search", "metrics"} <= set(stages)
    with pytest.raises(DataError):
        evaluate_encoder(tiny_dataset, fake_encoder, split="nope")


@st.composite
def _judged_run(draw):
    n_docs = draw(st.integers(2, 12))
    docs = [f"d{i}" for i in range(n_docs)]
    grades = draw(st.lists(st.integers(0, 3), min_size=n_docs, max_size=n_docs).filter(lambda g: any(g)))
    scores = draw(st.permutations(list(range(n_docs))))
    qrels = {"q": {d: g for d, g in zip(docs, grades) if g > 0}}
    return qrels, {"q": {d: float(s) for d, s in zip(docs, scores)}}, {"q": {d: float(g) for d, g in zip(docs, grades)}}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_judged_run())
def test_metrics_are_bounded_and_perfect_ranking_scores_one(case):
    qrels, run, ideal_scores = case
    result = evaluate_run(qrels, run)
    for metric, value in result.metrics.items():
        assert 0.0 <= value <= 1.0 + 1e-12, metric
    # Ranking by grade (ties broken any way) is ideal: NDCG and MRR are exactly 1.
    best = evaluate_run(qrels, ideal_scores)
    assert best.metrics["ndcg@10"] == pytest.approx(1.0)
    assert best.metrics["mrr@10"] == pytest.approx(1.0)
    assert best.metrics["ndcg@10"] >= result.metrics["ndcg@10"] - 1e-12
