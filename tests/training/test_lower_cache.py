"""Cached lower layers: same vectors as the plain model, only the upper layers train, the model is restored."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.core.errors import TrainingError
from explorer.training.config import TrainConfig
from explorer.training.full import train_full
from explorer.training.lower_cache import cached_lower_layers, transformer_parts


def _model(path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device="cpu")


TEXTS = ["rain", "moon ocean", "python is a snake", "music and more music here"]  # distinct token ids


def test_cached_model_gives_the_plain_vectors(tiny_deep_model_dir):
    model = _model(tiny_deep_model_dir)
    plain = model.encode(TEXTS)
    with cached_lower_layers(model, 2, TEXTS[:2]) as cache:
        assert len(model[0].auto_model.encoder.layer) == 1  # only the top layer is left in the encoder
        cached = model.encode(TEXTS)
        assert cache.hits == 2 and cache.misses == 2  # two precomputed, two computed when asked
        model.encode(TEXTS[2:])
        assert cache.misses == 4  # rows computed on demand are not kept: memory holds only the precomputed texts
    np.testing.assert_allclose(cached, plain, atol=1e-5)  # float32 storage: the plain vectors
    assert len(transformer_parts(model)[2]) == 3
    np.testing.assert_allclose(model.encode(TEXTS), plain, atol=1e-6)


def test_only_the_upper_layers_train(tiny_deep_model_dir, tiny_data, tmp_path):
    import torch

    before = {n: p.detach().clone() for n, p in _model(tiny_deep_model_dir).named_parameters()}
    config = TrainConfig(base_model=tiny_deep_model_dir, epochs=1, batch_size=8, train_layers=1,
                         eval_every_steps=0, learning_rate=1e-3)
    encoder = train_full(tiny_data, config, out_dir=tmp_path / "model")
    after = dict(_model(str(tmp_path / "model")).named_parameters())
    changed = {n for n, p in after.items() if not torch.equal(p.detach(), before[n])}
    assert changed and all(".layer.2." in n for n in changed)
    # The trained model is evaluated through the frozen bottom it trained on, with the saved model's vectors.
    hits = encoder.bottom.hits
    texts = [text for text in tiny_data.queries.values()][:6]
    through_bottom = encoder.encode(texts, use_cache=False)
    assert encoder.bottom.hits > hits
    assert len(transformer_parts(encoder.model)[2]) == 3  # the model has all its layers again after each batch
    # The plain model here runs in float32; the encoder under bf16 autocast where the CPU has it (AMX /
    # AVX512-BF16), and then agrees at bf16's precision (2e-5 measured), else to float error.
    np.testing.assert_allclose(through_bottom, _model(str(tmp_path / "model")).encode(texts, normalize_embeddings=True),
                               atol=1e-3 if encoder.bf16 else 1e-5)


def test_bad_layer_counts_are_refused(tiny_deep_model_dir, tiny_model_dir):
    with pytest.raises(TrainingError, match="between 1 and 2"):
        with cached_lower_layers(_model(tiny_deep_model_dir), 3):
            pass
    with pytest.raises(TrainingError, match="train_layers must be"):
        TrainConfig(train_layers=-1).validate()
