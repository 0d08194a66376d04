"""A deterministic, model-free encoder for tests and fast offline demos.

It hashes lower-cased words and character trigrams into a fixed number of buckets (the "hashing trick"),
so texts that share words get similar vectors: retrieval works well enough for tests to assert real
behaviour, and it needs no model, no torch and no network. Select it in the app with
``EXPLORER_ENCODER=fake``.

It is fast enough for scale benchmarks (200,000 passages in seconds): each distinct word is hashed once into
a row of a table (the sum of its signed bucket weights), and a batch is one sparse product of its texts' word
counts by that table, leaving only the regular expression and a dict look-up per word to Python. The table is
float64, so every sum is exact, as it was when each token's weights were added one by one: the vectors have
not changed since then, bit for bit, and caches keyed by :attr:`FakeEncoder.fingerprint` stay valid.
"""

from __future__ import annotations

import re
import threading
import zlib
from itertools import chain, repeat
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from explorer.encoders.base import Encoder, Kind

_WORD = re.compile(r"[a-z0-9]+")
MEMO_BYTES = 64 << 20
"""Memory for remembered words' rows (``8 * dim`` bytes each): a batch that would pass it first drops the memo."""


class FakeEncoder(Encoder):
    """Hashing-trick encoder: deterministic across processes and machines.

    Args:
        dim: number of hash buckets (the embedding size).
        seed: changes the hashing, giving a different but equally deterministic encoder.
        cache_dir: embedding cache root, or None.
    """

    name = "fake"

    def __init__(self, dim: int = 64, seed: int = 0, cache_dir: Path | None = None) -> None:
        super().__init__(cache_dir)
        if dim < 2:
            raise ValueError(f"dim must be at least 2, got {dim}")
        self.dim_ = int(dim)
        self.seed = int(seed)
        self._dim = self.dim_
        self._ids: dict[str, int] = {}
        """Each remembered word's row in :attr:`_table`."""
        self._table = np.zeros((0, self.dim_))
        self._lock = threading.Lock()  # encoders are shared within a process: one batch at a time uses the memo

    @property
    def fingerprint(self) -> str:
        return f"fake-d{self.dim_}-s{self.seed}"

    def _bucket(self, token: str) -> tuple[int, float]:
        h = zlib.crc32(f"{self.seed}:{token}".encode())
        return h % self.dim_, 1.0 if (h >> 16) & 1 else -1.0

    def _weights(self, word: str) -> list[tuple[int, float]]:
        """The buckets and signed weights one word adds: itself (weight 2), then its character trigrams (1/2
        each); ``""`` stands for a text without any word, which gets the bucket of ``"empty"`` (weight 1)."""
        if not word:
            return [(self._bucket("empty")[0], 1.0)]
        padded = f"#{word}#"
        bucket, sign = self._bucket("w:" + word)
        trigrams = [self._bucket("c:" + padded[i : i + 3]) for i in range(len(padded) - 2)]
        return [(bucket, 2.0 * sign)] + [(b, 0.5 * s) for b, s in trigrams]

    @property
    def _room(self) -> int:
        """How many words the memo holds at most (more only while one batch needs more)."""
        return MEMO_BYTES // (8 * self.dim_)

    def _learn(self, words: list[str]) -> None:
        """Hash new words into rows of the table, doubling it (up to :attr:`_room` rows) when full."""
        start, stop = len(self._ids), len(self._ids) + len(words)
        if stop > len(self._table):
            grown = np.zeros((max(stop, min(2 * len(self._table), self._room)), self.dim_))
            grown[:start] = self._table[:start]
            self._table = grown
        flat, weights = [], []
        for row, word in enumerate(words):
            for bucket, weight in self._weights(word):
                flat.append(row * self.dim_ + bucket)
                weights.append(weight)
        self._table[start:stop] = np.bincount(flat, weights, minlength=len(words) * self.dim_).reshape(-1, self.dim_)
        self._ids.update(zip(words, range(start, stop)))

    def embed_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim_), dtype=np.float32)
        per_text = [_WORD.findall(text.lower()) or [""] for text in texts]  # "": a text without words
        indptr = np.zeros(len(texts) + 1, dtype=np.intp)
        np.cumsum([len(words) for words in per_text], out=indptr[1:])
        with self._lock:
            cols = np.fromiter(map(self._ids.get, chain.from_iterable(per_text), repeat(-1)), np.intp, indptr[-1])
            missing = np.flatnonzero(cols < 0)
            if missing.size:
                words = list(chain.from_iterable(per_text))
                new = dict.fromkeys(words[i] for i in missing)
                if len(self._ids) + len(new) > self._room:  # drop the memo, never in the middle of a batch
                    self._ids.clear()
                    new, missing = dict.fromkeys(words), np.arange(len(words))
                self._learn(list(new))
                cols[missing] = [self._ids[words[i]] for i in missing]
            # Each text's word counts times its words' rows. Every weight is a multiple of 1/2, so the float64 sums
            # are exact in any order and grouping: a vector is its tokens' exact sum, rounded once to float32.
            counts = sp.csr_matrix((np.ones(len(cols)), cols, indptr), shape=(len(texts), len(self._ids)))
            return (counts @ self._table[: len(self._ids)]).astype(np.float32)
