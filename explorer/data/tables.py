"""Tables of (query, passage) pairs: CSV, TSV, JSON lines or Parquet, from a path or an upload.

:func:`read_table` gives a DataFrame for previews, :func:`guess_columns` proposes which columns hold what
(:class:`ColumnMap`), and :func:`load_table` turns the table into a :class:`Dataset` (see
:mod:`explorer.data.pairs` for the conversion rules: de-duplication, ids, grades, split).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd

from explorer.data.limits import Limits, resolve_limits
from explorer.data.model import Dataset
from explorer.data.validation import Source, decode_utf8, gunzip, iter_jsonl, read_source, source_label
from explorer.core.errors import DataError

FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
           ".parquet": "parquet", ".pq": "parquet"}

#: Column names recognised by :func:`guess_columns`, best first (compared lower-case, ``-``/space as ``_``).
CANDIDATES: dict[str, tuple[str, ...]] = {
    "query": ("query", "question", "anchor", "q", "query_text", "question_text", "queries"),
    "passage": ("passage", "text", "document", "positive", "answer", "context", "passage_text", "doc",
                "content", "pos", "positive_passage"),
    "label": ("label", "score", "relevance", "grade", "rel", "relevant", "is_relevant"),
    "query_id": ("query_id", "qid", "queryid", "question_id"),
    "passage_id": ("passage_id", "pid", "doc_id", "corpus_id", "docid", "document_id", "passageid"),
    "title": ("title", "passage_title", "document_title", "doc_title"),
}
_NEGATIVE = re.compile(r"^(negative|hard_negative|neg|negative_passage)(_?\d+)?$")


@dataclass(frozen=True)
class ColumnMap:
    """Which table columns hold the query, the passage and the optional fields.

    Attributes:
        query, passage: text columns (required).
        label: relevance grade or score; absent means every row is a positive of grade 1.
        query_id, passage_id: id columns; absent means ids are a hash of the text.
        title: passage title column.
        negatives: columns of negative passages (``negative``, ``negative_1`` ... in triplet datasets);
            they become :attr:`Dataset.hard_negative_candidates`, not judgements.
    """

    query: str
    passage: str
    label: str | None = None
    query_id: str | None = None
    passage_id: str | None = None
    title: str | None = None
    negatives: tuple[str, ...] = ()

    def used(self) -> list[str]:
        """The columns this map names, query first."""
        named = [self.query, self.passage, self.label, self.query_id, self.passage_id, self.title, *self.negatives]
        return [c for c in named if c]

    def to_dict(self) -> dict[str, Any]:
        """Plain values for run configs and the CLI."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["negatives"] = list(self.negatives)
        return values


def _norm(name: Any) -> str:
    return str(name).strip().lower().replace("-", "_").replace(" ", "_")


def guess_partial(df: pd.DataFrame) -> dict[str, Any]:
    """Role -> column for every role a column name suggests (roles with no match are left out)."""
    by_norm = {_norm(c): c for c in reversed(list(df.columns))}  # first column wins on ties
    taken: set[Any] = set()
    found: dict[str, Any] = {}
    for role in ("query_id", "passage_id", "query", "passage", "label", "title"):
        for candidate in CANDIDATES[role]:
            column = by_norm.get(candidate)
            if column is not None and column not in taken:
                found[role] = column
                taken.add(column)
                break
    found["negatives"] = tuple(c for c in df.columns if c not in taken and _NEGATIVE.match(_norm(c)))
    return found


def guess_columns(df: pd.DataFrame) -> ColumnMap:
    """Propose a :class:`ColumnMap` from common column names (query/question/anchor, passage/text/positive ...).

    Raises:
        DataError: no column looks like a query or a passage (the message lists the columns found).
    """
    return resolve_columns(df, None, "the table")


def resolve_columns(df: pd.DataFrame, columns: ColumnMap | Mapping[str, Any] | None, label: str) -> ColumnMap:
    """The column map to use: ``columns`` as given (a partial mapping is completed by guessing), checked."""
    found = [str(c) for c in df.columns]
    if isinstance(columns, ColumnMap):
        chosen = columns.to_dict()
    else:
        # A role present in ``columns`` overrides the guess, even as None ("no label column"); query and
        # passage are required, so None there means "guess it".
        chosen = guess_partial(df)
        for key, value in (columns or {}).items():
            if key not in CANDIDATES and key != "negatives":
                raise ValueError(f"Unknown column role {key!r}; use one of {', '.join([*CANDIDATES, 'negatives'])}.")
            if value or key not in ("query", "passage"):
                chosen[key] = value or (() if key == "negatives" else None)
    for role in ("query", "passage"):
        if not chosen.get(role):
            raise DataError(
                f"{label}: no {role} column found (columns found: {', '.join(found) or 'none'}; expected one of: "
                f"{', '.join(CANDIDATES[role])}); rename the column or choose it in the column mapping "
                f"(CLI: --{role}-col)."
            )
    negatives = chosen.get("negatives") or ()
    cmap = ColumnMap(**{**chosen, "negatives": (negatives,) if isinstance(negatives, str) else tuple(negatives)})
    for column in cmap.used():
        if column not in df.columns:
            raise DataError(f"{label}: column {column!r} not found (columns found: {', '.join(found)}); pick one of those.")
    used = cmap.used()
    dupes = sorted({str(c) for c in used if used.count(c) > 1})
    if dupes:
        raise DataError(f"{label}: column {dupes[0]!r} is mapped to two roles; give each role its own column.")
    return cmap


def detect_format(name: str, fmt: str | None = None) -> tuple[str, bool]:
    """``(format, gzipped)`` from an explicit ``fmt`` or the file name's extension."""
    lower = name.lower()
    gzipped = lower.endswith(".gz")
    if gzipped:
        lower = lower[:-3]
    if fmt:
        fmt = fmt.lower().lstrip(".")
        if fmt not in set(FORMATS.values()):
            raise ValueError(f"Unknown table format {fmt!r}; use csv, tsv, jsonl or parquet.")
        return fmt, gzipped
    for ext, kind in FORMATS.items():
        if lower.endswith(ext):
            return kind, gzipped
    raise DataError(f"Cannot tell the format of {name!r}; use a .csv, .tsv, .jsonl or .parquet file.")


def read_table(source: Source, fmt: str | None = None, *, name: str | None = None, sep: str | None = None,
               max_bytes: int | None = None, limits: Limits | None = None) -> pd.DataFrame:
    """Read a table (path, bytes or file object) into a DataFrame; text formats keep every cell a string.

    Args:
        source: the file or its content.
        fmt: ``csv``, ``tsv``, ``jsonl`` or ``parquet`` (default: from the file name).
        name: file name of an upload given as bytes (for the format and messages).
        sep: CSV delimiter (default ``,``; ``\\t`` for TSV).
        max_bytes: size limit (default: the configured ``max_upload_mb``).
        limits: the caps (default: the configured ones): unpacked size of a ``.gz``, and rows (refused before
            the rows past the cap are parsed: CSV stops reading there, Parquet is checked on its metadata).

    Returns:
        The table; ``df.attrs["lines"]`` maps JSON-lines rows to their line numbers.

    Raises:
        DataError: the file is missing, too large, empty, not UTF-8, or malformed (with line numbers).
    """
    label = source_label(source, name)
    kind, gzipped = detect_format(label, fmt)
    lim = resolve_limits(limits, max_bytes)
    data = read_source(source, label, lim.max_bytes)
    if gzipped:
        data = gunzip(data, label, max_out=lim.max_unpacked_bytes)
    if not data.strip():
        raise DataError(f"{label} is empty; it needs a header row and one row per (query, passage) pair.")
    if kind == "parquet":
        df = _read_parquet(data, label, lim)
    elif kind == "jsonl":
        df = _read_jsonl(decode_utf8(data, label), label, lim)
    else:
        df = _read_csv(decode_utf8(data, label), label, sep or ("\t" if kind == "tsv" else ","), lim)
    lim.check_rows(len(df), label)
    if df.empty:
        raise DataError(f"{label} has a header but no rows; add one row per (query, passage) pair.")
    return df


def _read_csv(text: str, label: str, sep: str, limits: Limits) -> pd.DataFrame:
    try:
        # One row past the cap is read, so an oversized table is known without parsing the rest of it.
        df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, skip_blank_lines=True,
                         nrows=limits.max_rows + 1)
    except pd.errors.EmptyDataError:
        raise DataError(f"{label} is empty; it needs a header row and one row per (query, passage) pair.") from None
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().replace("\n", " ")
        raise DataError(f"{label}: {detail}; check the delimiter and that cells containing it are quoted.") from None
    if df.shape[1] == 1:
        header = text.lstrip().splitlines()[0]
        names = {"\t": "tab", ";": "semicolon", "|": "pipe", ",": "comma"}
        hint = next((d for d in names if d != sep and d in header), None)
        advice = (f"the delimiter looks like a {names[hint]} ({hint!r}); save it with {names.get(sep, repr(sep))}s, "
                  f"or choose that delimiter (CLI: --sep)") if hint else "a table needs a query and a passage column"
        raise DataError(f"{label} parsed into a single column {str(df.columns[0])[:60]!r}: {advice}.")
    df.attrs["first_line"] = 2  # the header is line 1; the message locations assume no line breaks in cells
    return df


def _read_jsonl(text: str, label: str, limits: Limits) -> pd.DataFrame:
    if text.lstrip().startswith("["):  # a .json file holding one array of objects
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{label}: line {exc.lineno} is not valid JSON ({exc.msg}).") from None
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise DataError(f"{label}: the JSON array must hold objects, one per (query, passage) pair.")
        limits.check_rows(len(records), label)
        return pd.DataFrame.from_records(records)
    rows = []
    for row in iter_jsonl(text, label):
        rows.append(row)
        if len(rows) > limits.max_rows:  # stop parsing at the first line past the cap
            limits.check_rows(len(rows), label)
    df = pd.DataFrame.from_records([r for _, r in rows])
    df.attrs["lines"] = [n for n, _ in rows]
    return df


def _read_parquet(data: bytes, label: str, limits: Limits) -> pd.DataFrame:
    import pyarrow.parquet as pq  # pandas' Parquet engine; imported here to give a clear error if missing

    try:
        rows = pq.ParquetFile(io.BytesIO(data)).metadata.num_rows
    except Exception:  # a corrupt file: read_parquet below says so with its own message
        rows = 0
    limits.check_rows(rows, label)  # from the footer, before any column is decoded
    try:
        return pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises several unrelated types for a corrupt file
        detail = (str(exc).strip().splitlines() or [""])[0][:200]
        raise DataError(f"{label} is not a readable Parquet file ({type(exc).__name__}: {detail}); re-export it.") from None


def locator(df: pd.DataFrame) -> Callable[[int], str]:
    """A function naming row ``i`` of a table read by :func:`read_table` ("line 7" or "row 7")."""
    if "lines" in df.attrs and len(df.attrs["lines"]) == len(df):
        lines = list(df.attrs["lines"])
        return lambda i: f"line {lines[i]}"
    if "first_line" in df.attrs:
        first = int(df.attrs["first_line"])
        return lambda i: f"line {i + first}"
    return lambda i: f"row {i + 1}"


def load_table(source: Source | pd.DataFrame, columns: ColumnMap | Mapping[str, Any] | None = None,
               fmt: str | None = None, name: str | None = None, test_fraction: float = 0.3, seed: int = 13, *,
               sep: str | None = None, max_bytes: int | None = None, limits: Limits | None = None) -> Dataset:
    """Load a table of (query, passage[, label]) pairs as a validated :class:`Dataset` split by query.

    Args:
        source: path, bytes or file object of a CSV/TSV/JSONL/Parquet file, or a DataFrame already read.
        columns: the column map; a partial mapping (e.g. ``{"label": "rel"}``) is completed by guessing.
        fmt: the format when the name does not tell it.
        name: dataset name (and the upload's file name when ``source`` is bytes).
        test_fraction: share of queries held out for testing.
        seed: seed of the split.
        sep: CSV delimiter.
        max_bytes: size limit (default: the configured ``max_upload_mb``).
        limits: every cap (default: the configured ones), see :class:`~explorer.data.limits.Limits`.
    """
    from explorer.data.pairs import frame_to_dataset

    limits = resolve_limits(limits, max_bytes)
    is_path = isinstance(source, (str, Path))
    # With a path, ``name`` is the dataset's name; with bytes or a file object it is the upload's file name.
    file_name = None if is_path else name
    if isinstance(source, pd.DataFrame):
        df, label = source, name or "the table"
    else:
        label = source_label(source, file_name)
        df = read_table(source, fmt, name=file_name, sep=sep, limits=limits)
    cmap = resolve_columns(df, columns, label)
    ds_name = name if (name and is_path) else (Path(label).name.split(".")[0] or "table")
    origin = str(source) if is_path else label
    return frame_to_dataset(df, cmap, name=ds_name, label=label, source=origin,
                            test_fraction=test_fraction, seed=seed, where=locator(df), limits=limits)
