"""execute_run, the job body, without threads: a complete run folder on the tiny model; cancel; failure."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from explorer.jobs.packaging import package
from explorer.core.errors import ModelError, TrainingError
from explorer.training.config import TrainConfig
from explorer.training.events import TrainingStopped
from explorer.jobs.execute import execute_run
from explorer.jobs.supervisor import submit_run
from explorer.jobs.manager import JobManager
from explorer.jobs.runs import RunStore


def test_full_run_writes_a_complete_folder(tiny_data, tiny_model_dir, tmp_path):
    events = []
    config = TrainConfig(base_model=tiny_model_dir, epochs=2, batch_size=8, min_positive_grade=1,
                         keep="last").resolve(tiny_data)
    run = execute_run(tiny_data, config, run_store=RunStore(tmp_path / "runs"), report=events.append)

    assert run.state == "succeeded"
    assert (run.path / "model" / "modules.json").is_file() and not (run.path / "model.tmp").exists()
    config_json = json.loads((run.path / "config.json").read_text())
    assert config_json["epochs"] == 2 and config_json["min_positive_grade"] == 1
    assert config_json["base_model_info"]["fingerprint"]
    evaluation = json.loads((run.path / "evaluation.json").read_text())
    assert set(evaluation) >= {"baseline", "tuned", "comparison", "training_seconds"}
    assert 0.0 <= evaluation["tuned"]["ndcg@10"] <= 1.0 and evaluation["tuned"]["n_queries"] == 4
    assert "p_value" in evaluation["comparison"]["metrics"]["ndcg@10"]
    lines = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    phases = {line["phase"] for line in lines}
    assert phases == {"baseline", "mining", "training", "saving", "evaluating"}
    losses = [line["loss"] for line in lines if line["phase"] == "training" and line["loss"] is not None]
    assert losses and all(loss > 0 for loss in losses)
    # 20 pairs (2 of the 12 train queries are the dev split) / batch 8 = 3 steps per epoch, 2 epochs; the dev
    # split is scored at step 0 (the base model), after epoch 1 and at the last step, never the test split
    assert max(line["total_steps"] for line in lines if line["phase"] == "training") == 6
    dev = [line for line in lines if line["phase"] == "training" and line["metrics"].get("dev_ndcg@10") is not None]
    assert [line["step"] for line in dev] == [0, 3, 6] and all(line["metrics"]["dev_queries"] == 2 for line in dev)
    assert not any(line["metrics"].get("ndcg@10") is not None for line in lines if line["phase"] == "training")
    assert evaluation["selection"]["dev_queries"] == 2 and evaluation["selection"]["kept"] == "last"
    assert evaluation["selection"]["chosen_step"] == 6 and [p["step"] for p in evaluation["selection"]["curve"]] == [0, 3, 6]
    assert [e.phase for e in events][-1] == "evaluating"
    status = json.loads((run.path / "status.json").read_text())
    assert status["state"] == "succeeded" and status["summary"]["ndcg@10"]["tuned"] == evaluation["tuned"]["ndcg@10"]
    assert (run.path / "negatives.jsonl").is_file()
    # Snapshots for the Latent page: baseline, each held-out evaluation, final; same sample in every frame.
    from explorer.latent.snapshots import SnapshotStore

    frames = SnapshotStore(run.path).frames()
    assert [f.label for f in frames] == ["baseline", *[f"step {line['step']}" for line in dev[1:]], "final"]
    assert frames[0].metrics["ndcg@10"] == pytest.approx(evaluation["baseline"]["ndcg@10"])
    assert frames[-1].metrics["ndcg@10"] == pytest.approx(evaluation["tuned"]["ndcg@10"])
    assert len({f.vectors.shape for f in frames}) == 1
    assert not np.allclose(frames[0].vectors, frames[-1].vectors, atol=1e-3)  # the model moved the points


def test_cancel_marks_the_run_cancelled(tiny_data, tiny_model_dir, tmp_path):
    calls = {"n": 0}

    def stop_during_training() -> bool:
        calls["n"] += 1
        return calls["n"] > 3  # baseline and mining pass, training stops after its first step

    store = RunStore(tmp_path / "runs")
    with pytest.raises(TrainingStopped):
        execute_run(tiny_data, TrainConfig(base_model=tiny_model_dir, epochs=3, batch_size=4).resolve(tiny_data), run_store=store,
                    should_stop=stop_during_training)
    (run,) = store.list()
    assert run.state == "cancelled"
    assert not (run.path / "model").exists() and not (run.path / "evaluation.json").exists()


def test_failure_is_recorded_then_raised(tiny_data, tmp_path):
    store = RunStore(tmp_path / "runs")
    with pytest.raises(ModelError):
        execute_run(tiny_data, TrainConfig(base_model=str(tmp_path / "no-such-model")).resolve(tiny_data), run_store=store)
    (run,) = store.list()
    assert run.state == "failed" and "does not exist" in run.error


def test_full_fine_tune_needs_a_model_with_weights(tiny_data, tmp_path):
    store = RunStore(tmp_path / "runs")
    with pytest.raises(TrainingError, match="not a sentence-transformers model"):
        execute_run(tiny_data, TrainConfig(base_model="fake", use_hard_negatives=False).resolve(tiny_data), run_store=store)
    assert store.list()[0].state == "failed"


def test_bad_config_fails_before_any_folder(tiny_data, tmp_path):
    from explorer import pipeline
    from explorer.core.config import Settings

    store = RunStore(tmp_path / "runs")
    with pytest.raises(TrainingError, match="batch_size"):
        pipeline.training_config(tiny_data, {"batch_size": 1}, Settings(home=tmp_path))
    with pytest.raises(TrainingError, match="not resolved"):  # "auto" fields still open: resolved once, before
        execute_run(tiny_data, TrainConfig(), run_store=store)
    assert store.list() == []


def test_adapter_run_on_the_fake_encoder(tiny_data, tmp_path):
    store = RunStore(tmp_path / "runs")
    config = TrainConfig(method="adapter", base_model="fake", adapter={"epochs": 3}).resolve(tiny_data)
    run = execute_run(tiny_data, config, run_store=store)
    assert run.state == "succeeded" and (run.path / "adapter").is_dir() and not (run.path / "model").exists()
    assert json.loads((run.path / "config.json").read_text())["base_model"] == "fake"
    evaluation = run.evaluation()
    assert evaluation["baseline"]["n_queries"] == evaluation["tuned"]["n_queries"] == 4
    # Both models' per-query scores and ranked lists are kept next to it, for the result pages.
    assert evaluation["stored"]["models"] == ["baseline", "tuned"] and evaluation["stored"]["k"] > 0
    assert (run.path / evaluation["stored"]["file"]).stat().st_size == evaluation["stored"]["bytes"]
    assert package(store.get(run.id)).name.endswith("-adapter.zip")
    # The adapter's embedding progress becomes one logged note once every training text is embedded.
    notes = [e.message for e in run.events() if e.message.startswith("embedding training texts")]
    assert len(notes) == 1 and re.fullmatch(r"embedding training texts: (\d+)/\1", notes[0])


def test_submit_run_through_the_manager(tiny_data, tmp_path):
    store = RunStore(tmp_path / "runs")
    manager = JobManager(max_concurrent=1)
    job = submit_run(manager, tiny_data, TrainConfig(method="adapter", base_model="fake", adapter={"epochs": 2}).resolve(tiny_data),
                     run_store=store, owner="ws")
    snap = manager.wait(job, timeout=60)
    assert snap.status == "succeeded", snap.error
    assert snap.result.id == snap.run_id and store.get(snap.run_id).state == "succeeded"
    assert {e.phase for e in snap.history} >= {"baseline", "training", "evaluating"}
    manager.shutdown()


def test_top_layer_run_is_evaluated_through_its_cached_bottom_with_the_saved_models_numbers(
        tiny_data, tiny_deep_model_dir, tmp_path, explorer_home, monkeypatch):
    from explorer.training import lower_cache

    attached = lower_cache.LowerLayerCache.attached
    uses = []
    monkeypatch.setattr(lower_cache.LowerLayerCache, "attached", lambda self: uses.append(1) or attached(self))
    from explorer.encoders.cache import EmbeddingCache, text_key
    from explorer.encoders.registry import load_encoder
    from explorer.encoders.sentence import SentenceTransformerEncoder
    from explorer.evaluation.retrieval import evaluate_encoder

    # keep="last": on this tiny set dev sees no gain, and a kept base model has the baseline's vectors cached
    config = TrainConfig(base_model=tiny_deep_model_dir, epochs=1, batch_size=8, train_layers=1,
                         learning_rate=1e-3, keep="last").resolve(tiny_data)
    run = execute_run(tiny_data, config, run_store=RunStore(tmp_path / "runs"))
    assert run.state == "succeeded"
    assert len(uses) > 1  # training, then the tuned evaluation's batches
    stored = json.loads((run.path / "evaluation.json").read_text())["tuned"]
    saved = load_encoder(str(run.path))
    # The vectors the evaluation embedded went to the saved model's own cache entry (later pages reuse them) ...
    passages = [p.full_text for p in tiny_data.corpus.values()]
    cache = EmbeddingCache(saved.cache_dir / saved.kind_fingerprint("passage"))
    assert len(cache.get_many([text_key(t) for t in passages])) == len(passages)
    # ... and are the saved model's: a fresh evaluation of the folder, with no cache, gives the same numbers.
    uncached = SentenceTransformerEncoder(str(run.path / "model"), cache_dir=None)
    fresh = evaluate_encoder(tiny_data, uncached, split="test")
    for metric in ("ndcg@10", "mrr@10", "recall@100"):
        assert fresh.metrics[metric] == pytest.approx(stored[metric], abs=1e-9)
    # Under bf16 autocast (a CPU with AMX / AVX512-BF16) the plain pass computes the frozen bottom in bf16, while
    # the cache kept it in float32: they agree at bf16's precision (4e-5 measured here); in fp32, to float error.
    np.testing.assert_allclose(cache.get_many([text_key(passages[0])])[text_key(passages[0])],
                               uncached.encode(passages[:1])[0], atol=1e-3 if uncached.bf16 else 1e-5)
