"""ONNX Runtime inference for sentence-transformers models on CPUs without native bfloat16.

On such CPUs (plain AVX2: most cloud VMs, Streamlit Community Cloud) PyTorch's fp32 path reaches only part of
what the hardware's matrix multiply can do. onnxruntime with the transformer graph fused by its own optimizer
(``onnxruntime.transformers.optimizer``: one ``Attention`` kernel per layer, ``SkipLayerNormalization``,
``BiasGelu``, ``EmbedLayerNormalization``) computes the *same* fp32 function faster (docs/benchmarks.md §1):
vectors agree with torch fp32 to ~1e-7, so they share torch fp32's embedding cache and fingerprint.

Why not ``SentenceTransformer(path, backend="onnx")`` / ``export_optimized_onnx_model``: both need
``optimum-onnx``, whose only release requires ``transformers<4.58`` while this project runs transformers 5. So
the graph comes from :func:`explorer.encoders.export.export_model` (``torch.onnx.export``), is fused with onnxruntime's
optimizer (the piece optimum calls underneath), checked against torch on sample texts, and run by
:class:`explorer.encoders.export.OnnxEmbedder` (tokenize, run, pool, normalize).

Each model folder is exported once, into ``<embedding cache root>/onnx/<key>/`` (under the configured home,
never into site-packages), written to a temporary folder and renamed, so a crash never leaves half an export
and two threads or processes never see one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import numpy as np

from explorer.encoders.fingerprints import folder_fingerprint
from explorer.core.children import clean_env
from explorer.core.errors import ModelError
from explorer.core.storage import read_json

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
"""Bumped when the export recipe changes, so older exports are rebuilt rather than reused."""

FUSED_FILE = "onnx/model_fused.onnx"
CHECK_TEXTS = ("a", "The quick brown fox jumps over the lazy dog.",
               "Mean pooling must ignore padding, so this batch mixes short and much longer texts on purpose; " * 6,
               "what is the boiling point of water at high altitude")
CHECK_MAX_ABS = 1e-4
"""Largest coordinate difference to torch fp32 (unit vectors) an export may show on the check texts; fused
fp32 kernels differ by ~1e-7, a wrongly fused graph by far more than this."""

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def runtime_available() -> bool:
    """Whether onnxruntime and onnx (needed to export) can be imported."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def supported_folder(folder: Path) -> bool:
    """Whether a saved model can run here: a Transformer -> Pooling (mean or CLS) [-> Normalize] pipeline
    without prompts, read from its config files (no weights loaded).

    Prompts or routers (different treatment of queries and passages) and other pooling modes stay on torch:
    the ONNX path embeds texts exactly as given.
    """
    modules = read_json(folder / "modules.json")
    if not isinstance(modules, list) or len(modules) < 2:
        return False
    types = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules if isinstance(m, dict)]
    if types[:2] != ["Transformer", "Pooling"] or any(t != "Normalize" for t in types[2:]):
        return False
    pooling_dir = folder / str(modules[1].get("path", ""))
    pooling = read_json(pooling_dir / "config.json")
    if not isinstance(pooling, dict):
        return False
    mode = pooling.get("pooling_mode") or ("cls" if pooling.get("pooling_mode_cls_token") else
                                           "mean" if pooling.get("pooling_mode_mean_tokens") else None)
    prompts = (read_json(folder / "config_sentence_transformers.json") or {}).get("prompts") or {}
    return mode in ("mean", "cls") and not any(str(p) for p in prompts.values())


def export_key(folder: Path) -> str:
    """Folder name of a model's export: its content fingerprint (so a re-saved copy reuses the export and a
    changed one gets a new one), the recipe version and onnxruntime's version (which decides the fusion)."""
    import onnxruntime

    identity = f"{folder_fingerprint(folder)}|v{FORMAT_VERSION}|ort={onnxruntime.__version__}"
    return hashlib.sha256(identity.encode()).hexdigest()[:24]


def exported(folder: Path, root: Path) -> Path | None:
    """The finished export of ``folder`` under ``root``, or None when it was never made."""
    target = root / export_key(folder)
    return target if (target / "export.json").is_file() else None


def ensure_export(folder: Path, root: Path) -> Path:
    """The export of ``folder`` under ``root``, made now if missing (tens of seconds on 2 cores, once).

    Raises:
        ModelError: the export failed, or neither the fused nor the plain graph matches torch fp32.
    """
    key = export_key(folder)
    target = root / key
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(key, threading.Lock())
    with lock:
        if (target / "export.json").is_file():
            return target
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / f".tmp-{key}-{uuid.uuid4().hex[:8]}"
        try:
            _build_apart(folder, tmp)
            try:
                tmp.rename(target)
            except OSError:  # another process finished first: its export is as good as ours
                if not (target / "export.json").is_file():
                    raise
        except ModelError:
            raise
        except Exception as exc:  # any export failure becomes one line; the caller falls back to torch
            raise ModelError(f"ONNX export of {folder} failed: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}") from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _build_apart(folder: Path, out: Path) -> None:
    """:func:`_build` in fresh processes (``python -m explorer.encoders.onnx_runtime FOLDER OUT STAGE``), one per
    stage: the export traces a second copy of the model, about 640 MB for MiniLM that the server's allocator would
    keep after it, and the fusion loads the graph into onnxruntime's optimizer, about 530 MB more. In one child the
    two stacked up to 1,482 MB for MiniLM beside the server; apart the children peak at 918 and 725 MB (10.7 s in
    all against 9.7 s; 2 AMD EPYC cores, plain path).

    Raises:
        ModelError: the child's last line, when it failed.
    """
    for stage in BUILD_STAGES:
        done = subprocess.run([sys.executable, "-m", "explorer.encoders.onnx_runtime", str(folder), str(out), stage],
                              env=clean_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if done.returncode:
            lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
            raise ModelError(lines[-1] if lines else f"the export stopped with exit status {done.returncode}")


BUILD_STAGES = ("export", "fuse")
"""The stages of :func:`_build`, each in a process of its own when apart."""
REFERENCE_FILE = ".torch-reference.npy"
"""torch's fp32 vectors of :data:`CHECK_TEXTS`, kept in the export folder between the stages."""


def _build(folder: Path, out: Path, stage: str | None = None) -> None:
    """Export, fuse and check one model into ``out`` (which must not exist yet): ``stage`` "export" writes the
    graph and torch's reference vectors, "fuse" fuses and checks against them; None does both."""
    from explorer.encoders.export import ONNX_FILE, OnnxEmbedder, export_model

    if stage in (None, "export"):
        export_model(folder, out, "onnx")
        np.save(out / REFERENCE_FILE, _torch_vectors(folder))
    if stage not in (None, "fuse"):
        return
    reference = np.load(out / REFERENCE_FILE)
    (out / REFERENCE_FILE).unlink()
    meta_path = out / "export.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    config = read_json(out / "config.json") or {}  # the transformer's own config, saved by the export
    fused = _fuse(out / ONNX_FILE, out / FUSED_FILE, int(config.get("num_attention_heads") or 0),
                  int(config.get("hidden_size") or 0))
    if fused:
        meta["file"] = FUSED_FILE
        meta_path.write_text(json.dumps(meta, indent=2))
        if _max_abs(OnnxEmbedder(out).encode(list(CHECK_TEXTS)), reference) <= CHECK_MAX_ABS:
            (out / ONNX_FILE).unlink()  # the fused graph replaces it: one copy of the weights on disk
            return
        log.warning("Fused ONNX graph of %s disagrees with torch; using the unfused graph", folder)
        (out / FUSED_FILE).unlink()
        meta["file"] = ONNX_FILE
        meta_path.write_text(json.dumps(meta, indent=2))
    error = _max_abs(OnnxEmbedder(out).encode(list(CHECK_TEXTS)), reference)
    if error > CHECK_MAX_ABS:
        raise ModelError(f"The ONNX export of {folder} differs from torch by {error:.2g}; staying on torch.")


def _fuse(source: Path, target: Path, num_heads: int, hidden_size: int) -> bool:
    """Fuse attention, layer norms and GELU with onnxruntime's transformer optimizer; False if it cannot.

    ``num_heads`` / ``hidden_size`` come from the model's config (0: let the optimizer guess from the graph,
    which fails on torch.onnx's graphs of BERT and leaves attention unfused).
    """
    try:
        from onnxruntime.transformers import optimizer

        # opt_level 0: only the fusions (the session applies its own graph optimizations at load time), so
        # the file holds no optimizations specific to this CPU.
        model = optimizer.optimize_model(str(source), model_type="bert", num_heads=num_heads, hidden_size=hidden_size,
                                         opt_level=0)
        stats = model.get_fused_operator_statistics()
        if not stats.get("Attention") and not stats.get("MultiHeadAttention"):
            return False  # the pattern did not match this architecture: the plain graph is as good
        model.save_model_to_file(str(target))
        return True
    except Exception as exc:  # an unusual architecture: keep the plain graph
        log.info("ONNX fusion skipped for %s: %s", source, exc)
        return False


def _torch_vectors(folder: Path) -> np.ndarray:
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    with torch.inference_mode():
        return model.encode(list(CHECK_TEXTS), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)


def _max_abs(a: np.ndarray, b: np.ndarray) -> float:
    a = a / np.clip(np.linalg.norm(a, axis=1, keepdims=True), 1e-12, None)
    return float(np.abs(a - b).max())


class OnnxModel:
    """A loaded export: embeds texts the way sentence-transformers' ``encode`` would, with onnxruntime.

    Args:
        folder: an export made by :func:`ensure_export`.
        max_seq_length: truncate to this many tokens instead of the exported model's own limit.
    """

    def __init__(self, folder: Path, max_seq_length: int | None = None) -> None:
        from explorer.encoders.export import OnnxEmbedder

        self.folder = Path(folder)
        self._embedder = OnnxEmbedder(self.folder)  # spinning off: the 2 cores are shared with the app and training
        if max_seq_length is not None:
            self._embedder.max_length = int(max_seq_length)
        self.dim = int(self._embedder.session.get_outputs()[0].shape[-1] or 0) or None

    def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors of one batch (L2-normalized if the model normalizes)."""
        # sentence-transformers strips each text before tokenizing; so must we, for identical tokens.
        return self._embedder.encode([str(t).strip() for t in texts], batch_size=max(1, len(texts)))


if __name__ == "__main__":  # pragma: no cover - run as a child by _build_apart
    try:
        _build(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
    except Exception as exc:  # noqa: BLE001 - one line for the parent, which raises ModelError with it
        print(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, file=sys.stderr)
        sys.exit(1)
