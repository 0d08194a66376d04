"""Load Google's Natural Questions in its *simplified* format (JSON lines, optionally gzipped).

Each line is one question about one Wikipedia page::

    {"example_id": 797803103760793766, "question_text": "...", "document_text": "<H1> ... </H1> <P> ... </P> ...",
     "long_answer_candidates": [{"start_token": 0, "end_token": 120, "top_level": true}, ...],
     "annotations": [{"long_answer": {"start_token": 14, "end_token": 120, "candidate_index": 1}, ...}]}

``document_text`` is the page as space-separated tokens, HTML tags included. As in the "customizing
embeddings" notebooks, the annotated long answer becomes the question's positive passage (grade 1), with
HTML tags removed and whitespace collapsed; the other top-level candidates of the same page (at most
``max_candidates``, each of at least ``min_candidate_words`` words) become passages listed in
``hard_negative_candidates`` for that question: same page, so near misses, but unjudged. Questions whose
annotators found no long answer are skipped and counted in :attr:`Dataset.notes`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from explorer.data.limits import Limits, resolve_limits
from explorer.data.model import Dataset, Passage
from explorer.data.validation import (
    Source, add_note, decode_utf8, finish, gunzip, iter_jsonl, read_source, require_keys, require_text, source_label,
    stable_id,
)
from explorer.core.errors import DataError

NQ_FIELDS = ("example_id", "question_text", "document_text", "long_answer_candidates", "annotations")
_TAG = re.compile(r"^<[^<>\s]*>$")
NO_ANSWER = "examples without a long answer (skipped)"


def looks_like_nq(record: dict[str, Any]) -> bool:
    """Whether a JSON record is a Natural Questions example (simplified or original format)."""
    return "question_text" in record and ("document_text" in record or "document_tokens" in record)


def clean_tokens(tokens: list[str]) -> str:
    """Join page tokens into plain text: drop HTML tag tokens (``<P>``, ``</Td>``), collapse whitespace."""
    return " ".join(" ".join(t for t in tokens if not _TAG.match(t)).split())


def _span(item: Any, n_tokens: int, label: str, where: str) -> tuple[int, int]:
    if not isinstance(item, dict):
        raise DataError(f"{label}: {where} is a {type(item).__name__}; expected an object with start_token and end_token.")
    start, end = item.get("start_token"), item.get("end_token")
    if not isinstance(start, int) or not isinstance(end, int):
        raise DataError(f"{label}: {where} has start_token {start!r} and end_token {end!r}; expected integers.")
    if start >= 0 and not (start < end <= n_tokens):
        raise DataError(
            f"{label}: {where} spans tokens {start}..{end}, outside the page's {n_tokens} tokens; the file is corrupt."
        )
    return start, end


def load_nq(
    source: Source,
    *,
    name: str | None = None,
    test_fraction: float = 0.3,
    seed: int = 13,
    max_bytes: int | None = None,
    max_candidates: int = 5,
    min_candidate_words: int = 8,
    max_examples: int | None = None,
    limits: Limits | None = None,
) -> Dataset:
    """Load a simplified Natural Questions file (.jsonl or .jsonl.gz; path, bytes or file object).

    Args:
        source: the file or its content.
        name: dataset name (default: the file name without extensions).
        test_fraction: share of questions held out for testing.
        seed: seed of the split.
        max_bytes: size limit of the file (default: the configured ``max_upload_mb``); gzip output may be
            up to 4 times that.
        max_candidates: most other candidates of a page kept as hard-negative candidates.
        min_candidate_words: candidates shorter than this (after removing HTML) are skipped.
        max_examples: stop after this many usable examples (``None``: all).
        limits: every cap (default: the configured ones): the unpacked size of a ``.gz``, questions and passages
            (counted while reading; the first example past a cap stops it), candidates per question (at most
            ``max_negatives_per_query``), and text length (a longer long answer or candidate is skipped and
            counted in the notes: NQ pages hold some very long tables).

    Raises:
        DataError: a line is not JSON, lacks a field, or has spans outside the page (line number given).
    """
    if max_candidates < 0 or min_candidate_words < 0:
        raise ValueError("max_candidates and min_candidate_words must be >= 0.")
    label = source_label(source, None if isinstance(source, (str, Path)) else name)
    lim = resolve_limits(limits, max_bytes)
    max_candidates = min(max_candidates, lim.max_negatives_per_query)
    data = read_source(source, label, lim.max_bytes)
    if label.lower().endswith(".gz") or data[:2] == b"\x1f\x8b":
        data = gunzip(data, label, max_out=lim.max_unpacked_bytes)
    text = decode_utf8(data, label)
    if not text.strip():
        raise DataError(f"{label} is empty; it needs one Natural Questions example per line.")
    queries: dict[str, str] = {}
    corpus: dict[str, Passage] = {}
    qrels: dict[str, dict[str, int]] = {}
    hard: dict[str, list[str]] = {}
    notes: dict[str, int] = {}
    for number, record in iter_jsonl(text, label):
        where = f"line {number}"
        if "document_tokens" in record and "document_text" not in record:
            raise DataError(f"{label}: {where} is in the original NQ format (document_tokens); use the simplified format.")
        require_keys(record, NQ_FIELDS, label, where)
        qid = str(record["example_id"]).strip()
        question = lim.check_text(require_text(record["question_text"], label, f"{where}, question_text").strip(),
                                  label, f"{where}, question_text")
        page = require_text(record["document_text"], label, f"{where}, document_text")
        candidates, annotations = record["long_answer_candidates"], record["annotations"]
        if not isinstance(candidates, list) or not isinstance(annotations, list):
            raise DataError(f"{label}: {where}: long_answer_candidates and annotations must be lists.")
        if qid in queries:
            if queries[qid] != question:
                raise DataError(f"{label}: {where} repeats example_id {qid} with a different question; ids must be unique.")
            add_note(notes, "repeated examples (skipped)")
            continue
        tokens = page.split(" ")
        answer = None
        for k, annotation in enumerate(annotations):
            long_answer = annotation.get("long_answer") if isinstance(annotation, dict) else None
            if long_answer is None:
                raise DataError(f"{label}: {where}, annotation {k} has no long_answer; the file is not simplified NQ.")
            span = _span(long_answer, len(tokens), label, f"{where}, annotation {k}")
            if span[0] >= 0:
                answer = (span, long_answer.get("candidate_index", -1))
                break
        if answer is None:
            add_note(notes, NO_ANSWER)
            continue
        (start, end), answer_index = answer
        positive = clean_tokens(tokens[start:end])
        if not positive:
            add_note(notes, "long answers empty without HTML (skipped)")
            continue
        if len(positive) > lim.max_text_chars:
            add_note(notes, f"long answers over {lim.max_text_chars:,} characters (skipped)")
            continue
        lim.check_queries(len(queries) + 1, label, where)
        pid = stable_id("p", positive)
        queries[qid] = question
        corpus.setdefault(pid, Passage(pid, positive))
        qrels[qid] = {pid: 1}
        kept: list[str] = []
        for index, candidate in enumerate(candidates):
            c_start, c_end = _span(candidate, len(tokens), label, f"{where}, long_answer_candidates[{index}]")
            if index == answer_index or not candidate.get("top_level", True) or c_start < 0:
                continue
            text_c = clean_tokens(tokens[c_start:c_end])
            if len(text_c.split()) < min_candidate_words:
                add_note(notes, f"candidates under {min_candidate_words} words (skipped)")
            elif text_c == positive:
                continue
            elif len(text_c) > lim.max_text_chars:
                add_note(notes, f"candidates over {lim.max_text_chars:,} characters (skipped)")
            elif len(kept) >= max_candidates:
                add_note(notes, f"candidates over {max_candidates} per page (skipped)")
            else:
                cid = stable_id("p", text_c)
                corpus.setdefault(cid, Passage(cid, text_c))
                if cid not in kept:
                    kept.append(cid)
        if kept:
            hard[qid] = kept
        lim.check_passages(len(corpus), label, where)
        if max_examples is not None and len(queries) >= max_examples:
            break
    if not queries:
        raise DataError(
            f"{label}: none of its {notes.get(NO_ANSWER, 0)} examples has an annotated long answer; "
            "use examples with long answers (e.g. the NQ train or dev sample)."
        )
    stem = Path(label).name.split(".")[0] or "natural-questions"
    ds_name = name if (name and isinstance(source, (str, Path))) else stem
    origin = str(source) if isinstance(source, (str, Path)) else label
    ds = Dataset(name=ds_name, queries=queries, corpus=corpus, qrels=qrels, split={}, source=origin,
                 hard_negative_candidates=hard, notes=notes)
    return finish(ds.with_split(test_fraction, seed), lim)
