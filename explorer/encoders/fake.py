"""A deterministic, dependency-free encoder for tests and fast offline demos.

It hashes lower-cased words and character trigrams into a fixed number of buckets (the "hashing trick"),
so texts that share words get similar vectors: retrieval works well enough for tests to assert real
behaviour, and it needs no model, no torch and no network. Select it in the app with
``EXPLORER_ENCODER=fake``.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import numpy as np

from explorer.encoders.base import Encoder, Kind

_WORD = re.compile(r"[a-z0-9]+")
MEMO_WORDS = 200_000
"""Distinct words whose hashes one encoder remembers (a few tens of MB at most)."""


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
        self._memo: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    @property
    def fingerprint(self) -> str:
        return f"fake-d{self.dim_}-s{self.seed}"

    def _bucket(self, token: str) -> tuple[int, float]:
        h = zlib.crc32(f"{self.seed}:{token}".encode())
        return h % self.dim_, 1.0 if (h >> 16) & 1 else -1.0

    def _word(self, word: str) -> tuple[np.ndarray, np.ndarray]:
        """The buckets and signed weights one word adds (itself, then its character trigrams), memoized: a
        corpus repeats its words, so each is hashed once per encoder (the memo is dropped past
        :data:`MEMO_WORDS` words to bound its memory)."""
        hit = self._memo.get(word)
        if hit is None:
            padded = f"#{word}#"
            pairs = [self._bucket("w:" + word)] + [self._bucket("c:" + padded[i : i + 3]) for i in range(len(padded) - 2)]
            buckets = np.fromiter((b for b, _ in pairs), dtype=np.intp, count=len(pairs))
            weights = np.fromiter((s for _, s in pairs), dtype=np.float64, count=len(pairs))
            weights[0] *= 2.0
            weights[1:] *= 0.5
            if len(self._memo) >= MEMO_WORDS:
                self._memo.clear()
            hit = self._memo[word] = (buckets, weights)
        return hit

    def embed_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim_), dtype=np.float32)
        buckets: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            offset = row * self.dim_
            if not words:
                buckets.append(np.array([offset + self._bucket("empty")[0]]))
                weights.append(np.ones(1))
                continue
            parts = [self._word(word) for word in words]
            buckets.append(np.concatenate([b for b, _ in parts]) + offset)
            weights.append(np.concatenate([w for _, w in parts]))
        # One weighted count over every (row, bucket): each weight is a multiple of 0.5, so the sums are exact
        # and the vectors are those of adding one token at a time in float32.
        flat = np.bincount(np.concatenate(buckets), weights=np.concatenate(weights), minlength=len(texts) * self.dim_)
        return flat.reshape(len(texts), self.dim_).astype(np.float32)
