"""Neighbourhood change (Latent page): time and memory of comparing every point's k nearest neighbours.

Two parts:

* **SciFact** (the real case): the pool the Latent page uses (300 test queries + up to 5,000 passages) with the
  bundled MiniLM's embeddings before, and a fine-tuned stand-in after (the baseline vectors through a seeded
  near-identity linear map, as an adapter would give; the cost does not depend on the values). The first
  call computes and stores ``neighbourhood-<key>.npz`` in a run folder; the second reads it back; deriving a
  smaller k (the page's slider) touches no embedding. Embeddings come from the explorer's cache under
  ``EXPLORER_HOME`` (computed once on a cold cache, reported separately).
* **Scale**: synthetic unit vectors (dim 384) of 5k, 20k and 50k points, to show memory stays bounded
  (the chunked top-k search keeps at most ~128 MB of scores at once).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import Context, PeakRSS, load_scifact, loadavg, r, timed

NAME = "neighbourhood"


def _scifact(ctx: Context) -> dict[str, Any]:
    from explorer.encoders.base import Encoder
    from explorer.encoders.registry import load_encoder
    from explorer.pipeline.views import neighbourhoods, sample_passages

    dataset = load_scifact(ctx.need_scifact())
    base = load_encoder("minilm")
    qids = dataset.query_ids("test")
    pids = sample_passages(dataset, qids, 5000)
    encode_s, _ = timed(lambda: (base.encode([dataset.queries[q] for q in qids], "query"),
                                 base.encode(dataset.passage_texts(pids), "passage")))
    dim = base.encode(["probe"], "query").shape[1]
    rng = np.random.default_rng(0)
    weights = (np.eye(dim) + 0.15 * rng.standard_normal((dim, dim))).astype(np.float32)

    class Mapped(Encoder):
        """The baseline through a fixed linear map (the adapter shape), normalized: a tuned stand-in."""

        name = "mapped-minilm"

        @property
        def fingerprint(self) -> str:
            return base.fingerprint + "+mapped0"

        def embed_batch(self, texts: list[str], kind: str) -> np.ndarray:
            out = base.encode(texts, kind) @ weights
            return out / np.linalg.norm(out, axis=1, keepdims=True)

    tuned = Mapped(cache_dir=None)
    folder = ctx.home / "neighbourhood_run"
    for old in folder.glob("neighbourhood-*.npz"):
        old.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    with PeakRSS() as mem:
        first_s, nb = timed(lambda: neighbourhoods(dataset, base, tuned, cache_dir=folder))
    stored = next(folder.glob("neighbourhood-*.npz"))
    again_s, _ = timed(lambda: neighbourhoods(dataset, base, tuned, cache_dir=folder))
    derive_s, movers = timed(lambda: nb.movers(10))
    return {
        "points": len(nb.change.ids), "queries": len(qids), "passages": len(pids), "k_stored": nb.change.k,
        "seconds_encode_baseline_pool": r(encode_s, 2),
        "seconds_first_including_tuned_encode": r(first_s, 2), "seconds_read_back": r(again_s, 3),
        "seconds_movers_k10": r(derive_s, 3), "peak_extra_mb": r(mem.extra_mb, 1),
        "stored_kb": r(stored.stat().st_size / 1024, 1),
        "median_change_k10": r(float(np.median(movers["change"])), 3),
    }


def _snapshots(ctx: Context) -> dict[str, Any]:
    """What a training snapshot adds at each held-out evaluation on SciFact: encoding the fixed sample with
    the model being trained (no cache: its weights change) and writing one float16 frame."""
    import tempfile

    from sentence_transformers import SentenceTransformer

    from explorer.encoders.sentence import SentenceTransformerEncoder
    from explorer.latent.snapshots import SnapshotStore, snapshot_points

    from benchmarks.common import minilm_path

    dataset = load_scifact(ctx.need_scifact())
    qids, pids = snapshot_points(dataset)
    texts_q, texts_p = [dataset.queries[q] for q in qids], dataset.passage_texts(pids)
    model = SentenceTransformer(minilm_path(), device="cpu")
    live = SentenceTransformerEncoder.from_model(model, name="training", fingerprint="live-bench", cache_dir=None)
    with tempfile.TemporaryDirectory() as folder:
        store = SnapshotStore(folder)
        store.start(qids, pids)
        import numpy as np

        seconds, _ = timed(lambda: store.add(1, "step 1", np.vstack([live.encode(texts_q, "query"),
                                                                      live.encode(texts_p, "passage")])))
        size = sum(p.stat().st_size for p in (Path(folder) / "snapshots").glob("*.npy"))
    return {"points": len(qids) + len(pids), "queries": len(qids), "seconds_per_frame": r(seconds, 2),
            "frame_kb": r(size / 1024, 1)}


def _scale(sizes: tuple[int, ...]) -> list[dict[str, Any]]:
    from explorer.evaluation.neighbourhood import neighbourhood_change

    rows = []
    for n in sizes:
        rng = np.random.default_rng(n)
        before = rng.standard_normal((n, 384)).astype(np.float32)
        after = before + 0.5 * rng.standard_normal((n, 384)).astype(np.float32)
        before /= np.linalg.norm(before, axis=1, keepdims=True)
        after /= np.linalg.norm(after, axis=1, keepdims=True)
        ids = [str(i) for i in range(n)]
        with PeakRSS() as mem:
            seconds, _ = timed(lambda: neighbourhood_change(before, after, ids, k=50))
        rows.append({"points": n, "seconds": r(seconds, 2), "peak_extra_mb": r(mem.extra_mb, 1)})
    return rows


def run(ctx: Context) -> dict[str, Any]:
    before = loadavg()
    out: dict[str, Any] = {"scale": _scale((2_000, 5_000) if ctx.quick else (5_000, 20_000, 50_000))}
    try:
        out["scifact"] = _scifact(ctx)
    except Exception as exc:  # noqa: BLE001 - a missing dataset must not hide the scale part
        out["scifact"] = {"skipped": f"{type(exc).__name__}: {exc}"}
    try:
        out["snapshots"] = _snapshots(ctx)
    except Exception as exc:  # noqa: BLE001
        out["snapshots"] = {"skipped": f"{type(exc).__name__}: {exc}"}
    out["summary"] = {"scifact": out["scifact"], "snapshots": out["snapshots"], "scale": out["scale"],
                      "loadavg_before": before,
                      "loadavg_after": loadavg()}
    return out
