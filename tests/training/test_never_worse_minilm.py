"""Never worse than the base model, through the engine (execute_run), with the bundled MiniLM on the
many-positive, two-grade, overlapping-topic shape: with the defaults neither method is significantly worse on
the test split, and each run records its choice on the dev split (held-out training queries)."""

from __future__ import annotations

import pytest
from shapes import many_positive_dataset

from explorer.jobs.execute import execute_run
from explorer.jobs.runs import RunStore
from explorer.training.config import TrainConfig

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def shape():
    return many_positive_dataset()


def _run(ds, tmp_path, **params):
    from explorer.encoders.sentence import SentenceTransformerEncoder

    base = SentenceTransformerEncoder("minilm", cache_dir=tmp_path / "cache")
    config = TrainConfig(base_model="minilm", **params).resolve(ds)
    run = execute_run(ds, config, run_store=RunStore(tmp_path / "runs"), base_encoder=base)
    evaluation = run.evaluation()
    change = evaluation["tuned"]["ndcg@10"] - evaluation["baseline"]["ndcg@10"]
    p = evaluation["comparison"]["metrics"]["ndcg@10"]["p_value"]
    return evaluation, change, p


def test_the_default_adapter_is_not_worse(shape, tmp_path):
    evaluation, change, p = _run(shape, tmp_path, method="adapter")
    assert not (change < 0 and p < 0.05), (change, p)
    selection = evaluation["selection"]
    assert selection["dev_queries"] >= 30 and selection["curve"][0]["step"] == 0


def test_a_short_default_full_fine_tune_is_not_worse(shape, tmp_path):
    # Small: the top two layers, 64 tokens, one epoch, dev scored every 20 steps (the rest: defaults).
    evaluation, change, p = _run(shape, tmp_path, method="full", train_layers=2, max_seq_length=64, epochs=1,
                                 eval_every_steps=20)
    assert not (change < 0 and p < 0.05), (change, p)
    selection = evaluation["selection"]
    steps = [point["step"] for point in selection["curve"]]
    assert steps[0] == 0 and len(steps) >= 2 and selection["chosen_step"] in steps
    if selection["chosen_step"] == 0:  # the base model's weights were shipped: its test numbers, up to the
        assert change == pytest.approx(0.0, abs=0.005)  # precision of the two evaluation paths (bf16 / fp32)
