"""Encoding speed and quality: explorer's SentenceTransformerEncoder vs plain ``SentenceTransformer.encode`` fp32.

Texts: every SciFact test query's judged abstracts plus distractors up to 2,000 abstracts (300 in quick mode),
so the same vectors also give an NDCG@10.

Speed: batch size 32 on both sides, cache disabled, the texts sorted longest first once (both sides would sort
each call's texts anyway) and cut into chunks of 64. Plain is ``SentenceTransformer.encode`` in fp32. The
explorer path is the encoder with its defaults: bf16 autocast on a CPU with native bf16, else onnxruntime on the
fused fp32 graph (exported once before timing; the export's time is reported apart), else torch fp32. On a
bf16 CPU the no-bf16 path (``bf16=False``, i.e. ``EXPLORER_BF16=0``) runs as a third variant. The texts are
variants take turns chunk by chunk, the order reversed every other chunk, so all see the same machine load (on
a shared 2-core machine the load swings within a minute: small chunks keep each pair of timings close); the ratio is plain seconds / variant seconds (>1: faster), as the total and as the median
of the per-chunk ratios, with the load average after each chunk.
Targets: >= 1.5x on any CPU (the no-bf16 path), >= 2.5x with bf16 on a bf16 CPU.

Quality: NDCG@10 of all SciFact test queries over those abstracts, each variant's vectors against plain fp32's
(queries encoded by the same variant): within 0.002.

Cache: the first encode of texts vs the second (in-memory hit) and a third after
``explorer.encoders.cache.forget_memory()`` (read back from disk, as a fresh process would). Target >= 50x.
"""

from __future__ import annotations

import statistics
import tempfile
from typing import Any

import numpy as np

from benchmarks.common import Context, load_scifact, loadavg, minilm_path, r, timed

NAME = "encode"
COMPARES_BF16 = True
"""On a bf16 CPU this benchmark measures the no-bf16 path itself (a third variant), so it runs once."""
BATCH = 32


def _variants() -> dict[str, Any]:
    """name -> encoder of every explorer variant measured here (with the CPU's defaults first)."""
    from explorer.encoders.hardware import cpu_supports_bf16
    from explorer.encoders.sentence import SentenceTransformerEncoder

    out = {"explorer": SentenceTransformerEncoder("minilm", device="cpu", cache_dir=None, batch_size=BATCH)}
    if cpu_supports_bf16():
        out["explorer_no_bf16"] = SentenceTransformerEncoder("minilm", device="cpu", bf16=False, cache_dir=None,
                                                             batch_size=BATCH)
    return out


def _prepare(encoder: Any) -> dict[str, Any]:
    """Load what the encoder will run on, outside the timing: the torch model, or the ONNX export."""
    from pathlib import Path

    from explorer.encoders import onnx_runtime

    info: dict[str, Any] = {"bf16": bool(encoder.bf16)}
    if encoder._onnx_eligible():
        existed = onnx_runtime.exported(Path(encoder.model_path), encoder._onnx_root()) is not None
        seconds, _ = timed(encoder.prepare_onnx)
        info.update({"onnx_export_existed": existed, "onnx_prepare_seconds": r(seconds, 1)})
    else:
        _ = encoder.model
    info["runtime"] = encoder.runtime
    return info


def speed(texts: list[str], chunk: int = 64) -> tuple[dict[str, Any], dict[str, Any]]:
    """Interleaved timing of plain fp32 and every explorer variant; also returns the models and each one's
    vectors (``"vectors:<name>"``, rows in the order of ``texts``)."""
    from sentence_transformers import SentenceTransformer

    plain = SentenceTransformer(minilm_path(), device="cpu")
    variants = _variants()
    prepared = {name: _prepare(enc) for name, enc in variants.items()}
    run = {"plain": lambda part: plain.encode(part, batch_size=BATCH, normalize_embeddings=True, convert_to_numpy=True,
                                              show_progress_bar=False)}
    for name, enc in variants.items():
        run[name] = lambda part, enc=enc: enc.encode(part, "passage", use_cache=False)
    for fn in run.values():  # warm-up: first-call allocations and kernel choices are not encoding
        fn(texts[:BATCH])
    names = list(run)
    order_by_length = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    chunks = -(-len(texts) // chunk)
    rows: list[dict[str, Any]] = []
    vectors: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for i in range(chunks):
        part = [texts[j] for j in order_by_length[i * chunk : (i + 1) * chunk]]
        if not part:
            continue
        order = names if i % 2 == 0 else names[::-1]  # both orders: drifting load hits every variant alike
        row: dict[str, Any] = {"texts": len(part), "order": order}
        for name in order:
            row[f"{name}_s"], v = timed(lambda name=name: run[name](part))
            vectors[name].append(v)
        for name in names[1:]:
            row[f"{name}_ratio"] = r(row["plain_s"] / row[f"{name}_s"], 3)
        row["loadavg"] = loadavg()[0]
        rows.append({k: (r(v, 2) if k.endswith("_s") else v) for k, v in row.items()})
        print("   chunk", i, {k: v for k, v in rows[-1].items() if k.endswith(("_s", "loadavg"))}, flush=True)
    back = np.argsort(order_by_length)  # rows back into the order of ``texts``
    stacked = {n: np.vstack(v)[back] for n, v in vectors.items()}
    out: dict[str, Any] = {"texts": len(texts), "batch_size": BATCH, "chunk_texts": chunk, "chunks": rows,
                           "plain_seconds": r(sum(x["plain_s"] for x in rows), 2)}
    out["plain_texts_per_s"] = r(len(texts) / out["plain_seconds"], 1)
    for name in names[1:]:
        seconds = sum(x[f"{name}_s"] for x in rows)
        cos = (stacked[name] * stacked["plain"]).sum(axis=1)
        out[name] = {**prepared[name], "seconds": r(seconds, 2), "texts_per_s": r(len(texts) / seconds, 1),
                     "ratio_total": r(out["plain_seconds"] / seconds, 3),
                     "ratio_median_of_chunks": r(statistics.median(x[f"{name}_ratio"] for x in rows), 3),
                     "max_abs_diff_vs_plain": float(np.abs(stacked[name] - stacked["plain"]).max()),
                     "min_cosine_vs_plain": float(cos.min())}
    return out, {"plain": plain, **variants, **{f"vectors:{n}": v for n, v in stacked.items()}}


def quality(sub: Any, pids: list[str], models: dict[str, Any]) -> dict[str, Any]:
    """NDCG@10 of the test queries over the benchmark's abstracts, for plain fp32 and every variant."""
    from explorer.evaluation.retrieval import evaluate_run, search_exact

    qids = sub.query_ids("test")
    queries = [sub.queries[q] for q in qids]
    out: dict[str, Any] = {"queries": len(qids), "passages": len(pids), "target_abs_diff": 0.002}
    for name in [n for n in models if not n.startswith("vectors:")]:
        model = models[name]
        if name == "plain":
            q = model.encode(queries, batch_size=BATCH, normalize_embeddings=True, convert_to_numpy=True,
                             show_progress_bar=False)
        else:
            q = model.encode(queries, "query", use_cache=False)
        res = evaluate_run(sub.qrels, search_exact(q, models[f"vectors:{name}"], qids, pids, k=100))
        out[f"ndcg@10_{name}"] = r(res.metrics["ndcg@10"], 5)
    for name in [n for n in models if not n.startswith("vectors:") and n != "plain"]:
        diff = abs(out[f"ndcg@10_{name}"] - out["ndcg@10_plain"])
        out[f"abs_diff_{name}"] = r(diff, 5)
        out[f"met_{name}"] = bool(diff <= 0.002)
    return out


def cache(texts: list[str]) -> dict[str, Any]:
    from explorer.encoders.cache import forget_memory
    from explorer.encoders.sentence import SentenceTransformerEncoder

    with tempfile.TemporaryDirectory(prefix="bench-cache-") as folder:
        enc = SentenceTransformerEncoder("minilm", device="cpu", cache_dir=folder)
        _ = enc.model  # loading the model is not encoding
        first, v1 = timed(lambda: enc.encode(texts, "passage"))
        second, v2 = timed(lambda: enc.encode(texts, "passage"))
        forget_memory()
        enc2 = SentenceTransformerEncoder("minilm", device="cpu", cache_dir=folder)  # never loads its model
        third, v3 = timed(lambda: enc2.encode(texts, "passage"))
        loaded = enc2._model is not None
    return {
        "texts": len(texts), "first_seconds": r(first, 2), "memory_hit_seconds": r(second, 4),
        "disk_hit_seconds": r(third, 4), "speedup_memory": r(first / second, 1), "speedup_disk": r(first / third, 1),
        "identical": bool(np.array_equal(v1, v2) and np.array_equal(v1, v3)),
        "disk_hit_loaded_model": loaded, "target_speedup": 50,
        "met": bool(first / max(second, third) >= 50),
    }


def _subset(ds: Any, n_passages: int, n_queries: int | None = None) -> Any:
    """Test queries (the first ``n_queries``), every passage they judge, and distractors up to ``n_passages``."""
    from explorer.data.model import Dataset

    qids = ds.query_ids("test")[:n_queries]
    keep = {p for q in qids for p in ds.qrels[q]}
    for pid in ds.passage_ids():
        if len(keep) >= n_passages:
            break
        keep.add(pid)
    corpus = {p: ds.corpus[p] for p in ds.passage_ids() if p in keep}
    return Dataset(f"{ds.name}-sub{n_passages}", {q: ds.queries[q] for q in qids}, corpus,
                   {q: dict(ds.qrels[q]) for q in qids}, {q: "test" for q in qids})


def run(ctx: Context) -> dict[str, Any]:
    ds = load_scifact(ctx.need_scifact())
    n = 300 if ctx.quick else 2000
    sub = _subset(ds, n, n_queries=100 if ctx.quick else None)
    pids = sub.passage_ids()
    texts = sub.passage_texts(pids)
    out: dict[str, Any] = {"loadavg_before": loadavg()}
    out["speed"], models = speed(texts)
    out["quality"] = quality(sub, pids, models)
    del models
    out["cache"] = cache(texts[:200])
    from explorer.encoders.hardware import cpu_supports_bf16

    s, q = out["speed"], out["quality"]
    bf16 = cpu_supports_bf16()
    no_bf16 = "explorer_no_bf16" if bf16 else "explorer"
    out["summary"] = {
        "texts": s["texts"], "cpu_bf16": bf16, "plain_texts_per_s": s["plain_texts_per_s"],
        "explorer_runtime": s["explorer"]["runtime"], "explorer_bf16": s["explorer"]["bf16"],
        "explorer_texts_per_s": s["explorer"]["texts_per_s"], "ratio": s["explorer"]["ratio_total"],
        "ratio_median_of_chunks": s["explorer"]["ratio_median_of_chunks"],
        "no_bf16_runtime": s[no_bf16]["runtime"], "no_bf16_ratio": s[no_bf16]["ratio_total"],
        "target_no_bf16": ">= 1.5x", "met_no_bf16": bool(s[no_bf16]["ratio_total"] >= 1.5),
        **({"target_bf16": ">= 2.5x", "met_bf16": bool(s["explorer"]["ratio_total"] >= 2.5)} if bf16 else {}),
        "ndcg@10_plain": q["ndcg@10_plain"], "ndcg@10_explorer": q["ndcg@10_explorer"],
        "ndcg@10_abs_diff": q["abs_diff_explorer"], "quality_met": all(v for k, v in q.items() if k.startswith("met_")),
        "cache_speedup_memory": out["cache"]["speedup_memory"], "cache_speedup_disk": out["cache"]["speedup_disk"],
        "cache_met": out["cache"]["met"],
    }
    return out
