"""The fake (hashing-trick) encoder: its vectors are those of the original one-token-at-a-time algorithm, bit for
bit, whatever the batch, the memo's state or the text; caches and other tests depend on them."""

from __future__ import annotations

import hashlib
import random
import re
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.encoders import fake
from explorer.encoders.fake import FakeEncoder


def reference(texts: list[str], dim: int = 64, seed: int = 0) -> np.ndarray:
    """The original algorithm: each word adds +-2 to its bucket and +-1/2 to each of its padded character
    trigrams' buckets, summed in float64 and cast to float32; a text without a word gets 1 in "empty"'s bucket."""

    def bucket(token: str) -> tuple[int, float]:
        h = zlib.crc32(f"{seed}:{token}".encode())
        return h % dim, 1.0 if (h >> 16) & 1 else -1.0

    out = np.zeros((len(texts), dim))
    for row, text in enumerate(texts):
        words = re.findall(r"[a-z0-9]+", text.lower())
        if not words:
            out[row, bucket("empty")[0]] += 1.0
        for word in words:
            b, sign = bucket("w:" + word)
            out[row, b] += 2.0 * sign
            padded = f"#{word}#"
            for i in range(len(padded) - 2):
                b, sign = bucket("c:" + padded[i : i + 3])
                out[row, b] += 0.5 * sign
    return out.astype(np.float32)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype == np.float32 and a.shape == b.shape and a.tobytes() == b.tobytes()


EDGE = [
    "",
    "   \n\t",
    "!!! ?? -- ...",
    "a",
    "A a A a a",  # a word repeated within a text
    "the the the cat the",
    "İstanbul \u212aelvin ΣΑΣ σας",  # non-ASCII letters that lower-case to ASCII ones, or not
    "é à ü ß 中文",
    "abc\x00def",
    "42 4242 0 007",
    "x" * 3000,
    "word " * 500,
]
PROSE = [
    "Zinc finger proteins bind DNA; zinc ions stabilise the fold of the finger.",
    "The cohort (n = 1,024) showed a 12% reduction in LDL cholesterol after 6 weeks.",
    "BRCA1 and BRCA2 mutations raise the risk of breast and ovarian cancer.",
    "Titles And Text: Mixed CASE, punctuation—dashes—and numbers like 3.14 or 2e10.",
]


def random_texts(n: int, rng: random.Random) -> list[str]:
    alphabet = "abcxyzABZ0189 .,-\n\u0130\u212aéß"
    vocab = ["protein", "cell", "the", "a", "of", "gene", "expression", "t", "1", "alpha2"]
    texts = []
    for _ in range(n):
        if rng.random() < 0.5:
            texts.append("".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 80))))
        else:
            texts.append(" ".join(rng.choice(vocab) for _ in range(rng.randrange(0, 40))))
    return texts


@pytest.mark.parametrize(("dim", "seed"), [(64, 0), (32, 7), (2, 1), (300, 3)])
def test_vectors_are_bitwise_those_of_the_reference(dim, seed):
    texts = EDGE + PROSE + random_texts(400, random.Random(seed))
    encoder = FakeEncoder(dim=dim, seed=seed)
    for size in (1, 5, 32, len(texts)):  # the memo fills across batches of every size
        got = np.concatenate([encoder.embed_batch(texts[i : i + size], "passage") for i in range(0, len(texts), size)])
        assert same_bits(got, reference(texts, dim, seed))


_TEXT = st.text(alphabet=st.sampled_from("aZ09 é\u0130\u212a.") | st.characters(), max_size=60)


@settings(max_examples=150, deadline=None)
@given(batches=st.lists(st.lists(_TEXT, min_size=1, max_size=6), min_size=1, max_size=4))
def test_any_text_in_any_batch_gets_the_reference_vector(batches):
    encoder = FakeEncoder(dim=16)  # few buckets: many collisions, signs cancelling to zero
    for batch in batches:
        assert same_bits(encoder.embed_batch(batch, "passage"), reference(batch, 16))


def test_vectors_are_pinned():
    """Independent of the reference above: the digest of vectors the original implementation produced."""
    texts = ["The cat sat on the mat.", "", "!!!", "Zinc finger proteins bind DNA; zinc ions matter."]
    texts.append("İstanbul \u212aelvin")
    digests = {
        (64, 0): "5a27abfdf9a29ca0934051776d7eee9ea2ca5d58c3b82b0668d3965b5d5e5459",
        (32, 7): "8dc698a516b80fde9d8763dc24e5103bd0777f404d4e7927d8147ccb841c7065",
    }
    for (dim, seed), digest in digests.items():
        assert hashlib.sha256(FakeEncoder(dim, seed).embed_batch(texts, "passage").tobytes()).hexdigest() == digest
        assert FakeEncoder(dim, seed).fingerprint == f"fake-d{dim}-s{seed}"


def test_a_text_without_words_gets_the_empty_bucket():
    vectors = FakeEncoder(dim=16).embed_batch(["", "?!", "a"], "query")
    assert same_bits(vectors[0], vectors[1])
    assert np.count_nonzero(vectors[0]) == 1 and vectors[0].max() == 1.0
    assert FakeEncoder(dim=16).embed_batch([], "query").shape == (0, 16)


def test_the_memo_stays_bounded_and_is_dropped_only_between_batches(monkeypatch):
    monkeypatch.setattr(fake, "MEMO_BYTES", 8 * 64 * 50)  # room for 50 words at dim 64
    texts = random_texts(300, random.Random(5)) + [" ".join(f"w{i}" for i in range(120))]  # a batch of 120 new words
    encoder, most = FakeEncoder(), 50
    for size in (8, 1, 300):
        for i in range(0, len(texts), size):
            batch = texts[i : i + size]
            assert same_bits(encoder.embed_batch(batch, "passage"), reference(batch))
            # Over the bound only while one batch needs more words than it holds ("" stands for no word).
            most = max(most, len({w for t in batch for w in re.findall(r"[a-z0-9]+", t.lower()) or [""]}))
            assert len(encoder._ids) <= most and len(encoder._table) <= most
    assert most > 50

def test_vectors_do_not_depend_on_what_the_encoder_saw_before():
    texts = PROSE + EDGE
    warm = FakeEncoder()
    warm.embed_batch(random_texts(200, random.Random(9)), "passage")
    assert same_bits(warm.embed_batch(texts, "query"), FakeEncoder().embed_batch(texts, "query"))
