"""The Train page's learning curve on the demo with the bundled MiniLM: the adapter at 10, 25, 50 and 100 % of the
training queries, each scored on the dev split (:func:`explorer.pipeline.curve.learning_curve`).

Timed twice in one process: ``cold`` embeds the demo's queries and passages first (an empty encoder cache, as on a
fresh server: run it with a fresh ``--home``; ``cache_warm_before`` says whether it was), ``warm`` reuses the cached embeddings (what the Train page sees once the baseline was evaluated).
Target: warm <= 60 s on 2 cores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.common import Context, loadavg, r, timed

NAME = "curve"
TARGET_SECONDS = 60.0


def run(ctx: Context) -> dict[str, Any]:
    from explorer import pipeline
    from explorer.core.config import get_settings
    from explorer.pipeline.curve import learning_curve
    from explorer.workspace import DatasetChoice

    settings = get_settings()
    dataset = pipeline.load_dataset(DatasetChoice(spec="demo", name="demo"), settings)
    encoder = pipeline.load_encoder("minilm")
    cache = getattr(encoder, "cache_dir", None)
    cached_before = bool(cache and Path(cache).is_dir() and any(Path(cache).iterdir()))
    before = loadavg()
    cold, _ = timed(lambda: learning_curve(settings, dataset, encoder))
    warm, curve = timed(lambda: learning_curve(settings, dataset, encoder))
    summary = {
        "dataset": dataset.name, "train_queries": len(dataset.query_ids("train")), "dev_queries": curve.dev_queries,
        "cache_warm_before": cached_before, "seconds_cold": r(cold, 1), "seconds_warm": r(warm, 1),
        "points": [{k: (r(v, 3) if isinstance(v, float) else v) for k, v in row.items()} for row in curve.rows()],
        "verdict": curve.verdict(), "target_seconds": TARGET_SECONDS, "met": bool(warm <= TARGET_SECONDS),
        "loadavg_before": before, "loadavg_after": loadavg(),
    }
    return {"summary": summary}
