"""The retriever interface (query texts → top-k passage ids and scores) and its dense kind.

Ranking needs a retriever, not necessarily vectors: an encoder over the corpus (:class:`DenseRetriever`,
exact cosine top-k by :mod:`explorer.core.topk`) is one kind, BM25 (:mod:`explorer.retrievers.bm25`) another,
and their fusion (:mod:`explorer.retrievers.hybrid`) the third. Evaluation works on any of them
(:func:`explorer.evaluation.retrieval.evaluate_retriever`).
"""

from __future__ import annotations

import hashlib
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from explorer.core.progress import Progress, silent
from explorer.encoders.base import Encoder

Hits = dict[str, float]
"""One query's ranked list: passage id → score, best first."""


def corpus_key(passage_ids: Sequence[str], texts: Sequence[str]) -> str:
    """A hash of a corpus (ids and texts), so an index built for it is not rebuilt for the same corpus."""
    digest = hashlib.sha256()
    for pid, text in zip(passage_ids, texts):
        digest.update(pid.encode("utf-8", "replace") + b"\0" + text.encode("utf-8", "replace") + b"\1")
    return digest.hexdigest()


class Retriever(ABC):
    """Ranks an indexed corpus for query texts.

    Attributes:
        name: a display name.
        index_seconds: wall time of the last :meth:`index` that built something (0 when it was reused).
    """

    name: str = "retriever"
    index_seconds: float = 0.0

    @abstractmethod
    def index(self, passage_ids: Sequence[str], texts: Sequence[str], progress: Progress | None = None) -> None:
        """Make the corpus searchable (a no-op when the same corpus is indexed already)."""

    @abstractmethod
    def search(self, queries: Sequence[str], k: int, progress: Progress | None = None) -> list[Hits]:
        """The top ``k`` passages of each query, best first (fewer when the corpus is smaller or nothing matches)."""

    @property
    def dim(self) -> int | None:
        """Width of the vectors, or None for a retriever without vectors (BM25)."""
        return None

    @abstractmethod
    def index_bytes(self) -> int:
        """Size of the index on disk, in bytes (the vectors as float32, or the saved BM25 index)."""


class DenseRetriever(Retriever):
    """An encoder over the corpus: exact cosine top-k over unit vectors.

    Args:
        encoder: any :class:`~explorer.encoders.base.Encoder` (its cache makes a second index cheap).
    """

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.name = encoder.name
        self._key: str | None = None
        self._ids: list[str] = []
        self._vectors = np.zeros((0, 0), dtype=np.float32)

    def index(self, passage_ids: Sequence[str], texts: Sequence[str], progress: Progress | None = None) -> None:
        key = corpus_key(passage_ids, texts)
        if key == self._key:
            self.index_seconds = 0.0
            return
        started = time.perf_counter()
        self._vectors = self.encoder.encode(list(texts), "passage", progress=progress)
        self._ids, self._key = list(passage_ids), key
        self.index_seconds = time.perf_counter() - started

    def search(self, queries: Sequence[str], k: int, progress: Progress | None = None) -> list[Hits]:
        from explorer.core.topk import top_k_chunks

        if self._key is None:
            raise RuntimeError("index a corpus before searching it")
        if not queries:
            return []
        vectors = self.encoder.encode(list(queries), "query", progress=progress)
        if not self._ids:
            return [{} for _ in queries]
        out: list[Hits] = []
        for _, top, scores in top_k_chunks(vectors, self._vectors, k):
            out.extend({self._ids[j]: float(s) for j, s in zip(row, row_scores)} for row, row_scores in zip(top, scores))
        (progress or silent)("search", len(queries), len(queries))
        return out

    @property
    def dim(self) -> int | None:
        return self.encoder.dim

    def index_bytes(self) -> int:
        return int(self._vectors.size) * 4
