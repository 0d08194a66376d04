"""``python -m explorer data ...``: inspect a dataset before training on it; and the dataset options every
command shares.

Every command that loads a dataset (``data stats``, ``evaluate``, ``compare``, ``negatives``, ``train``) takes the
same ``--data`` and column-mapping flags, from one parent parser (:func:`data_options`), and loads through
:func:`load_data`, which prints the dataset's summary, how its labels became grades, and the loader's notes on
stderr.

``data stats --data SPEC`` loads any supported dataset as the app and the other commands do
(:func:`explorer.pipeline.load_dataset`, under the settings' caps; ``--max-mb`` replaces the file-size cap) and
prints its statistics as a table, or as JSON with ``--json``. A malformed input ends with a one-line ``error: ...``
(raised as :class:`explorer.core.errors.DataError` and printed by :mod:`explorer.cli`).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from explorer.data.labels import FLAG as LABEL_GRADES

if TYPE_CHECKING:  # pragma: no cover
    from explorer.core.config import Settings
    from explorer.data.model import Dataset

_ROLES = ("query", "passage", "label", "query_id", "passage_id", "title")
DATA_HELP = "'demo', a BEIR folder or .zip, a CSV/TSV/JSONL/Parquet file, an NQ .jsonl(.gz), or hf:<name>"


def data_options() -> argparse.ArgumentParser:
    """The parent parser of every command that loads a dataset: ``--data`` and the column mapping of tables."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--data", required=True, metavar="SPEC", help=DATA_HELP)
    parent.add_argument("--sample", action="store_true",
                        help="data over the passage or query limit (EXPLORER_MAX_PASSAGES, EXPLORER_MAX_QUERIES): load "
                             "a seeded sample within them (queries at random with every passage judged for them, "
                             "then random passages) instead of refusing it")
    group = parent.add_argument_group("column mapping (tables; roles not given are guessed from the column names)")
    for role in _ROLES:
        flag = role.replace("_", "-")
        group.add_argument(f"--{flag}-col", dest=f"{role}_col", metavar="COLUMN",
                           help=f"table column holding the {role.replace('_', ' ')}")
    group.add_argument("--negative-col", dest="negative_cols", action="append", metavar="COLUMN",
                       help="table column of negative passages (repeatable)")
    group.add_argument(LABEL_GRADES, dest="label_grades", metavar="WORD=GRADE,...",
                       help="grades of label words, e.g. 'Exact=3,Substitute=2,Complement=1,Irrelevant=0'; words not "
                            "named keep the default (ESCI: Exact=100, Substitute=10, Complement=1, Irrelevant=0; "
                            "relevant=2, partially=1, not=0; yes=1, no=0)")
    return parent


def add_parser(subparsers: Any) -> None:
    """Register ``data`` and its sub-commands."""
    parser = subparsers.add_parser("data", help="inspect datasets", description="Inspect a dataset.")
    sub = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    stats = sub.add_parser(
        "stats", help="print dataset statistics", parents=[data_options()],
        description="Load a dataset and print its sizes, length distributions, grades and split.",
    )
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
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
    """The column roles (and label grades) given on the command line (the rest are guessed), or None."""
    from explorer.data.labels import parse_grades

    columns: dict[str, Any] = {role: getattr(args, f"{role}_col") for role in _ROLES if getattr(args, f"{role}_col", None)}
    if getattr(args, "negative_cols", None):
        columns["negatives"] = list(args.negative_cols)
    if getattr(args, "label_grades", None):
        columns["grades"] = parse_grades(args.label_grades)
    return columns or None


def load_data(args: argparse.Namespace, settings: "Settings | None" = None, *, test_fraction: float = 0.3,
              seed: int = 13, name: str = "") -> "Dataset":
    """The dataset of ``--data`` with the command line's column mapping, loaded as the app loads it; its summary,
    label grading and notes go to stderr (raises DataError for a bad path, format or mapping)."""
    from explorer import pipeline
    from explorer.core.config import get_settings
    from explorer.core.errors import OverCapError
    from explorer.workspace import DatasetChoice

    sample = bool(getattr(args, "sample", False))
    choice = DatasetChoice(spec=args.data, name=name, columns=column_overrides(args), test_fraction=test_fraction,
                           seed=seed, sample=sample)
    try:
        dataset = pipeline.load_dataset(choice, settings or get_settings())
    except OverCapError as exc:
        if sample:
            raise
        raise OverCapError(f"{exc} Or add --sample to load a seeded sample within the limits.") from None
    print(dataset.summary(), file=sys.stderr, flush=True)
    if dataset.grading is not None:
        change = f"; set others with {LABEL_GRADES}" if dataset.grading.words else ""
        print(f"labels: {dataset.grading.describe()}{change}", file=sys.stderr, flush=True)
    for note, count in dataset.notes.items():
        print(f"note: {note}: {count:,}", file=sys.stderr, flush=True)
    return dataset


def run_stats(args: argparse.Namespace) -> int:
    """Load ``--data`` and print its statistics; returns the exit code."""
    from dataclasses import replace

    from explorer.core.config import get_settings
    from explorer.core.errors import ExplorerError
    from explorer.data.stats import dataset_stats, format_stats

    if not 0 < args.test_fraction < 1:
        raise ExplorerError(f"--test-fraction must be between 0 and 1, got {args.test_fraction}.")
    settings = get_settings()
    if args.max_mb:
        settings = replace(settings, max_upload_mb=args.max_mb)
    ds = load_data(args, settings, test_fraction=args.test_fraction, seed=args.seed, name=args.name or "")
    stats = dataset_stats(ds)
    if args.json:
        print(json.dumps({**stats.to_dict(), "grading": ds.grading.to_dict() if ds.grading else None}, indent=2))
    else:
        print(format_stats(stats))
        if ds.grading is not None:
            print(f"labels: {ds.grading.describe()}")
    return 0
