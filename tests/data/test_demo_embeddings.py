"""The demo's shipped baseline embeddings: used only by the exact encoder that made them, equal to fresh ones."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.data.demo import load_demo
from explorer.data.demo_embeddings import SHARD_NAME, VECTORS, seed_demo_embeddings, shipped_fingerprint


def test_another_encoder_never_reads_them(fake_encoder):
    assert seed_demo_embeddings(fake_encoder) == 0
    assert not (fake_encoder.cache_dir / shipped_fingerprint()).exists()


def test_they_cover_every_demo_text():
    from explorer.encoders.cache import text_key

    dataset = load_demo()
    with np.load(VECTORS) as data:
        keys = set(data["keys"].tolist())
        assert data["vectors"].dtype == np.float32 and np.allclose(np.linalg.norm(data["vectors"], axis=1), 1, atol=1e-5)
    texts = set(dataset.queries.values()) | {p.full_text for p in dataset.corpus.values()}
    assert {text_key(t) for t in texts} <= keys


@pytest.mark.model
def test_the_default_encoder_gets_them_and_they_match_a_fresh_encode(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_BF16", "0")
    from explorer.encoders.registry import load_encoder

    encoder = load_encoder("minilm")
    # A changed default encoder (weights, sequence length, precision) makes the shipped file stale: regenerate it.
    assert encoder.fingerprint == shipped_fingerprint(), "run: python -m explorer.data.demo_embeddings"
    assert seed_demo_embeddings(encoder) > 0
    assert (encoder.cache_dir / encoder.fingerprint / SHARD_NAME).is_file()
    dataset = load_demo()
    texts = [p.full_text for p in list(dataset.corpus.values())[:3]] + list(dataset.queries.values())[:2]
    calls = []
    original = encoder.embed_batch
    monkeypatch.setattr(encoder, "embed_batch", lambda batch, kind: calls.append(batch) or original(batch, kind))
    seeded = encoder.encode(texts)
    assert calls == []  # every demo text came from the shipped file
    fresh = encoder.encode(texts, use_cache=False)
    np.testing.assert_allclose(seeded, fresh, atol=1e-5)
