"""Load a dataset in BEIR layout: a folder (or a .zip of one) with ``corpus.jsonl``, ``queries.jsonl`` and
``qrels/<split>.tsv``.

Files, as written by the BEIR toolkit (https://github.com/beir-cellar/beir):

* ``corpus.jsonl``: one ``{"_id", "title", "text"}`` object per line (extra keys are ignored);
* ``queries.jsonl``: one ``{"_id", "text"}`` object per line;
* ``qrels/train.tsv``, ``qrels/dev.tsv``, ``qrels/test.tsv``: tab-separated ``query-id corpus-id score``
  with that header (4-column TREC lines ``qid 0 docid grade`` are accepted too).

Split rule: train and test qrels are used as given; ``dev`` stands in for ``test`` when there is no test
file; with only one of them, its queries are split by query with a seed (:meth:`Dataset.with_split`).
Queries without any judgement in the files used are dropped (they can be neither trained on nor scored).
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path
from typing import Any

from explorer.data.archive import safe_extract
from explorer.data.limits import Limits, resolve_limits
from explorer.data.model import Dataset, Passage
from explorer.data.validation import (
    Source, add_note, decode_utf8, finish, iter_jsonl, parse_grade, read_source, require_keys, require_text,
)
from explorer.core.errors import DataError

QRELS_HEADER = ("query-id", "corpus-id", "score")
#: How many times the upload limit a zip may unpack to (text compresses about 3-5x).
UNPACK_FACTOR = 4.0
_EXPECTED = "corpus.jsonl, queries.jsonl and qrels/train.tsv or qrels/test.tsv"


def find_beir_root(folder: Path, label: str | None = None) -> Path:
    """The folder holding ``corpus.jsonl``: ``folder`` itself or its only sub-folder (zips often add one).

    ``label`` names the folder in messages (an extracted zip's temporary folder is named after the zip).
    """
    if not folder.is_dir():
        raise DataError(f"{str(folder)!r} is not a folder; point at a BEIR folder holding {_EXPECTED}.")
    if (folder / "corpus.jsonl").is_file():
        return folder
    entries = [p for p in folder.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    subdirs = [p for p in entries if p.is_dir()]
    if len(subdirs) == 1 and (subdirs[0] / "corpus.jsonl").is_file():
        return subdirs[0]
    found = ", ".join(sorted(p.name + ("/" if p.is_dir() else "") for p in entries)) or "nothing"
    raise DataError(f"{label or folder.name or folder}: no corpus.jsonl found (found: {found}); a BEIR folder holds {_EXPECTED}.")


def load_beir(
    source: Source,
    *,
    name: str | None = None,
    test_fraction: float = 0.3,
    seed: int = 13,
    max_bytes: int | None = None,
    limits: Limits | None = None,
) -> Dataset:
    """Load a BEIR folder, a .zip of one (path, bytes or file object), and validate it.

    Args:
        source: folder path, .zip path, or the zip's bytes / file object (an upload).
        name: dataset name (default: the folder or zip name).
        test_fraction: share of queries held out when the qrels give no train/test split.
        seed: seed of that split.
        max_bytes: size limit per file (default: the configured ``max_upload_mb``).
        limits: every cap (default: the configured ones): a zip's unpacked size, and queries, passages and
            text length, counted line by line while the files are read.

    Raises:
        DataError: a file is missing or malformed (the message names the file and line).
    """
    lim = resolve_limits(limits, max_bytes)
    is_path = isinstance(source, (str, Path))
    if is_path and Path(source).is_dir():
        root = find_beir_root(Path(source))
        return _load_folder(root, name or Path(source).resolve().name, str(source), test_fraction, seed,
                            lim.max_bytes, lim)
    label = Path(source).name if is_path else str(getattr(source, "name", "") or "the uploaded zip")
    if is_path and not Path(source).exists():
        raise DataError(f"{str(source)!r} not found; give a BEIR folder or a .zip of one.")
    with tempfile.TemporaryDirectory(prefix="explorer-beir-") as tmp:
        if is_path and not zipfile.is_zipfile(source):
            raise DataError(f"{label} is neither a folder nor a zip archive; give a BEIR folder or a .zip of one.")
        safe_extract(source, tmp, label=label, max_bytes=lim.max_bytes, max_unpacked=lim.max_unpacked_bytes)
        root = find_beir_root(Path(tmp), label)
        stem = label[:-4] if label.lower().endswith(".zip") else label
        # The archive passed the upload limit; its unpacked files may each use what safe_extract allowed.
        return _load_folder(root, name or stem, str(source) if is_path else label, test_fraction, seed,
                            lim.max_unpacked_bytes, lim)


def _load_folder(root: Path, name: str, origin: str, test_fraction: float, seed: int, limit: int,
                 limits: Limits) -> Dataset:
    notes: dict[str, int] = {}
    corpus = read_corpus(root / "corpus.jsonl", limit, notes, limits)
    queries = read_queries(root / "queries.jsonl", limit, notes, limits)
    files = {s: root / "qrels" / f"{s}.tsv" for s in ("train", "dev", "test") if (root / "qrels" / f"{s}.tsv").is_file()}
    if not files:
        found = sorted(p.name for p in (root / "qrels").iterdir()) if (root / "qrels").is_dir() else []
        raise DataError(
            f"{name}: no qrels/train.tsv, qrels/dev.tsv or qrels/test.tsv (found in qrels/: "
            f"{', '.join(found) or 'nothing'}); add the judgements as qrels/test.tsv."
        )
    if "train" in files and ("test" in files or "dev" in files):
        used = {"train": "train", ("test" if "test" in files else "dev"): "test"}
    else:  # one file only: its queries get split with the seed below
        only = next(s for s in ("train", "test", "dev") if s in files)
        used = {only: "train"}
    for skipped in sorted(set(files) - set(used)):
        add_note(notes, f"qrels/{skipped}.tsv not used")
    qrels: dict[str, dict[str, int]] = {}
    split: dict[str, str] = {}
    for part, role in used.items():
        for qid, grades in read_qrels(files[part], queries, corpus, limit, notes).items():
            if split.get(qid, role) != role:
                add_note(notes, "queries judged in both train and test (kept in test)")
            merged = qrels.setdefault(qid, {})
            for pid, grade in grades.items():
                merged[pid] = max(grade, merged.get(pid, grade))
            # Train is read before test, so a query judged on both sides ends in test: evaluated, not trained on.
            split[qid] = role
    dropped = [q for q in queries if q not in qrels]
    if dropped:
        add_note(notes, "queries without judgements (dropped)", len(dropped))
        queries = {q: t for q, t in queries.items() if q in qrels}
    ds = Dataset(name=name, queries=queries, corpus=corpus, qrels=qrels, split=split, source=origin, notes=notes)
    if len(used) == 1:
        ds = ds.with_split(test_fraction, seed)
    return finish(ds, limits)


def _read_lines(path: Path, limit: int) -> str:
    if not path.is_file():
        raise DataError(f"{path.name} is missing; a BEIR folder holds {_EXPECTED}.")
    text = decode_utf8(read_source(path, path.name, limit), path.name)
    if not text.strip():
        raise DataError(f"{path.name} is empty; it needs one JSON object (or TSV row) per line.")
    return text


def read_corpus(path: Path, limit: int, notes: dict[str, int], limits: Limits | None = None) -> dict[str, Passage]:
    """Passages of a ``corpus.jsonl`` file; a title-only or text-only passage is fine, neither is not.

    ``limits`` caps the passages and their length; the line past a cap stops the reading.
    """
    limits = resolve_limits(limits)
    corpus: dict[str, Passage] = {}
    lines: dict[str, int] = {}
    for number, record in iter_jsonl(_read_lines(path, limit), path.name):
        require_keys(record, ("_id",), path.name, f"line {number}")
        pid = require_text(record["_id"], path.name, f"line {number}", "_id").strip()
        title = str(record.get("title") or "")
        text = record.get("text") or ""
        if not isinstance(text, str):
            raise DataError(f"{path.name}: line {number} (passage {pid!r}) has a {type(text).__name__} as text; expected a string.")
        if not (text.strip() or title.strip()):
            raise DataError(
                f"{path.name}: line {number} (passage {pid!r}) has an empty text and title; fill it in or remove the line."
            )
        limits.check_text(title + text, path.name, f"line {number} (passage {pid!r})")
        if _add_once(corpus, lines, pid, Passage(pid, text, title), number, path.name, "passage", notes):
            limits.check_passages(len(corpus), path.name, f"line {number}")
    return corpus


def read_queries(path: Path, limit: int, notes: dict[str, int], limits: Limits | None = None) -> dict[str, str]:
    """Queries of a ``queries.jsonl`` file (``limits`` caps their number and length while reading)."""
    limits = resolve_limits(limits)
    queries: dict[str, str] = {}
    lines: dict[str, int] = {}
    for number, record in iter_jsonl(_read_lines(path, limit), path.name):
        require_keys(record, ("_id", "text"), path.name, f"line {number}")
        qid = require_text(record["_id"], path.name, f"line {number}", "_id").strip()
        text = limits.check_text(require_text(record["text"], path.name, f"line {number} (query {qid!r})"),
                                 path.name, f"line {number} (query {qid!r})")
        if _add_once(queries, lines, qid, text, number, path.name, "query", notes):
            limits.check_queries(len(queries), path.name, f"line {number}")
    return queries


def _add_once(items: dict[str, Any], lines: dict[str, int], item_id: str, item: Any, number: int, label: str,
              what: str, notes: dict[str, int]) -> bool:
    """Add a passage or query read from line ``number``, unless its id was read before.

    A repeated identical line is merged (and counted in ``notes``); the same id with another text is an error.
    ``lines`` remembers where each id was first read, for that message. Returns whether the item was new.

    Raises:
        DataError: ``item_id`` was read before with a different text.
    """
    if item_id not in items:
        items[item_id] = item
        lines[item_id] = number
        return True
    if items[item_id] != item:
        raise DataError(
            f"{label}: {what} id {item_id!r} appears on lines {lines[item_id]} and {number} with different "
            f"texts; give each {what} its own id."
        )
    add_note(notes, f"duplicate {what} lines (merged)")
    return False


def read_qrels(
    path: Path, queries: dict[str, str], corpus: dict[str, Passage], limit: int, notes: dict[str, int]
) -> dict[str, dict[str, int]]:
    """Judgements of a ``qrels/<split>.tsv`` file, checked against the known query and passage ids."""
    label = f"qrels/{path.name}"
    qrels: dict[str, dict[str, int]] = {}
    rows = 0
    for number, line in enumerate(_read_lines(path, limit).splitlines(), start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in (line.split("\t") if "\t" in line else line.split())]
        if len(fields) not in (3, 4):
            raise DataError(
                f"{label}: line {number} has {len(fields)} fields ({', '.join(fields)}); expected "
                f"{', '.join(QRELS_HEADER)} separated by tabs."
            )
        if number == 1 and len(fields) == 3 and not _is_number(fields[-1]):
            continue  # the header (BEIR writes "query-id corpus-id score"; other names are tolerated)
        if len(fields) == 4:  # TREC qrels: qid, iteration (ignored), docid, grade
            fields = [fields[0], fields[2], fields[3]]
        qid, pid, score = fields
        grade = parse_grade(score, label, f"line {number}")
        if qid not in queries:
            raise DataError(f"{label}: line {number} names query {qid!r}, which is not in queries.jsonl; fix the id or add the query.")
        if pid not in corpus:
            raise DataError(f"{label}: line {number} names passage {pid!r}, which is not in corpus.jsonl; fix the id or add the passage.")
        judged = qrels.setdefault(qid, {})
        if pid in judged and judged[pid] != grade:
            add_note(notes, "conflicting duplicate judgements (kept the highest grade)")
        judged[pid] = max(grade, judged.get(pid, grade))
        rows += 1
    if not rows:
        raise DataError(f"{label} has a header but no judgements; add rows of {' '.join(QRELS_HEADER)}.")
    return qrels


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True
