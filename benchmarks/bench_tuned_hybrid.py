"""The default fine-tune in hybrid: SciFact's default full fine-tune, alone and fused with BM25.

Target (issue "which model?"): the default fine-tune in hybrid ≥ 0.75 NDCG@10 on the test queries, the
fusion (reciprocal rank or a weighted min-max sum, and its weight) chosen on the run's own dev split (the
training queries its fine-tune held out), never on the test queries.

The fine-tune is ``python -m explorer train --data <scifact> --method full`` with every default (about 12 min on
2 bf16 cores from a warm embedding cache). ``BENCH_TUNED_RUN=<run folder>`` reuses a finished run of exactly
that command instead of training again (its config is checked: default method and dataset).

For comparison the same bake-off scores the bundled model and its hybrid (fusion chosen on up to 300 training
queries, which the bundled model never saw), and plain fusions of the fine-tune with BM25 (ranx ``fuse``,
min-max sum at 0.5 and RRF) whose weights were not chosen at all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, Context, Skip, load_scifact, loadavg, machine_info, r

NAME = "tuned_hybrid"
COMPARES_BF16 = True  # the fine-tune itself is the expensive part: measured once, with the defaults
TARGET = 0.75


def _fine_tune(scifact: Path, home: Path) -> tuple[Path, float | None]:
    """The default fine-tune's run folder (reused from ``BENCH_TUNED_RUN`` when given) and its training seconds."""
    given = os.environ.get("BENCH_TUNED_RUN")
    if given:
        folder = Path(given).resolve()
        config = json.loads((folder / "config.json").read_text())
        if config.get("method") != "full" or config.get("dataset", {}).get("name") != "scifact":
            raise Skip(f"BENCH_TUNED_RUN={given} is not a default full fine-tune on SciFact")
        return folder, json.loads((folder / "evaluation.json").read_text()).get("training_seconds")
    folder = home / "runs" / f"bench-tuned-{int(time.time())}"
    command = [sys.executable, "-m", "explorer", "train", "--data", str(scifact), "--method", "full",
               "--out", str(folder)]
    started = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, env={**os.environ, "EXPLORER_HOME": str(home)})
    return folder, time.perf_counter() - started


def _plain_fusions(bake: Any, tuned: str, qrels_by_query: dict[str, dict[str, int]]) -> dict[str, float]:
    """ranx's own fusions of the fine-tune's and BM25's stored top-k, with fixed parameters (nothing chosen)."""
    from ranx import Qrels, Run, evaluate, fuse

    rows = {row.spec: row for row in bake.rows}
    qrels = Qrels({q: rel for q, rel in qrels_by_query.items() if q in rows[tuned].result.run})
    runs = [Run(rows[tuned].result.run, name="tuned"), Run(rows["bm25"].result.run, name="bm25")]
    out = {}
    for label, method, params in (("min-max sum, weight 0.5", "wsum", {"weights": [0.5, 0.5]}),
                                  ("reciprocal rank (k 60)", "rrf", {"k": 60})):
        fused = fuse(runs=runs, norm="min-max" if method == "wsum" else None, method=method, params=params)
        out[label] = r(float(evaluate(qrels, fused, "ndcg@10")), 4)
    return out


def run(ctx: Context) -> dict[str, Any]:
    from explorer.core.config import get_settings
    from explorer.retrievers.bakeoff import compare_models

    scifact = ctx.need_scifact()
    out: dict[str, Any] = {"machine": {k: machine_info().get(k) for k in ("cpu_model", "bf16_native", "date")},
                           "loadavg_before": loadavg()}
    folder, seconds = _fine_tune(scifact, ctx.home)
    out["run"] = {"folder": str(folder), "training_seconds": r(seconds, 1) if seconds else None,
                  "reused": bool(os.environ.get("BENCH_TUNED_RUN"))}
    dataset = load_scifact(scifact)
    settings = get_settings()
    tuned = str(folder)
    started = time.perf_counter()
    bake = compare_models(dataset, ["minilm", "bm25", "hybrid", tuned, f"hybrid:{tuned}"], reference="minilm",
                          settings=settings)
    out["seconds"] = r(time.perf_counter() - started, 1)
    out["table"] = {row.display: {"spec": row.spec.replace(tuned, "<run>"),
                                  **{m: r(row.result.metrics[m], 4) for m in ("ndcg@10", "mrr@10", "recall@100")},
                                  "ci95_ndcg@10": [r(v, 4) for v in row.intervals["ndcg@10"]],
                                  "fusion": row.fusion}
                    for row in bake.rows}
    out["plain_fusions_of_the_fine_tune"] = _plain_fusions(bake, tuned, dataset.qrels_for("test"))
    value = next(row.result.metrics["ndcg@10"] for row in bake.rows if row.spec == f"hybrid:{tuned}")
    out["targets"] = {"tuned_hybrid_ndcg@10": {"value": r(value, 4), "target": TARGET, "met": value >= TARGET}}
    out["loadavg_after"] = loadavg()
    out["summary"] = {"targets": out["targets"],
                      "ndcg@10": {name: row["ndcg@10"] for name, row in out["table"].items()},
                      "plain": out["plain_fusions_of_the_fine_tune"]}
    return out
