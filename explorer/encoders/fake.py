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

    @property
    def fingerprint(self) -> str:
        return f"fake-d{self.dim_}-s{self.seed}"

    def _bucket(self, token: str) -> tuple[int, float]:
        h = zlib.crc32(f"{self.seed}:{token}".encode())
        return h % self.dim_, 1.0 if (h >> 16) & 1 else -1.0

    def embed_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        out = np.zeros((len(texts), self.dim_), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            for word in words:
                b, s = self._bucket("w:" + word)
                out[row, b] += 2.0 * s
                padded = f"#{word}#"
                for i in range(len(padded) - 2):
                    b, s = self._bucket("c:" + padded[i : i + 3])
                    out[row, b] += 0.5 * s
            if not words:
                out[row, self._bucket("empty")[0]] = 1.0
        return out
