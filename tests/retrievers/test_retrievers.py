"""The retrievers: BM25 on a tiny corpus, an encoder over the corpus, hybrids, fusion, and their evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.encoders.fake import FakeEncoder
from explorer.evaluation.retrieval import evaluate_encoder, evaluate_retriever, search_exact
from explorer.retrievers import load_retriever
from explorer.retrievers.base import DenseRetriever
from explorer.retrievers.bm25 import BM25Retriever
from explorer.retrievers.fusion import choose_fusion, fuse, min_max, rrf, wsum
from explorer.retrievers.hybrid import HybridRetriever


def test_bm25_ranks_by_stemmed_words_and_skips_stop_words(small_corpus):
    ids, texts = small_corpus
    bm25 = BM25Retriever()
    bm25.index(ids, texts)
    hits = bm25.search(["a running dog", "cat", "the of and", "zebra"], k=10)
    assert list(hits[0]) == ["dogs"]  # "running dog" stems to run + dog; nothing else shares a term
    assert list(hits[1]) == ["cats"]
    assert hits[2] == {} and hits[3] == {}  # only stop words / unknown words: nothing matches, nothing invented
    assert bm25.dim is None and bm25.index_bytes() > 0


def test_bm25_caps_k_at_the_corpus_and_needs_an_index(small_corpus):
    bm25 = BM25Retriever()
    with pytest.raises(RuntimeError, match="index"):
        bm25.search(["cat"], 3)
    bm25.index(*small_corpus)
    assert list(bm25.search(["cat mat fox"], k=50)[0]) == ["cats", "fox"]


def test_a_dense_retriever_gives_the_exact_search(small_corpus, tmp_path):
    ids, texts = small_corpus
    encoder = FakeEncoder(dim=32, cache_dir=None)
    dense = DenseRetriever(encoder)
    dense.index(ids, texts)
    queries = ["cats on mats", "brown fox"]
    expected = search_exact(encoder.encode(queries, "query"), encoder.encode(texts), ["a", "b"], ids, k=3)
    assert dense.search(queries, 3) == [expected["a"], expected["b"]]
    assert dense.dim == 32 and dense.index_bytes() == len(ids) * 32 * 4


def test_fusion_by_hand_computed_values():
    dense = {"a": 0.9, "b": 0.5, "c": 0.1}
    sparse = {"c": 10.0, "d": 4.0}
    assert min_max(dense) == pytest.approx({"a": 1.0, "b": 0.5, "c": 0.0})
    fused = wsum(dense, sparse, 0.5)
    assert fused == pytest.approx({"a": 0.5, "c": 0.5, "b": 0.25, "d": 0.0})
    assert list(fused)[:2] == ["a", "c"]  # ties keep the dense list's order
    assert list(wsum(dense, sparse, 0.2)) == ["c", "a", "b", "d"]
    assert rrf(dense, sparse) == pytest.approx({"c": 1 / 63 + 1 / 61, "a": 1 / 61, "d": 1 / 62, "b": 1 / 62})
    assert list(rrf(dense, sparse))[0] == "c"
    with pytest.raises(ValueError):
        fuse(dense, sparse, "max")


def test_choose_fusion_follows_the_dev_queries():
    qrels = {"q1": {"good1": 1}, "q2": {"good2": 1}}
    dense = [{"good1": 0.9, "bad": 0.8}, {"good2": 0.9, "bad": 0.1}]
    sparse = [{"bad": 9.0, "good1": 1.0}, {"bad": 9.0, "good2": 1.0}]
    method, weight, tried = choose_fusion(dense, sparse, ["q1", "q2"], qrels)
    assert method == "wsum" and weight >= 0.6  # the dense side is right, so it gets the larger weight
    assert set(tried) == {"rrf", *(f"wsum@{w / 10}" for w in range(1, 10))}


def test_a_hybrid_at_the_extremes_is_one_side(words_dataset):
    ids = words_dataset.passage_ids()
    texts = words_dataset.passage_texts(ids)
    queries = [words_dataset.queries[q] for q in words_dataset.query_ids("test")]
    dense = DenseRetriever(FakeEncoder(dim=64, cache_dir=None))
    only_dense = HybridRetriever(dense, method="wsum", dense_weight=1.0)
    only_dense.index(ids, texts)
    for fused, plain in zip(only_dense.search(queries, 5), dense.search(queries, 5)):
        assert list(fused)[:3] == list(plain)[:3]
    both = HybridRetriever(dense, only_dense.sparse, method="rrf")
    hits = both.search(queries, 5)
    assert all(len(h) == 5 for h in hits) and both.dim == 64
    assert both.index_bytes() == dense.index_bytes() + only_dense.sparse.index_bytes()


def test_evaluate_retriever_of_an_encoder_equals_evaluate_encoder(words_dataset):
    encoder = FakeEncoder(dim=64, cache_dir=None)
    direct = evaluate_encoder(words_dataset, encoder, "test", k=10)
    via = evaluate_retriever(words_dataset, DenseRetriever(encoder), "test", k=10)
    assert via.metrics == pytest.approx(direct.metrics) and via.run == direct.run


def test_bm25_and_hybrid_evaluate_on_the_words_dataset(words_dataset):
    shared: dict = {}
    bm25 = evaluate_retriever(words_dataset, load_retriever("bm25", shared=shared), "test", k=10)
    hybrid_retriever = load_retriever("hybrid:fake", shared=shared)
    assert hybrid_retriever.sparse is shared["bm25"] and hybrid_retriever.dense is shared["fake"]
    hybrid = evaluate_retriever(words_dataset, hybrid_retriever, "test", k=10)
    assert bm25.metrics["ndcg@10"] > 0.5 and hybrid.metrics["recall@10"] == pytest.approx(1.0)
    assert np.isfinite(list(hybrid.metrics.values())).all()
