"""One entry point for every dataset source: :func:`load_dataset` (an upload is loaded from the file it was saved as).

A spec is one of:

* ``"demo"``: the bundled demo (fixed split);
* ``"hf:<owner>/<name>"``: a Hugging Face hub pair dataset;
* a folder, or a ``.zip``, in BEIR layout;
* a Natural Questions simplified ``.jsonl`` / ``.jsonl.gz`` (recognised by its first record);
* a ``.csv`` / ``.tsv`` / ``.jsonl`` / ``.json`` / ``.parquet`` table of (query, passage) pairs (optionally
  ``.gz``), mapped with ``columns``.

Loaders are imported on use, so importing this module stays cheap (pandas only loads for tables).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.data.limits import Limits
from explorer.data.model import Dataset
from explorer.core.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from explorer.data.columns import ColumnMap
    from explorer.data.validation import Source

KINDS = ("demo", "hub", "beir", "nq", "table")
TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".jsonl", ".ndjson", ".json", ".parquet", ".pq")
_JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
_ACCEPTED = "'demo', a BEIR folder or .zip, a CSV/TSV/JSONL/Parquet file, a Natural Questions .jsonl(.gz), or hf:<name>"


def _first_record(head: bytes) -> dict[str, Any] | None:
    """The first JSON object of a JSON-lines prefix, or None when it does not parse as one."""
    for line in head.splitlines():
        if line.strip():
            try:
                record = json.loads(line)
            except ValueError:
                return None
            return record if isinstance(record, dict) else None
    return None


def _peek(path: Path, gzipped: bool, size: int = 1 << 20) -> bytes:
    """The first line of a file, at most ``size`` bytes (decompressed when gzipped); reads no more than needed."""
    with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as fh:
        try:
            return fh.readline(size)
        except (OSError, EOFError):
            return b""


def detect_kind(spec: str | Path) -> str:
    """Which loader a spec needs: one of :data:`KINDS`.

    Raises:
        DataError: the path does not exist or its type is not supported.
    """
    text = str(spec)
    if text.strip().lower() == "demo":
        return "demo"
    if text.startswith("hf:"):
        return "hub"
    path = Path(text).expanduser()
    if path.is_dir():
        return "beir"
    if not path.exists():
        looks_hub = re.fullmatch(r"[\w.-]+/[\w.-]+", text) is not None and not path.suffix
        hint = f" (for a Hugging Face dataset write hf:{text})" if looks_hub else ""
        raise DataError(f"{text!r} not found{hint}; give {_ACCEPTED}.")
    lower = path.name.lower()
    if lower.endswith(".zip"):
        return "beir"
    gzipped = lower.endswith(".gz")
    bare = lower[:-3] if gzipped else lower
    if bare.endswith(_JSON_SUFFIXES):
        record = _first_record(_peek(path, gzipped))
        if record is not None:
            from explorer.data.nq import looks_like_nq

            if looks_like_nq(record):
                return "nq"
            if "_id" in record and ("text" in record or "title" in record):
                raise DataError(
                    f"{path.name} looks like one file of a BEIR dataset; load the folder holding corpus.jsonl, "
                    "queries.jsonl and qrels/ (or a .zip of it)."
                )
        return "table"
    if bare.endswith(TABLE_SUFFIXES):
        return "table"
    raise DataError(f"{path.name}: unsupported file type; give {_ACCEPTED}.")


def load_dataset(
    spec: str | Path,
    *,
    name: str | None = None,
    columns: "ColumnMap | Mapping[str, Any] | None" = None,
    test_fraction: float = 0.3,
    seed: int = 13,
    max_bytes: int | None = None,
    local_files: bool = True,
    limits: Limits | None = None,
    hub_token: bool | str | None = None,
) -> Dataset:
    """Load any supported dataset (see the module docstring) as a validated, split :class:`Dataset`.

    Args:
        spec: ``"demo"``, ``"hf:<name>"``, or a path (BEIR folder/zip, NQ file, table).
        name: dataset name (default: from the spec).
        columns: column map for tables and hub datasets (partial mappings are completed by guessing).
        test_fraction: share of queries held out when the source has no split of its own.
        seed: seed of that split.
        max_bytes: file size limit (default: the configured ``max_upload_mb``).
        local_files: whether an ``hf:`` spec may name a local file or folder (False in public mode, where a
            visitor must never reach the server's files through the hub box).
        limits: every cap (file and unpacked size, queries, passages, rows, negatives per query, text
            length), applied while parsing; default: the configured ones. The pipeline passes the workspace's.
        hub_token: the Hugging Face token for ``hf:`` specs: None uses the machine's login (``HF_TOKEN``),
            False none at all (public mode: a visitor's request never runs as the owner).

    Raises:
        DataError: the spec is unknown or the data is malformed (the message says where and what to do).
    """
    kind = detect_kind(spec)
    return _dispatch(kind, spec, name=name, columns=columns, test_fraction=test_fraction, seed=seed,
                     max_bytes=max_bytes, local_files=local_files, limits=limits, hub_token=hub_token)


def _dispatch(kind: str, spec: str | Path, *, name: str | None, columns: Any, test_fraction: float, seed: int,
              max_bytes: int | None, local_files: bool = True, limits: Limits | None = None,
              hub_token: bool | str | None = None) -> Dataset:
    source = Path(str(spec)).expanduser()
    if kind == "demo":
        from explorer.data.demo import load_demo

        return load_demo(name=name)
    if kind == "hub" and local_files and Path(str(spec)[3:]).expanduser().is_file():
        return load_table(Path(str(spec)[3:]).expanduser(), columns, name=name, test_fraction=test_fraction,
                          seed=seed, max_bytes=max_bytes, limits=limits)
    if kind == "hub":
        from explorer.data.hub import load_hub

        return load_hub(str(spec), name=name, columns=columns, test_fraction=test_fraction, seed=seed,
                        max_bytes=max_bytes, local_files=local_files, limits=limits, token=hub_token)
    if kind == "beir":
        from explorer.data.beir import load_beir

        return load_beir(source, name=name, test_fraction=test_fraction, seed=seed, max_bytes=max_bytes,
                         limits=limits)
    if kind == "nq":
        from explorer.data.nq import load_nq

        return load_nq(source, name=name, test_fraction=test_fraction, seed=seed, max_bytes=max_bytes,
                       limits=limits)
    return load_table(source, columns, name=name, test_fraction=test_fraction, seed=seed,
                      max_bytes=max_bytes, limits=limits)


def load_table(source: "Source | pd.DataFrame", columns: "ColumnMap | Mapping[str, Any] | None" = None,
               fmt: str | None = None, name: str | None = None, test_fraction: float = 0.3, seed: int = 13, *,
               sep: str | None = None, max_bytes: int | None = None, limits: Limits | None = None) -> Dataset:
    """Load a table of (query, passage[, label]) pairs as a validated :class:`Dataset` split by query.

    A composition of the three steps: read the file (:func:`explorer.data.tables.read_table`), resolve the
    columns (:func:`explorer.data.columns.resolve_columns`), convert the rows
    (:func:`explorer.data.pairs.frame_to_dataset`, whose docstring holds the rules).

    Args:
        source: path, bytes or file object of a CSV/TSV/JSONL/Parquet file, or a DataFrame already read.
        columns: the column map; a partial mapping (e.g. ``{"label": "rel"}``) is completed by guessing, and
            ``"grades"`` sets label words' grades (``{"Exact": 3}``).
        fmt: the format when the name does not tell it.
        name: dataset name (and the upload's file name when ``source`` is bytes).
        test_fraction: share of queries held out for testing.
        seed: seed of the split.
        sep: CSV delimiter.
        max_bytes: size limit (default: the configured ``max_upload_mb``).
        limits: every cap (default: the configured ones), see :class:`~explorer.data.limits.Limits`.
    """
    import pandas as pd

    from explorer.data import tables
    from explorer.data.columns import resolve_columns
    from explorer.data.limits import resolve_limits
    from explorer.data.pairs import frame_to_dataset
    from explorer.data.validation import source_label

    limits = resolve_limits(limits, max_bytes)
    is_path = isinstance(source, (str, Path))
    # With a path, ``name`` is the dataset's name; with bytes or a file object it is the upload's file name.
    file_name = None if is_path else name
    if isinstance(source, pd.DataFrame):
        df, label = source, name or "the table"
    else:
        label = source_label(source, file_name)
        df = tables.read_table(source, fmt, name=file_name, sep=sep, limits=limits)
    cmap = resolve_columns(df, columns, label)
    ds_name = name if (name and is_path) else (Path(label).name.split(".")[0] or "table")
    origin = str(source) if is_path else label
    return frame_to_dataset(df, cmap, name=ds_name, label=label, source=origin,
                            test_fraction=test_fraction, seed=seed, where=tables.locator(df), limits=limits)
