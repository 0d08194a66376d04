"""A base encoder whose passages that training reached have moved: a table of nudged passage vectors.

The corpus-side recipe (:mod:`explorer.training.nudge`) changes the embeddings of some passages and nothing
else. :class:`NudgedEncoder` embeds every text with the base encoder (from its cache), then, for a passage
whose text is in the table (keyed by :func:`explorer.encoders.cache.text_key`, the hash the embedding cache
already uses), returns the table's vector instead. Queries, and passages the table does not hold (new ones),
are exactly the base model's, so an index built over the base's vectors stays valid for them.

The table is saved with safetensors (``nudge.safetensors``: ``vectors`` and the 20-byte ``text_sha1`` of each
row) beside ``nudge.json``, never pickled.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from explorer.core.errors import ModelError
from explorer.core.progress import Progress
from explorer.core.storage import atomic_path, read_tagged_config, write_json_atomic
from explorer.encoders.base import Encoder, Kind
from explorer.encoders.cache import text_key

CONFIG_FILE = "nudge.json"
TABLE_FILE = "nudge.safetensors"
FORMAT = "explorer-nudge"


class NudgedEncoder(Encoder):
    """``base`` with some passage vectors replaced.

    Args:
        base: the frozen encoder.
        keys: the :func:`~explorer.encoders.cache.text_key` of each nudged passage text.
        vectors: their vectors, shape (len(keys), dim), unit length.
        dim: the embedding size (needed when the table is empty: the base model was kept).
        metadata: how the table was made (config, the chosen bound, the dev selection), saved in ``nudge.json``.
    """

    def __init__(self, base: Encoder, keys: Sequence[str], vectors: np.ndarray, dim: int | None = None,
                 metadata: dict[str, Any] | None = None) -> None:
        super().__init__(base.cache_dir)
        vectors = np.asarray(vectors, dtype=np.float32)
        dim = int(vectors.shape[1]) if vectors.ndim == 2 and len(vectors) else dim or base.dim
        if vectors.size == 0:
            vectors = np.zeros((0, dim or 0), dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(keys):
            raise ValueError(f"vectors must be one row per key ({len(keys)}), got shape {vectors.shape}.")
        if not np.all(np.isfinite(vectors)):
            raise ValueError("Nudged passage vectors contain NaN or infinity.")
        self.base = base
        self.keys = [str(k) for k in keys]
        self.vectors = vectors
        self.row = {k: i for i, k in enumerate(self.keys)}
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.name = f"{base.name}+nudge"
        self.batch_size = base.batch_size
        self._dim = dim
        h = hashlib.sha256("|".join(self.keys).encode())
        h.update(np.ascontiguousarray(vectors).tobytes())
        self._hash = h.hexdigest()[:16]

    @property
    def fingerprint(self) -> str:
        """The base's when the table is empty (the base was kept: the same vectors), else with the table's hash."""
        return f"{self.base.fingerprint}+nudge-{self._hash}" if self.keys else self.base.fingerprint

    def kind_fingerprint(self, kind: Kind) -> str:
        """Queries are the base's own (its cache key); passages carry the table's hash, so a vector store built
        over them is not taken for the base's."""
        if kind == "query" or not self.keys:
            return self.base.kind_fingerprint(kind)
        return f"{self.base.kind_fingerprint('passage')}+nudge-{self._hash}"

    def transform(self, texts: Sequence[str], vectors: np.ndarray, kind: Kind = "passage") -> np.ndarray:
        """The base's ``vectors`` of ``texts`` with the table's rows put in for the passages it holds."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if kind == "query" or not self.keys:
            return vectors
        hits = [(i, self.row[k]) for i, k in enumerate(map(text_key, texts)) if k in self.row]
        if not hits:
            return vectors
        if vectors.shape[1] != self.vectors.shape[1]:
            raise ModelError(f"The nudged passages are {self.vectors.shape[1]}-dimensional but the base model gives "
                             f"{vectors.shape[1]}; load the run on the base model it was trained on.")
        out = vectors.copy()
        rows, table = zip(*hits)
        out[list(rows)] = self.vectors[list(table)]
        return out

    def embed_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        return self.transform(texts, self.base.encode(texts, kind), kind)

    def encode(self, texts: Sequence[str], kind: Kind = "passage", *, progress: Progress | None = None,
               batch_size: int | None = None, use_cache: bool = True) -> np.ndarray:
        """Base embeddings (from the base's cache) with the nudged rows put in; see :meth:`Encoder.encode`."""
        texts = [str(t) for t in texts]
        base = self.base.encode(texts, kind, progress=progress, batch_size=batch_size, use_cache=use_cache)
        return self.transform(texts, base, kind) if len(base) else base

    # --------------------------------------------------------------------------- files
    def save(self, folder: str | Path, base_spec: str | None = None) -> Path:
        """Write ``nudge.safetensors`` and ``nudge.json`` into ``folder`` (created if missing).

        Raises:
            StorageError: the folder cannot be written.
        """
        from safetensors.numpy import save_file

        folder = Path(folder)
        digests = np.frombuffer(b"".join(bytes.fromhex(k) for k in self.keys), dtype=np.uint8).reshape(-1, 20)
        config = {"format": FORMAT, "version": 1,
                  "base": {"spec": base_spec or getattr(self.base, "spec", None) or self.base.name,
                           "name": self.base.name, "fingerprint": self.base.fingerprint},
                  "dim": self._dim, "rows": len(self.keys), "key": "sha1 of the passage text (UTF-8)",
                  "fingerprint": self.fingerprint, "metadata": self.metadata}
        with atomic_path(folder / TABLE_FILE) as tmp:
            save_file({"vectors": np.ascontiguousarray(self.vectors), "text_sha1": np.ascontiguousarray(digests)},
                      str(tmp))
        write_json_atomic(folder / CONFIG_FILE, config)
        return folder

    @staticmethod
    def read_config(folder: str | Path) -> dict[str, Any]:
        """The ``nudge.json`` of a saved table."""
        return read_tagged_config(folder, CONFIG_FILE, FORMAT, "nudged-passage table")

    @classmethod
    def load(cls, folder: str | Path, base: Encoder, strict: bool = False) -> "NudgedEncoder":
        """Load a table saved by :meth:`save` over ``base`` (a different base fingerprint warns, or raises
        when ``strict``).

        Raises:
            ModelError: missing or unreadable files, or rows that disagree with the config.
        """
        from safetensors.numpy import load_file

        folder = Path(folder)
        config = cls.read_config(folder)
        try:
            tensors = load_file(str(folder / TABLE_FILE))
        except Exception as exc:  # noqa: BLE001 - a missing or corrupt file: safetensors raises its own errors
            raise ModelError(f"Cannot read the nudged passages {folder / TABLE_FILE}: {exc}.") from exc
        vectors, digests = tensors.get("vectors"), tensors.get("text_sha1")
        if vectors is None or digests is None or len(vectors) != len(digests) or len(vectors) != config.get("rows"):
            raise ModelError(f"{folder}: {TABLE_FILE} does not match {CONFIG_FILE}; the files do not belong together.")
        recorded = (config.get("base") or {}).get("fingerprint")
        if recorded and recorded != base.fingerprint:
            message = (f"The nudged passages in {folder} were made over base {recorded!r}, not {base.fingerprint!r}; "
                       "its results may be meaningless.")
            if strict:
                raise ModelError(message)
            warnings.warn(message, stacklevel=2)
        keys = [bytes(row).hex() for row in digests]
        return cls(base, keys, vectors, dim=config.get("dim"), metadata=config.get("metadata") or {})
