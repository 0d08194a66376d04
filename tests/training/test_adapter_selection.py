"""Where a run stops: the dev split, keep-best (the base model included) and early stopping."""

from __future__ import annotations

import numpy as np
import pytest
from shapes import many_positive_dataset
from test_adapter_training import DIM, FAST, N, make_rotated

from explorer.data.model import Dataset
from explorer.training.adapter import AdapterConfig, train_adapter
from explorer.training.selection import MIN_DEV_QUERIES, BestPoint, SelectionResult, dev_split, without_dev

TRAIN, DEV = [f"q{i}" for i in range(28)], [f"q{i}" for i in range(28, 36)]


def test_dev_split_is_seeded_by_query_and_disjoint():
    ids = [f"q{i:03d}" for i in range(200)]
    train, dev = dev_split(ids, 0.2, seed=3)
    assert len(dev) == 40 and sorted(train + dev) == sorted(ids) and not set(train) & set(dev)
    assert dev_split(list(reversed(ids)), 0.2, seed=3) == (train, dev)  # the order given does not matter
    assert dev_split(ids, 0.2, seed=4)[1] != dev
    assert dev_split(ids, 0.2, seed=3, max_dev=25)[1] == sorted(dev_split(ids, 0.2, seed=3, max_dev=25)[1])
    assert len(dev_split(ids, 0.2, seed=3, max_dev=25)[1]) == 25
    assert dev_split(ids[:9], 0.5) == (ids[:9], [])  # too few to hold any out
    assert dev_split(ids, 0.0) == (ids, [])
    with pytest.raises(ValueError, match=r"dev fraction must be in \[0, 1\)"):
        dev_split(ids, 1.0)


def test_without_dev_hides_the_dev_queries_from_both_splits():
    ds = many_positive_dataset(n_queries=60, n_passages=200, seed=2)
    train, dev = dev_split(ds.query_ids("train"), seed=1)
    hidden = without_dev(ds, dev)
    assert hidden.query_ids("train") == train and hidden.query_ids("test") == ds.query_ids("test")
    assert all(hidden.qrels[q] == ds.qrels[q] for q in dev) and ds.query_ids("train") == sorted(train + dev)


def test_the_adapters_dev_queries_come_from_the_training_split_only(fake_encoder):
    ds = many_positive_dataset(n_queries=120, n_passages=600, seed=1)
    adapter = train_adapter(ds, fake_encoder, AdapterConfig(epochs=2, patience=0))
    selection = adapter.metadata["selection"]
    train = ds.query_ids("train")
    _, dev = dev_split(train, 0.2, seed=0)
    assert selection["dev_queries"] == len(dev) == 17
    trained = [q for q in train if q not in dev and ds.positives(q, 2)]  # queries with a grade-2 passage train
    assert adapter.metadata["min_positive_grade"] == 2 and adapter.metadata["train_queries"] == len(trained)
    assert selection["noisy"] and f"fewer than {MIN_DEV_QUERIES} dev queries" in selection["summary"]
    assert len(selection["curve"]) == 3 and selection["curve"][0]["step"] == 0


def mislabelled() -> tuple[Dataset, object]:
    """The base ranks perfectly (queries are their passages plus noise); the training labels are shuffled
    (query i judged relevant to passage i+1), the dev and test labels are true: training can only hurt dev."""
    ds, _ = make_rotated()
    rng = np.random.default_rng(2)
    v = rng.normal(size=(N, DIM)).astype(np.float32)
    vectors = {f"query {i}": v[i] + 0.05 * rng.normal(size=DIM).astype(np.float32) for i in range(N)}
    vectors |= {f"passage {i}": v[i] for i in range(N)}
    from test_adapter_training import TableEncoder

    wrong = {q: ({f"p{(i + 1) % 28}": 1} if q in TRAIN else {f"p{i}": 1}) for i, q in enumerate(ds.queries)}
    return Dataset(ds.name, ds.queries, ds.corpus, wrong, ds.split).validate(), TableEncoder(vectors)


def test_no_gain_keeps_the_base_model_and_stops_early():
    ds, base = mislabelled()
    adapter = train_adapter(ds, base, AdapterConfig(**{**FAST.__dict__, "patience": 2}), dev_ids=DEV)
    np.testing.assert_array_equal(adapter.weights, np.eye(DIM, dtype=np.float32))  # the identity is the base
    selection = SelectionResult.from_dict(adapter.metadata["selection"])
    assert selection.chosen_step == 0 and selection.gain is False and selection.stopped_early
    assert [p["step"] for p in selection.curve] == [0, 3, 6] and adapter.metadata["steps"] == 6
    assert selection.base_value == pytest.approx(1.0)
    assert selection.summary().startswith("On 8 held-out training queries")
    assert "no checkpoint beat the base model; the base model is kept." in selection.summary()


def test_keeping_the_last_checkpoint_anyway_trains_to_the_end_and_says_so():
    ds, base = mislabelled()
    adapter = train_adapter(ds, base, AdapterConfig(**{**FAST.__dict__, "epochs": 5, "keep_best": False}),
                            dev_ids=DEV)
    selection = adapter.metadata["selection"]
    assert adapter.metadata["steps"] == 15 and selection["chosen_step"] == 15 and selection["kept"] == "last"
    assert len(selection["curve"]) == 6 and not selection["stopped_early"] and selection["gain"] is False
    assert not np.allclose(adapter.weights, np.eye(DIM))
    assert "the last checkpoint is kept anyway, as asked" in selection["summary"]


def test_keep_best_returns_the_best_dev_point_of_a_training_that_helps():
    ds, base = make_rotated()
    events: list = []
    adapter = train_adapter(ds, base, AdapterConfig(**{**FAST.__dict__, "epochs": 12}), dev_ids=DEV,
                            callback=events.append)
    selection = adapter.metadata["selection"]
    best = max(selection["curve"], key=lambda p: p["value"])
    assert selection["gain"] and selection["chosen_step"] == best["step"] > 0
    assert selection["best_value"] > selection["base_value"] + 0.3
    assert adapter.metadata["train_queries"] == 28  # the 8 dev queries never train
    assert [e.metrics["dev_ndcg@10"] for e in events if e.metrics] == [p["value"] for p in selection["curve"]]


def test_best_point_ties_keep_the_earlier_point_and_patience_counts_evaluations():
    tracker = BestPoint(dev_queries=50, patience=2)
    assert tracker.observe(0, 0, 0.5, lambda: "base") is False
    assert tracker.observe(10, 1, 0.5, lambda: "tie") is False  # a tie is no improvement
    assert tracker.observe(20, 2, 0.6, lambda: "better") is False
    assert tracker.observe(30, 3, 0.55, lambda: "worse") is False
    assert tracker.observe(40, 4, 0.59, lambda: "worse") is True
    result = tracker.finish(40)
    assert tracker.best_state == "better" and result.chosen_step == 20 and result.gain and not result.noisy
    assert "the checkpoint at step 20 is kept (0.500 -> 0.600)" in result.summary()
    assert SelectionResult.from_dict(result.to_dict()) == result
    never = BestPoint(dev_queries=50, patience=0)
    assert not any(never.observe(s, s, 0.5 - s / 100, lambda: None) for s in range(10))
    assert SelectionResult().summary().startswith("No dev split")
