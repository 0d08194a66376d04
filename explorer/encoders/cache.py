"""On-disk embedding cache keyed by encoder fingerprint and text hash.

Layout: ``<cache_dir>/<encoder key>/<shard>.npz``, each shard holding ``keys`` (SHA-1 hex of the text)
and ``vectors`` (float32). Shards are only ever added, each written to a temporary file and renamed, so a
process killed mid-write leaves no half-written shard behind and two processes never corrupt each other.

In memory a folder keeps only where each key's vector is (its shard and row), never the vectors themselves: a
lookup reads the shards it needs (uncompressed; 2.4 s for 200,000 vectors of 384 floats on 2 cores of an AMD EPYC,
about half of it the first touch of the output's fresh memory), so the cache costs about 160 bytes a text instead
of a second copy of every vector. Those indexes sit in a :class:`~explorer.core.memory.ByteLRU` of
:data:`MEMORY_BUDGET_BYTES`; an evicted one is read again from the shards' keys on use, and one that alone outgrows
the budget forgets its oldest shards' keys (a key not found is then looked for in those shards on disk). What makes
the second encode of the same texts free is the memo of recent results (:func:`recall`, :func:`remember`): one copy
of a corpus' vectors, handed out read-only to every step.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from explorer.core.memory import MB, ByteLRU

if TYPE_CHECKING:  # pragma: no cover
    from explorer.encoders.base import Encoder

MEMORY_BUDGET_BYTES = 64 * MB
"""The key indexes of all encoders together (about 400,000 texts); the encoder used longest ago goes first."""
_ENTRY_BYTES = 160
"""Bytes per indexed text: the 40-character key, its location (an int) and the dict slot."""
_ROW_BITS = 32
"""A location is ``shard number << _ROW_BITS | row``."""

_LOCK = threading.Lock()


class _Folder:
    """Where each key of one folder's shards is: ``where[key] = shard number << _ROW_BITS | row``.

    A folder whose keys alone outgrow the budget forgets its oldest shards' keys (``unindexed``): a key missing
    from ``where`` is then looked for in those shards' key arrays on disk, as a fresh process would."""

    def __init__(self) -> None:
        self.where: dict[str, int] = {}
        self.shards: list[str] = []
        self.unindexed = 0
        """Shards ``[0, unindexed)`` are not in ``where``."""

    def add(self, name: str, keys: list[str]) -> None:
        number = len(self.shards)
        self.shards.append(name)
        base = number << _ROW_BITS
        self.where.update(zip(keys, range(base, base + len(keys))))

    def fit(self, max_bytes: int) -> None:
        """Forget the oldest shards' keys until this index takes at most half of ``max_bytes`` (half: so that
        the next shards do not each start this over)."""
        if len(self.where) * _ENTRY_BYTES <= max_bytes:
            return
        keep = max(max_bytes // 2 // _ENTRY_BYTES, 1)
        codes = sorted(self.where.values())
        cutoff = codes[-keep] >> _ROW_BITS if keep < len(codes) else 0
        self.where = {k: c for k, c in self.where.items() if c >> _ROW_BITS >= cutoff}
        self.unindexed = max(self.unindexed, cutoff)


_MEMORY = ByteLRU(MEMORY_BUDGET_BYTES, sizeof=lambda folder: len(folder.where) * _ENTRY_BYTES)


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

    def _index(self) -> _Folder:
        """The in-memory index of this folder, refreshed with shards other processes wrote since."""
        with _LOCK:
            index = _MEMORY.get(self.folder)
            if index is None:
                index = _MEMORY.put(self.folder, _Folder())
            before, known = len(index.where), set(index.shards)
            if self.folder.is_dir():
                for shard in sorted(self.folder.glob("*.npz")):
                    if shard.name in known:
                        continue
                    try:
                        with np.load(shard, allow_pickle=False) as data:
                            keys = [str(k) for k in data["keys"].tolist()]
                    except (OSError, ValueError, KeyError):
                        continue  # an unreadable shard is skipped, its texts are simply embedded again
                    index.add(shard.name, keys)
            if len(index.where) != before:
                index.fit(_MEMORY.max_bytes)
                _MEMORY.resize(self.folder)
            return index

    def read(self, keys: list[str]) -> tuple[np.ndarray | None, np.ndarray]:
        """The cached vectors of ``keys``: ``(rows, found)``, where ``rows`` is a float32 array with one row per
        key (filled where ``found`` is True; None when nothing was found) and ``found`` a boolean mask."""
        codes, shards = self._locate(keys)
        found = np.zeros(len(keys), dtype=bool)
        hits = np.flatnonzero(codes >= 0)
        out: np.ndarray | None = None
        if not len(hits):
            return out, found
        shard_of = codes[hits] >> _ROW_BITS
        order = np.argsort(shard_of, kind="stable")
        hits, shard_of = hits[order], shard_of[order]
        bounds = np.flatnonzero(np.diff(shard_of)) + 1
        for group in np.split(np.arange(len(hits)), bounds):
            at = hits[group]
            rows = codes[at] & ((1 << _ROW_BITS) - 1)
            try:
                with np.load(self.folder / shards[int(shard_of[group[0]])], allow_pickle=False) as data:
                    vectors = data["vectors"]
            except (OSError, ValueError, KeyError):
                continue  # removed or damaged since it was indexed: its texts are embedded again
            if vectors.ndim != 2 or int(rows.max()) >= len(vectors):
                continue
            if out is None:
                out = np.empty((len(keys), vectors.shape[1]), dtype=np.float32)
            if vectors.shape[1] != out.shape[1]:
                continue
            out[at] = vectors[rows]
            found[at] = True
        return out, found

    def _locate(self, keys: list[str]) -> tuple[np.ndarray, list[str]]:
        """``(codes, shards)``: each key's location (``shard number << _ROW_BITS | row``, -1 when not cached), from
        the index, then from the key arrays of the shards it forgot; and the shard names the numbers refer to."""
        index = self._index()
        with _LOCK:
            where, shards, unindexed = index.where, list(index.shards), index.unindexed
            codes = np.fromiter((where.get(k, -1) for k in keys), dtype=np.int64, count=len(keys))
        if unindexed and (codes < 0).any():
            self._locate_on_disk(keys, codes, shards[:unindexed])
        return codes, shards

    def _locate_on_disk(self, keys: list[str], codes: np.ndarray, shards: list[str]) -> None:
        """Fill ``codes`` of the keys not yet located from the key arrays of ``shards`` (those the index forgot)."""
        wanted: dict[str, list[int]] = {}
        for i in np.flatnonzero(codes < 0).tolist():
            wanted.setdefault(keys[i], []).append(i)
        for number, name in enumerate(shards):
            try:
                with np.load(self.folder / name, allow_pickle=False) as data:
                    shard_keys = data["keys"].tolist()
            except (OSError, ValueError, KeyError):
                continue
            for row, key in enumerate(shard_keys):
                for i in wanted.pop(str(key), ()):
                    codes[i] = number << _ROW_BITS | row
            if not wanted:
                return

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        """The cached vectors among ``keys``, by key."""
        rows, found = self.read(keys)
        return {keys[i]: rows[i] for i in np.flatnonzero(found)} if rows is not None else {}

    def put_many(self, keys: list[str], vectors: np.ndarray) -> None:
        """Add vectors; failures to write (read-only or full disk) only cost a later re-embed."""
        if not keys:
            return
        vectors = np.asarray(vectors, dtype=np.float32)
        name = f"{uuid.uuid4().hex}.npz"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.folder / f".{name}.tmp"
            with open(tmp, "wb") as fh:
                np.savez(fh, keys=np.array(keys), vectors=vectors)
            os.replace(tmp, self.folder / name)
        except OSError:
            return
        with _LOCK:
            index = _MEMORY.get(self.folder)
            if index is not None:
                index.add(name, list(keys))
                index.fit(_MEMORY.max_bytes)
                _MEMORY.resize(self.folder)

    def missing(self, keys: list[str]) -> set[str]:
        """The distinct ``keys`` with no vector yet (the work an encode has left). Reads only the shards' keys."""
        distinct = list(set(keys))
        codes, _ = self._locate(distinct)
        return {distinct[i] for i in np.flatnonzero(codes < 0).tolist()}

    def __len__(self) -> int:
        """Texts indexed in memory (all of them unless the index outgrew its budget)."""
        return len(self._index().where)


RECENT_BUDGET_BYTES = 320 * MB
"""Recent encode results kept whole (:func:`recall`): 200,000 vectors of 384 floats, or 50,000 of 1,536. The newest
result always stays, even alone over the budget: its caller holds it anyway."""
_RECENT = ByteLRU(RECENT_BUDGET_BYTES, sizeof=lambda vectors: vectors.nbytes)


def request_key(folder: Path, texts: list[str]) -> tuple[Path, int, int]:
    """The identity of an encode request: the cache folder (the encoder and side) and the texts in order.

    Python's string hash is keyed per process (a visitor cannot aim at a collision) and cached in each string,
    so this costs milliseconds for a corpus the process has hashed before; the texts themselves are not kept.
    """
    return folder, len(texts), hash(tuple(texts))


def recall(key: tuple[Path, int, int]) -> np.ndarray | None:
    """The vectors of a request seen recently (read-only, shared by every caller), or None."""
    return _RECENT.get(key)


def remember(key: tuple[Path, int, int], vectors: np.ndarray) -> np.ndarray:
    """Keep ``vectors`` as the result of the request ``key`` and return them, now read-only: every later caller
    of the same request gets this very array, so no step holds a second copy of a corpus' vectors."""
    vectors.flags.writeable = False
    return _RECENT.put(key, vectors)


def forget_memory() -> None:
    """Drop the in-process indexes and recent results (tests use it to prove a read comes from disk, as in a new
    process)."""
    with _LOCK:
        _MEMORY.clear()
    _RECENT.clear()


def uncached_count(encoder: "Encoder", texts: list[str], kind: str) -> int:
    """How many distinct ``texts`` the encoder's cache does not hold yet (all of them when it has no cache)."""
    if encoder.cache_dir is None:
        return len(set(texts))
    keys = list({text_key(t) for t in texts})
    return len(EmbeddingCache(Path(encoder.cache_dir) / encoder.kind_fingerprint(kind)).missing(keys))
