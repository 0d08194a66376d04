"""Results files: a saved RetrievalResult reads back equal, ranked lists in order; damaged files are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from explorer.encoders.fake import FakeEncoder
from explorer.evaluation.retrieval import RetrievalResult, evaluate_encoder
from explorer.evaluation.stored import StoredResults, load_results, save_results


def test_computed_results_read_back_equal(tiny_dataset, fake_encoder, tmp_path):
    baseline = evaluate_encoder(tiny_dataset, fake_encoder)
    tuned = evaluate_encoder(tiny_dataset, FakeEncoder(dim=32, seed=7, cache_dir=tmp_path / "other"))
    assert baseline.run != tuned.run  # two different models, so a swapped side would show
    path = tmp_path / "results.npz"
    size = save_results(path, StoredResults({"baseline": baseline, "tuned": tuned}, tiny_dataset.fingerprint()))
    assert size == path.stat().st_size > 0
    back = load_results(path)
    assert back.dataset_fingerprint == tiny_dataset.fingerprint() and back.split == "test"
    assert back.results == {"baseline": baseline, "tuned": tuned}
    assert back.k == len(tiny_dataset.corpus)  # the corpus is smaller than 100: every passage ranked
    for q, docs in baseline.run.items():  # best first, as searched
        assert list(back.results["baseline"].run[q]) == list(docs)


def test_ragged_lists_and_queries_without_results(tmp_path):
    result = RetrievalResult(
        metrics={"ndcg@10": 0.25, "mrr@10": 0.5},
        per_query={"ndcg@10": {"q1": 0.5, "q2": 0.0, "q3": 0.0}, "mrr@10": {"q1": 1.0, "q3": 0.0}},
        run={"q1": {"p2": 0.75, "p1": 0.5, "p9": -0.125}, "q2": {}, "q3": {"p1": 0.25}},
        n_queries=3, seconds=1.5,
    )
    save_results(tmp_path / "r.npz", StoredResults({"only": result}, "fp", split="train"))
    back = load_results(tmp_path / "r.npz")
    assert back.results["only"] == result and back.split == "train"


def test_bad_model_names_and_damaged_files(tmp_path):
    result = RetrievalResult(metrics={}, per_query={}, run={}, n_queries=0)
    with pytest.raises(ValueError, match="without dots"):
        save_results(tmp_path / "r.npz", StoredResults({"a.b": result}, "fp"))
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="not a readable results file"):
        load_results(tmp_path / "junk.npz")
    meta = np.frombuffer(json.dumps({"format": 99}).encode(), dtype=np.uint8)
    np.savez(tmp_path / "future.npz", meta=meta)
    with pytest.raises(ValueError, match="format 99"):
        load_results(tmp_path / "future.npz")
    with pytest.raises(FileNotFoundError):
        load_results(tmp_path / "missing.npz")
