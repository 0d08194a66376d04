"""The encode batch size: time and peak memory of the bundled MiniLM at 8, 16, 32 and 64 texts per forward pass.

``python -m benchmarks batch``: the first 1,000 SciFact abstracts (300 with ``--quick``), embedded without the cache
through the explorer's own path (``Encoder.encode``: unique texts, longest first), each batch size in a fresh
process (the heap keeps its high-water mark, so sizes must not share one), in turns twice (ABCDABCD). Peak RSS is
the child's, sampled every 50 ms; texts a second count the encode alone, not the model's load. With ``--bf16 both``
(the default on a bf16 CPU) the plain path runs too, into ``batch.no_bf16.json``. The explorer's default is
``explorer.encoders.sentence.ENCODE_BATCH_SIZE``.

On torch it also compares padding (``PAD_TO_MULTIPLE_OF``): the default batch size over 2,500 abstracts in a seeded
order (800 with ``--quick``; all lengths mixed, as in a real corpus), each batch padded to a multiple of 32 tokens
or only to its longest text, in turns twice.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Context, machine_info

NAME = "batch"
SIZES = (8, 16, 32, 64)


def _child(n: int, batch: int, scifact: str, padding: str = "default") -> dict[str, Any]:
    import random

    from benchmarks.bench_scale import TreePeak
    from benchmarks.common import load_scifact
    from explorer import pipeline
    from explorer.encoders.sentence import SentenceTransformerEncoder

    ds = load_scifact(Path(scifact))
    pids = ds.passage_ids()
    if padding != "default":  # the padding runs: a seeded order, every length mixed in
        random.Random(0).shuffle(pids)
    texts = ds.passage_texts(pids[:n])
    if padding == "longest":
        SentenceTransformerEncoder._padding = staticmethod(lambda model: {})  # type: ignore[method-assign]
    encoder = pipeline.load_encoder("minilm")
    encoder.encode(texts[:4], "passage", use_cache=False)  # the model loaded, its runtime chosen
    with TreePeak() as mem:
        started = time.perf_counter()
        encoder.encode(texts, "passage", batch_size=batch, use_cache=False)
        seconds = time.perf_counter() - started
    return {"batch": batch, "padding": padding, "seconds": round(seconds, 1), "texts_per_second": round(n / seconds, 1),
            "peak_rss_mb": round(mem.peak), "runtime": getattr(encoder, "runtime", "torch")}


def run(ctx: Context) -> dict[str, Any]:
    """The benchmark entry of ``python -m benchmarks batch``."""
    from explorer.encoders.sentence import ENCODE_BATCH_SIZE

    n = 300 if ctx.quick else 1000
    runs: list[dict[str, Any]] = []
    # A first run not counted: it pays what only the first encode of a machine pays (the plain path's ONNX export).
    for rep, batch in [(-1, SIZES[1])] + [(rep, batch) for rep in range(2) for batch in SIZES]:
        cmd = [sys.executable, "-m", "benchmarks.bench_batch", str(n), str(batch), str(ctx.need_scifact())]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
        if done.returncode:
            raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "child failed")
        if rep < 0:
            continue
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"   batch {batch}: {runs[-1]['seconds']} s, peak {runs[-1]['peak_rss_mb']} MB", flush=True)
    rows = {}
    for batch in SIZES:
        mine = [r for r in runs if r["batch"] == batch]
        rows[str(batch)] = {"texts_per_second": statistics.median(r["texts_per_second"] for r in mine),
                            "peak_rss_mb": max(r["peak_rss_mb"] for r in mine),
                            "runs": [(r["seconds"], r["peak_rss_mb"]) for r in mine], "runtime": mine[0]["runtime"]}
    summary = {b: f"{r['texts_per_second']} texts/s, peak {r['peak_rss_mb']} MB" for b, r in rows.items()}
    padding = _padding(ctx, ENCODE_BATCH_SIZE) if rows[str(ENCODE_BATCH_SIZE)]["runtime"] == "torch" else None
    if padding:
        summary.update({f"padding {k}": f"{r['texts_per_second']} texts/s, peak {r['peak_rss_mb']} MB"
                        for k, r in padding["rows"].items()})
    return {"machine": machine_info(), "texts": n, "default": ENCODE_BATCH_SIZE, "rows": rows, "padding": padding,
            "summary": summary}


def _padding(ctx: Context, batch: int) -> dict[str, Any]:
    """Each batch padded to a multiple of ``PAD_TO_MULTIPLE_OF`` tokens against padded to its longest text."""
    from explorer.encoders.sentence import PAD_TO_MULTIPLE_OF

    n = 800 if ctx.quick else 2500
    runs: list[dict[str, Any]] = []
    for _ in range(2):
        for padding in ("multiple", "longest"):
            cmd = [sys.executable, "-m", "benchmarks.bench_batch", str(n), str(batch), str(ctx.need_scifact()), padding]
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
            if done.returncode:
                raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "child failed")
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"   padding {padding}: {runs[-1]['seconds']} s, peak {runs[-1]['peak_rss_mb']} MB", flush=True)
    rows = {}
    for padding in ("multiple", "longest"):
        mine = [r for r in runs if r["padding"] == padding]
        rows[padding] = {"texts_per_second": statistics.median(r["texts_per_second"] for r in mine),
                         "peak_rss_mb": max(r["peak_rss_mb"] for r in mine),
                         "runs": [(r["seconds"], r["peak_rss_mb"]) for r in mine]}
    return {"texts": n, "batch": batch, "multiple_of": PAD_TO_MULTIPLE_OF, "rows": rows}


if __name__ == "__main__":
    print(json.dumps(_child(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], *sys.argv[4:5])))
