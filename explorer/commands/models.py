"""``python -m explorer compare-models --data SPEC --models minilm,static,bm25,hybrid``: which model?

Every model on the same test queries of the same split: NDCG@10, MRR@10 and Recall@100 with 95 % intervals,
the paired p-value against ``--reference`` (Holm-corrected), encode time per 1,000 passages on this machine,
dimensions, index size and what an API model's embedding pass costs. Prints a table, or with ``--json`` one JSON object (each model's spec, display
name and metrics; :meth:`explorer.retrievers.bakeoff.BakeOff.to_dict`). Progress goes to stderr. The results
of models that are not runs are stored in the workspace's ``models/`` folder, like a run's.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from explorer.commands.data import data_options, load_data
from explorer.commands.evaluate import StderrProgress, positive_int
from explorer.encoders.spec import GRAMMAR


def add_parser(subparsers: Any) -> None:
    """Register ``compare-models``."""
    parser = subparsers.add_parser(
        "compare-models", help="compare several models (encoders, BM25, hybrid) on the same split",
        parents=[data_options()],
        description="Evaluate every model on the same test queries; print metrics with 95% intervals, "
        "Holm-corrected paired p-values against the reference, encode time, dimensions and index size. "
        f"A model is: {GRAMMAR}.",
    )
    parser.add_argument("--models", default="minilm,static,bm25,hybrid", metavar="A,B,...",
                        help="comma-separated model specs (default minilm,static,bm25,hybrid)")
    parser.add_argument("--reference", metavar="MODEL", help="the model the others are tested against (default: the first)")
    parser.add_argument("--split", default="test", choices=("train", "test"), help="queries to score (default test)")
    parser.add_argument("--k", type=positive_int, default=100, help="passages retrieved per query (default 100)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the bake-off; returns the exit code."""
    from explorer.core.config import settings_for
    from explorer.retrievers.bakeoff import compare_models

    settings = settings_for(None, "compare models and store their results")
    specs = [s.strip() for s in args.models.split(",") if s.strip()]
    dataset = load_data(args, settings)
    bake = compare_models(dataset, specs, reference=args.reference, settings=settings,
                          models_dir=settings.home / "models", split=args.split, k=args.k, progress=StderrProgress())
    payload = bake.to_dict()
    print(json.dumps(payload, indent=2) if args.json else table(payload))
    return 0


def _cell(metric: dict[str, Any]) -> str:
    low, high = metric["ci95"]
    p = metric["p_holm"]
    mark = "" if p is None else (" p<0.0001" if p < 1e-4 else f" p={p:.2g}")
    return f"{metric['mean']:.3f} [{low:.3f}, {high:.3f}]{mark}"


def table(payload: dict[str, Any]) -> str:
    """The bake-off as a plain-text table (one line per model)."""
    from explorer.retrievers.bakeoff import cost_text

    header = ["model", *payload["metrics"], "s/1k passages", "dim", "index MB", "API cost"]
    lines = [header]
    for row in payload["models"]:
        seconds = row["encode_seconds_per_1000"]
        lines.append([row["display"], *(_cell(row["metrics"][m]) for m in payload["metrics"]),
                      "-" if seconds is None or math.isnan(seconds) else f"{seconds:.2f}",
                      "sparse" if row["dim"] is None else str(row["dim"]), f"{row['index_bytes'] / 1e6:.1f}",
                      cost_text(row.get("api_cost"))])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines]
    note = (f"{payload['dataset']}, {payload['split']} split, {payload['models'][0]['n_queries']} queries; p: paired "
            f"t-test against {payload['reference']}, Holm-corrected; API cost: embedding the corpus and queries once, "
            f"at list prices; CPU: {payload['cpu']}")
    return "\n".join([*text, note])
