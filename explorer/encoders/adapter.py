"""A linear adapter on top of frozen embeddings: ``normalize(base(text) @ W + b)``.

This is the "customizing embeddings" method (OpenAI cookbook, 2022): when the base model cannot be
fine-tuned (an API model) or re-embedding the corpus is expensive, learn a matrix that moves query
embeddings toward their relevant passages. With ``query_only`` (the default) passages keep their base
embeddings exactly, so a corpus already embedded (and cached, and stored in the vector store) stays valid.

The adapter never embeds text itself: it calls ``base.encode``, so every base embedding comes from, and goes
to, the base encoder's cache. Its own outputs are not cached: a matrix product is cheaper than a disk read.
Weights are saved with safetensors (or ``np.savez`` without pickle when safetensors is missing), never pickle.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from explorer.encoders.base import Encoder, Kind, normalize_rows
from explorer.core.errors import ModelError, StorageError
from explorer.core.progress import Progress
from explorer.core.storage import read_tagged_config

CONFIG_FILE = "adapter.json"
WEIGHTS_FILES = ("adapter.safetensors", "adapter.npz")


class AdapterEncoder(Encoder):
    """An encoder that applies a linear map to a base encoder's (unit) embeddings.

    Args:
        base: the frozen encoder whose embeddings are adapted.
        weights: matrix of shape (dim_in, dim_out); ``dim_in`` is the base's embedding size.
        bias: optional vector of shape (dim_out,).
        query_only: adapt queries only; passages are the base's own embeddings (then dim_out must equal
            dim_in, so queries and passages stay comparable).
        metadata: free-form facts about how it was trained (config, losses), saved in ``adapter.json``.
    """

    def __init__(
        self,
        base: Encoder,
        weights: np.ndarray,
        bias: np.ndarray | None = None,
        query_only: bool = True,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(base.cache_dir)
        weights = np.asarray(weights, dtype=np.float32)
        if weights.ndim != 2:
            raise ValueError(f"weights must be a (dim_in, dim_out) matrix, got shape {weights.shape}.")
        if bias is not None:
            bias = np.asarray(bias, dtype=np.float32)
            if bias.shape != (weights.shape[1],):
                raise ValueError(f"bias must have shape ({weights.shape[1]},), got {bias.shape}.")
        if query_only and weights.shape[0] != weights.shape[1]:
            raise ValueError(
                f"A query-only adapter must keep the embedding size (passages are not mapped), got weights {weights.shape}."
            )
        if not np.all(np.isfinite(weights)) or (bias is not None and not np.all(np.isfinite(bias))):
            raise ValueError("Adapter weights contain NaN or infinity.")
        self.base = base
        self.weights = weights
        self.bias = bias
        self.query_only = bool(query_only)
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.name = f"{base.name}+adapter"
        self.batch_size = base.batch_size
        self._dim = int(weights.shape[1])
        self._hash = self._weights_hash()

    # --------------------------------------------------------------------------- identity
    def _weights_hash(self) -> str:
        h = hashlib.sha256()
        h.update(f"{self.weights.shape}|{self.query_only}|".encode())
        h.update(np.ascontiguousarray(self.weights).tobytes())
        if self.bias is not None:
            h.update(b"bias")
            h.update(np.ascontiguousarray(self.bias).tobytes())
        return h.hexdigest()[:16]

    @property
    def fingerprint(self) -> str:
        return f"{self.base.fingerprint}+adapter-{self._hash}"

    def kind_fingerprint(self, kind: Kind) -> str:
        """The base's key for passages of a query-only adapter (they *are* the base's embeddings)."""
        if self.query_only and kind == "passage":
            return self.base.kind_fingerprint("passage")
        return f"{self.base.kind_fingerprint(kind)}+adapter-{self._hash}"

    @property
    def dim_in(self) -> int:
        """Size of the base embeddings the adapter reads."""
        return int(self.weights.shape[0])

    # --------------------------------------------------------------------------- embedding
    def adapts(self, kind: Kind) -> bool:
        """Whether texts of this kind go through the linear map."""
        return not (self.query_only and kind == "passage")

    def transform(self, vectors: np.ndarray, kind: Kind = "query") -> np.ndarray:
        """Apply the map to base embeddings (already computed) and normalize; passages pass through when
        query-only. Useful to adapt vectors held elsewhere (a vector store, a saved run)."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if not self.adapts(kind):
            return vectors
        if vectors.ndim != 2 or vectors.shape[1] != self.dim_in:
            raise ModelError(
                f"The adapter expects {self.dim_in}-dimensional base embeddings, got shape {vectors.shape}; "
                "it was trained for a different base model."
            )
        out = vectors @ self.weights
        if self.bias is not None:
            out = out + self.bias
        return normalize_rows(out)

    def embed_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        return self.transform(self.base.encode(texts, kind), kind)

    def encode(
        self,
        texts: Sequence[str],
        kind: Kind = "passage",
        *,
        progress: Progress | None = None,
        batch_size: int | None = None,
        use_cache: bool = True,
    ) -> np.ndarray:
        """Base embeddings (from the base's cache) through the map; see :meth:`Encoder.encode`."""
        base = self.base.encode(texts, kind, progress=progress, batch_size=batch_size, use_cache=use_cache)
        if len(base) == 0:
            return np.zeros((0, self._dim if self.adapts(kind) else base.shape[1]), dtype=np.float32)
        return self.transform(base, kind)

    # --------------------------------------------------------------------------- files
    def save(self, folder: str | Path, base_spec: str | None = None) -> Path:
        """Write ``adapter.safetensors`` (or ``adapter.npz``) and ``adapter.json`` into ``folder``.

        Args:
            folder: created if missing.
            base_spec: how to load the base again (a registry spec such as "minilm"); defaults to the base's
                ``spec`` attribute when it has one, else its name.

        Raises:
            StorageError: the folder cannot be written.
        """
        folder = Path(folder)
        tensors = {"weights": np.ascontiguousarray(self.weights)}
        if self.bias is not None:
            tensors["bias"] = np.ascontiguousarray(self.bias)
        config = {
            "format": "explorer-adapter", "version": 1,
            "base": {"spec": base_spec or getattr(self.base, "spec", None) or self.base.name,
                     "name": self.base.name, "fingerprint": self.base.fingerprint},
            "dim_in": self.dim_in, "dim_out": self._dim, "query_only": self.query_only,
            "has_bias": self.bias is not None, "fingerprint": self.fingerprint, "metadata": self.metadata,
        }
        try:
            folder.mkdir(parents=True, exist_ok=True)
            try:
                from safetensors.numpy import save_file

                name = WEIGHTS_FILES[0]
                tmp = folder / f".{name}.tmp"
                save_file(tensors, str(tmp))
            except ImportError:  # safetensors ships with transformers; this is only a fallback
                name = WEIGHTS_FILES[1]
                tmp = folder / f".{name}.tmp"
                with open(tmp, "wb") as fh:
                    np.savez(fh, **tensors)
            os.replace(tmp, folder / name)
            config["weights_file"] = name
            cfg_tmp = folder / f".{CONFIG_FILE}.tmp"
            cfg_tmp.write_text(json.dumps(config, indent=2, default=str), encoding="utf-8")
            os.replace(cfg_tmp, folder / CONFIG_FILE)
        except OSError as exc:
            raise StorageError(f"Cannot save the adapter to {folder}: {exc.strerror or exc}.") from exc
        return folder

    @staticmethod
    def read_config(folder: str | Path) -> dict[str, Any]:
        """The ``adapter.json`` of a saved adapter (e.g. to find which base to load)."""
        return read_tagged_config(folder, CONFIG_FILE, "explorer-adapter", "adapter")

    @classmethod
    def load(cls, folder: str | Path, base: Encoder, strict: bool = False) -> "AdapterEncoder":
        """Load an adapter saved by :meth:`save` on top of ``base``.

        Args:
            folder: the folder holding ``adapter.json`` and the weights.
            base: the encoder the adapter was trained on.
            strict: raise when the base's fingerprint differs from the one recorded at training time
                (otherwise only warn: a moved model folder changes some fingerprints without changing weights).

        Raises:
            ModelError: missing or unreadable files, shapes that disagree with the config, or a base whose
                embedding size is not the adapter's input size.
        """
        folder = Path(folder)
        config = cls.read_config(folder)
        tensors = _read_weights(folder, config)
        weights, bias = tensors.get("weights"), tensors.get("bias")
        if weights is None or weights.ndim != 2:
            raise ModelError(f"{folder}: the weights file holds no (dim_in, dim_out) matrix named 'weights'.")
        if weights.shape != (config.get("dim_in"), config.get("dim_out")):
            raise ModelError(
                f"{folder}: weights have shape {weights.shape} but {CONFIG_FILE} says "
                f"({config.get('dim_in')}, {config.get('dim_out')}); the files do not belong together."
            )
        base_dim = base.dim or int(base.encode(["dimension probe"], "query").shape[1])
        if base_dim != weights.shape[0]:
            raise ModelError(
                f"The adapter in {folder} expects {weights.shape[0]}-dimensional embeddings from "
                f"{config['base'].get('spec')!r}, but {base.name!r} gives {base_dim}; load it on the base model it was "
                "trained on."
            )
        recorded = config.get("base", {}).get("fingerprint")
        if recorded and recorded != base.fingerprint:
            message = (f"The adapter in {folder} was trained on base {recorded!r}, not {base.fingerprint!r}; "
                       "its results may be meaningless.")
            if strict:
                raise ModelError(message)
            warnings.warn(message, stacklevel=2)
        try:
            return cls(base, weights, bias, query_only=bool(config.get("query_only", True)),
                       metadata=config.get("metadata") or {})
        except ValueError as exc:
            raise ModelError(f"{folder}: {exc}") from exc


def _read_weights(folder: Path, config: dict[str, Any]) -> dict[str, np.ndarray]:
    names = [config["weights_file"]] if config.get("weights_file") else list(WEIGHTS_FILES)
    for name in names:
        path = folder / name
        if not path.is_file():
            continue
        try:
            if name.endswith(".safetensors"):
                try:
                    from safetensors.numpy import load_file
                except ImportError as exc:
                    raise ModelError(f"{path} needs the safetensors package: pip install safetensors.") from exc
                return dict(load_file(str(path)))
            with np.load(path, allow_pickle=False) as data:  # never unpickle a downloaded file
                return {k: data[k] for k in data.files}
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - safetensors raises its own SafetensorError on a corrupt file
            raise ModelError(f"Cannot read adapter weights {path}: {exc}.") from exc
    raise ModelError(f"{folder} holds no adapter weights ({' or '.join(names)}).")
