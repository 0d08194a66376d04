"""On-disk embedding cache keyed by encoder fingerprint and text hash.

Layout: ``<cache_dir>/<encoder key>/<shard>.npz``, each shard holding ``keys`` (SHA-1 hex of the text)
and ``vectors`` (float32). Shards are only ever added, each written to a temporary file and renamed, so a
process killed mid-write leaves no half-written shard behind and two processes never corrupt each other.
Loaded shards stay in memory (one dict per encoder key), which is what makes a second encode of the same
texts a dictionary lookup; those dicts sit in a :class:`~explorer.core.memory.ByteLRU` of
:data:`MEMORY_BUDGET_BYTES`, so every fine-tuned model's vectors do not stay in the server's memory forever:
the encoder used longest ago is dropped from memory (its shards stay on disk and are read again on use).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from explorer.core.memory import MB, ByteLRU

if TYPE_CHECKING:  # pragma: no cover
    from explorer.encoders.base import Encoder

MEMORY_BUDGET_BYTES = 192 * MB
"""In-memory vectors of all encoders together (about 100,000 MiniLM vectors); older encoders' go first."""
_ENTRY_OVERHEAD = 250
"""Bytes per cached vector beyond its floats: the key string, the dict slot and the array object."""

_LOCK = threading.Lock()
_SEEN_SHARDS: dict[Path, set[str]] = {}
_PARTIAL: set[Path] = set()
"""Folders whose in-memory index dropped vectors to fit the budget: a miss there looks on disk first."""


def _index_bytes(index: dict[str, np.ndarray]) -> int:
    if not index:
        return 0
    first = next(iter(index.values()))
    return len(index) * (int(first.nbytes) + _ENTRY_OVERHEAD)


def _forget_shards(folder: Path, _index: object) -> None:
    # An evicted index must be read from disk again in full: forget which shards it had loaded.
    _SEEN_SHARDS.pop(folder, None)
    _PARTIAL.discard(folder)


def _fit(folder: Path, index: dict[str, np.ndarray]) -> None:
    """Account for a grown index: other encoders' indexes go first (least recently used), and an index that
    alone exceeds the budget drops its oldest vectors (hits are moved to the end, so this is about LRU).
    Call with ``_LOCK`` held."""
    _MEMORY.resize(folder)
    per = _index_bytes(index) // max(len(index), 1)
    excess = len(index) - _MEMORY.max_bytes // max(per, 1)
    if excess > 0:
        for key in list(itertools.islice(index, excess)):
            del index[key]
        _PARTIAL.add(folder)
        _MEMORY.resize(folder)


_MEMORY = ByteLRU(MEMORY_BUDGET_BYTES, sizeof=_index_bytes, on_evict=_forget_shards)


def text_key(text: str) -> str:
    """Stable hash of a text (the cache key within one encoder)."""
    return hashlib.sha1(text.encode("utf-8", errors="surrogatepass")).hexdigest()


class EmbeddingCache:
    """Vectors of one encoder (one fingerprint), persisted in append-only shards.

    Args:
        folder: the folder of this encoder's shards; created on first write.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _index(self) -> dict[str, np.ndarray]:
        """The in-memory index of this folder, refreshed with shards other processes wrote since."""
        with _LOCK:
            index = _MEMORY.get(self.folder)
            if index is None:
                index = _MEMORY.put(self.folder, {})
                _SEEN_SHARDS[self.folder] = set()
            seen = _SEEN_SHARDS.setdefault(self.folder, set())
            before = len(index)
            if self.folder.is_dir():
                for shard in sorted(self.folder.glob("*.npz")):
                    if shard.name in seen:
                        continue
                    try:
                        with np.load(shard, allow_pickle=False) as data:
                            # Rows are copied so that dropping some of them frees their memory.
                            for key, vec in zip(data["keys"].tolist(), np.array(data["vectors"])):
                                index[str(key)] = vec.copy()
                    except (OSError, ValueError, KeyError):
                        continue  # an unreadable shard is skipped, its texts are simply embedded again
                    seen.add(shard.name)
            if len(index) != before:
                _fit(self.folder, index)
            return index

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        """The cached vectors among ``keys`` (from memory; from disk for those the memory budget dropped)."""
        index = self._index()
        with _LOCK:
            found = {}
            for k in keys:
                if k in index:
                    found[k] = index[k] = index.pop(k)  # moved to the end: recently used
            partial = self.folder in _PARTIAL
        missing = {k for k in keys if k not in found}
        if missing and partial:
            found.update(self._read_disk(missing))
        return found

    def _read_disk(self, wanted: set[str]) -> dict[str, np.ndarray]:
        """Vectors of ``wanted`` keys read from the shards (after the memory budget dropped them)."""
        out: dict[str, np.ndarray] = {}
        for shard in sorted(self.folder.glob("*.npz")) if self.folder.is_dir() else []:
            try:
                with np.load(shard, allow_pickle=False) as data:
                    keys = data["keys"].tolist()
                    rows = [i for i, k in enumerate(keys) if k in wanted and k not in out]
                    if rows:
                        vectors = data["vectors"]
                        out.update((str(keys[i]), np.array(vectors[i])) for i in rows)
            except (OSError, ValueError, KeyError):
                continue
            if len(out) == len(wanted):
                break
        if out:
            with _LOCK:
                index = _MEMORY.get(self.folder)
                if index is not None:
                    index.update(out)
                    _fit(self.folder, index)
        return out

    def put_many(self, keys: list[str], vectors: np.ndarray) -> None:
        """Add vectors; failures to write (read-only or full disk) only cost a later re-embed."""
        if not keys:
            return
        vectors = np.asarray(vectors, dtype=np.float32)
        with _LOCK:
            index = _MEMORY.get(self.folder)
            if index is None:
                index = _MEMORY.put(self.folder, {})
                _SEEN_SHARDS[self.folder] = set()
            for key, vec in zip(keys, vectors):
                index[key] = vec.copy()
            _fit(self.folder, index)
            name = f"{uuid.uuid4().hex}.npz"
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                tmp = self.folder / f".{name}.tmp"
                with open(tmp, "wb") as fh:
                    np.savez(fh, keys=np.array(keys), vectors=vectors)
                os.replace(tmp, self.folder / name)
                _SEEN_SHARDS.setdefault(self.folder, set()).add(name)
            except OSError:
                pass

    def missing(self, keys: list[str]) -> set[str]:
        """The distinct ``keys`` with no vector yet, in memory or on disk (the work an encode has left).

        Reads only the shards' key arrays, never their vectors, so it stays quick before a large encode.
        """
        wanted = set(keys)
        with _LOCK:
            index = _MEMORY.get(self.folder)
            if index is not None:
                wanted.difference_update(k for k in list(wanted) if k in index)
        for shard in sorted(self.folder.glob("*.npz")) if wanted and self.folder.is_dir() else []:
            try:
                with np.load(shard, allow_pickle=False) as data:
                    wanted.difference_update(data["keys"].tolist())
            except (OSError, ValueError, KeyError):
                continue
            if not wanted:
                break
        return wanted

    def __len__(self) -> int:
        return len(self._index())


def forget_memory() -> None:
    """Drop the in-process copies (tests use it to prove a cache read comes from disk)."""
    with _LOCK:
        _MEMORY.clear()
        _SEEN_SHARDS.clear()
        _PARTIAL.clear()


def uncached_count(encoder: "Encoder", texts: list[str], kind: str) -> int:
    """How many distinct ``texts`` the encoder's cache does not hold yet (all of them when it has no cache)."""
    if encoder.cache_dir is None:
        return len(set(texts))
    keys = list({text_key(t) for t in texts})
    found = EmbeddingCache(Path(encoder.cache_dir) / encoder.kind_fingerprint(kind)).get_many(keys)
    return len(keys) - len(found)
