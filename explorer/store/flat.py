"""The on-disk Search index of one machine: each collection a float32 ``.npy`` of unit vectors, searched exactly.

Why not chromadb's HNSW on disk (as the store was before): on one machine, up to the local cap of 200,000
passages, an exact search is both faster to have and faster to ask. A query is one matrix product over the
vectors, read from the file in blocks of about 8 MB (15 ms at 200,000 passages of 384 floats on 2 cores, 51 ms
of 1,536), through the same top-k that ranks for Metrics (:func:`explorer.core.topk.top_k_over_blocks`), so Search ranks
exactly as the metrics do. Read in blocks rather than memory-mapped: a map's pages, once read, stay in the process'
memory (147 MB at 100,000 passages, beside the same vectors that the encoder's remembered result holds), while a
file read leaves them in the system's page cache, which the kernel gives back under pressure. There is no
graph to build (HNSW took 30–80 s at 100,000 passages and a process of about 500 MB), no approximation, and
the files hold only the vectors and ids we wrote (chroma's HNSW files carried memory it had never filled).
A Chroma server (``EXPLORER_CHROMA_HOST``) stays the store for corpora that outgrow one machine.

A collection ``NAME`` is ``NAME.npy`` (the vectors, in ``ids`` order) and ``NAME.json`` (``{"ids": [...],
"metadata": {...}}``). Both are written atomically (:mod:`explorer.core.storage`), the JSON last, so a build
killed halfway leaves no collection and is rebuilt. Hand-written: a folder of NumPy files and a JSON
list, with our own top-k; no library offers less.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np


READ_BLOCK_BYTES = 8 * 1024 * 1024
"""A query reads the vectors file in blocks of about this many bytes, into one buffer (5,461 rows of 384 floats)."""


class Missing(LookupError):
    """The collection is not (or no longer) in the store."""


class _Layout:
    """A collection's vectors file, held open from its header's read on: ``rows`` float32 rows of ``dim`` from byte
    ``offset``. Reads go to this very version of the file, even once a rebuild has renamed another over its path
    (its rows never end up under another version's ids); it is closed when the layout is let go."""

    def __init__(self, path: Path) -> None:
        """Raises ValueError when the file is not a 2-D float32 C-order array, OSError when it cannot be read."""
        self.file = open(path, "rb")  # noqa: SIM115 - held for the layout's life, closed with it
        version = np.lib.format.read_magic(self.file)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(self.file)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(self.file)
        if len(shape) != 2 or fortran or dtype != np.float32:
            self.file.close()
            raise ValueError(f"{path.name} is not a 2-D float32 array")
        self.name, self.offset, self.rows, self.dim = path.name, self.file.tell(), int(shape[0]), int(shape[1])

    def __del__(self) -> None:  # the last reference gone: no query is reading it any more
        if getattr(self, "file", None) is not None:
            self.file.close()

    def blocks(self, rows: int) -> Iterator[tuple[int, np.ndarray]]:
        """``(first row, vectors)`` of consecutive blocks of up to ``rows`` rows, each read into the same buffer
        (valid until the next block); positioned reads, so queries in several threads do not disturb each other.
        Raises OSError when the file is shorter than its header says."""
        buffer = np.empty((min(rows, self.rows), self.dim), dtype=np.float32)
        for first in range(0, self.rows, rows):
            block = buffer[: min(rows, self.rows - first)]
            at = self.offset + first * self.dim * 4
            if os.preadv(self.file.fileno(), [memoryview(block).cast("B")], at) != block.nbytes:
                raise OSError(f"{self.name} ends early")
            yield first, block


class FlatIndex:
    """Collections of unit vectors in ``folder``; a collection's ids and the layout of its file are read on its
    first query and kept until the files change.

    Args:
        folder: where the ``.npy`` and ``.json`` files live (created on the first write).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._open: dict[str, tuple[Any, list[str], _Layout, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def _paths(self, name: str) -> tuple[Path, Path]:
        return self.folder / f"{name}.npy", self.folder / f"{name}.json"

    def metadata(self, name: str) -> dict[str, Any] | None:
        """The collection's metadata with its live ``count`` (-1 when the files disagree); None when it is
        missing or unreadable. Read once per version of the files: every query asks."""
        try:
            ids, layout, metadata = self._opened(name)
        except Missing:
            return None
        return {**metadata, "count": len(ids) if len(ids) == layout.rows else -1}

    def write(self, name: str, ids: Sequence[str], vectors: np.ndarray, metadata: dict[str, Any],
              report: Callable[[int], None] | None = None) -> None:
        """Write collection ``name`` (replacing any), then ``report(len(ids))``."""
        from explorer.core.storage import atomic_path, write_bytes_atomic

        vec_path, json_path = self._paths(name)
        self.delete(name)
        with atomic_path(vec_path) as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(vectors, dtype=np.float32))
        # Last: the collection exists once both files do.
        write_bytes_atomic(json_path, json.dumps({"ids": list(ids), "metadata": metadata}).encode("utf-8"))
        if report is not None:
            report(len(ids))

    def query(self, name: str, queries: np.ndarray, k: int) -> tuple[list[list[str]], np.ndarray]:
        """(ids, cosine scores) of the ``k`` nearest vectors of each query, best first.

        Raises:
            Missing: the collection is not in the store.
        """
        from explorer.core.topk import top_k_over_blocks

        ids, layout, _ = self._opened(name)
        if queries.shape[1] != layout.dim:
            raise ValueError(f"Query vectors have {queries.shape[1]} dimensions, the indexed passages {layout.dim}.")
        try:
            rows, scores = top_k_over_blocks(queries, layout.blocks(max(1, READ_BLOCK_BYTES // (4 * layout.dim))), k)
        except OSError:  # gone, or cut short: a damaged collection is no collection (and is rebuilt)
            self.delete(name)
            raise Missing(name) from None
        return [[ids[j] for j in row] for row in rows], scores

    def _opened(self, name: str) -> tuple[list[str], _Layout, dict[str, Any]]:
        """(ids, the vectors file's layout, metadata), read again only when a file was replaced."""
        vec_path, json_path = self._paths(name)
        try:  # both files' identity: ours are replaced by renames, so a new version is a new inode
            stamp = tuple((st.st_ino, st.st_mtime_ns, st.st_size) for st in (json_path.stat(), vec_path.stat()))
        except OSError:
            with self._lock:
                self._open.pop(name, None)
            raise Missing(name) from None
        with self._lock:
            held = self._open.get(name)
            if held is None or held[0] != stamp:
                try:
                    said = json.loads(json_path.read_text(encoding="utf-8"))
                    layout = _Layout(vec_path)
                    held = self._open[name] = (stamp, list(said["ids"]), layout, dict(said.get("metadata", {})))
                except (OSError, ValueError, KeyError, TypeError):
                    raise Missing(name) from None
        return held[1], held[2], held[3]

    def delete(self, name: str) -> bool:
        """Remove collection ``name``; True when it was there."""
        with self._lock:
            self._open.pop(name, None)
        found = False
        for path in reversed(self._paths(name)):  # the JSON first: a half-deleted collection is no collection
            try:
                path.unlink()
                found = True
            except FileNotFoundError:
                pass
        return found

    def names(self) -> list[str]:
        """The collections in the folder."""
        return sorted(p.stem for p in self.folder.glob("*.json")) if self.folder.is_dir() else []

    def close(self) -> None:
        """Forget what was read of the collections (read again on the next query)."""
        with self._lock:
            self._open.clear()
