"""Compression: the model as fp32 torch, fp32 ONNX and dynamic-int8 ONNX (``explorer.encoders.export.export_model``).

Speed: the same SciFact abstracts through each, batch 32, chunk by chunk in rotation (so load drift hits all
three); reported as texts/s and as ratios to torch. Quality: NDCG@10 on SciFact test over a corpus subset
(every test query, every judged passage, distractors up to N) for all three, plus the cosine between each
ONNX vector and the torch one. File sizes of the transformer weights.
The model is the newest fine-tuned run under EXPLORER_HOME if there is one, else the bundled MiniLM.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_encode import _subset
from benchmarks.common import Context, load_scifact, loadavg, minilm_path, r, timed

NAME = "compression"


def _onnx_encoder(embedder: Any, name: str) -> Any:
    from explorer.encoders.base import Encoder

    class OnnxEncoder(Encoder):
        def __init__(self) -> None:
            super().__init__(cache_dir=None)
            self.name = name

        @property
        def fingerprint(self) -> str:
            return f"bench-{name}"

        def embed_batch(self, texts: list[str], kind: str) -> np.ndarray:
            return embedder.encode(texts, batch_size=len(texts))

    return OnnxEncoder()


def _model_dir(ctx: Context) -> tuple[str, str]:
    runs = sorted((ctx.home / "runs").glob("*/model/modules.json"), key=lambda p: p.stat().st_mtime)
    if runs:
        return str(runs[-1].parent), f"fine-tuned run {runs[-1].parent.parent.name}"
    return minilm_path(), "bundled all-MiniLM-L6-v2"


def run(ctx: Context) -> dict[str, Any]:
    from sentence_transformers import SentenceTransformer

    from explorer.encoders.sentence import SentenceTransformerEncoder
    from explorer.evaluation.retrieval import evaluate_encoder
    from explorer.encoders.export import OnnxEmbedder, export_model

    ds = load_scifact(ctx.need_scifact())
    model_dir, label = _model_dir(ctx)
    n_texts, chunks, n_sub, n_q = (120, 3, 300, 100) if ctx.quick else (600, 4, 1000, None)
    texts = ds.passage_texts(ds.passage_ids()[:n_texts])
    out: dict[str, Any] = {"model": label, "model_dir": model_dir, "loadavg_before": loadavg()}
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        export_s = {}
        files = {}
        for kind in ("onnx", "onnx-int8"):
            export_s[kind], files[kind] = timed(lambda: export_model(model_dir, Path(tmp) / kind, kind=kind))
        torch_model = SentenceTransformer(model_dir, device="cpu")
        runners = {
            "torch_fp32": lambda t: torch_model.encode(t, batch_size=32, normalize_embeddings=True, show_progress_bar=False),
            "onnx_fp32": OnnxEmbedder(Path(tmp) / "onnx").encode,
            "onnx_int8": OnnxEmbedder(Path(tmp) / "onnx-int8").encode,
        }
        for fn in runners.values():
            fn(texts[:32])  # warm-up
        size = -(-len(texts) // chunks)
        seconds: dict[str, float] = {k: 0.0 for k in runners}
        per_chunk: dict[str, list[float]] = {k: [] for k in runners}
        vecs: dict[str, list[np.ndarray]] = {k: [] for k in runners}
        names = list(runners)
        for i in range(chunks):
            part = texts[i * size : (i + 1) * size]
            for k in names[i % 3 :] + names[: i % 3]:  # rotate who goes first
                t, v = timed(lambda: runners[k](part))
                seconds[k] += t
                per_chunk[k].append(t)
                vecs[k].append(np.asarray(v))
            print(f"   chunk {i}: " + ", ".join(f"{k} {per_chunk[k][-1]:.1f}s" for k in names), flush=True)
        ref = np.vstack(vecs["torch_fp32"])
        speed = {}
        for k in names:
            v = np.vstack(vecs[k])
            speed[k] = {
                "texts_per_s": r(len(texts) / seconds[k], 1), "seconds": r(seconds[k], 2),
                "speedup_vs_torch": r(seconds["torch_fp32"] / seconds[k], 2),
                "median_chunk_speedup": r(statistics.median(a / b for a, b in zip(per_chunk["torch_fp32"], per_chunk[k])), 2),
                "min_cosine_vs_torch": r(float((v * ref).sum(1).min()), 5),
            }
        sub = _subset(ds, n_sub, n_queries=n_q)
        quality = {"torch_fp32": evaluate_encoder(sub, SentenceTransformerEncoder(model_dir, device="cpu"), "test")}
        for k in ("onnx_fp32", "onnx_int8"):
            emb = runners[k].__self__
            quality[k] = evaluate_encoder(sub, _onnx_encoder(emb, k), "test")
        sizes_mb = {"torch_fp32": r(sum(p.stat().st_size for p in Path(model_dir).glob("*.safetensors")) / 2**20, 1),
                    "onnx_fp32": r(files["onnx"].stat().st_size / 2**20, 1),
                    "onnx_int8": r(files["onnx-int8"].stat().st_size / 2**20, 1)}
    out["summary"] = {
        "model": label, "texts": len(texts), "export_seconds": {k: r(v, 1) for k, v in export_s.items()},
        "file_mb": sizes_mb, "speed": speed,
        "ndcg@10_subset": {k: r(v.metrics["ndcg@10"], 4) for k, v in quality.items()},
        "subset": {"passages": len(sub.corpus), "queries": quality["torch_fp32"].n_queries},
    }
    return out
