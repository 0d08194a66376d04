"""Pipeline step 6, the Search page: top-k passages of a free-text query from the vector store
(:func:`search`), and the index built in the background once the corpus is embedded (:func:`index_soon`, its
progress: :func:`indexing`), so the first query does not build it. While it is built, queries are answered
exactly from the embedded corpus (``search(..., exact=True)``) instead of waiting for it.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset
    from explorer.encoders.base import Encoder


def search(dataset: "Dataset", encoder: "Encoder", query: str, k: int = 10, store: Any = None, *,
           exact: bool = False) -> pd.DataFrame:
    """Top-k passages of a free-text query from the vector store: columns rank, pid, score, title, text.

    Args:
        store: an open :class:`explorer.store.vectors.VectorStore` (opening one costs a moment; callers keep one);
            a new one on the current settings when None. The first search of an encoder indexes the corpus.
        exact: rank the whole corpus exactly from the encoder's vectors (its cache) instead, without the index:
            what the Search page does while :func:`index_soon` builds it (the same scores, cosine similarity).
    """
    if not query.strip():
        return pd.DataFrame(columns=["rank", "pid", "score", "title", "text"])
    if exact:
        from explorer.core.topk import top_k

        pids = dataset.passage_ids()
        rows, scores = top_k(encoder.encode([query], "query"), encoder.encode(dataset.passage_texts(pids), "passage"), k)
        found = [(r + 1, pids[j], float(s)) for r, (j, s) in enumerate(zip(rows[0], scores[0]))]
    else:
        if store is None:
            from explorer.store.vectors import VectorStore

            store = VectorStore()
        found = [(h.rank, h.id, float(h.score)) for h in store.search(dataset, encoder, query_texts=[query], k=k)[0]]
    return pd.DataFrame([
        {"rank": rank, "pid": pid, "score": score, "title": dataset.corpus[pid].title, "text": dataset.corpus[pid].text}
        for rank, pid, score in found
    ], columns=["rank", "pid", "score", "title", "text"])


_INDEXING: dict[tuple[int, str], threading.Thread] = {}
_INDEXED: set[tuple[int, str]] = set()
_PROGRESS: dict[tuple[int, str], tuple[int, int]] = {}
_INDEXING_LOCK = threading.Lock()


def _key(dataset: "Dataset", encoder: "Encoder", store: Any) -> tuple[int, str]:
    from explorer.store.vectors import collection_name

    return id(store), collection_name(dataset, encoder)


def indexing(dataset: "Dataset", encoder: "Encoder", store: Any) -> tuple[int, int] | None:
    """(done, total) of the background build of (dataset, encoder)'s index in ``store`` while it runs (a query
    now would wait for it); None when none runs."""
    key = _key(dataset, encoder, store)
    with _INDEXING_LOCK:
        running = _INDEXING.get(key)
        if running is None or not running.is_alive():
            return None
        return _PROGRESS.get(key, (0, max(1, len(dataset.corpus))))


def index_soon(dataset: "Dataset", encoder: "Encoder", store: Any) -> threading.Thread | None:
    """Build the Search index of (dataset, encoder) in ``store`` in a background thread, at low priority, so the
    first query does not pay for it; for an encoder whose passages were just embedded (the vectors come from
    the embedding cache).

    One build per (store, collection) at a time, and none once one finished; a build that fails is left to the
    first query, which builds it again and says why it cannot. Returns the thread started, or None.
    """
    key = _key(dataset, encoder, store)
    with _INDEXING_LOCK:
        running = _INDEXING.get(key)
        if key in _INDEXED or (running is not None and running.is_alive()):
            return None
        thread = threading.Thread(target=_index, args=(key, dataset, encoder, store), daemon=True,
                                  name=f"index-{key[1][-8:]}")
        _INDEXING[key] = thread
    thread.start()
    return thread


def _index(key: tuple[int, str], dataset: "Dataset", encoder: "Encoder", store: Any) -> None:
    try:  # the pages come first: this thread (and the index's own threads it starts) at a lower priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass
    passages = len(dataset.corpus)

    def report(_stage: str, done: int, total: int) -> None:  # in passages: the store counts each one twice
        _PROGRESS[key] = (round(passages * done / max(1, total)), passages)

    try:
        store.ensure_index(dataset, encoder, progress=report)
    except Exception:  # noqa: BLE001 - the first query builds it again and reports what is wrong
        return
    finally:
        with _INDEXING_LOCK:
            _INDEXING.pop(key, None)
            _PROGRESS.pop(key, None)
    with _INDEXING_LOCK:
        _INDEXED.add(key)
