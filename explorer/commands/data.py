"""``python -m explorer data ...``: inspect a dataset before training on it.

``data stats --data SPEC`` loads any supported dataset as the app and the other commands do
(:func:`explorer.pipeline.load_dataset`, under the settings' caps; ``--max-mb`` replaces the file-size cap) and
prints its statistics as a table, or as JSON with ``--json``. A malformed input ends with a one-line ``error: ...``
(raised as :class:`explorer.core.errors.DataError` and printed by :mod:`explorer.cli`).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

_ROLES = ("query", "passage", "label", "query_id", "passage_id", "title")


def add_parser(subparsers: Any) -> None:
    """Register ``data`` and its sub-commands."""
    parser = subparsers.add_parser("data", help="inspect datasets", description="Inspect a dataset.")
    sub = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    stats = sub.add_parser(
        "stats", help="print dataset statistics",
        description="Load a dataset and print its sizes, length distributions, grades and split.",
    )
    stats.add_argument("--data", required=True, metavar="SPEC",
                       help="'demo', a BEIR folder or .zip, a CSV/TSV/JSONL/Parquet file, an NQ .jsonl(.gz), or hf:<name>")
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    for role in _ROLES:
        flag = role.replace("_", "-")
        stats.add_argument(f"--{flag}-col", dest=f"{role}_col", metavar="COLUMN", help=f"table column holding the {role.replace('_', ' ')}")
    stats.add_argument("--negative-col", dest="negative_cols", action="append", metavar="COLUMN",
                       help="table column of negative passages (repeatable)")
    stats.add_argument("--name", help="dataset name to show")
    stats.add_argument("--test-fraction", type=float, default=0.3, help="share of queries held out when the data has no split (default 0.3)")
    stats.add_argument("--seed", type=int, default=13, help="seed of that split (default 13)")
    stats.add_argument("--max-mb", type=float, help="file size limit in MB (default: EXPLORER_MAX_UPLOAD_MB)")
    stats.set_defaults(func=run_stats)
    parser.set_defaults(func=lambda args: _help(parser))


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 1


def column_overrides(args: argparse.Namespace) -> dict[str, Any] | None:
    """The column roles given on the command line (the rest are guessed), or None when none was given."""
    columns: dict[str, Any] = {role: getattr(args, f"{role}_col") for role in _ROLES if getattr(args, f"{role}_col", None)}
    if getattr(args, "negative_cols", None):
        columns["negatives"] = tuple(args.negative_cols)
    return columns or None


def run_stats(args: argparse.Namespace) -> int:
    """Load ``--data`` and print its statistics; returns the exit code."""
    from dataclasses import replace

    from explorer import pipeline
    from explorer.core.config import get_settings
    from explorer.data.stats import dataset_stats, format_stats
    from explorer.core.errors import ExplorerError
    from explorer.workspace import DatasetChoice

    if not 0 < args.test_fraction < 1:
        raise ExplorerError(f"--test-fraction must be between 0 and 1, got {args.test_fraction}.")
    settings = get_settings()
    if args.max_mb:
        settings = replace(settings, max_upload_mb=args.max_mb)
    choice = DatasetChoice(spec=args.data, name=args.name or "", columns=column_overrides(args),
                           test_fraction=args.test_fraction, seed=args.seed)
    ds = pipeline.load_dataset(choice, settings)
    stats = dataset_stats(ds)
    print(json.dumps(stats.to_dict(), indent=2) if args.json else format_stats(stats))
    return 0
