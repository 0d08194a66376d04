"""Adapter training on a synthetic task whose answer is known: queries are a rotation of their passages."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.data.model import Dataset, Passage
from explorer.data.negatives import NegativeSet, mine_hard_negatives
from explorer.encoders.adapter import AdapterEncoder
from explorer.encoders.base import Encoder
from explorer.core.errors import TrainingError
from explorer.training.adapter import AdapterConfig, train_adapter
from explorer.training.events import TrainingStopped

DIM, N = 8, 48


class TableEncoder(Encoder):
    """Returns hand-made vectors by text."""

    name = "table"

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        super().__init__(None)
        self.vectors = vectors

    @property
    def fingerprint(self) -> str:
        return "table-rotation"

    def embed_batch(self, texts, kind):
        return np.stack([self.vectors[t] for t in texts])


@pytest.fixture(scope="module")
def rotated():
    return make_rotated()


def make_rotated() -> tuple[Dataset, TableEncoder]:
    """Passage i is a random unit vector v_i; query i is v_i rotated by a fixed R, plus a little noise.

    The base encoder ranks passages for a query almost at random; W = R^-1 solves the task exactly.
    Queries 0..35 train, 36..47 test (the rotation has to generalize to unseen queries).
    """
    rng = np.random.default_rng(0)
    v = rng.normal(size=(N, DIM)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    rot, _ = np.linalg.qr(rng.normal(size=(DIM, DIM)))
    q = v @ rot.astype(np.float32) + 0.05 * rng.normal(size=(N, DIM)).astype(np.float32)
    vectors = {f"query {i}": q[i] for i in range(N)} | {f"passage {i}": v[i] for i in range(N)}
    ds = Dataset(
        name="rotated",
        queries={f"q{i}": f"query {i}" for i in range(N)},
        corpus={f"p{i}": Passage(f"p{i}", f"passage {i}") for i in range(N)},
        qrels={f"q{i}": {f"p{i}": 1} for i in range(N)},
        split={f"q{i}": ("train" if i < 36 else "test") for i in range(N)},
    ).validate()
    return ds, TableEncoder(vectors)


FAST = AdapterConfig(epochs=40, learning_rate=0.05, batch_size=12, temperature=0.1, dev_fraction=0.0)
"""Trains every epoch on all 36 training queries (no dev split): these tests check the optimization itself."""


def _test_mrr(ds: Dataset, encoder: Encoder, split: str = "test") -> float:
    qids, pids = ds.query_ids(split), ds.passage_ids()
    scores = encoder.encode([ds.queries[q] for q in qids], "query") @ encoder.encode(ds.passage_texts(), "passage").T
    mrr = 0.0
    for row, qid in zip(scores, qids):
        target = pids.index(next(iter(ds.positives(qid))))
        mrr += 1.0 / (1 + int((row > row[target]).sum()))
    return mrr / len(qids)


_test_mrr.__test__ = False  # a helper, not a test


def test_training_lowers_the_loss_and_learns_the_rotation(rotated):
    ds, base = rotated
    events: list = []
    adapter = train_adapter(ds, base, FAST, callback=events.append)
    assert isinstance(adapter, AdapterEncoder) and adapter.query_only
    assert [e.step for e in events] == list(range(1, 3 * 40 + 1))  # ProgressEvents, as the full fine-tune's
    assert adapter.metadata["selection"]["dev_queries"] == 0 and adapter.metadata["selection"]["chosen_step"] == 120
    assert {e.phase for e in events} == {"training"} and events[0].total_steps == 120
    assert events[0].loss is not None and events[0].lr == FAST.learning_rate
    assert events[-1].epoch == pytest.approx(40.0)
    losses = adapter.metadata["epoch_losses"]
    assert losses[-1] < 0.5 * losses[0]
    before, after = _test_mrr(ds, base), _test_mrr(ds, adapter)
    assert before < 0.5 and after > 0.9, (before, after)


def test_both_sides_learn_to_drop_a_noisy_subspace():
    """Queries carry strong noise in dims 4..7: one map for both sides learns to project them away
    (a shared map cannot undo a rotation between the sides, so this task differs from the one above)."""
    rng = np.random.default_rng(1)
    v = rng.normal(size=(N, DIM)).astype(np.float32)
    q = v.copy()
    q[:, 4:] += 1.5 * rng.normal(size=(N, 4)).astype(np.float32)
    ds, _ = make_rotated()
    base = TableEncoder({f"query {i}": q[i] for i in range(N)} | {f"passage {i}": v[i] for i in range(N)})
    adapter = train_adapter(ds, base, AdapterConfig(**{**FAST.__dict__, "query_only": False}))
    assert not adapter.query_only
    assert _test_mrr(ds, adapter) > _test_mrr(ds, base) + 0.15, (_test_mrr(ds, base), _test_mrr(ds, adapter))


def test_identity_init_starts_from_the_base(rotated):
    ds, base = rotated
    adapter = train_adapter(ds, base, AdapterConfig(epochs=1, learning_rate=1e-9, batch_size=12))
    np.testing.assert_allclose(adapter.weights, np.eye(DIM), atol=1e-6)
    texts = [ds.queries[q] for q in ds.query_ids()]
    np.testing.assert_allclose(adapter.encode(texts, "query"), base.encode(texts, "query"), atol=1e-5)


def test_seeded_training_is_deterministic(rotated):
    ds, base = rotated
    config = AdapterConfig(epochs=3, learning_rate=0.05, batch_size=8, seed=5)
    a, b = train_adapter(ds, base, config), train_adapter(ds, base, config)
    np.testing.assert_array_equal(a.weights, b.weights)
    c = train_adapter(ds, base, AdapterConfig(epochs=3, learning_rate=0.05, batch_size=8, seed=6))
    assert not np.array_equal(a.weights, c.weights)


def test_should_stop_stops_within_one_step(rotated):
    ds, base = rotated
    events: list[dict] = []
    with pytest.raises(TrainingStopped):
        train_adapter(ds, base, FAST, callback=events.append, should_stop=lambda: len(events) >= 3)
    assert len(events) == 3


@pytest.mark.parametrize("how", ["huge learning rate", "injected"])
def test_nan_loss_is_a_training_error(rotated, monkeypatch, how):
    ds, base = rotated
    config = AdapterConfig(epochs=5, learning_rate=1e30, batch_size=12)
    if how == "injected":
        import torch

        import explorer.training.adapter as module

        real = module._batch_loss
        calls = iter(range(1000))
        monkeypatch.setattr(module, "_batch_loss",
                            lambda *a: real(*a) * (torch.tensor(float("nan")) if next(calls) == 4 else 1.0))
        config = FAST
    with pytest.raises(TrainingError, match=r"loss became NaN at step \d+; lower the learning rate"):
        train_adapter(ds, base, config)


def test_hard_negatives_and_the_dev_split(rotated):
    ds, base = rotated
    negatives = mine_hard_negatives(ds, base, num_negatives=2, relative_margin=None)
    events: list = []
    config = AdapterConfig(**{**FAST.__dict__, "epochs": 10, "dev_fraction": 0.25, "patience": 0})
    adapter = train_adapter(ds, base, config, callback=events.append, negatives=negatives)
    meta = adapter.metadata
    assert meta["train_queries"] == 27 and meta["hard_negative_columns"] == 2 * 27  # dev queries get none
    evals = [e for e in events if e.metrics]
    assert [e.step for e in evals] == [0] + [3 * k for k in range(1, 11)]  # the base, then every epoch
    assert evals[0].message == "dev evaluation (base model)" and evals[-1].metrics["dev_queries"] == 9
    selection = meta["selection"]
    assert selection["dev_queries"] == 9 and selection["metric"] == "ndcg@10" and selection["noisy"]
    assert [p["value"] for p in selection["curve"]] == [e.metrics["dev_ndcg@10"] for e in evals]
    assert selection["gain"] and selection["best_value"] > selection["base_value"]
    unused = train_adapter(ds, base, AdapterConfig(**{**FAST.__dict__, "epochs": 1, "use_hard_negatives": False}),
                           negatives=negatives)
    assert unused.metadata["hard_negative_columns"] == 0


def test_positives_follow_the_grade_rule_and_lower_grades_are_never_negatives(rotated):
    ds, base = rotated
    n = len(ds.corpus)  # every query also judges the next passage 1: a lower grade than its own 2
    graded = Dataset(ds.name, ds.queries, ds.corpus, {f"q{i}": {f"p{i}": 2, f"p{(i + 1) % n}": 1} for i in range(n)},
                     ds.split).validate()
    auto = train_adapter(graded, base, AdapterConfig(**{**FAST.__dict__, "epochs": 1}))
    assert auto.metadata["min_positive_grade"] == 2 and auto.metadata["train_pairs"] == 36
    every = train_adapter(graded, base, AdapterConfig(**{**FAST.__dict__, "epochs": 1, "min_positive_grade": 1}))
    assert every.metadata["min_positive_grade"] == 1 and every.metadata["train_pairs"] == 72
    import torch

    from explorer.training import adapter as module

    data = module._TrainingData.build(graded, base, FAST, None, None, [])
    batch = np.arange(len(data.pair_query))
    masked = module._batch_loss(torch.eye(DIM), torch.from_numpy(data.query_vecs), torch.from_numpy(data.passage_vecs),
                                data, batch, FAST)
    data.judged_keys = np.unique(data.pair_query * data.n_passages + data.pair_passage)  # grade-1 passages unmasked
    unmasked = module._batch_loss(torch.eye(DIM), torch.from_numpy(data.query_vecs),
                                  torch.from_numpy(data.passage_vecs), data, batch, FAST)
    assert float(masked) < float(unmasked)


def test_bad_settings_and_data_are_training_errors(rotated):
    ds, base = rotated
    with pytest.raises(TrainingError, match="learning_rate must be a positive number"):
        train_adapter(ds, base, AdapterConfig(learning_rate=0))
    with pytest.raises(TrainingError, match="init must be one of"):
        train_adapter(ds, base, AdapterConfig(init="zeros"))
    only_test = Dataset(ds.name, ds.queries, ds.corpus, ds.qrels, {q: "test" for q in ds.queries})
    with pytest.raises(TrainingError, match="no training query"):
        train_adapter(only_test, base, FAST)
    assert isinstance(NegativeSet(), NegativeSet)
