"""The real bundled all-MiniLM-L6-v2, offline (marked ``model``: a few seconds of CPU each)."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.encoders.registry import load_encoder
from explorer.encoders.sentence import SentenceTransformerEncoder

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def minilm():
    return SentenceTransformerEncoder("minilm", cache_dir=None)


def test_the_bundled_model_loads_offline_through_the_registry(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    enc = load_encoder("minilm")
    assert isinstance(enc, SentenceTransformerEncoder) and enc.name == "all-MiniLM-L6-v2"
    out = enc.encode(["Where is the Eiffel tower?"], "query")
    assert out.shape == (1, 384) and enc.dim == 384
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)


def test_similar_sentences_are_closer_than_unrelated_ones(minilm):
    a, b, c = minilm.encode([
        "A man is playing a guitar on stage.",
        "Someone performs music with a guitar.",
        "The central bank raised interest rates again.",
    ])
    assert float(a @ b) > float(a @ c) + 0.3
    assert minilm.kind_fingerprint("query") == minilm.kind_fingerprint("passage")  # a symmetric model


def test_a_saved_copy_keeps_the_fingerprint_only_while_the_weights_are_the_same(minilm, tmp_path):
    import torch

    minilm.model.save(str(tmp_path / "copy"))
    copy = load_encoder(str(tmp_path / "copy"))
    assert copy.fingerprint == minilm.fingerprint  # re-saved files differ byte for byte, the model does not
    np.testing.assert_allclose(copy.encode(["same model"]), minilm.encode(["same model"]), atol=1e-6)

    tuned = SentenceTransformerEncoder(str(tmp_path / "copy"), cache_dir=None).model
    with torch.no_grad():
        tuned[0].auto_model.encoder.layer[3].output.dense.weight.mul_(1.01)
    tuned.save(str(tmp_path / "tuned"))
    assert load_encoder(str(tmp_path / "tuned")).fingerprint != minilm.fingerprint
