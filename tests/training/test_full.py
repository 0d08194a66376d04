"""Full fine-tuning pieces: the training table, losses, trainer arguments, stop and NaN handling."""

from __future__ import annotations

import pytest

from explorer.data.negatives import NegativeRow, NegativeSet
from explorer.core.errors import TrainingError
from explorer.training.config import TrainConfig
from explorer.training.events import TrainingStopped
from explorer.training.full import build_loss, train_full, training_arguments, training_columns

TRAIN_TOPICS = ("rain", "python", "moon", "music", "ocean", "train")  # coffee and bread are the test topics


def _row(data, qid, pos, neg, excluded=False):
    return NegativeRow(qid=qid, query=data.queries[qid], pos_id=pos, positive=data.corpus[pos].full_text,
                       neg_id=neg, negative=data.corpus[neg].full_text, kind="hard", excluded=excluded,
                       suspect_false_negative=excluded)


def test_pairs_for_in_batch_losses(tiny_data):
    cols = training_columns(tiny_data, TrainConfig(min_positive_grade=1).resolve(tiny_data))
    assert list(cols) == ["anchor", "positive"]
    assert len(cols["anchor"]) == 24  # 12 train queries x (grade-2 + grade-1 positive)
    assert {a.split()[2] for a in cols["anchor"]} == set(TRAIN_TOPICS)
    strict = training_columns(tiny_data, TrainConfig(min_positive_grade=2))
    assert len(strict["anchor"]) == 12
    assert strict["positive"][strict["anchor"].index("what about rain clouds")] == tiny_data.corpus["rain-p0"].full_text


def test_hard_negatives_become_columns_and_excluded_rows_are_left_out(tiny_data):
    negs = NegativeSet([
        _row(tiny_data, "rain-q0", "rain-p0", "ocean-p0", excluded=True),
        _row(tiny_data, "rain-q0", "rain-p0", "moon-p1"),
    ])
    cols = training_columns(tiny_data, TrainConfig(min_positive_grade=2), negs)
    assert list(cols) == ["anchor", "positive", "negative_1"]
    i = cols["anchor"].index("what about rain clouds")
    assert cols["negative_1"][i] == tiny_data.corpus["moon-p1"].full_text
    # pairs without a mined negative get a random passage that is not relevant to their query
    for anchor, negative in zip(cols["anchor"], cols["negative_1"]):
        qid = next(q for q, t in tiny_data.queries.items() if t == anchor)
        relevant = {tiny_data.corpus[p].full_text for p, g in tiny_data.qrels[qid].items() if g > 0}
        assert negative not in relevant
    two = training_columns(tiny_data, TrainConfig(min_positive_grade=2, num_hard_negatives=2), negs)
    assert list(two) == ["anchor", "positive", "negative_1", "negative_2"]
    assert all(a != b for a, b in zip(two["negative_1"], two["negative_2"]))


def test_labelled_pairs_for_contrastive(tiny_data):
    cols = training_columns(tiny_data, TrainConfig(loss="contrastive", min_positive_grade=1))
    assert list(cols) == ["sentence1", "sentence2", "label"]
    # 24 positives, one random negative each, and the 12 judged grade-0 passages of the train queries
    assert len(cols["label"]) == 24 + 24 + 12 and sum(cols["label"]) == 24
    negs = NegativeSet([_row(tiny_data, "rain-q0", "rain-p0", "moon-p1")])
    with_negs = training_columns(tiny_data, TrainConfig(loss="online_contrastive", min_positive_grade=1), negs)
    assert len(with_negs["label"]) == 24 + 1 + 12


def test_losses_by_name(tiny_model_dir):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import losses

    model = SentenceTransformer(tiny_model_dir, device="cpu")
    expected = {"mnrl": losses.MultipleNegativesRankingLoss, "cached_mnrl": losses.CachedMultipleNegativesRankingLoss,
                "contrastive": losses.ContrastiveLoss, "online_contrastive": losses.OnlineContrastiveLoss}
    for name, cls in expected.items():
        assert type(build_loss(model, TrainConfig(loss=name))) is cls
    assert build_loss(model, TrainConfig(loss="cached_mnrl", mini_batch_size=4)).mini_batch_size == 4
    wrapped = build_loss(model, TrainConfig(matryoshka_dims=(16, 32)))
    assert isinstance(wrapped, losses.MatryoshkaLoss) and list(wrapped.matryoshka_dims) == [32, 16]
    with pytest.raises(TrainingError, match=r"matryoshka_dims \[64\] exceed the model's embedding size 32"):
        build_loss(model, TrainConfig(matryoshka_dims=(64, 16)))


def test_every_loss_a_config_accepts_names_a_sentence_transformers_class():
    from sentence_transformers.sentence_transformer import losses

    from explorer.training.config import LOSSES
    from explorer.training.full import LOSS_CLASSES

    assert set(LOSS_CLASSES) == set(LOSSES)
    assert all(isinstance(getattr(losses, name), type) for name in LOSS_CLASSES.values())


def test_training_arguments(tmp_path, monkeypatch):
    from sentence_transformers.base.sampler import BatchSamplers

    args = training_arguments(TrainConfig(epochs=2, batch_size=16, learning_rate=4e-5), str(tmp_path), "cpu")
    assert args.batch_sampler == BatchSamplers.NO_DUPLICATES and args.num_train_epochs == 2
    assert args.report_to in ("none", [], ["none"]) and args.save_strategy == "no" and not args.push_to_hub
    from explorer.encoders.hardware import cpu_supports_bf16

    # bf16 mixed precision exactly where the CPU computes bf16 natively (AMX / AVX512-BF16)
    assert args.bf16 is cpu_supports_bf16() and args.use_cpu and args.logging_nan_inf_filter is False
    monkeypatch.setenv("EXPLORER_BF16", "0")
    assert training_arguments(TrainConfig(epochs=1, batch_size=4, learning_rate=1e-5), str(tmp_path), "cpu").bf16 is False
    monkeypatch.setenv("EXPLORER_BF16", "1")
    assert training_arguments(TrainConfig(epochs=1, batch_size=4, learning_rate=1e-5), str(tmp_path), "cpu").bf16 is True
    monkeypatch.delenv("EXPLORER_BF16")
    pairs = training_arguments(TrainConfig(loss="contrastive", epochs=1, batch_size=4, learning_rate=1e-5), str(tmp_path), "cpu")
    assert pairs.batch_sampler == BatchSamplers.BATCH_SAMPLER
    monkeypatch.setenv("EXPLORER_BF16", "1")  # as on an AMX CPU
    assert training_arguments(TrainConfig(epochs=1, batch_size=4, learning_rate=1e-5), str(tmp_path), "cpu").bf16 is True


def test_cached_mnrl_with_matryoshka_trains_and_saves(tiny_data, tiny_model_dir, tmp_path):
    events = []
    config = TrainConfig(base_model=tiny_model_dir, loss="cached_mnrl", mini_batch_size=4, epochs=1, batch_size=12,
                         matryoshka_dims=(32, 16), eval_every_steps=1, min_positive_grade=1)
    encoder = train_full(tiny_data, config, callback=events.append, out_dir=tmp_path / "out")
    assert (tmp_path / "out" / "modules.json").is_file()
    steps = [e for e in events if e.loss is not None and not e.metrics]
    assert [e.step for e in steps] == [1, 2] and all(e.total_steps == 2 for e in steps)
    assert steps[-1].eta_seconds == 0 and steps[0].lr is not None
    assert [e.step for e in events if e.metrics] == []  # no dev split given: nothing to evaluate on (never test)
    assert encoder.selection.dev_queries == 0
    assert encoder.encode(["rain clouds"], "query").shape == (1, 32)


def test_stop_flag_ends_training(tiny_data, tiny_model_dir):
    events = []
    with pytest.raises(TrainingStopped):
        train_full(tiny_data, TrainConfig(base_model=tiny_model_dir, epochs=5, batch_size=4),
                   callback=events.append, should_stop=lambda: any(e.step >= 2 for e in events))
    assert max(e.step for e in events) == 2  # stopped right after the step that raised the flag


def test_nan_loss_is_a_training_error(tiny_data, tiny_model_dir, monkeypatch):
    import torch

    class NanLoss(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, features, labels):
            return self.model(features[0])["sentence_embedding"].sum() * float("nan")

    monkeypatch.setattr("explorer.training.full.build_loss", lambda model, config: NanLoss(model))
    with pytest.raises(TrainingError, match="loss became NaN at step 1"):
        train_full(tiny_data, TrainConfig(base_model=tiny_model_dir, epochs=1, batch_size=4))


def test_fake_encoder_cannot_be_fine_tuned(tiny_data):
    with pytest.raises(TrainingError, match="use method 'adapter'"):
        train_full(tiny_data, TrainConfig(base_model="fake"))
