"""Checks every loader shares: size limits, UTF-8 decoding, JSON lines, grades and the final dataset check.

Each check raises :class:`explorer.core.errors.DataError` with a message that names the file, the line (or
byte offset, or column) and what to do, so the CLI can print it on one line and the app can show it as is.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Union

from explorer.core.config import settings_for
from explorer.data.limits import Limits, resolve_limits
from explorer.data.model import Dataset
from explorer.core.errors import DataError

#: What loaders accept as a file: a path, raw bytes (an upload) or a binary file-like object.
Source = Union[str, Path, bytes, bytearray, memoryview, IO[bytes]]


def limit_bytes(max_bytes: int | None = None) -> int:
    """The size limit in bytes: ``max_bytes`` when given, else the local settings' ``max_upload_mb``.

    Callers that read a visitor's file pass the workspace's limit (``Limits.max_bytes``); the fallback serves
    the CLI and notebooks and, through :func:`explorer.core.config.settings_for`, raises in public mode.

    Raises:
        ValueError: ``max_bytes`` is not positive.
        WorkspaceRequiredError: public mode and no ``max_bytes`` given.
    """
    if max_bytes is not None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}.")
        return int(max_bytes)
    return int(settings_for(None, "check an upload's size").max_upload_mb * 1024 * 1024)


def human_size(n: float) -> str:
    """A byte count for people: ``1.5 MB``."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover - loop always returns


def check_size(size: int, label: str, max_bytes: int | None = None) -> None:
    """Raise when ``size`` bytes exceed the limit."""
    limit = limit_bytes(max_bytes)
    if size > limit:
        raise DataError(
            f"{label} is {human_size(size)}, over the {human_size(limit)} limit of this server; upload a smaller file "
            "(a sample of it, or compressed as .gz or .zip)."
        )


def source_label(source: Source, name: str | None = None) -> str:
    """A short name of a source for messages: the given name, the file name, or 'the upload'."""
    if name:
        return name
    if isinstance(source, (str, Path)):
        return Path(source).name or str(source)
    return str(getattr(source, "name", "") or "the upload")


def read_source(source: Source, label: str, max_bytes: int | None = None) -> bytes:
    """All bytes of a path, bytes object or binary file-like, after checking the size limit."""
    limit = limit_bytes(max_bytes)
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise DataError(f"{label}: file {str(path)!r} not found; check the path.")
        check_size(path.stat().st_size, label, limit)
        return path.read_bytes()
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif hasattr(source, "getvalue"):  # BytesIO and Streamlit's UploadedFile
        data = bytes(source.getvalue())
    elif hasattr(source, "read"):
        # Read one byte past the limit so an oversized stream is caught without reading all of it.
        data = source.read(limit + 1)
        if isinstance(data, str):
            data = data.encode("utf-8")
    else:
        raise ValueError(f"Cannot read a dataset from a {type(source).__name__}; pass a path, bytes or a file.")
    check_size(len(data), label, limit)
    return data


def gunzip(data: bytes, label: str, max_bytes: int | None = None, unpack_factor: float = 4.0, *,
           max_out: int | None = None) -> bytes:
    """Decompress gzip bytes, refusing output over ``max_out`` bytes (default ``unpack_factor`` x the size
    limit): at most ``max_out + 1`` bytes are ever decompressed, so a gzip bomb costs no more than that."""
    cap = int(max_out) if max_out is not None else int(limit_bytes(max_bytes) * unpack_factor)
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            out = stream.read(cap + 1)
    except (OSError, EOFError) as exc:
        raise DataError(f"{label} is not a valid gzip file ({exc}); re-compress it or upload it uncompressed.") from None
    if len(out) > cap:
        raise DataError(
            f"{label} unpacks to more than {human_size(cap)}, the most this server accepts unpacked; upload a "
            "smaller sample of it."
        )
    return out


def decode_utf8(data: bytes, label: str) -> str:
    """Decode UTF-8 (a leading byte-order mark is dropped); on bad bytes name the line and byte offset."""
    skip = 3 if data.startswith(b"\xef\xbb\xbf") else 0  # the BOM; offsets below count it, as editors do
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        start = exc.start + skip
        line = data[:start].count(b"\n") + 1
        bad = data[start : start + 4]
        raise DataError(
            f"{label}: line {line} (byte offset {start}) is not valid UTF-8 (bytes {bad!r}); "
            "save the file as UTF-8 and try again."
        ) from None


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` (split at "\n"), one at a time: no copy of the whole text (``io.StringIO`` holds
    one of four bytes a character, which at 200,000 passages was a gigabyte)."""
    start, end = 0, len(text)
    while start < end:
        stop = text.find("\n", start)
        stop = end if stop < 0 else stop
        yield text[start:stop]
        start = stop + 1


def iter_jsonl(text: str, label: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for each non-blank line of a JSON-lines text."""
    for number, line in enumerate(_lines(text), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{label}: line {number} is not valid JSON ({exc.msg} at column {exc.colno}); "
                "each line must be one JSON object."
            ) from None
        if not isinstance(record, dict):
            raise DataError(
                f"{label}: line {number} is a JSON {type(record).__name__}, not an object; "
                'each line must look like {"key": "value", ...}.'
            )
        yield number, record


def require_keys(record: dict[str, Any], keys: tuple[str, ...], label: str, where: str) -> None:
    """Raise when a JSON record lacks one of ``keys``, listing the keys it has."""
    missing = [k for k in keys if k not in record]
    if missing:
        found = ", ".join(sorted(map(str, record))) or "none"
        raise DataError(
            f"{label}: {where} lacks {', '.join(repr(k) for k in missing)} (found keys: {found}; "
            f"expected: {', '.join(keys)})."
        )


def require_text(value: Any, label: str, where: str, what: str = "text") -> str:
    """The value as a non-empty string; raise naming the place when it is missing or blank."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise DataError(f"{label}: {where} has no {what}; fill it in or remove the row.")
    if not isinstance(value, str):
        # Numbers are fine as ids (and harmless as text); lists, arrays and objects are a wrong column.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = "list" if hasattr(value, "__len__") and not isinstance(value, dict) else type(value).__name__
            raise DataError(f"{label}: {where} has a {kind} as {what}; expected text.")
        value = str(value)
    if not value.strip():
        raise DataError(f"{label}: {where} has an empty {what}; fill it in or remove the row.")
    return value


def parse_grade(value: Any, label: str, where: str) -> int:
    """An integer relevance grade >= 0 from an int, integral float or numeric string."""
    if isinstance(value, bool):
        return int(value)
    number: float
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            raise DataError(f"{label}: {where} has grade {value!r}, which is not a number; use integers >= 0.") from None
    if not math.isfinite(number) or number != int(number):
        raise DataError(f"{label}: {where} has grade {value!r}; grades must be whole numbers >= 0.")
    if number < 0:
        raise DataError(f"{label}: {where} has negative grade {value!r}; grades must be integers >= 0.")
    return int(number)


def stable_id(prefix: str, text: str, title: str = "") -> str:
    """An id that depends only on the text (and title): ``prefix-`` + 12 hex digits of SHA-1."""
    digest = hashlib.sha1((title + "\x1f" + text).encode("utf-8")).hexdigest()
    return f"{prefix}-{digest[:12]}"


def add_note(notes: dict[str, int], what: str, count: int = 1) -> None:
    """Count something a loader skipped or merged, for :attr:`Dataset.notes`."""
    notes[what] = notes.get(what, 0) + count


def finish(ds: Dataset, limits: Limits | None = None) -> Dataset:
    """Run :meth:`Dataset.validate` plus the checks a tool session needs, and return the dataset.

    Beyond the model's invariants: at least two judged queries (one per split), at least one test query,
    and no more passages or queries than ``limits`` allow (loaders also count while parsing; this is the
    last word for datasets built in memory).
    """
    ds.validate()
    judged = ds.query_ids()
    if len(judged) < 2:
        raise DataError(
            f"Dataset {ds.name!r} has only {len(judged)} query with a relevant passage; at least 2 are needed "
            "(one to train on, one to test with). Add more queries."
        )
    if not ds.query_ids("test"):
        raise DataError(
            f"Dataset {ds.name!r} has no test queries with a relevant passage; add test judgements or let the "
            "tool split the queries (remove the test qrels)."
        )
    if not ds.query_ids("train"):
        raise DataError(
            f"Dataset {ds.name!r} has no training queries with a relevant passage; add train judgements or let "
            "the tool split the queries."
        )
    limits = resolve_limits(limits)
    limits.check_passages(len(ds.corpus), f"Dataset {ds.name!r}")
    limits.check_queries(len(ds.queries), f"Dataset {ds.name!r}")
    return ds
