"""The learning curve: the adapter at growing shares of the training queries, scored on the dev split."""

from __future__ import annotations

import pytest

from explorer.core.errors import TrainingError
from explorer.training.adapter import AdapterConfig, train_adapter
from explorer.training.curve import learning_curve
from explorer.training.selection import dev_split


@pytest.fixture(scope="module")
def demo():
    from explorer.pipeline import load_dataset
    from explorer.workspace import DatasetChoice

    return load_dataset(DatasetChoice(spec="demo", name="demo"))


def test_points_grow_on_one_dev_split_and_the_full_point_is_a_real_run(demo, fake_encoder):
    config = AdapterConfig(epochs=5)
    seen = []
    curve = learning_curve(demo, fake_encoder, config, fractions=(0.1, 0.5, 1.0),
                           progress=lambda stage, done, total: seen.append((stage, done, total)))
    train_ids, dev_ids = dev_split(demo.query_ids("train"), config.dev_fraction, config.seed)
    assert curve.dev_queries == len(dev_ids) and curve.metric == "ndcg@10"
    assert [p.train_queries for p in curve.points] == [0, round(0.1 * len(train_ids)), round(0.5 * len(train_ids)),
                                                       len(train_ids)]
    assert seen == [("learning curve", i, 4) for i in range(1, 5)]
    for p in curve.points:
        assert p.ci[0] <= p.value <= p.ci[1] and p.ci[0] < p.ci[1]
    # The 100 % point is what a run on the whole train split would keep, scored on the same dev queries.
    adapter = train_adapter(demo, fake_encoder, AdapterConfig(epochs=5, use_hard_negatives=False), dev_ids=dev_ids)
    selection = adapter.metadata["selection"]
    kept = max(selection["curve"], key=lambda p: (p["value"], -p["step"]))["value"]
    assert curve.points[-1].value == pytest.approx(kept, abs=1e-6)
    assert curve.points[0].value == pytest.approx(selection["base_value"], abs=1e-6)
    rows = curve.rows()
    assert rows[0]["fraction"] == 0.0 and rows[-1]["fraction"] == 1.0
    assert curve.verdict().startswith(("Still rising", "Flattening"))


def test_too_few_queries_or_a_bad_share_get_one_line_messages(demo, fake_encoder):
    from dataclasses import replace

    few = sorted(demo.query_ids("train"))[:8]
    small = replace(demo, split={q: s for q, s in demo.split.items() if s == "test" or q in few})
    with pytest.raises(TrainingError, match="too few for a dev split"):
        learning_curve(small, fake_encoder)
    with pytest.raises(TrainingError, match=r"shares must lie in \(0, 1\]"):
        learning_curve(demo, fake_encoder, fractions=(0.0, 1.0))
