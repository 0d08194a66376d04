"""Static embeddings (model2vec) distilled from a local transformer, and its int8 ONNX form.

:func:`distilled_folder` distills once per source model (model2vec's ``distill``: every token of the
vocabulary through the transformer, whose weights are loaded in bfloat16 when the source runs in bf16 (a CPU with
native bf16: fewer seconds; autocast would fail, model2vec's pooled output would stay bf16), PCA to 256
dimensions, SIF weights) into
``<cache>/static/<source fingerprint>/`` and reuses that folder afterwards; :class:`StaticEncoder` looks texts
up in the table (no transformer at query time: about a hundred times faster to encode, much weaker).

The bundled MiniLM's distillation ships with the code (:data:`SHIPPED`, 15 MB, made by that same function):
``static`` is ready at once, without a minute of distillation or its memory on a small public server. Any
other source is distilled on first use.

model2vec's ``distill`` extra pins ``transformers<5.4``, which would downgrade this project's transformers 5.
That pin is only declared by the extra: the code runs on transformers 5 (tests/retrievers/test_static.py
distills a tiny BERT with it),
so requirements.txt installs ``model2vec`` without the extra plus the extra's one other piece,
``skeletoken``, and the distillation runs in-process.

:class:`OnnxInt8Encoder` wraps the int8 export of :mod:`explorer.encoders.export`, made once into
``<cache>/onnx-int8/<source fingerprint>/``.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from explorer.core.errors import ModelError
from explorer.encoders.base import Encoder, Kind

_BUILD_LOCK = threading.Lock()
SHIPPED = Path(__file__).with_name("static_minilm")
"""The bundled MiniLM's static model, distilled by :func:`distilled_folder` (see its README.md)."""
SHIPPED_SOURCE = "st-48e44a401e4b8dc48c387086"
"""The content fingerprint of the bundled MiniLM that :data:`SHIPPED` was distilled from."""
PCA_DIMS = 256
"""Width of the distilled vectors (model2vec's default)."""


def _source(encoder: Encoder, what: str) -> tuple[str, str]:
    """(model path or hub id, fingerprint) of the transformer a static or int8 model is made from."""
    from explorer.encoders.sentence import local_model_path

    path = local_model_path(encoder)
    if not path:
        raise ModelError(f"{what} needs a transformer model (minilm, a run's fine-tune, a folder or a hub id); "
                         f"{encoder.name!r} is not one (an adapter run has no transformer of its own).")
    return str(path), encoder.fingerprint


def distilled_folder(source: Encoder, cache_root: Path, *, shipped: bool = True) -> Path:
    """The model2vec folder distilled from ``source`` (a sentence-transformers encoder), made on first use
    (the bundled MiniLM's is shipped: :data:`SHIPPED`, unless the cache holds one made here or ``shipped`` is
    False, which distills it again).

    Raises:
        ModelError: the source has no transformer, or the distillation failed (one line, the cause).
    """
    path, fingerprint = _source(source, "A static model")
    folder = Path(cache_root) / "static" / fingerprint
    with _BUILD_LOCK:
        if (folder / "config.json").is_file():
            return folder
        if shipped and fingerprint == SHIPPED_SOURCE and (SHIPPED / "config.json").is_file():
            return SHIPPED
        try:
            from model2vec.distill import distill_from_model
        except ImportError as exc:
            raise ModelError(f"Static models need model2vec and skeletoken ({exc}); pip install -r requirements.txt.") from exc
        try:
            model = distill_from_model(*_transformer(path, bool(getattr(source, "bf16", False))), pca_dims=PCA_DIMS)
        except Exception as exc:  # model2vec raises many types; the user needs the cause in one line
            raise ModelError(f"Could not distill a static model from {source.name!r}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".static-", dir=folder.parent))
        model.save_pretrained(str(staging))
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
        return folder


def _transformer(path: str, bf16: bool) -> tuple[Any, Any]:
    """The source's transformer and fast tokenizer, the way model2vec's ``distill`` loads them (its code never
    runs: ``trust_remote_code`` off), with the weights in bfloat16 when the source runs in bf16."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(path, trust_remote_code=False, dtype=torch.bfloat16 if bf16 else torch.float32)
    return model, AutoTokenizer.from_pretrained(path, trust_remote_code=False, use_fast=True)


class StaticEncoder(Encoder):
    """A model2vec static model as an :class:`~explorer.encoders.base.Encoder`.

    Args:
        folder: a folder written by model2vec's ``save_pretrained`` (:func:`distilled_folder`).
        name: the display name.
        cache_dir: embedding cache root, or None. Lookups are so cheap that caching barely pays; it is kept for
            uniformity (a bake-off from a warm cache reads every model's vectors the same way).
    """

    batch_size = 1024

    def __init__(self, folder: Path, name: str, cache_dir: Path | None = None) -> None:
        super().__init__(cache_dir)
        from model2vec import StaticModel

        from explorer.encoders.fingerprints import folder_fingerprint

        self.folder = Path(folder)
        self.model = StaticModel.from_pretrained(str(self.folder))
        self.name = name
        self._fingerprint = f"static-{folder_fingerprint(self.folder)[:24]}"
        self._dim = int(self.model.dim)

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def embed_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        return np.asarray(self.model.encode(texts, show_progress_bar=False), dtype=np.float32)


def int8_folder(source: Encoder, cache_root: Path) -> Path:
    """The int8 ONNX export of ``source``'s local model folder, made on first use (about half a minute)."""
    from explorer.encoders.export import export_model

    path, fingerprint = _source(source, "An int8 ONNX model")
    if not getattr(source, "is_local", False):
        raise ModelError(f"An int8 ONNX model is made from a local folder; {source.name!r} is a hub id: download it first.")
    folder = Path(cache_root) / "onnx-int8" / fingerprint
    with _BUILD_LOCK:
        if not (folder / "export.json").is_file():
            export_model(path, folder, "onnx-int8")
    return folder


class OnnxInt8Encoder(Encoder):
    """The int8 ONNX form of a transformer, run with onnxruntime alone (:class:`~explorer.encoders.export.OnnxEmbedder`)."""

    def __init__(self, folder: Path, name: str, source_fingerprint: str, cache_dir: Path | None = None) -> None:
        super().__init__(cache_dir)
        from explorer.encoders.export import OnnxEmbedder

        self.folder = Path(folder)
        self.embedder = OnnxEmbedder(self.folder)
        self.name = name
        self._fingerprint = f"onnx-int8-{source_fingerprint}"

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def embed_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        return self.embedder.encode(texts, batch_size=len(texts))
