"""The encoder base class: batching, order, de-duplication, normalization, progress and the disk cache."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.encoders import base, cache
from explorer.encoders.base import Encoder
from explorer.core.errors import ModelError


class Counting(Encoder):
    """Embeds a text as (length, number of vowels, 1) * scale, recording every batch it is given."""

    name = "counting"

    def __init__(self, cache_dir=None, tag="a", batch_size=2, scale=3.0, asymmetric=False):
        super().__init__(cache_dir)
        self.tag, self.batch_size, self.scale, self.asymmetric = tag, batch_size, scale, asymmetric
        self.batches: list[list[str]] = []

    @property
    def fingerprint(self):
        return f"counting-{self.tag}"

    def kind_fingerprint(self, kind):
        return f"{self.fingerprint}-{kind}" if self.asymmetric else self.fingerprint

    def embed_batch(self, texts, kind):
        self.batches.append(list(texts))
        return np.array([[len(t), sum(c in "aeiou" for c in t), 1.0] for t in texts], dtype=np.float32) * self.scale


class Forbidden(Counting):
    def embed_batch(self, texts, kind):
        raise AssertionError(f"embed_batch called with {texts}")


TEXTS = ["a", "bbb", "cc", "dddd", "eeeee"]


def expected(text):
    v = np.array([len(text), sum(c in "aeiou" for c in text), 1.0])
    return v / np.linalg.norm(v)


def test_batches_are_bounded_longest_first_and_rows_keep_input_order():
    enc = Counting(batch_size=2)
    out = enc.encode(TEXTS)
    assert [len(b) for b in enc.batches] == [2, 2, 1]
    assert enc.batches[0] == ["eeeee", "dddd"]  # longest first: batches pad little
    np.testing.assert_allclose(out, np.stack([expected(t) for t in TEXTS]), rtol=1e-6)
    assert out.dtype == np.float32 and out.shape == (5, 3)


def test_duplicates_are_embedded_once_and_returned_everywhere():
    enc = Counting(batch_size=10)
    out = enc.encode(["x", "yy", "x", "x"])
    assert enc.batches == [["yy", "x"]]
    np.testing.assert_array_equal(out[0], out[2])
    np.testing.assert_array_equal(out[0], out[3])


def test_rows_are_unit_length_and_zero_rows_stay_zero():
    rows = base.normalize_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(rows, [[0.6, 0.8], [0.0, 0.0]])
    out = Counting(scale=17.0).encode(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-6)


def test_progress_counts_cached_texts_first_then_each_batch(tmp_path):
    enc = Counting(cache_dir=tmp_path, batch_size=2)
    enc.encode(["a", "bbb"])
    calls = []
    enc.encode(["a", "bbb", "cc", "cc", "dddd", "eeeee"],
               progress=lambda stage, done, total: calls.append((stage, done, total)))
    # 2 cached, then batch [eeeee, dddd] (+2), then [cc] which stands for two rows (+2).
    assert calls == [("embedding", 2, 6), ("embedding", 4, 6), ("embedding", 6, 6)]


def test_second_encode_never_calls_embed_batch(tmp_path):
    enc = Counting(cache_dir=tmp_path)
    first = enc.encode(TEXTS, "query")
    enc.embed_batch = Forbidden.embed_batch.__get__(enc)
    np.testing.assert_array_equal(enc.encode(TEXTS, "query"), first)


def test_a_fresh_instance_reads_the_cache_from_disk(tmp_path):
    first = Counting(cache_dir=tmp_path).encode(TEXTS)
    cache.forget_memory()
    assert list((tmp_path / "counting-a").glob("*.npz")), "nothing was written to disk"
    np.testing.assert_array_equal(Forbidden(cache_dir=tmp_path).encode(TEXTS), first)


def test_distinct_fingerprints_do_not_share_a_cache(tmp_path):
    Counting(cache_dir=tmp_path, tag="a").encode(TEXTS)
    other = Counting(cache_dir=tmp_path, tag="b")
    other.encode(TEXTS)
    assert sum(len(b) for b in other.batches) == len(TEXTS)


@pytest.mark.parametrize("asymmetric, embedded_again", [(False, 0), (True, len(TEXTS))])
def test_query_and_passage_share_a_cache_only_when_kind_fingerprints_agree(tmp_path, asymmetric, embedded_again):
    enc = Counting(cache_dir=tmp_path, asymmetric=asymmetric)
    enc.encode(TEXTS, "query")
    enc.batches.clear()
    enc.encode(TEXTS, "passage")
    assert sum(len(b) for b in enc.batches) == embedded_again


def test_use_cache_false_and_no_cache_dir_always_embed(tmp_path):
    enc = Counting(cache_dir=tmp_path)
    enc.encode(TEXTS)
    enc.batches.clear()
    enc.encode(TEXTS, use_cache=False)
    assert sum(len(b) for b in enc.batches) == len(TEXTS)
    uncached = Counting(cache_dir=None)
    uncached.encode(TEXTS)
    uncached.encode(TEXTS)
    assert sum(len(b) for b in uncached.batches) == 2 * len(TEXTS)


def test_work_done_before_a_failure_is_cached(tmp_path):
    class FailsOnSecondBatch(Counting):
        def embed_batch(self, texts, kind):
            if len(self.batches) == 1:
                self.batches.append(list(texts))
                raise RuntimeError("boom")
            return super().embed_batch(texts, kind)

    enc = FailsOnSecondBatch(cache_dir=tmp_path, batch_size=2)
    with pytest.raises(RuntimeError, match="boom"):
        enc.encode(TEXTS)
    cache.forget_memory()
    retry = Counting(cache_dir=tmp_path, batch_size=2)
    retry.encode(TEXTS)
    assert sorted(t for b in retry.batches for t in b) == ["a", "bbb", "cc"]  # eeeee, dddd came from disk


def test_new_vectors_are_written_in_few_large_shards(tmp_path, monkeypatch):
    monkeypatch.setattr(base, "CACHE_FLUSH_EVERY", 10)
    enc = Counting(cache_dir=tmp_path, batch_size=3)
    enc.encode([f"text {i}" for i in range(25)])
    assert len(list((tmp_path / "counting-a").glob("*.npz"))) == 3  # 12 + 12 + 1 rows


def test_bad_embed_batch_output_is_reported():
    class WrongRows(Counting):
        def embed_batch(self, texts, kind):
            return np.ones((len(texts) + 1, 3))

    class NotFinite(Counting):
        def embed_batch(self, texts, kind):
            return np.full((len(texts), 3), np.nan)

    with pytest.raises(RuntimeError, match="returned shape"):
        WrongRows().encode(TEXTS)
    with pytest.raises(ModelError, match="non-finite"):
        NotFinite().encode(TEXTS)


def test_empty_input_gives_an_empty_matrix_of_the_right_width(fake_encoder):
    assert fake_encoder.encode([]).shape == (0, 64)


def test_the_same_request_again_is_the_same_read_only_array_without_hashing(tmp_path, monkeypatch):
    enc = Counting(cache_dir=tmp_path)
    texts = [f"text number {i}" for i in range(50)]
    first = enc.encode(texts)
    with pytest.raises(ValueError, match="read-only"):
        first[0, 0] = 1.0  # shared with every later caller: nobody may change it
    hashed = []
    monkeypatch.setattr(base, "text_key", lambda t: hashed.append(t) or cache.text_key(t))
    again = enc.encode(list(texts))  # another list of equal texts: the same request
    assert again is first and hashed == []
    assert enc.encode(texts[::-1]) is not first and len(hashed) == len(texts), "another order is another request"
    assert Counting(cache_dir=tmp_path, tag="b").encode(texts) is not first, "another encoder is another request"


def test_results_without_a_cache_are_read_only_too():
    out = Counting().encode(TEXTS)
    assert not out.flags.writeable and Counting().encode(TEXTS) is not out


def test_the_cache_keeps_locations_in_memory_and_reads_vectors_from_its_shards(tmp_path, monkeypatch):
    enc = Counting(cache_dir=tmp_path)
    texts = [f"passage {i} " + "x" * (i % 7) for i in range(3000)]
    first = enc.encode(texts)
    cache.forget_memory()
    store = cache.EmbeddingCache(tmp_path / "counting-a")
    keys = [cache.text_key(t) for t in texts]
    assert cache._MEMORY.total_bytes == 0 and len(store) == len(texts)
    assert cache._MEMORY.total_bytes <= len(texts) * 200, "the index holds locations, not vectors"
    rows, found = store.read(keys[::-1] + ["not a key"])
    assert found.tolist() == [True] * len(texts) + [False]
    np.testing.assert_array_equal(rows[: len(texts)], first[::-1])
    # A shard removed behind the cache's back: its texts are embedded again, the others still read.
    shard = sorted((tmp_path / "counting-a").glob("*.npz"))[0]
    shard.unlink()
    again = Counting(cache_dir=tmp_path)
    np.testing.assert_array_equal(again.encode(texts + ["one more"])[: len(texts)], first)
    assert 0 < sum(len(b) for b in again.batches) - 1 < len(texts)


def test_a_remembered_result_forgotten_is_read_back_the_same(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "_RECENT", cache.ByteLRU(0, sizeof=lambda v: v.nbytes))
    enc = Counting(cache_dir=tmp_path)
    first = enc.encode(TEXTS)
    enc.encode(["something else"])  # the newest result only is kept, over a budget of 0
    enc.embed_batch = Forbidden.embed_batch.__get__(enc)
    second = enc.encode(TEXTS)
    assert second is not first
    np.testing.assert_array_equal(second, first)


def test_an_index_over_its_budget_forgets_old_shards_and_finds_their_texts_on_disk(tmp_path, monkeypatch):
    monkeypatch.setattr(cache._MEMORY, "max_bytes", 1500 * cache._ENTRY_BYTES)
    texts = [f"passage {i}" for i in range(4000)]  # four shards of 1,024 texts at most
    first = Counting(cache_dir=tmp_path).encode(texts)
    store = cache.EmbeddingCache(tmp_path / "counting-a")
    assert len(store) < len(texts) and cache._MEMORY.total_bytes <= 1500 * cache._ENTRY_BYTES
    assert store.missing([cache.text_key(t) for t in texts[:10]] + ["not a key"]) == {"not a key"}
    cache._RECENT.clear()  # only the cache is left to answer
    np.testing.assert_array_equal(Forbidden(cache_dir=tmp_path).encode(texts), first)


def test_the_batch_size_is_read_after_the_runtime_is_chosen():
    class Switches(Counting):
        def _before_embedding(self, texts, kind):
            self.batch_size = 1  # as an encoder that moved to a runtime with smaller batches

    enc = Switches(batch_size=10)
    enc.encode(TEXTS)
    assert [len(b) for b in enc.batches] == [1] * len(TEXTS)


def test_a_sentence_encoder_batches_by_its_runtime_unless_told():
    from explorer.encoders.sentence import ENCODE_BATCH_SIZE, ONNX_BATCH_SIZE, SentenceTransformerEncoder

    default, told = SentenceTransformerEncoder("minilm", cache_dir=None), SentenceTransformerEncoder(
        "minilm", cache_dir=None, batch_size=4)
    assert (default.batch_size, told.batch_size) == (ENCODE_BATCH_SIZE, 4)
    default._onnx = told._onnx = object()  # as once onnxruntime is loaded
    assert (default.batch_size, told.batch_size) == (ONNX_BATCH_SIZE, 4)
    with pytest.raises(ValueError, match="at least 1"):
        SentenceTransformerEncoder("minilm", cache_dir=None, batch_size=0)
