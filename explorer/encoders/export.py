"""Export a sentence-transformers model folder to ONNX (fp32) or dynamically quantized int8 ONNX.

The output is a normal sentence-transformers folder (tokenizer, pooling, normalization config) with the
transformer as ``onnx/model.onnx`` (fp32) or ``onnx/model_qint8_avx2.onnx`` (int8), the file names
sentence-transformers' own ONNX backend uses, so with ``optimum-onnx`` installed
``SentenceTransformer(out_dir, backend="onnx", model_kwargs={"file_name": "onnx/model_qint8_avx2.onnx"})``
loads it; :class:`OnnxEmbedder` runs it with onnxruntime alone.

Why not ``sentence_transformers.backend.export_dynamic_quantized_onnx_model``: it needs ``optimum-onnx``,
whose only release (0.1.0) requires ``transformers<4.58`` while this project runs transformers 5. So the
export uses the two maintained pieces it would have called underneath: ``torch.onnx.export`` (TorchScript
exporter) for the graph and ``onnxruntime.quantization.quantize_dynamic`` (int8 weights, activations quantized
on the fly) for the int8 file. Needs the ``onnx`` package (small) and ``onnxruntime``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, Literal

import numpy as np

from explorer.core.errors import ModelError

ExportKind = Literal["onnx", "onnx-int8"]
KINDS: tuple[str, ...] = ("onnx", "onnx-int8")
ONNX_FILE = "onnx/model.onnx"
INT8_FILE = "onnx/model_qint8_avx2.onnx"
_OPSET = 17


def export_model(model_dir: str | Path, out_dir: str | Path, kind: ExportKind = "onnx") -> Path:
    """Write an ONNX (or int8 ONNX) copy of a saved sentence-transformers model.

    Args:
        model_dir: folder of a saved sentence-transformers model (a run's ``model/``, or the bundled model).
        out_dir: folder to write; created, and replaced if it already holds an export.
        kind: "onnx" (fp32, same vectors as torch to ~1e-6) or "onnx-int8" (int8 weights: ~4x smaller
            transformer file, faster on CPUs with VNNI, small quality loss; see docs/benchmarks.md).

    Returns:
        The path of the ``.onnx`` file written inside ``out_dir``.

    Raises:
        ValueError: unknown ``kind``.
        ModelError: the folder is not a loadable model, its pooling is not mean/CLS, or the ONNX packages are missing.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    if not (model_dir / "modules.json").is_file():
        raise ModelError(f"{model_dir} is not a saved sentence-transformers model (no modules.json); export a run's model/ folder.")
    try:
        import onnx  # noqa: F401 - the quantizer and the checker need it; fail early with a clear message
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise ModelError(f"ONNX export needs the 'onnx' and 'onnxruntime' packages ({exc}); pip install onnx onnxruntime.") from exc
    import torch
    from sentence_transformers import SentenceTransformer

    try:
        # eager attention: the SDPA path builds its mask with Python branches the tracer would freeze
        model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True,
                                    model_kwargs={"attn_implementation": "eager"})
    except Exception as exc:  # any loading failure becomes one clear line
        raise ModelError(f"Could not load the model in {model_dir}: {str(exc).splitlines()[0] if str(exc) else exc}") from exc
    mode, normalize = _pooling(model)  # refuse unsupported pipelines before writing anything
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out_dir / "onnx", ignore_errors=True)
    model.save(str(out_dir))
    for weights in ("model.safetensors", "pytorch_model.bin"):  # the ONNX file replaces the torch weights
        (out_dir / weights).unlink(missing_ok=True)
    (out_dir / "onnx").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="explorer-onnx-") as tmp:
        fp32 = Path(tmp) / "model.onnx"
        _export_graph(model, fp32, torch)
        if kind == "onnx":
            target = out_dir / ONNX_FILE
            shutil.copyfile(fp32, target)
        else:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            target = out_dir / INT8_FILE
            quantize_dynamic(str(fp32), str(target), weight_type=QuantType.QInt8)
    # What inference needs besides the graph, in one place (sentence-transformers' own config files moved
    # between major versions): truncation length, pooling, normalization.
    meta = {"kind": kind, "file": str(target.relative_to(out_dir)), "source": str(model_dir), "opset": _OPSET,
            "max_seq_length": int(model.max_seq_length or 512), "pooling": mode, "normalize": normalize}
    (out_dir / "export.json").write_text(json.dumps(meta, indent=2))
    return target


def _export_graph(model: Any, path: Path, torch: Any) -> None:
    """Trace the transformer (token ids -> token embeddings) to ONNX with dynamic batch and length."""
    transformer = model[0].auto_model.eval()
    tokenizer = model.tokenizer
    sample = tokenizer(["an example sentence", "another"], padding=True, return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["last_hidden_state"] = {0: "batch", 1: "sequence"}
    from explorer.encoders.onnx_graph import PositionalTransformer

    with torch.no_grad():
        torch.onnx.export(PositionalTransformer(transformer, names), tuple(sample[n] for n in names), str(path),
                          input_names=names, output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=_OPSET, dynamo=False)


def _pooling(model: Any) -> tuple[str, bool]:
    """(pooling mode "mean" or "cls", normalize) of a Transformer -> Pooling [-> Normalize] pipeline."""
    names = [type(m).__name__ for m in model]
    if len(names) < 2 or names[0] != "Transformer" or names[1] != "Pooling" or any(n not in ("Normalize",) for n in names[2:]):
        raise ModelError(f"Only Transformer -> Pooling [-> Normalize] models can be exported, this one is {' -> '.join(names)}.")
    pooling = model[1]
    mode = getattr(pooling, "pooling_mode", None) or ("cls" if getattr(pooling, "pooling_mode_cls_token", False) else "mean")
    if mode not in ("mean", "cls"):
        raise ModelError(f"Pooling mode {mode!r} is not supported by the ONNX export (mean and cls are).")
    return mode, "Normalize" in names


class OnnxEmbedder:
    """Embed texts with an exported folder and onnxruntime only (no torch): tokenize, run, pool, normalize.

    Args:
        folder: the ``out_dir`` of :func:`export_model`.
        threads: onnxruntime intra-op threads (None: its default, one per core).
        spin: let idle onnxruntime threads busy-wait for work (its default). Off here: on a shared or
            oversubscribed machine (Community Cloud's 2 vCPUs, a server also running training) spinning
            threads burn the CPU the other work needs.
    """

    def __init__(self, folder: str | Path, threads: int | None = None, spin: bool = False) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        folder = Path(folder)
        meta = json.loads((folder / "export.json").read_text(encoding="utf-8"))
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        if not spin:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(folder / meta["file"]), options, providers=["CPUExecutionProvider"])
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self.mode, self.normalize, self.max_length = meta["pooling"], bool(meta["normalize"]), int(meta["max_seq_length"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Unit-length (if the model normalizes) float32 vectors, longest texts batched together."""
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out: list[np.ndarray] = [np.empty(0)] * len(texts)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            enc = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=self.max_length,
                                 return_tensors="np")
            feed = {n: enc[n].astype(np.int64) for n in self.inputs}
            hidden = self.session.run(None, feed)[0]
            if self.mode == "cls":
                vec = hidden[:, 0]
            else:
                mask = enc["attention_mask"][..., None].astype(np.float32)
                vec = (hidden * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)
            if self.normalize:
                vec = vec / np.clip(np.linalg.norm(vec, axis=1, keepdims=True), 1e-12, None)
            for i, v in zip(idx, vec):
                out[i] = v
        return np.stack(out).astype(np.float32)
