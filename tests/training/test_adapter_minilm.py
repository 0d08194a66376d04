"""Never worse than the base: the adapter on the many-positive, two-grade shape with the bundled MiniLM.

On this shape the earlier recipe (grade-1 passages trained as positives, the last epoch kept) makes test
NDCG@10 significantly worse; each guard alone (the grade rule, keep-best on dev) must prevent that.
"""

from __future__ import annotations

import pytest
from shapes import many_positive_dataset

from explorer.evaluation.retrieval import evaluate_encoder
from explorer.evaluation.significance import paired_test
from explorer.training.adapter import AdapterConfig, train_adapter

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def shape(tmp_path_factory):
    """The dataset, MiniLM (with a cache of its own) and the base model's test result."""
    from explorer.encoders.sentence import SentenceTransformerEncoder

    ds = many_positive_dataset()
    encoder = SentenceTransformerEncoder("minilm", cache_dir=tmp_path_factory.mktemp("minilm-cache"))
    return ds, encoder, evaluate_encoder(ds, encoder)


def _tuned(shape, **options):
    ds, encoder, base = shape
    adapter = train_adapter(ds, encoder, AdapterConfig(**options))
    tuned = evaluate_encoder(ds, adapter)
    p = paired_test(base.per_query["ndcg@10"], tuned.per_query["ndcg@10"])
    return adapter, tuned.metrics["ndcg@10"] - base.metrics["ndcg@10"], p


def test_the_earlier_recipe_is_significantly_worse_on_this_shape(shape):
    adapter, change, p = _tuned(shape, min_positive_grade=1, keep_best=False)
    assert change < 0 and p < 0.05, (change, p)
    assert adapter.metadata["selection"]["gain"] is False  # and dev saw it


def test_keep_best_alone_keeps_the_base_model(shape):
    adapter, change, p = _tuned(shape, min_positive_grade=1)
    assert not (change < 0 and p < 0.05), (change, p)
    assert adapter.metadata["selection"]["chosen_step"] == 0


def test_the_defaults_are_not_worse(shape):
    adapter, change, p = _tuned(shape)
    assert not (change < 0 and p < 0.05), (change, p)
    assert adapter.metadata["min_positive_grade"] == 2 and adapter.metadata["selection"]["dev_queries"] >= 30
