"""The vector store: one collection per (dataset, encoder version), never served stale.

On one machine a collection is a file of vectors searched exactly (:mod:`explorer.store.flat` says why); with
``EXPLORER_CHROMA_HOST`` (or a given chromadb client) it is a collection of that Chroma server, for corpora
that outgrow one machine.

A collection's name is a hash of the dataset's fingerprint and the encoder's passage fingerprint, and its
metadata repeats both with the passage count and a ``complete`` flag set only after the last batch was
added. :meth:`VectorStore.ensure_index` checks all of that (and the live count) and rebuilds whatever does
not match: a build killed halfway, a collection someone deleted or changed, a hash collision.

Embeddings are always computed by our encoders (and their cache) and handed over precomputed; every chroma
collection is opened with ``embedding_function=None`` so chroma never downloads or runs its default model.
Scores are cosine similarities (chroma's ``1 - distance``).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from explorer.store import sqlite as _sqlite
from explorer.store.flat import FlatIndex, Missing
from explorer.core.config import Settings, settings_for
from explorer.core.errors import StorageError
from explorer.core.progress import Progress, part, silent

if TYPE_CHECKING:
    from explorer.data.model import Dataset
    from explorer.encoders.base import Encoder

_sqlite.ensure_modern_sqlite()  # before anything can import chromadb

PREFIX = "explorer-"
HNSW = {"space": "cosine", "ef_construction": 200, "ef_search": 200}


@dataclass(frozen=True)
class Hit:
    """One retrieved passage: its id, cosine similarity to the query, and 1-based rank."""

    id: str
    score: float
    rank: int


def collection_name(dataset: "Dataset", encoder: "Encoder") -> str:
    """Chroma-safe name (``explorer-`` + 40 hex digits) of the collection of ``dataset`` under ``encoder``."""
    key = f"{dataset.fingerprint()}|{encoder.kind_fingerprint('passage')}"
    return PREFIX + hashlib.sha256(key.encode()).hexdigest()[:40]


class VectorStore:
    """Passage vectors of (dataset, encoder) pairs, on disk (searched exactly) or on a Chroma server.

    Args:
        settings: the workspace's settings: where the on-disk store lives (``settings.store_dir``) or which
            server to use (``settings.chroma_host`` / ``chroma_port``). Locally the current settings when
            None; in public mode they must be given (a visitor's vectors never go to the server's folder).
        client: a chromadb client to use instead (tests, notebooks).

    Raises:
        WorkspaceRequiredError: public mode and no ``settings`` given.
    """

    def __init__(self, settings: Settings | None = None, *, client: Any | None = None) -> None:
        self.settings = settings_for(settings, "open the vector store")
        self._client = client
        self._flat = FlatIndex(self.settings.store_dir) if client is None and not self.settings.chroma_host else None
        self._lock = threading.RLock()

    # ------------------------------------------------------------------------------------ connection
    @property
    def client(self) -> Any:
        """The chromadb client of a server (or the one given), opened on first use; None on disk."""
        if self._flat is not None:
            return None
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._connect()
        return self._client

    def _connect(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        host, port = self.settings.chroma_host, self.settings.chroma_port
        try:
            return chromadb.HttpClient(host=host, port=port, settings=chroma_settings)
        except Exception as exc:  # chromadb raises a bare ValueError when nothing answers
            raise StorageError(
                f"Cannot reach the Chroma server at {host}:{port} ({exc}); start it, or unset "
                "EXPLORER_CHROMA_HOST to keep vectors on disk."
            ) from exc

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn chroma and OS failures during ``action`` into StorageError; a missing collection is
        :class:`~explorer.store.flat.Missing`."""
        missing: tuple[type[BaseException], ...] = (Missing,)
        failures: tuple[type[BaseException], ...] = (OSError,)
        if self._flat is None:
            from chromadb.errors import ChromaError, NotFoundError

            missing, failures = (Missing, NotFoundError), (ChromaError, OSError)
        try:
            yield
        except missing as exc:
            raise Missing(str(exc)) from exc
        except failures as exc:
            where = f"{self.settings.chroma_host}:{self.settings.chroma_port}" if self.settings.chroma_host else str(self.settings.store_dir)
            hint = "" if self._flat is None else "; check that the folder is writable and the disk is not full"
            raise StorageError(f"The vector store ({where}) failed to {action}: {exc}{hint}.") from exc

    def _metadata(self, name: str) -> dict[str, Any] | None:
        """The collection's metadata and live ``count``; None when there is none."""
        if self._flat is not None:
            return self._flat.metadata(name)
        try:
            with self._errors("open a collection"):
                collection = self.client.get_collection(name, embedding_function=None)
                return {**(collection.metadata or {}), "count": collection.count()}
        except Missing:
            return None

    # ------------------------------------------------------------------------------------ public API
    def ensure_index(
        self,
        dataset: "Dataset",
        encoder: "Encoder",
        passage_embeddings: np.ndarray | None = None,
        progress: Progress | None = None,
    ) -> str:
        """Make sure the collection of (dataset, encoder) is complete and current; build it if not.

        Args:
            dataset: its passages are indexed, in ``dataset.passage_ids()`` order.
            encoder: embeds the passages (through its cache) unless ``passage_embeddings`` are given.
            passage_embeddings: precomputed (n_passages, dim) vectors in ``passage_ids()`` order.
            progress: hears stage "embedding" (the passages), then "indexing" (adding them), on one count: each
                stage is half of it when both happen.

        Returns:
            The collection's name.
        """
        ids = dataset.passage_ids()
        expected = {
            "dataset_fingerprint": dataset.fingerprint(),
            "encoder_fingerprint": encoder.kind_fingerprint("passage"),
            "passages": len(ids),
        }
        name = collection_name(dataset, encoder)
        with self._lock:
            existing = self._metadata(name)
            if existing is not None:
                if self._is_current(existing, expected):
                    return name
                self._delete(name, "delete a stale collection")
            vectors, offset, total = self._vectors(dataset, encoder, passage_embeddings, progress)
            self._build(name, ids, vectors, expected, encoder, dataset, progress, offset, total)
        return name

    def search(
        self,
        dataset: "Dataset",
        encoder: "Encoder",
        query_texts: Sequence[str] | None = None,
        query_vectors: np.ndarray | None = None,
        k: int = 10,
    ) -> list[list[Hit]]:
        """The ``k`` passages nearest each query (texts are embedded with ``encoder`` as queries).

        Returns:
            One list of hits per query, best first.
        """
        from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

        if (query_texts is None) == (query_vectors is None):
            raise ValueError("Give exactly one of query_texts or query_vectors.")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if isinstance(query_texts, str):  # else each character would be searched as a query of its own
            raise TypeError("query_texts is a list of queries; for one query pass [text].")
        if query_texts is not None:
            queries = encoder.encode(list(query_texts), "query")
        else:
            queries = np.asarray(query_vectors, dtype=np.float32)
            queries = queries.reshape(1, -1) if queries.ndim == 1 else queries
        if len(queries) == 0:
            return []
        # A collection deleted under us (another process, or a reset store) is rebuilt once; deleted again right
        # after the rebuild, something else keeps deleting it.
        try:
            for attempt in Retrying(stop=stop_after_attempt(2), retry=retry_if_exception_type(Missing), reraise=True):
                with attempt:
                    return self._query(self.ensure_index(dataset, encoder), queries, min(k, len(dataset.corpus)))
        except Missing:
            raise StorageError(f"Collection {collection_name(dataset, encoder)} keeps disappearing from the vector "
                               "store; is another process dropping it?") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def drop(self, dataset: "Dataset", encoder: "Encoder") -> bool:
        """Delete the collection of (dataset, encoder); True if there was one."""
        with self._lock:
            return self._delete(collection_name(dataset, encoder), "delete a collection")

    def _delete(self, name: str, action: str) -> bool:
        try:
            with self._errors(action):
                if self._flat is not None:
                    return self._flat.delete(name)
                self.client.delete_collection(name)
        except Missing:
            return False
        return True

    def close(self) -> None:
        """Release the open files or the chromadb client (its connections); reopened on next use.

        The UI closes the stores it drops from its bounded cache, and those of removed workspaces.
        """
        if self._flat is not None:
            self._flat.close()
        with self._lock:
            client, self._client = self._client, None
        close = getattr(client, "close", None)
        if callable(close):
            try:
                close()
            except Exception:  # noqa: BLE001 - releasing must never fail the caller
                pass

    def list_collections(self) -> list[str]:
        """Names of this tool's collections in the store."""
        with self._errors("list collections"):
            found = self._flat.names() if self._flat is not None else self.client.list_collections()
        names = [getattr(c, "name", c) for c in found]
        return sorted(n for n in names if str(n).startswith(PREFIX))

    # ------------------------------------------------------------------------------------ internals
    @staticmethod
    def _is_current(meta: dict[str, Any], expected: dict[str, Any]) -> bool:
        if not meta.get("complete") or any(meta.get(k) != v for k, v in expected.items()):
            return False
        return meta.get("count") == expected["passages"]

    @staticmethod
    def _vectors(dataset: "Dataset", encoder: "Encoder", given: np.ndarray | None,
                 progress: Progress | None) -> tuple[np.ndarray, int, int]:
        """(vectors, progress offset for adding, progress total)."""
        n = len(dataset.corpus)
        if given is None:
            vectors = encoder.encode(dataset.passage_texts(), "passage", progress=part(progress, 0, 2 * n))
            return vectors, n, 2 * n
        vectors = np.asarray(given, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != n:
            raise ValueError(f"passage_embeddings must have shape ({n}, dim) in passage_ids() order, got {vectors.shape}")
        if not np.isfinite(vectors).all():
            raise ValueError("passage_embeddings contain NaN or inf")
        return vectors, 0, n

    def _build(self, name: str, ids: list[str], vectors: np.ndarray, expected: dict[str, Any], encoder: "Encoder",
               dataset: "Dataset", progress: Progress | None, offset: int, total: int) -> None:
        """Create and fill collection ``name``: one file on disk, batches on a Chroma server or a given client."""
        meta = {**expected, "dataset": dataset.name, "encoder": encoder.name, "dim": int(vectors.shape[1])}
        report = progress or silent
        with self._errors("add vectors"):
            if self._flat is not None:
                self._flat.write(name, ids, vectors, {**meta, "complete": True},
                                 report=lambda done: report("indexing", offset + done, total))
                return
            step = max(1, int(self.client.get_max_batch_size()))
            collection = self.client.create_collection(
                name, configuration={"hnsw": dict(HNSW)}, metadata={**meta, "complete": False}, embedding_function=None
            )
            for start in range(0, len(ids), step):
                collection.add(ids=ids[start : start + step], embeddings=vectors[start : start + step])
                report("indexing", offset + min(start + step, len(ids)), total)
            # Marked complete last: a build killed above leaves complete=False and is rebuilt next time.
            collection.modify(metadata={**meta, "complete": True})

    def _query(self, name: str, queries: np.ndarray, k: int) -> list[list[Hit]]:
        with self._errors("search"):
            if self._flat is not None:
                found, scores = self._flat.query(name, queries, k)
                return [[Hit(id=pid, score=float(s), rank=r) for r, (pid, s) in enumerate(zip(ids, row), 1)]
                        for ids, row in zip(found, scores)]
            collection = self.client.get_collection(name, embedding_function=None)
            dim = (collection.metadata or {}).get("dim")
            if dim is not None and queries.shape[1] != dim:
                raise ValueError(f"Query vectors have {queries.shape[1]} dimensions, the indexed passages {dim}.")
            step = max(1, int(self.client.get_max_batch_size()))
            hits: list[list[Hit]] = []
            for start in range(0, len(queries), step):
                result = collection.query(query_embeddings=queries[start : start + step], n_results=k, include=["distances"])
                for ids, distances in zip(result["ids"], result["distances"]):
                    hits.append([Hit(id=pid, score=1.0 - float(d), rank=r) for r, (pid, d) in enumerate(zip(ids, distances), 1)])
        return hits
