"""TrainConfig: validation messages, auto defaults by dataset size, and the JSON round trip."""

from __future__ import annotations

from dataclasses import replace

import pytest

from explorer.core.errors import TrainingError
from explorer.training.config import DEFAULT_TRAIN_LAYERS, PARTIAL_LEARNING_RATE, TrainConfig, auto_epochs


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"epochs": 0}, "epochs must be a whole number >= 1, got 0"),
        ({"learning_rate": 0.0}, "learning_rate must be > 0 and < 1"),
        ({"learning_rate": -1e-5}, "got -1e-05"),
        ({"batch_size": 1}, "batch_size must be at least 2"),
        ({"loss": "triplet"}, "Unknown loss 'triplet'; use one of: mnrl, cached_mnrl, contrastive, online_contrastive"),
        ({"method": "lora"}, "Unknown training method 'lora'"),
        ({"warmup_ratio": 1.0}, "warmup_ratio must be in [0, 1), got 1.0"),
        ({"num_hard_negatives": 40}, "does not fit in the rank window [0, 30)"),
        ({"matryoshka_dims": (64, 0)}, "matryoshka_dims must be positive whole numbers, got [64, 0]"),
        ({"method": "adapter", "matryoshka_dims": (64,)}, "matryoshka_dims only applies to full fine-tuning"),
        ({"min_positive_grade": 0}, "min_positive_grade must be >= 1"),
    ],
)
def test_bad_values_are_named(changes, message):
    with pytest.raises(TrainingError) as err:
        TrainConfig(**changes).validate()
    assert message in str(err.value)


def test_defaults_are_valid():
    assert TrainConfig().validate() == TrainConfig()


def test_in_batch_loss_needs_two_pairs(tiny_data):
    # keep a single train judgement (rain-q0 -> rain-p0) and the test split as it is
    one = replace(tiny_data, qrels={q: ({"rain-p0": 2} if q == "rain-q0" else g if tiny_data.split[q] == "test" else {})
                                    for q, g in tiny_data.qrels.items()})
    with pytest.raises(TrainingError, match="only 1 training pair"):
        TrainConfig(loss="mnrl").validate(one)
    TrainConfig(loss="contrastive").validate(one)  # a pair loss can learn from one positive and its negatives


def test_no_train_pair_above_the_grade(tiny_data):
    with pytest.raises(TrainingError, match="no train-split judgement with grade >= 3"):
        TrainConfig(min_positive_grade=3).validate(tiny_data)


def test_no_test_split(tiny_data):
    train_only = replace(tiny_data, split={q: "train" for q in tiny_data.split})
    with pytest.raises(TrainingError, match="no judged test query"):
        TrainConfig().validate(train_only)


def test_resolve_fills_auto_fields(tiny_data):
    resolved = TrainConfig().resolve(tiny_data)
    # 12 train queries x 1 positive (grades 2 and 1: the lower grade is dropped, so grade >= 2 counts) = 12 pairs
    assert resolved.min_positive_grade == 2
    # The default recipe trains the top layers only: two epochs fewer and a larger learning rate.
    assert resolved.train_layers == DEFAULT_TRAIN_LAYERS > 0
    assert resolved.epochs == auto_epochs(12, partial=True) == 2
    assert resolved.batch_size == 32 and resolved.learning_rate == PARTIAL_LEARNING_RATE == 2e-4
    every = TrainConfig(train_layers=0).resolve(tiny_data)
    assert every.epochs == auto_epochs(12) == 4 and every.learning_rate == 3e-5
    assert TrainConfig(epochs=2).resolve(tiny_data).epochs == 2
    assert TrainConfig().resolve(tiny_data, max_epochs=2).epochs == 2
    with pytest.raises(TrainingError, match="exceeds this server's limit of 2"):
        TrainConfig(epochs=3).resolve(tiny_data, max_epochs=2)


def test_graded_sets_train_on_clear_positives(tiny_data):
    """The lowest positive grade is dropped where there are two or more, for both methods."""
    def regraded(mapping):
        return replace(tiny_data, qrels={q: {p: mapping.get(g, g) for p, g in r.items()} for q, r in tiny_data.qrels.items()})

    assert TrainConfig().positive_grade(tiny_data) == 2  # grades 1 and 2
    assert TrainConfig().positive_grade(regraded({2: 3})) == 3  # grades 1 and 3
    three = replace(tiny_data, qrels={**tiny_data.qrels, "rain-q1": {"rain-p1": 3, "rain-p2": 1}})
    assert TrainConfig().positive_grade(three) == 2  # 3/2/1 (rain-q1 trains): the 2s and 3s train
    assert TrainConfig().positive_grade(regraded({2: 1})) == 1  # binary
    assert TrainConfig(min_positive_grade=1).positive_grade(tiny_data) == 1
    assert TrainConfig(method="adapter").resolve(tiny_data).min_positive_grade == 2


def test_adapter_keeps_its_own_defaults(tiny_data):
    resolved = TrainConfig(method="adapter").resolve(tiny_data)
    assert resolved.epochs is None and resolved.learning_rate is None and resolved.batch_size is None


def test_auto_epochs_by_size():
    assert [auto_epochs(n) for n in (10, 600, 601, 3000, 3001, 20001)] == [4, 4, 3, 3, 2, 1]


def test_auto_epochs_one_fewer_for_long_passages():
    assert [auto_epochs(n, 215.0) for n in (10, 919, 5000, 20001)] == [3, 2, 1, 1]
    assert auto_epochs(919, 41.0) == 3  # short product descriptions keep the size rule
    assert [auto_epochs(n, 41.0, partial=True) for n in (10, 1150, 5000)] == [2, 1, 1]


def test_resolve_counts_the_words_of_the_training_positives(tiny_data):
    from dataclasses import replace

    from explorer.data.model import Passage

    long_text = " ".join(["word"] * 400)
    corpus = {pid: Passage(pid, long_text) for pid in tiny_data.corpus}
    long_data = replace(tiny_data, corpus=corpus)
    assert TrainConfig(train_layers=0).resolve(tiny_data).epochs == 4
    assert TrainConfig(train_layers=0).resolve(long_data).epochs == 3
    # long passages train the top layers too, one epoch (3 by size, one fewer for long passages, two fewer for top layers)
    assert TrainConfig().resolve(long_data).train_layers == DEFAULT_TRAIN_LAYERS and TrainConfig().resolve(long_data).epochs == 1
    assert TrainConfig(train_layers=2).resolve(long_data).epochs == 1
    assert TrainConfig(epochs=4).resolve(long_data).epochs == 4  # an explicit choice is kept


def test_round_trip():
    config = TrainConfig(loss="cached_mnrl", epochs=2, matryoshka_dims=(384, 128), adapter={"temperature": 0.1})
    data = config.to_dict()
    assert data["matryoshka_dims"] == [384, 128]
    assert TrainConfig.from_dict(data) == config


def test_from_dict_names_unknown_keys():
    with pytest.raises(TrainingError, match="Unknown training parameter\\(s\\): colour"):
        TrainConfig.from_dict({"colour": "blue"})


def test_low_memory_trains_the_same_loss_in_mini_batches(tiny_data):
    lean = TrainConfig().resolve(tiny_data, low_memory=True)
    assert lean.loss == "cached_mnrl" and lean.mini_batch_size == 8 and lean.batch_size == 32
    assert TrainConfig().resolve(tiny_data).loss == "mnrl"  # not asked for: unchanged
    assert TrainConfig(loss="contrastive").resolve(tiny_data, low_memory=True).loss == "contrastive"
    assert TrainConfig(loss="cached_mnrl", mini_batch_size=4).resolve(tiny_data, low_memory=True).mini_batch_size == 4


def test_public_mode_bounds_training_memory_by_default(monkeypatch, tmp_path):
    from explorer.core.config import get_settings

    monkeypatch.setenv("EXPLORER_HOME", str(tmp_path))
    monkeypatch.setenv("EXPLORER_PUBLIC", "1")
    assert get_settings().low_memory is True
    monkeypatch.setenv("EXPLORER_LOW_MEMORY", "0")
    assert get_settings().low_memory is False
    monkeypatch.setenv("EXPLORER_PUBLIC", "0")
    monkeypatch.delenv("EXPLORER_LOW_MEMORY")
    assert get_settings().low_memory is False


# ------------------------------------------------------------------------------------ public-mode bounds
def test_public_mode_accepts_only_bounded_memory_settings(tiny_data):
    from explorer.training.config import (
        LOW_MEMORY_MINI_BATCH, PUBLIC_MAX_BATCH_SIZE, PUBLIC_MAX_HARD_NEGATIVES, PUBLIC_MAX_PAIR_BATCH_SIZE,
        PUBLIC_MAX_SEQ_LENGTH,
    )

    greedy = TrainConfig(loss="mnrl", batch_size=128, max_seq_length=512, mini_batch_size=64, num_hard_negatives=5,
                         eval_max_passages=50_000)
    bounded = greedy.resolve(tiny_data, public=True)
    assert bounded.loss == "cached_mnrl" and bounded.mini_batch_size == LOW_MEMORY_MINI_BATCH
    assert bounded.batch_size == PUBLIC_MAX_BATCH_SIZE and bounded.max_seq_length == PUBLIC_MAX_SEQ_LENGTH
    assert bounded.num_hard_negatives == PUBLIC_MAX_HARD_NEGATIVES and bounded.eval_max_passages == 500
    pairs = TrainConfig(loss="contrastive", batch_size=128).resolve(tiny_data, public=True)
    assert pairs.loss == "contrastive" and pairs.batch_size == PUBLIC_MAX_PAIR_BATCH_SIZE
    auto = TrainConfig().resolve(tiny_data, public=True)  # "auto" becomes the bounded value, recorded in the run
    assert auto.max_seq_length == PUBLIC_MAX_SEQ_LENGTH and auto.batch_size == 32 and auto.loss == "cached_mnrl"
    small = TrainConfig(batch_size=8, max_seq_length=64).resolve(tiny_data, public=True)
    assert (small.batch_size, small.max_seq_length) == (8, 64)  # within bounds: kept
    local = greedy.resolve(tiny_data)
    assert (local.loss, local.batch_size, local.max_seq_length) == ("mnrl", 128, 512)


def test_public_mode_fine_tunes_only_the_bundled_model_or_a_hub_model(tiny_data, monkeypatch):
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):  # an online server (nothing is fetched here)
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(TrainingError, match="fine-tunes only the bundled all-MiniLM-L6-v2"):
        TrainConfig(base_model="static").resolve(tiny_data, public=True)
    # A hub model's size is capped before this, by the pipeline (explorer/pipeline/base_model.py).
    assert TrainConfig(base_model="BAAI/bge-small-en-v1.5").resolve(tiny_data, public=True).method == "full"
    assert TrainConfig(method="adapter", base_model="static").resolve(tiny_data, public=True).method == "adapter"
    adapter = TrainConfig(method="adapter", base_model="openai:text-embedding-3-small").resolve(tiny_data, public=True)
    assert adapter.method == "adapter"


def test_the_pipeline_bounds_a_public_workspaces_training(monkeypatch, tmp_path, tiny_data):
    """start_training resolves the config under the workspace's (public) settings, so the bounds apply; it
    trains the dataset the page holds, without reading the upload again."""
    from explorer.pipeline import training as pipeline_training
    from explorer.core.config import Settings
    from explorer.workspace import Workspace

    settings = Settings(home=tmp_path, public=True, low_memory=True).for_workspace("abc")
    seen = {}
    monkeypatch.setattr("explorer.pipeline.data.saved_negatives", lambda ws: None)
    monkeypatch.setattr("explorer.pipeline.data.load_dataset", lambda *a, **k: pytest.fail("loaded again"))
    monkeypatch.setattr("explorer.jobs.supervisor.submit_run",
                        lambda manager, ds, config, **kw: seen.setdefault("config", config) and "job-1")
    pipeline_training.start_training(None, Workspace("abc", settings), tiny_data,
                                     {"method": "full", "batch_size": 128, "max_seq_length": 512})
    assert seen["config"].batch_size == 64 and seen["config"].max_seq_length == 256
