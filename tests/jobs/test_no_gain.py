""""No gain" is a result: when no checkpoint beats the base model on the dev split, the run ships the base model
and its files, the CLI report and the model card say so (fake encoder, whose base already ranks every query
perfectly, so no trained point can be better)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from explorer.commands.train import format_report
from explorer.data.model import Dataset, Passage
from explorer.encoders.fake import FakeEncoder
from explorer.jobs.execute import execute_run
from explorer.jobs.modelcard import model_card
from explorer.jobs.runs import RunStore
from explorer.training.config import TrainConfig

WORDS = ["amber", "basil", "cedar", "delta", "ember", "fjord", "grove", "heron", "iris", "juniper", "kestrel",
         "lotus", "maple", "nectar", "onyx", "pepper", "quartz", "raven", "sage", "tundra"]


def perfect_dataset() -> Dataset:
    """60 queries, each identical to its one relevant passage (the fake base ranks it first), 40 train."""
    queries, corpus, qrels, split = {}, {}, {}, {}
    for i in range(60):
        text = " ".join(WORDS[(i * k) % len(WORDS)] for k in (1, 3, 7)) + f" item{i}"
        corpus[f"p{i}"] = Passage(f"p{i}", text)
        queries[f"q{i}"] = text
        qrels[f"q{i}"] = {f"p{i}": 1}
        split[f"q{i}"] = "train" if i < 40 else "test"
    return Dataset("perfect", queries, corpus, qrels, split, source="tests").validate()


@pytest.mark.parametrize("keep", ["best", "last"])
def test_no_gain_ships_the_base_model_and_says_so(tmp_path, keep):
    ds = perfect_dataset()
    base = FakeEncoder(dim=64, cache_dir=tmp_path / "cache")
    config = TrainConfig(method="adapter", base_model="fake", keep=keep,
                         adapter={"epochs": 3, "learning_rate": 0.05}).resolve(ds)
    run = execute_run(ds, config, run_store=RunStore(tmp_path / "runs"), base_encoder=base)

    evaluation = json.loads((run.path / "evaluation.json").read_text())
    selection = evaluation["selection"]
    assert selection["dev_queries"] == 8 and selection["gain"] is False and selection["noisy"] is True
    assert selection["curve"][0]["step"] == 0 and selection["base_value"] == pytest.approx(1.0)
    report = format_report(evaluation, str(run.path))
    card = model_card(run.config, evaluation)
    status = json.loads((run.path / "status.json").read_text())
    if keep == "best":
        assert selection["chosen_step"] == 0
        line = "On 8 held-out training queries (ndcg@10 over the whole corpus) no checkpoint beat the base model; " \
               "the base model is kept."
        assert line in report and line in card and line in status["selection"]
        assert "--keep last" in report and "These weights are the base model's" in card
        from explorer.encoders.registry import load_encoder

        weights = load_encoder(str(run.path)).weights
        assert np.allclose(weights, np.eye(weights.shape[0]))  # the identity: the base model itself
        assert evaluation["tuned"]["ndcg@10"] == pytest.approx(evaluation["baseline"]["ndcg@10"])
    else:
        assert selection["chosen_step"] > 0 and "the last checkpoint is kept anyway, as asked" in report
        assert "These weights are the base model's" not in card
