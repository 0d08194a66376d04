"""BM25 over the corpus with bm25s (Lù, "BM25S: Orders of magnitude faster lexical search via eager sparse
scoring", 2024): lower-cased word tokens, English stop words, the Snowball English stemmer (PyStemmer), and
bm25s' defaults (Lucene's BM25, k1 = 1.5, b = 0.75) — the plain bm25s recipe of its README, so the scores are
bm25s' own (benchmarks/bench_models.py checks it against plain bm25s on SciFact).

Passages that share no term with the query score 0 and are left out of its list (bm25s would return them in
arbitrary order to fill k).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from explorer.core.progress import Progress, silent
from explorer.retrievers.base import Hits, Retriever, corpus_key

STOPWORDS = "en"
STEMMER = "english"


def tokenize(texts: Sequence[str], stemmer: object) -> list[list[str]]:
    """bm25s' tokenizer with the English stop words and the stemmer, as lists of strings."""
    import bm25s

    return bm25s.tokenize(list(texts), stopwords=STOPWORDS, stemmer=stemmer, return_ids=False, show_progress=False)


class BM25Retriever(Retriever):
    """BM25 (bm25s + PyStemmer), see the module docstring."""

    name = "BM25"

    def __init__(self) -> None:
        import Stemmer

        self.stemmer = Stemmer.Stemmer(STEMMER)
        self._key: str | None = None
        self._ids: list[str] = []
        self._model = None

    def index(self, passage_ids: Sequence[str], texts: Sequence[str], progress: Progress | None = None) -> None:
        import bm25s

        key = corpus_key(passage_ids, texts)
        if key == self._key:
            self.index_seconds = 0.0
            return
        report = progress or silent
        report("indexing", 0, len(texts))
        started = time.perf_counter()
        tokens = bm25s.tokenize(list(texts), stopwords=STOPWORDS, stemmer=self.stemmer, show_progress=False)
        model = bm25s.BM25()
        model.index(tokens, show_progress=False)
        self._model, self._ids, self._key = model, list(passage_ids), key
        self.index_seconds = time.perf_counter() - started
        report("indexing", len(texts), len(texts))

    def search(self, queries: Sequence[str], k: int, progress: Progress | None = None) -> list[Hits]:
        if self._key is None:
            raise RuntimeError("index a corpus before searching it")
        if not queries:
            return []
        k = min(k, len(self._ids))
        if k < 1:
            return [{} for _ in queries]
        docs, scores = self._model.retrieve(tokenize(queries, self.stemmer), k=k, show_progress=False, n_threads=1)
        (progress or silent)("search", len(queries), len(queries))
        return [{self._ids[int(d)]: float(s) for d, s in zip(row, row_scores) if s > 0}
                for row, row_scores in zip(docs, scores)]

    def index_bytes(self) -> int:
        if self._model is None:
            return 0
        with tempfile.TemporaryDirectory() as folder:
            self._model.save(folder)
            return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())
