"""Reading tables of (query, passage) pairs: CSV, TSV, JSON lines or Parquet, from a path or an upload.

:func:`read_table` reads a whole table under the caps; :func:`read_head` reads only its first rows, for a
preview. Which column holds what is :mod:`explorer.data.columns`; turning rows into a :class:`Dataset` is
:mod:`explorer.data.pairs`; :func:`explorer.data.loaders.load_table` composes the three.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pandas as pd

from explorer.data.limits import Limits, resolve_limits
from explorer.data.validation import Source, decode_utf8, gunzip, iter_jsonl, read_source, source_label
from explorer.core.errors import DataError

FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
           ".parquet": "parquet", ".pq": "parquet"}

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
        # One row past the cap is read, so an oversized table is known without parsing the rest of it.
        df = _read_csv(decode_utf8(data, label), label, sep or ("\t" if kind == "tsv" else ","), lim.max_rows + 1)
    lim.check_rows(len(df), label)
    if df.empty:
        raise DataError(f"{label} has a header but no rows; add one row per (query, passage) pair.")
    return df


def _read_csv(text: str | IO[str], label: str, sep: str, nrows: int) -> pd.DataFrame:
    """Parse CSV text (or a text stream, read no further than ``nrows`` rows) with every cell a string."""
    try:
        df = pd.read_csv(io.StringIO(text) if isinstance(text, str) else text, sep=sep, dtype=str,
                         keep_default_na=False, skip_blank_lines=True, nrows=nrows)
    except pd.errors.EmptyDataError:
        raise DataError(f"{label} is empty; it needs a header row and one row per (query, passage) pair.") from None
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().replace("\n", " ")
        raise DataError(f"{label}: {detail}; check the delimiter and that cells containing it are quoted.") from None
    if df.shape[1] == 1:
        header = str(df.columns[0])  # the whole header line, when the delimiter did not split it
        names = {"\t": "tab", ";": "semicolon", "|": "pipe", ",": "comma"}
        hint = next((d for d in names if d != sep and d in header), None)
        # No command or page sets the delimiter (the file name's extension does: .csv, .tsv).
        advice = (f"the delimiter looks like a {names[hint]} ({hint!r}); save it with {names.get(sep, repr(sep))}s "
                  f"as .csv, or with tabs as .tsv") if hint else "a table needs a query and a passage column"
        raise DataError(f"{label} parsed into a single column {header[:60]!r}: {advice}.")
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


def read_head(path: str | Path, rows: int = 20, fmt: str | None = None, *, sep: str | None = None) -> pd.DataFrame:
    """The first ``rows`` rows of a table file, reading no more of it than they need (a preview).

    CSV and TSV stream through pandas up to ``rows`` rows, JSON lines up to ``rows`` lines, Parquet its first
    batch; gzipped files are decompressed as they are read. A JSON array file is read whole. The caps are not
    checked here: :func:`read_table` checks them when the table is loaded.

    Raises:
        DataError: the file is not a table, or is malformed within its first rows.
    """
    path = Path(path)
    label = path.name
    kind, gzipped = detect_format(label, fmt)
    if not path.is_file():
        raise DataError(f"{label}: file {str(path)!r} not found; check the path.")
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            batch = next(pq.ParquetFile(path).iter_batches(batch_size=rows), None)
        except Exception as exc:  # pyarrow raises several unrelated types for a corrupt file
            detail = (str(exc).strip().splitlines() or [""])[0][:200]
            raise DataError(f"{label} is not a readable Parquet file ({type(exc).__name__}: {detail}); re-export it.") from None
        if batch is None:
            raise DataError(f"{label} has a header but no rows; add one row per (query, passage) pair.")
        return batch.to_pandas()
    try:
        with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as raw:
            # Bad bytes show as U+FFFD here; the full read at load time names their line.
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
            return _head_of_text(text, kind, label, rows, sep)
    except (OSError, EOFError) as exc:  # a truncated or corrupt .gz
        raise DataError(f"{label} cannot be read ({type(exc).__name__}); upload it again.") from None


def _head_of_text(stream: IO[str], kind: str, label: str, rows: int, sep: str | None) -> pd.DataFrame:
    if kind != "jsonl":
        return _read_csv(stream, label, sep or ("\t" if kind == "tsv" else ","), rows)
    lines: list[str] = []
    for line in stream:
        if line.lstrip().startswith("[") and not any(x.strip() for x in lines):  # a .json array of objects
            return _read_jsonl(line + stream.read(), label, Limits()).head(rows)
        lines.append(line)
        if sum(1 for x in lines if x.strip()) >= rows:
            break
    if not any(x.strip() for x in lines):
        raise DataError(f"{label} is empty; it needs one JSON object per (query, passage) pair.")
    return _read_jsonl("".join(lines), label, Limits())


def locator(df: pd.DataFrame) -> Callable[[int], str]:
    """A function naming row ``i`` of a table read by :func:`read_table` ("line 7" or "row 7")."""
    if "lines" in df.attrs and len(df.attrs["lines"]) == len(df):
        lines = list(df.attrs["lines"])
        return lambda i: f"line {lines[i]}"
    if "first_line" in df.attrs:
        first = int(df.attrs["first_line"])
        return lambda i: f"line {i + first}"
    return lambda i: f"row {i + 1}"
