"""Which table columns hold what: :class:`ColumnMap`, guessed from the column names or chosen by the user.

Shared by every table-shaped source (uploads, local files, Hugging Face hub tables): :func:`guess_columns`
proposes a map from common names, :func:`resolve_columns` completes a partial choice by guessing and checks it,
and :func:`label_like_columns` names the columns that look like relevance labels but are not used as such.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import pandas as pd

from explorer.core.errors import DataError
from explorer.data.labels import looks_like_labels, parse_grades

#: Column names recognised by :func:`guess_columns`, best first (compared lower-case, ``-``/space as ``_``).
#: Product tables (Amazon's ESCI: product_title, product_description, product_bullet_point ...) map their title
#: to the passage title and their description to the passage text, so a passage reads "title. description".
CANDIDATES: dict[str, tuple[str, ...]] = {
    "query": ("query", "question", "anchor", "q", "query_text", "question_text", "queries", "search_term"),
    "passage": ("passage", "text", "document", "positive", "answer", "context", "passage_text", "doc",
                "content", "pos", "positive_passage", "product_description", "description", "product_text",
                "product_bullet_point", "bullet_point", "product_title"),
    "label": ("label", "score", "relevance", "grade", "rel", "relevant", "is_relevant", "esci_label", "esci",
              "judgement", "judgment", "relevance_label", "relevance_judgement", "relevance_judgment", "rating"),
    "query_id": ("query_id", "qid", "queryid", "question_id"),
    "passage_id": ("passage_id", "pid", "doc_id", "corpus_id", "docid", "document_id", "passageid", "product_id",
                   "asin", "item_id"),
    "title": ("title", "passage_title", "document_title", "doc_title", "product_title"),
}
ROLES = tuple(CANDIDATES)
_NEGATIVE = re.compile(r"^(negative|hard_negative|neg|negative_passage)(_?\d+)?$")
_LABEL_NAME = re.compile(r"label|relevan|judg|esci|grade|rating")
_SAMPLE = 1000
"""Rows whose values are looked at when a column is judged by its values (a label column of words)."""


@dataclass(frozen=True)
class ColumnMap:
    """Which table columns hold the query, the passage and the optional fields.

    Attributes:
        query, passage: text columns (required).
        label: relevance grade, score or word; absent means every row is a positive of grade 1.
        query_id, passage_id: id columns; absent means ids are a hash of the text.
        title: passage title column.
        negatives: columns of negative passages (``negative``, ``negative_1`` ... in triplet datasets);
            they become :attr:`Dataset.hard_negative_candidates`, not judgements.
        grades: (word, grade) pairs the user chose for label words (see :mod:`explorer.data.labels`); words
            not named here go through the default tables.
    """

    query: str
    passage: str
    label: str | None = None
    query_id: str | None = None
    passage_id: str | None = None
    title: str | None = None
    negatives: tuple[str, ...] = ()
    grades: tuple[tuple[str, int], ...] = ()

    def used(self) -> list[str]:
        """The columns this map names, query first."""
        named = [self.query, self.passage, self.label, self.query_id, self.passage_id, self.title, *self.negatives]
        return [c for c in named if c]

    def to_dict(self) -> dict[str, Any]:
        """Plain values for run configs and the CLI."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["negatives"] = list(self.negatives)
        values["grades"] = dict(self.grades)
        return values


def _norm(name: Any) -> str:
    return str(name).strip().lower().replace("-", "_").replace(" ", "_")


def _words_look_like_labels(df: pd.DataFrame, column: Any, yes_no: bool = True) -> bool:
    series = df[column]
    if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        return False
    return looks_like_labels(series.head(_SAMPLE).tolist(), yes_no=yes_no)


def guess_partial(df: pd.DataFrame) -> dict[str, Any]:
    """Role -> column for every role a column name suggests (roles with no match are left out); a label column
    with no telling name is recognised by its values (label words such as Exact/Irrelevant or relevant/not;
    yes/no alone is not enough, a column of them may be any flag)."""
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
    if "label" not in found:
        column = next((c for c in df.columns if c not in taken and _words_look_like_labels(df, c, yes_no=False)), None)
        if column is not None:
            found["label"] = column
            taken.add(column)
    found["negatives"] = tuple(c for c in df.columns if c not in taken and _NEGATIVE.match(_norm(c)))
    return found


def guess_columns(df: pd.DataFrame) -> ColumnMap:
    """Propose a :class:`ColumnMap` from common column names (query/question/anchor, passage/text/positive ...).

    Raises:
        DataError: no column looks like a query or a passage (the message lists the columns found).
    """
    return resolve_columns(df, None, "the table")


def resolve_columns(df: pd.DataFrame, columns: ColumnMap | Mapping[str, Any] | None, label: str) -> ColumnMap:
    """The column map to use: ``columns`` as given (a partial mapping is completed by guessing), checked.

    ``columns`` may also hold ``"grades"``: the label words' grades, a mapping or ``"Exact=3,Substitute=2"``.
    """
    found = [str(c) for c in df.columns]
    if isinstance(columns, ColumnMap):
        chosen = columns.to_dict()
    else:
        # A role present in ``columns`` overrides the guess, even as None ("no label column"); query and
        # passage are required, so None there means "guess it".
        chosen = guess_partial(df)
        for key, value in (columns or {}).items():
            if key not in CANDIDATES and key not in ("negatives", "grades"):
                raise ValueError(f"Unknown column role {key!r}; use one of {', '.join([*CANDIDATES, 'negatives', 'grades'])}.")
            if value or key not in ("query", "passage"):
                chosen[key] = value or (() if key in ("negatives", "grades") else None)
    for role in ("query", "passage"):
        if not chosen.get(role):
            raise DataError(
                f"{label}: no {role} column found (columns found: {', '.join(found) or 'none'}; expected one of: "
                f"{', '.join(CANDIDATES[role])}); rename the column or choose it in the column mapping "
                f"(CLI: --{role}-col)."
            )
    negatives = chosen.get("negatives") or ()
    grades = tuple(parse_grades(chosen.get("grades") or None).items())
    cmap = ColumnMap(**{**chosen, "negatives": (negatives,) if isinstance(negatives, str) else tuple(negatives),
                        "grades": grades})
    for column in cmap.used():
        if column not in df.columns:
            raise DataError(f"{label}: column {column!r} not found (columns found: {', '.join(found)}); pick one of those.")
    used = cmap.used()
    dupes = sorted({str(c) for c in used if used.count(c) > 1})
    if dupes:
        raise DataError(f"{label}: column {dupes[0]!r} is mapped to two roles; give each role its own column.")
    return cmap


def label_like_columns(df: pd.DataFrame, cmap: ColumnMap | Mapping[str, Any]) -> list[str]:
    """Columns that look like relevance labels (by name or by their words) when no label column is used.

    Empty when ``cmap`` has a label column: these are the columns whose judgements would otherwise be dropped
    while every row counts as a relevant pair.
    """
    values = cmap.to_dict() if isinstance(cmap, ColumnMap) else dict(cmap)
    if values.get("label"):
        return []
    used = {c for k, c in values.items() if k in CANDIDATES and c} | set(values.get("negatives") or ())
    return [str(c) for c in df.columns
            if c not in used and (_LABEL_NAME.search(_norm(c)) or _words_look_like_labels(df, c))]


def unused_labels_note(columns: list[str]) -> str:
    """The note (counted in rows) a dataset carries when label-like columns were left out (see
    :func:`label_like_columns`)."""
    names = ", ".join(repr(c) for c in columns)
    return (f"rows counted as relevant (grade 1) although column {names} looks like relevance labels; to use it, "
            f"choose it as the label column (app: 'Relevance grade' in the column mapping; CLI: --label-col {columns[0]})")
