"""``python -m explorer negatives --data SPEC --model MODEL --out FILE``: mine hard (and weak) negatives.

Writes the negatives with their scores, ranks and flags to ``--out`` (``.jsonl``, ``.csv`` or ``.parquet``,
plus a ``.meta.json`` sidecar with the parameters and skip counts) and prints a summary as JSON on stdout:
rows kept, suspects, and candidates skipped by reason. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from explorer.commands.data import data_options, load_data


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _margin(text: str) -> float | None:
    """A float, or 'none' to turn a guard off."""
    if text.strip().lower() in {"none", "off"}:
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'none', got {text!r}") from None


def add_parser(subparsers: Any) -> None:
    """Register ``negatives``."""
    parser = subparsers.add_parser(
        "negatives", help="mine hard negatives (with false-negative guards) and write them with scores",
        description="Rank the corpus for each judged query of a split with MODEL and keep the most similar "
                    "non-relevant passages that pass the guards (rank window, margins, max score).",
        parents=[data_options()],
    )
    parser.add_argument("--model", default="minilm", metavar="MODEL",
                        help="encoder that ranks the corpus: 'minilm' (default), 'fake', a model id or folder, a run")
    parser.add_argument("--out", required=True, metavar="FILE", help="where to write: .jsonl, .csv or .parquet")
    parser.add_argument("--split", default="train", choices=("train", "test"), help="queries to mine for (default train)")
    parser.add_argument("--num-negatives", type=_positive_int, default=3, help="hard negatives per query (default 3)")
    parser.add_argument("--range-min", type=_non_negative_int, default=0, help="skip this many top-ranked (default 0)")
    parser.add_argument("--range-max", type=_positive_int, default=50, help="look no deeper than this rank (default 50)")
    parser.add_argument("--relative-margin", type=_margin, default=0.05,
                        help="negative must score <= positive - |positive| * margin (default 0.05; 'none' = off)")
    parser.add_argument("--absolute-margin", type=_margin, default=None, help="negative must score <= positive - margin")
    parser.add_argument("--max-score", type=_margin, default=None, help="negative must score <= this")
    parser.add_argument("--no-candidates", action="store_true",
                        help="ignore the dataset's own hard-negative candidates (Natural Questions)")
    parser.add_argument("--weak", type=_non_negative_int, default=0, metavar="N",
                        help="also add N random (weak) negatives per positive (default 0)")
    parser.add_argument("--seed", type=int, default=13, help="seed of the weak negatives (default 13, as in the app)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Mine, save, print the summary; returns the exit code."""
    from explorer import pipeline
    from explorer.commands.evaluate import StderrProgress, load_model, print_cost
    from explorer.data.negatives.negative_set import FORMATS
    from explorer.core.errors import StorageError

    if not str(args.out).lower().endswith(FORMATS):  # say so before minutes of embedding, not after
        raise StorageError(f"--out {args.out}: the file name must end in {', '.join(FORMATS)}.")
    started = time.perf_counter()
    dataset = load_data(args)
    encoder = load_model(args.model)
    print_cost(dataset, encoder, args.split)
    negatives = pipeline.negatives(
        dataset, encoder, split=args.split, num_negatives=args.num_negatives, weak=args.weak,
        range_min=args.range_min, range_max=args.range_max, relative_margin=args.relative_margin,
        absolute_margin=args.absolute_margin, max_score=args.max_score, include_candidates=not args.no_candidates,
        seed=args.seed, progress=StderrProgress(),
    )
    path = negatives.save(args.out)
    summary = {**negatives.summary(), "out": str(path), "seconds": round(time.perf_counter() - started, 2)}
    print(json.dumps(summary, indent=2))
    return 0
