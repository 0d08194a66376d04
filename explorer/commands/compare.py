"""``python -m explorer compare --data SPEC --a MODEL --b MODEL``: is B better than A, and where?

Prints one JSON object: each encoder's metrics (``a_metrics``, ``b_metrics``, flat), per metric the means,
delta (B - A), paired p-value and bootstrap confidence intervals (``metrics``), the mean RBO@10 of the two
top-10 lists, and how many queries B fixed, broke or left unchanged (``counts``); ``--per-query FILE.csv``
writes the per-query table. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from explorer.commands.data import data_options, load_data
from explorer.commands.evaluate import StderrProgress, add_common, load_model, print_cost, write_json
from explorer.core.errors import StorageError
from explorer.core.spreadsheet import safe_csv


def add_parser(subparsers: Any) -> None:
    """Register ``compare``."""
    parser = subparsers.add_parser(
        "compare", help="compare two encoders with significance", parents=[data_options()],
        description="Evaluate two encoders on the same queries; print metric deltas with p-values, "
        "confidence intervals, rank-biased overlap and fixed/broken/unchanged query counts as JSON.",
    )
    add_common(parser)
    parser.add_argument("--a", required=True, metavar="MODEL", help="the baseline encoder")
    parser.add_argument("--b", required=True, metavar="MODEL", help="the candidate encoder")
    parser.add_argument("--test", default="student", choices=("student", "fisher"),
                        help="paired significance test (default student)")
    parser.add_argument("--per-query", metavar="FILE.csv", help="also write the per-query table as CSV")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Compare ``--a`` and ``--b`` on ``--data``; returns the exit code."""
    from explorer import pipeline
    from explorer.evaluation.novelty import novelty_record

    started = time.perf_counter()
    dataset = load_data(args)
    encoder_a = load_model(args.a)
    encoder_b = load_model(args.b)
    for encoder in (encoder_a, encoder_b):
        print_cost(dataset, encoder, args.split)
    comparison = pipeline.compare(dataset, encoder_a, encoder_b, split=args.split, k=args.k,
                                  progress=StderrProgress(), test=args.test)
    summary = comparison.to_dict()
    payload = {
        **summary,
        "a": args.a,
        "b": args.b,
        "dataset": dataset.name,
        "k": args.k,
        "a_metrics": comparison.result_a.to_dict(),
        "b_metrics": comparison.result_b.to_dict(),
        "novelty": novelty_record(comparison, dataset),
        "seconds": round(time.perf_counter() - started, 2),
    }
    if args.per_query:
        path = Path(args.per_query).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(safe_csv(comparison.per_query), encoding="utf-8")  # opened in spreadsheets
        except OSError as exc:
            raise StorageError(f"Cannot write {path}: {exc.strerror or exc}; choose another --per-query path.") from exc
    write_json(payload, args.out)
    return 0
