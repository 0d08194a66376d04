"""The encoder base class: a subclass writes only :meth:`Encoder.embed_batch`.

Batching (longest texts first, so batches pad little), de-duplication, L2 normalization, progress
reporting and the on-disk cache all live here, so every encoder (sentence-transformers, OpenAI, an adapter
over either, the fake used in tests) gets them the same way.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from explorer.encoders.cache import EmbeddingCache, recall, remember, request_key, text_key
from explorer.core.errors import ModelError
from explorer.core.progress import Progress, silent

Kind = Literal["query", "passage"]

# Encode results are read-only (the same array may go to every step); torch warns when it wraps one, though
# nothing writes to it (the adapter's training and dev scoring only read the corpus' vectors).
warnings.filterwarnings("ignore", "The given NumPy array is not writable", UserWarning)

CACHE_FLUSH_EVERY = 1024
"""New vectors are written to the cache in shards of about this many rows."""


class DefaultCache:
    """Marker for "the settings' embedding cache" as a ``cache_dir`` argument (None means no cache)."""

    def __repr__(self) -> str:
        return "DEFAULT_CACHE"


DEFAULT_CACHE = DefaultCache()


def resolve_cache_dir(cache_dir: "Path | str | None | DefaultCache") -> Path | None:
    """The cache folder an encoder argument means: the server's embedding cache for :data:`DEFAULT_CACHE`,
    None for no cache, else the given folder.

    The embedding cache is server-wide by design: it is keyed by the encoder's fingerprint and the text's
    hash, so an entry reveals nothing a visitor could not compute, and every workspace shares it
    (:meth:`explorer.core.config.Settings.for_workspace` points a workspace's ``shared_cache`` at the same folder)
    to spare the machine's CPUs. So the server's settings are the right ones here, with or without a workspace.
    """
    if isinstance(cache_dir, DefaultCache):
        from explorer.core.config import get_settings

        return get_settings().cache_dir
    return Path(cache_dir) if cache_dir is not None else None


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """L2-normalize rows; zero rows stay zero instead of becoming NaN."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


class Encoder(ABC):
    """Turns texts into unit vectors.

    Subclasses set :attr:`name`, implement :attr:`fingerprint` (identity of weights and settings: two
    encoders with the same fingerprint must give the same vectors) and :meth:`embed_batch`.

    Attributes:
        name: a display name.
        batch_size: texts per :meth:`embed_batch` call.
        cache_dir: root of the embedding cache, or None to disable caching.
    """

    name: str = "encoder"
    batch_size: int = 32

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None

    # --------------------------------------------------------------------------- for subclasses
    @property
    @abstractmethod
    def fingerprint(self) -> str:
        """Identity of this encoder's weights and settings (used as the cache key)."""

    @abstractmethod
    def embed_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        """Embed one batch; return an array of shape (len(texts), dim). Need not be normalized."""

    def _before_embedding(self, texts: list[str], kind: Kind) -> None:
        """Called once per :meth:`encode` with the texts about to be embedded (none cached), before the first
        batch; an encoder can pick its runtime by the size of the work here. Does nothing by default."""

    def kind_fingerprint(self, kind: Kind) -> str:
        """Cache identity of one side. Symmetric encoders use the same key for queries and passages;
        asymmetric ones (query-side adapters, models with prompts) override this."""
        return self.fingerprint

    # --------------------------------------------------------------------------- public API
    def encode(
        self,
        texts: Sequence[str],
        kind: Kind = "passage",
        *,
        progress: Progress | None = None,
        batch_size: int | None = None,
        use_cache: bool = True,
    ) -> np.ndarray:
        """Embed texts, reading what is cached and writing what is new.

        ``progress`` hears ``("embedding", texts done, texts total)``: once for the cached texts, then after
        each batch.

        The same request again (these texts in this order, this encoder and side, the cache in use) returns the
        very array it returned before while it is remembered (:func:`~explorer.encoders.cache.recall`): no
        hashing, no copy.

        Returns:
            float32 array (len(texts), dim) of unit vectors, in the order of ``texts``; read-only, since the
            same array may be handed to every step that asks.
        """
        texts = [str(t) for t in texts]
        total = len(texts)
        if total == 0:
            return np.zeros((0, self.dim or 0), dtype=np.float32)
        report = progress or silent
        cache = self._cache(kind) if use_cache else None
        request = request_key(cache.folder, texts) if cache is not None else None
        if request is not None and (recent := recall(request)) is not None:
            report("embedding", total, total)
            self._dim = self._dim or int(recent.shape[1])
            return recent
        keys = [text_key(t) for t in texts]
        # One output array, filled in place: the cached rows first, then each batch (memory stays about one
        # float32 copy of the result at any corpus size).
        out, found = cache.read(keys) if cache is not None else (None, np.zeros(total, dtype=bool))
        # Where each missing text goes in the output (a text may occur more than once), embedded once each,
        # longest first: batches of similar length pad little.
        places: dict[str, list[int]] = {}
        for i in np.flatnonzero(~found).tolist():
            places.setdefault(keys[i], []).append(i)
        order = sorted(places, key=lambda k: len(texts[places[k][0]]), reverse=True)
        done = total - sum(len(p) for p in places.values())
        report("embedding", done, total)
        # New vectors reach the disk in shards of CACHE_FLUSH_EVERY rather than one per batch (fewer, larger
        # files load faster), and whatever was embedded is flushed even when a later batch fails or a
        # progress callback stops the work, so it is not paid for twice.
        unsaved: list[str] = []

        def flush() -> None:
            if cache is not None and unsaved and out is not None:
                cache.put_many(unsaved, out[[places[k][0] for k in unsaved]])
            unsaved.clear()

        if order:
            self._before_embedding([texts[places[k][0]] for k in order], kind)
        size = batch_size or self.batch_size  # after the runtime is chosen: its default may differ
        try:
            for start in range(0, len(order), size):
                chunk = order[start : start + size]
                vectors = normalize_rows(self.embed_batch([texts[places[k][0]] for k in chunk], kind))
                if vectors.ndim != 2 or vectors.shape[0] != len(chunk):
                    raise RuntimeError(f"{type(self).__name__}.embed_batch returned shape {vectors.shape} for {len(chunk)} texts")
                if not np.isfinite(vectors).all():
                    raise ModelError(
                        f"{self.name} produced non-finite embeddings (NaN or inf); if bfloat16 is on, turn it off "
                        "with EXPLORER_BF16=0, otherwise the model's weights are damaged."
                    )
                if out is None:
                    out = np.empty((total, vectors.shape[1]), dtype=np.float32)
                for key, vector in zip(chunk, vectors):
                    out[places[key]] = vector
                unsaved.extend(chunk)
                if len(unsaved) >= CACHE_FLUSH_EVERY:
                    flush()
                done += sum(len(places[k]) for k in chunk)
                report("embedding", done, total)
        finally:
            flush()
        assert out is not None  # total > 0: every text was found or embedded
        if self._dim is None:
            self._dim = int(out.shape[1])
        if request is None:
            out.flags.writeable = False  # as a remembered result is: callers never change what they are given
            return out
        return remember(request, out)

    _dim: int | None = None

    @property
    def dim(self) -> int | None:
        """Embedding size, once known."""
        return self._dim

    def _cache(self, kind: Kind) -> EmbeddingCache | None:
        if self.cache_dir is None:
            return None
        return EmbeddingCache(self.cache_dir / self.kind_fingerprint(kind))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, fingerprint={self.fingerprint[:12]})"
