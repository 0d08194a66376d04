"""A very short real fine-tune of the bundled all-MiniLM-L6-v2 (keeps the real path honest)."""

from __future__ import annotations

import math

import pytest

from explorer.training.config import TrainConfig
from explorer.jobs.execute import execute_run
from explorer.jobs.runs import RunStore


@pytest.mark.model
def test_minilm_few_steps(tiny_data, tmp_path):
    config = TrainConfig(base_model="minilm", epochs=1, batch_size=8, max_seq_length=64, eval_every_steps=0,
                         min_positive_grade=1).resolve(tiny_data)
    run = execute_run(tiny_data, config, run_store=RunStore(tmp_path / "runs"))
    assert run.state == "succeeded"
    losses = [e.loss for e in run.events() if e.phase == "training" and e.loss is not None]
    assert len(losses) == 3 and all(math.isfinite(loss) and loss > 0 for loss in losses)
    info = run.config["base_model_info"]
    assert info["name"] == "all-MiniLM-L6-v2" and info["path"]
    evaluation = run.evaluation()
    # MiniLM already ranks this toy set well; three small steps must not wreck it
    assert evaluation["baseline"]["ndcg@10"] > 0.8 and evaluation["tuned"]["ndcg@10"] > 0.8
    from explorer.encoders.registry import load_encoder

    assert load_encoder(str(run.path)).fingerprint != load_encoder("minilm").fingerprint
