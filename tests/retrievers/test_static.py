"""Static (model2vec) models distilled on this project's transformers 5, made once and cached; the registry's
refusal of BM25 as an encoder; and the real bundled model in a hybrid."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.core.errors import ModelError
from explorer.encoders import registry
from explorer.encoders.static import StaticEncoder, distilled_folder

from retriever_builders import training_helpers


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    return str(training_helpers().build_tiny_model(tmp_path_factory.mktemp("tiny-bert")))


def test_a_static_model_is_distilled_once_and_cached(tiny_model, tmp_path, monkeypatch):
    registry.clear_cache()
    encoder = registry.load_encoder(f"static:{tiny_model}")
    assert isinstance(encoder, StaticEncoder) and encoder.name.startswith("static (")
    vectors = encoder.encode(["coffee espresso beans", "rain clouds storm"], "passage")
    # The tiny BERT's hidden size: the table came out of its forward passes (model2vec keeps only [PAD] and
    # [UNK] of its made-up vocabulary, so the vectors themselves say little; the benchmark distills MiniLM).
    assert vectors.shape == (2, 32) and encoder.dim == 32 and np.isfinite(vectors).all()
    source = registry.load_encoder(tiny_model)
    folder = distilled_folder(source, registry._cache_root(registry._server_settings()))
    assert folder == encoder.folder and folder.parent.name == "static"

    def never(*args, **kwargs):
        raise AssertionError("distilled again")

    monkeypatch.setattr("model2vec.distill.distill_from_model", never)
    assert distilled_folder(source, folder.parents[1]) == folder  # the cached folder is reused


def test_bm25_is_not_an_encoder():
    with pytest.raises(ModelError, match="no vectors") as info:
        registry.load_encoder("bm25")
    assert "\n" not in str(info.value)


def test_an_adapter_run_cannot_be_distilled():
    from explorer.encoders.fake import FakeEncoder

    with pytest.raises(ModelError, match="needs a transformer"):
        distilled_folder(FakeEncoder(), registry._cache_root(registry._server_settings()))


@pytest.mark.model
def test_the_bundled_model_in_a_hybrid_finds_the_topics(words_dataset):
    from explorer.evaluation.retrieval import evaluate_retriever
    from explorer.retrievers import load_retriever

    registry.clear_cache()
    retriever = load_retriever("hybrid")
    assert retriever.name == "BM25 + MiniLM (bundled) (hybrid)" and retriever.dense.encoder.name == "all-MiniLM-L6-v2"
    result = evaluate_retriever(words_dataset, retriever, "test", k=10)
    assert result.metrics["ndcg@10"] > 0.8 and retriever.dim == 384


def test_the_int8_onnx_form_is_made_once_and_stays_close(tiny_model):
    from explorer.encoders.static import OnnxInt8Encoder

    registry.clear_cache()
    encoder = registry.load_encoder(f"onnx-int8:{tiny_model}")
    assert isinstance(encoder, OnnxInt8Encoder) and encoder.name.endswith("int8 ONNX")
    texts = ["coffee espresso beans", "rain clouds storm", "python code snake"]
    int8 = encoder.encode(texts, "passage", use_cache=False)
    full = registry.load_encoder(tiny_model).encode(texts, "passage", use_cache=False)
    assert np.all(np.sum(int8 * full, axis=1) > 0.9)  # quantized, so close but not equal
    assert encoder.fingerprint != registry.load_encoder(tiny_model).fingerprint
    assert (encoder.folder / "export.json").is_file()


@pytest.mark.model
def test_the_bundled_models_static_form_is_shipped_and_never_distilled(monkeypatch, tmp_path):
    """``static`` is ready at once: the bundled MiniLM's distillation ships with the code (no minute of work, no
    transformer in memory on a small server), and it is the model distilled from the bundled one."""
    from explorer.encoders.static import SHIPPED, SHIPPED_SOURCE, distilled_folder

    def never(*args, **kwargs):
        raise AssertionError("distilled instead of using the shipped table")

    monkeypatch.setattr("model2vec.distill.distill_from_model", never)
    registry.clear_cache()
    encoder = registry.load_encoder("static")
    assert isinstance(encoder, StaticEncoder) and encoder.folder == SHIPPED and encoder.dim == 256
    vectors = encoder.encode(["caffeine improves alertness", "coffee keeps you awake", "rain clouds storm"], "query")
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]  # a real table: related texts are closer
    # It was distilled from exactly the bundled model (a new bundled model would need a new shipped table).
    bundled = registry.load_encoder("minilm")
    assert bundled.fingerprint == SHIPPED_SOURCE
    assert distilled_folder(bundled, tmp_path) == SHIPPED
