"""Turn a table of (query, passage[, label]) rows into a :class:`Dataset`.

Rules (shared by the table and the Hugging Face hub loaders):

* **Ids.** With an id column, its values are the ids, and one id with two different texts is an error.
  Without one, the id is a stable hash of the text (``q-``/``p-`` + 12 hex digits of SHA-1 of the title and
  text), so the same passage text on many rows becomes one passage, and so does the same query.
* **Grades.** No label column: every row is a positive of grade 1, and a column that looks like labels but
  is not the label column is named in the dataset's notes. A label column becomes integer grades by the
  rules of :mod:`explorer.data.labels` (whole numbers as is, 0 kept as a judged-irrelevant pair; scores in
  [0, 1] to grades 0..3; words such as ESCI's Exact/Substitute/Complement/Irrelevant through a word table);
  :attr:`Dataset.grading` records which.
* **Texts.** A passage needs a text or a title (a product with a title and no description is a passage).
* **Negatives.** Cells of negative columns become passages listed in ``hard_negative_candidates`` of the
  row's query (unless judged for that query), never judgements: nobody checked they are irrelevant.
* **Duplicates.** The same (query, passage) pair twice with different grades keeps the highest (noted).
* **Split.** By query with a seed (:meth:`Dataset.with_split`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd

from explorer.data.columns import ColumnMap, label_like_columns, unused_labels_note
from explorer.data.labels import Grading, grades_from_labels
from explorer.data.limits import Limits, resolve_limits
from explorer.data.model import Dataset, Passage
from explorer.data.validation import add_note, finish, require_text, stable_id
from explorer.core.errors import DataError


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT


def _id(value: Any, label: str, where: str) -> str:
    if isinstance(value, float) and not math.isnan(value) and value == int(value):
        value = int(value)  # ids read as floats (a column with gaps) would otherwise end in ".0"
    return require_text(value, label, where, "id").strip()


def _passage_text(value: Any, title: str, label: str, where: str, limits: Limits) -> str:
    """The passage's text; empty is allowed when the row has a title (a product without a description)."""
    if title and (_missing(value) or not str(value).strip()):
        return ""
    return limits.check_text(require_text(value, label, where).strip(), label, where)


def _check_text_column(df: pd.DataFrame, column: str, label: str) -> None:
    dtype = df[column].dtype
    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype):
        raise DataError(f"{label}: column {column!r} holds {dtype} values; expected text. Choose the column with the text.")


def frame_to_dataset(df: pd.DataFrame, cols: ColumnMap, *, name: str, label: str, source: str,
                     test_fraction: float = 0.3, seed: int = 13,
                     where: Callable[[int], str] = lambda i: f"row {i + 1}", limits: Limits | None = None) -> Dataset:
    """Build, split and validate a :class:`Dataset` from a DataFrame of pairs (rules in the module docstring).

    Args:
        df: the table.
        cols: which columns hold what (already checked to exist).
        name: dataset name.
        label: the file's name in messages.
        source: where it came from, for run configs.
        test_fraction: share of queries held out.
        seed: seed of the split.
        where: names row ``i`` in messages ("line 7").
        limits: caps on rows, queries, passages, text length and negatives per query (default: the
            configured ones); checked row by row, so the first row over a cap stops the conversion.
    """
    limits = resolve_limits(limits)
    limits.check_rows(len(df), label)
    for column in (cols.query, cols.passage, cols.title, *cols.negatives):
        if column:
            _check_text_column(df, column, label)
    n = len(df)
    notes: dict[str, int] = {}
    if cols.label:
        grades, grading = grades_from_labels(df[cols.label].tolist(), label, cols.label, where, dict(cols.grades))
    else:
        grades, grading = [1] * n, Grading(None)
        unused = label_like_columns(df, cols)
        if unused:
            add_note(notes, unused_labels_note(unused), n)
    get = {c: df[c].tolist() for c in cols.used()}
    queries: dict[str, str] = {}
    corpus: dict[str, Passage] = {}
    by_text: dict[tuple[str, str], str] = {}
    first_row: dict[tuple[str, str], int] = {}
    qrels: dict[str, dict[str, int]] = {}
    hard: dict[str, list[str]] = {}

    def add(kind: str, key: str, value: Any, i: int, role: str) -> None:
        store: dict[str, Any] = queries if kind == "q" else corpus
        if key in store and store[key] != value:
            raise DataError(
                f"{label}: {role} id {key!r} has different texts on {where(first_row[(kind, key)])} and {where(i)}; "
                f"give each {role} its own id."
            )
        first_row.setdefault((kind, key), i)
        store[key] = value

    for i in range(n):
        at = where(i)
        qtext = limits.check_text(require_text(get[cols.query][i], label, f"{at}, column {cols.query!r}").strip(),
                                  label, f"{at}, column {cols.query!r}")
        qid = _id(get[cols.query_id][i], label, f"{at}, column {cols.query_id!r}") if cols.query_id else stable_id("q", qtext)
        add("q", qid, qtext, i, "query")
        title = "" if not cols.title or _missing(get[cols.title][i]) else str(get[cols.title][i]).strip()
        ptext = _passage_text(get[cols.passage][i], title, label, f"{at}, column {cols.passage!r}", limits)
        if cols.passage_id:
            pid = _id(get[cols.passage_id][i], label, f"{at}, column {cols.passage_id!r}")
        else:
            pid = by_text.get((title, ptext)) or stable_id("p", ptext, title)
        add("p", pid, Passage(pid, ptext, title), i, "passage")
        by_text.setdefault((title, ptext), pid)
        judged = qrels.setdefault(qid, {})
        if pid in judged and judged[pid] != grades[i]:
            add_note(notes, "conflicting duplicate judgements (kept the highest grade)")
        judged[pid] = max(grades[i], judged.get(pid, grades[i]))
        for column in cols.negatives:
            value = get[column][i]
            if _missing(value) or not str(value).strip():
                continue
            listed = hard.setdefault(qid, [])
            if len(listed) >= limits.max_negatives_per_query:
                add_note(notes, f"negatives over {limits.max_negatives_per_query} per query (skipped)")
                continue
            ntext = limits.check_text(str(value).strip(), label, f"{at}, column {column!r}")
            nid = by_text.get(("", ntext)) or stable_id("p", ntext)
            corpus.setdefault(nid, Passage(nid, ntext))
            by_text.setdefault(("", ntext), nid)
            if nid not in listed:
                listed.append(nid)
        limits.check_queries(len(queries), label, at)
        limits.check_passages(len(corpus), label, at)
    hard_negatives = {q: [p for p in ps if p not in qrels.get(q, {})] for q, ps in hard.items()}
    hard_negatives = {q: ps for q, ps in hard_negatives.items() if ps}
    ds = Dataset(name=name, queries=queries, corpus=corpus, qrels=qrels, split={}, source=source,
                 hard_negative_candidates=hard_negatives, notes=notes, grading=grading)
    return finish(ds.with_split(test_fraction, seed), limits)
