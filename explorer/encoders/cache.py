"""On-disk embedding cache keyed by encoder fingerprint and text hash.

Layout: ``<cache_dir>/<encoder key>/<shard>.npz``, each shard holding ``keys`` (SHA-1 hex of the text)
and ``vectors`` (float32). Shards are only ever added, each written to a temporary file and renamed, so a
process killed mid-write leaves no half-written shard behind and two processes never corrupt each other.
Loaded shards stay in memory for the life of the process (one dict per encoder key), which is what makes
a second encode of the same texts a dictionary lookup.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from pathlib import Path

import numpy as np

_LOCK = threading.Lock()
_MEMORY: dict[Path, dict[str, np.ndarray]] = {}
_SEEN_SHARDS: dict[Path, set[str]] = {}


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
            index = _MEMORY.setdefault(self.folder, {})
            seen = _SEEN_SHARDS.setdefault(self.folder, set())
            if self.folder.is_dir():
                for shard in sorted(self.folder.glob("*.npz")):
                    if shard.name in seen:
                        continue
                    try:
                        with np.load(shard, allow_pickle=False) as data:
                            for key, vec in zip(data["keys"].tolist(), data["vectors"]):
                                index[str(key)] = vec
                    except (OSError, ValueError, KeyError):
                        continue  # an unreadable shard is skipped, its texts are simply embedded again
                    seen.add(shard.name)
            return index

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        """The cached vectors among ``keys``."""
        index = self._index()
        return {k: index[k] for k in keys if k in index}

    def put_many(self, keys: list[str], vectors: np.ndarray) -> None:
        """Add vectors; failures to write (read-only or full disk) only cost a later re-embed."""
        if not keys:
            return
        vectors = np.asarray(vectors, dtype=np.float32)
        with _LOCK:
            index = _MEMORY.setdefault(self.folder, {})
            for key, vec in zip(keys, vectors):
                index[key] = vec
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

    def __len__(self) -> int:
        return len(self._index())


def forget_memory() -> None:
    """Drop the in-process copies (tests use it to prove a cache read comes from disk)."""
    with _LOCK:
        _MEMORY.clear()
        _SEEN_SHARDS.clear()
