"""One model spec for the whole library: what a user types (CLI, app, run config) and what it names.

Grammar (:data:`GRAMMAR` is the text ``--help`` shows):

- ``minilm`` (also ``default``, ``all-MiniLM-L6-v2``): the bundled all-MiniLM-L6-v2, the default.
- ``static`` / ``static:<dense spec>``: model2vec static embeddings distilled from a local transformer
  (MiniLM by default), made once and cached (:mod:`explorer.encoders.static`).
- ``bm25``: BM25 over the corpus (bm25s, Snowball stemmer, English stop words). A retriever, not an encoder.
- ``hybrid`` / ``hybrid:<dense spec>``: BM25 fused with a dense model (MiniLM by default). A retriever.
- ``onnx-int8:<run or model>``: the int8 ONNX form of a local transformer (a run's fine-tune, a folder, minilm).
- ``run:<id>``, a run id, or a run folder: a finished training run (its fine-tuned model or its adapter).
- a folder on the server holding a saved model (local mode only).
- a Hugging Face hub id (``BAAI/bge-small-en-v1.5``) when the server is online; its code never runs
  (``trust_remote_code`` stays off).
- ``fake`` / ``fake:<dim>`` (tests) and ``openai:<model>`` (the embeddings API), as before.

:func:`parse_spec` checks a spec and gives a :class:`ModelSpec` with a readable display name and a slug (a
folder name); it loads nothing. Loading is :func:`explorer.encoders.registry.load_encoder` for the dense specs
and :func:`explorer.retrievers.load_retriever` for every spec.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from explorer.core.config import BUNDLED_MODEL_ALIASES, Settings, WorkspaceRequiredError, settings_for
from explorer.core.errors import ModelError

GRAMMAR = (
    "minilm (bundled, the default) | static | static:<dense model> | bm25 | hybrid | hybrid:<dense model> | "
    "onnx-int8:<run or model> | run:<id> or a run folder | a model folder (local mode) | a Hugging Face hub id "
    "(online)"
)
"""The grammar in one line, for ``--help`` and error messages."""

RETRIEVER_ONLY = frozenset({"bm25", "hybrid"})
"""Kinds that rank passages but have no vectors (the Latent and Similarity views need vectors)."""

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


@dataclass(frozen=True)
class ModelSpec:
    """A checked model spec.

    Attributes:
        text: the spec as given (stripped), what a run config stores and :func:`load_encoder` takes.
        kind: "bundled", "static", "bm25", "hybrid", "onnx-int8", "run", "folder", "hub", "fake" or "openai".
        inner: the dense model a "static", "hybrid" or "onnx-int8" spec is built on; None otherwise.
        display: a readable name ("BM25 + MiniLM (hybrid)").
    """

    text: str
    kind: str
    inner: "ModelSpec | None"
    display: str

    @property
    def has_vectors(self) -> bool:
        """Whether the model embeds texts (False for BM25 and hybrid: they only rank)."""
        return self.kind not in RETRIEVER_ONLY

    @property
    def slug(self) -> str:
        """A folder name for this model's stored results: lower-case letters, digits and dashes, plus a short
        hash of the spec when the readable part is not the whole spec (folders, hub ids, runs)."""
        readable = re.sub(r"[^a-z0-9]+", "-", self.text.lower()).strip("-")[:48] or "model"
        if self.kind in ("bundled", "bm25") and self.inner is None:
            return "minilm" if self.kind == "bundled" else "bm25"
        digest = hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:8]
        return f"{readable}-{digest}"


def runs_dir_for(settings: Settings | None) -> Path | None:
    """Where run ids are looked up: the given settings' runs folder, else the local one; None in public mode
    without settings (no visitor's run is ever found in the server's folder)."""
    try:
        return settings_for(settings, "find a training run by its id").runs_dir
    except WorkspaceRequiredError:
        return None


def find_run_folder(spec: str, runs_dir: Path | None) -> Path | None:
    """The training run folder a spec names, if it names one (run ids are looked up in ``runs_dir``)."""
    if spec.startswith("run:"):
        if runs_dir is None:
            raise WorkspaceRequiredError(
                f"Cannot find training run {spec[4:]!r} without a workspace in public mode: pass the visitor's "
                "workspace settings (Workspace.settings)."
            )
        folder = runs_dir / spec[4:]
        if not folder.is_dir():
            raise ModelError(f"There is no training run {spec[4:]!r} in {runs_dir}; check the run id.")
        return folder
    candidates = [Path(spec).expanduser()]
    if runs_dir is not None and "/" not in spec and "\\" not in spec and spec not in (".", ".."):
        candidates.append(runs_dir / spec)
    for folder in candidates:
        if (folder / "config.json").is_file() and any((folder / d).is_dir() for d in ("model", "adapter", "nudge")):
            return folder
        if (folder / "config.json").is_file() and (folder / "status.json").is_file():
            return folder  # a run still training (or failed): _load_run says so
    return None


def run_folder_for(spec: str, settings: Settings | None) -> Path | None:
    """The training run folder ``spec`` names, looked up in the settings' runs folder (see
    :func:`runs_dir_for`), or None when it names no run.

    Raises:
        ModelError: ``run:<id>`` of a run that does not exist.
        WorkspaceRequiredError: ``run:<id>`` in public mode without the workspace's settings.
    """
    return find_run_folder(spec.strip(), runs_dir_for(settings))


def hub_offline() -> bool:
    """Whether the server is told to stay off the Hugging Face hub (``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE``)."""
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on") for v in _OFFLINE_VARS)


def parse_spec(text: str, *, settings: Settings | None = None) -> ModelSpec:
    """Check a model spec and name it (see the module docstring for the grammar); nothing is loaded.

    Args:
        text: the spec.
        settings: the workspace's settings: its runs folder resolves run ids, and in public mode a folder on
            the server is refused. None: the local runs folder (a run id in public mode then raises, as
            :func:`~explorer.encoders.registry.load_encoder` does).

    Raises:
        ModelError: the spec names nothing usable; one line saying what to give instead.
    """
    if not isinstance(text, str) or not text.strip():
        raise ModelError(f"No model given; use one of: {GRAMMAR}.")
    text = text.strip()
    lowered = text.lower()
    head, sep, rest = text.partition(":")
    head = head.lower()
    if lowered in {a.lower() for a in BUNDLED_MODEL_ALIASES}:
        return ModelSpec(text, "bundled", None, "MiniLM (bundled)")
    if lowered == "bm25":
        return ModelSpec(text, "bm25", None, "BM25")
    if head in ("static", "hybrid", "onnx-int8") and (sep or head != "onnx-int8"):
        inner_text = rest.strip() if sep else "minilm"
        if sep and not inner_text:
            raise ModelError(f"{text!r} names no model after the colon; e.g. '{head}:minilm'.")
        inner = parse_spec(inner_text, settings=settings)
        _check_inner(head, inner, text)
        display = {"static": f"static ({inner.display}, model2vec)", "hybrid": f"BM25 + {inner.display} (hybrid)",
                   "onnx-int8": f"{inner.display}, int8 ONNX"}[head]
        return ModelSpec(text, head, inner, display)
    if head == "onnx-int8":
        raise ModelError("'onnx-int8' needs the model to compress, e.g. 'onnx-int8:minilm' or 'onnx-int8:run:<id>'.")
    if lowered == "fake" or lowered.startswith("fake:"):
        return ModelSpec(text, "fake", None, f"hashing encoder ({rest.strip() or '64'} dims)")
    if head == "openai":
        if not rest.strip():
            raise ModelError("'openai:' needs a model name, e.g. 'openai:text-embedding-3-small'.")
        return ModelSpec(text, "openai", None, f"OpenAI {rest.strip().partition('?')[0]}")
    run = run_folder_for(text, settings)
    if run is not None:
        return ModelSpec(text, "run", None, f"run {run.name}")
    return _folder_or_hub(text, settings)


def _check_inner(head: str, inner: ModelSpec, text: str) -> None:
    """Refuse inner models a wrapper cannot use (one line saying what works)."""
    if inner.kind in RETRIEVER_ONLY or inner.kind == head:
        raise ModelError(f"{text!r}: '{head}:' takes a dense model (e.g. minilm, a run, a folder), not {inner.text!r}.")
    if head in ("static", "onnx-int8") and inner.kind in ("openai", "fake", "static", "onnx-int8"):
        raise ModelError(f"{text!r}: '{head}:' needs a local transformer model (minilm, a run, a folder or a hub id), "
                         f"not {inner.text!r}.")


def _folder_or_hub(text: str, settings: Settings | None) -> ModelSpec:
    """A model folder (local mode) or a hub id (online), else a one-line error."""
    path = Path(text).expanduser()
    try:
        public = settings_for(settings, "use a model folder").public
    except WorkspaceRequiredError:  # raised only in public mode
        public = True
    if path.exists() or text.startswith((".", "/", "~", "\\")):
        if public:
            raise ModelError(f"{text!r}: a folder on the server can only be used in local mode; use minilm, static, "
                             "bm25, hybrid or a finished run.")
        if not path.is_dir():
            raise ModelError(f"Model folder {text!r} does not exist or is a file; check the path, or use 'minilm'.")
        return ModelSpec(text, "folder", None, path.resolve().name)
    if _HUB_ID.match(text):
        if hub_offline():
            raise ModelError(f"{text!r} is a Hugging Face hub id, but this server is offline (HF_HUB_OFFLINE): "
                             "download the model where there is internet and give its folder, or use minilm, static, "
                             "bm25 or hybrid.")
        return ModelSpec(text, "hub", None, text.rsplit("/", 1)[-1])
    raise ModelError(f"{text!r} is not a model spec, run, folder or hub id (owner/name); use one of: {GRAMMAR}.")
