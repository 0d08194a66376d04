"""The linear adapter encoder: identity behaviour, query-only passages from the base cache, files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from explorer.encoders.adapter import AdapterEncoder
from explorer.encoders.fake import FakeEncoder
from explorer.core.errors import ModelError

TEXTS = ["the quick brown fox", "a lazy dog sleeps", "foxes and dogs", "quantum chromodynamics"]


class CountingFake(FakeEncoder):
    """Counts texts actually embedded, to prove cached vectors are reused."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.embedded = 0

    def embed_batch(self, texts, kind):
        self.embedded += len(texts)
        return super().embed_batch(texts, kind)


@pytest.fixture
def base(tmp_path):
    return CountingFake(dim=16, cache_dir=tmp_path / "cache")


def rotation(dim: int, seed: int = 0) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(dim, dim)))
    return q.astype(np.float32)


def test_identity_reproduces_the_base(base):
    adapter = AdapterEncoder(base, np.eye(16), query_only=False)
    for kind in ("query", "passage"):
        np.testing.assert_allclose(adapter.encode(TEXTS, kind), base.encode(TEXTS, kind), atol=1e-6)
    assert adapter.dim == 16 and adapter.name == "fake+adapter"


def test_query_side_is_mapped_and_normalized(base):
    w = rotation(16) * 3.0
    adapter = AdapterEncoder(base, w)
    expected = base.encode(TEXTS, "query") @ w
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    got = adapter.encode(TEXTS, "query")
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_query_only_leaves_passages_to_the_base_and_its_cache(base):
    base.encode(TEXTS, "passage")
    assert base.embedded == 4
    adapter = AdapterEncoder(base, rotation(16), query_only=True)
    assert adapter.kind_fingerprint("passage") == base.kind_fingerprint("passage")
    assert adapter.kind_fingerprint("query") != base.kind_fingerprint("query")
    assert adapter.fingerprint.startswith(base.fingerprint) and adapter.fingerprint != base.fingerprint
    np.testing.assert_array_equal(adapter.encode(TEXTS, "passage"), base.encode(TEXTS, "passage"))
    adapter.encode(TEXTS, "query")  # same texts, so the fake's query vectors come from its cache too
    assert base.embedded == 4
    both = AdapterEncoder(base, rotation(16), query_only=False)
    assert not np.allclose(both.encode(TEXTS, "passage"), base.encode(TEXTS, "passage"))


def test_fingerprint_depends_on_weights(base):
    a = AdapterEncoder(base, np.eye(16))
    b = AdapterEncoder(base, np.eye(16) * 2)
    c = AdapterEncoder(base, np.eye(16), query_only=False)
    assert len({a.fingerprint, b.fingerprint, c.fingerprint}) == 3
    assert AdapterEncoder(base, np.eye(16)).fingerprint == a.fingerprint


def test_save_load_round_trip(base, tmp_path):
    adapter = AdapterEncoder(base, rotation(16), bias=np.linspace(-1, 1, 16), query_only=False, metadata={"loss": 0.5})
    folder = adapter.save(tmp_path / "adapter", base_spec="fake")
    assert {p.name for p in folder.iterdir()} == {"adapter.safetensors", "adapter.json"}
    config = json.loads((folder / "adapter.json").read_text())
    assert config["base"]["spec"] == "fake" and config["dim_in"] == 16 and config["query_only"] is False
    back = AdapterEncoder.load(folder, base)
    assert back.fingerprint == adapter.fingerprint and back.metadata == {"loss": 0.5}
    np.testing.assert_array_equal(back.encode(TEXTS, "query"), adapter.encode(TEXTS, "query"))


def test_npz_weights_load_without_pickle(base, tmp_path):
    folder = AdapterEncoder(base, rotation(16)).save(tmp_path / "a")
    weights = AdapterEncoder.load(folder, base).weights
    (folder / "adapter.safetensors").unlink()
    np.savez(folder / "adapter.npz", weights=weights)
    config = json.loads((folder / "adapter.json").read_text())
    config["weights_file"] = "adapter.npz"
    (folder / "adapter.json").write_text(json.dumps(config))
    np.testing.assert_array_equal(AdapterEncoder.load(folder, base).weights, weights)
    np.savez(folder / "adapter.npz", weights=np.array([object()], dtype=object))
    with pytest.raises(ModelError, match="Cannot read adapter weights"):
        AdapterEncoder.load(folder, base)


def test_load_on_a_base_of_another_size_is_a_model_error(base, tmp_path):
    folder = AdapterEncoder(base, rotation(16)).save(tmp_path / "a")
    with pytest.raises(ModelError, match="expects 16-dimensional embeddings"):
        AdapterEncoder.load(folder, FakeEncoder(dim=8))


def test_load_checks_files(base, tmp_path):
    with pytest.raises(ModelError, match="adapter.json is missing"):
        AdapterEncoder.load(tmp_path, base)
    folder = AdapterEncoder(base, rotation(16)).save(tmp_path / "a")
    config = json.loads((folder / "adapter.json").read_text())
    (folder / "adapter.json").write_text(json.dumps(config | {"dim_in": 12}))
    with pytest.raises(ModelError, match="do not belong together"):
        AdapterEncoder.load(folder, base)
    other = FakeEncoder(dim=16, seed=3)
    folder = AdapterEncoder(base, rotation(16)).save(tmp_path / "b")
    with pytest.warns(UserWarning, match="trained on base"):
        AdapterEncoder.load(folder, other)
    with pytest.raises(ModelError, match="trained on base"):
        AdapterEncoder.load(folder, other, strict=True)


def test_bad_weights_are_rejected(base):
    with pytest.raises(ValueError, match="must keep the embedding size"):
        AdapterEncoder(base, np.ones((16, 8)), query_only=True)
    with pytest.raises(ValueError, match="NaN"):
        AdapterEncoder(base, np.full((16, 16), np.nan))
    assert AdapterEncoder(base, np.ones((16, 8)), query_only=False).encode(TEXTS, "passage").shape == (4, 8)
