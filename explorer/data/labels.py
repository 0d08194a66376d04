"""Relevance labels as integer grades: whole numbers, scores in [0, 1], and the words shops and annotators use.

Grades are integers throughout (ranx needs them, and :meth:`Dataset.validate` checks it). A label column is read
by these rules, in order:

* **Words** (compared lower-case, ``_``/``-`` as spaces) map through a word -> grade table: the words the user
  chose (CLI ``--label-grades "Exact=3,Substitute=2"``; the app's "Label grades" box in the column mapping) and,
  for the words left, the first default table that knows all of them:

  - **ESCI** (Amazon's Shopping Queries Dataset, Reddy et al. 2022, arXiv:2206.06588): Exact 100, Substitute 10,
    Complement 1, Irrelevant 0 (letters E/S/C/I too). The ratios are the paper's gains for its NDCG
    (E 1.0, S 0.1, C 0.01, I 0.0) scaled to integers: the project's NDCG uses *linear* gains
    (:mod:`explorer.evaluation.retrieval`), so 100/10/1/0 gives the paper's NDCG exactly. No measurement
    here argues for another table (no ESCI sample ships with the project); a user who wants the common
    3/2/1/0 passes it. Metrics that read relevance as binary (MRR, recall, MAP) count every grade > 0 as
    relevant, so Complement counts there, Irrelevant never does.
  - **relevance words**: relevant 2, partially relevant (partially, partial, somewhat relevant) 1, not relevant
    (not, irrelevant, non relevant) 0: the TREC convention of 2/1/0.
  - **yes/no**: yes, true, y, t 1; no, false, n, f 0.

  A word no table knows is an error listing the words found and how to map them.
* **Whole numbers** (0/1, or graded 0..n) are used as is; 0 is a judged-irrelevant pair.
* **Fractional scores**, all in [0, 1], map to grades 0..3 by ``grade = floor(3 * score + 0.5)``.
* Negative numbers, empty cells, or fractional scores outside [0, 1] are errors.

:class:`Grading` records which rule and table a dataset's labels went through, for the Data page, the CLI,
run configs and the model card.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from explorer.core.errors import DataError

ESCI = {"exact": 100, "substitute": 10, "complement": 1, "irrelevant": 0, "e": 100, "s": 10, "c": 1, "i": 0}
RELEVANCE = {"relevant": 2, "highly relevant": 2, "partially relevant": 1, "partially": 1, "partial": 1,
             "somewhat relevant": 1, "not relevant": 0, "not": 0, "irrelevant": 0, "non relevant": 0,
             "nonrelevant": 0}
YES_NO = {"yes": 1, "true": 1, "y": 1, "t": 1, "no": 0, "false": 0, "n": 0, "f": 0}
#: The default word tables, tried in this order (the first that knows every word of a column is used).
DEFAULTS: tuple[tuple[str, dict[str, int]], ...] = (("ESCI", ESCI), ("relevance", RELEVANCE), ("yes/no", YES_NO))

FLAG = "--label-grades"
"""The CLI flag that sets word grades (the app's control is :data:`CONTROL`)."""
CONTROL = "Label grades"
"""The label of the app's text box that sets word grades, in the column mapping."""


def norm_word(word: Any) -> str:
    """A label word as compared: lower-case, ``_``/``-`` as spaces, spaces collapsed."""
    return re.sub(r"[\s_-]+", " ", str(word)).strip().lower()


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or str(value) in ("<NA>", "NaT")


def _as_number(value: Any) -> float | None:
    """The value as a float, or None when it is a word."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def parse_grades(text: str | Mapping[str, Any] | None) -> dict[str, int]:
    """A word -> grade table from ``"Exact=3, Substitute=2"`` (or a mapping), words as typed.

    Raises:
        DataError: an entry is not ``WORD=GRADE`` with a whole-number grade >= 0.
    """
    if not text:
        return {}
    pairs = text.items() if isinstance(text, Mapping) else (
        (part.partition("=")[0], part.partition("=")[2] if "=" in part else None)
        for part in str(text).split(",") if part.strip())
    table: dict[str, int] = {}
    for word, grade in pairs:
        number = None if grade is None else _as_number(grade)
        if not str(word).strip() or number is None or number < 0 or number != int(number):
            raise DataError(f"label grades: {word}={'' if grade is None else grade} is not WORD=GRADE with a whole "
                            "number >= 0; write them like Exact=100,Substitute=10,Complement=1,Irrelevant=0.")
        table[str(word).strip()] = int(number)
    return table


def format_grades(words: Iterable[tuple[str, int]] | Mapping[str, int]) -> str:
    """``Exact=100, Substitute=10, ...``, highest grade first (the format :func:`parse_grades` reads)."""
    items = words.items() if isinstance(words, Mapping) else words
    return ", ".join(f"{w}={g}" for w, g in sorted(items, key=lambda wg: (-wg[1], str(wg[0]))))


@dataclass(frozen=True)
class Grading:
    """How a dataset's label column became integer grades.

    Attributes:
        column: the label column; None: there was none, and every row is a relevant pair of grade 1.
        words: (word as written in the table, grade) for every label word found, highest grade first.
        table: the default table the words went through ("ESCI", "relevance", "yes/no"; "ESCI+chosen" when
            the user chose some of the words' grades), "chosen" when the user gave every word's grade, "" when
            the labels were numbers.
        scores: fractional scores in [0, 1] were mapped to grades 0..3.
    """

    column: str | None
    words: tuple[tuple[str, int], ...] = ()
    table: str = ""
    scores: bool = False

    def describe(self) -> str:
        """One line for the Data page, the CLI and the model card."""
        if self.column is None:
            return "no label column: every row is a relevant pair (grade 1)"
        if self.words:
            table, _, chosen = self.table.partition("+")
            source = "chosen" if table == "chosen" else f"the {table} default"
            if table == "ESCI":
                source += ": the ESCI paper's gains 1, 0.1, 0.01, 0 as integers"
            if chosen:
                source = f"some chosen, the rest {source}"
            return f"column {self.column!r}: {format_grades(self.words)} ({source})"
        if self.scores:
            return f"column {self.column!r}: scores in [0, 1] mapped to grades 0-3 (floor(3 * score + 0.5))"
        return f"column {self.column!r}: whole-number grades as given"

    def to_dict(self) -> dict[str, Any]:
        """Plain values for run configs."""
        return {"column": self.column, "words": dict(self.words), "table": self.table, "scores": self.scores,
                "text": self.describe()}


def score_to_grade(score: float) -> int:
    """Map a score in [0, 1] to a grade 0..3: ``floor(3 * score + 0.5)`` (round half up)."""
    return int(math.floor(3 * score + 0.5))


def word_table(words: Iterable[str], chosen: Mapping[str, int] | None = None) -> tuple[dict[str, int] | None, str]:
    """The grade of each (normalized) word and the table's name: the chosen grades first, then the first
    default table that knows every word left; ``(None, "")`` when none does."""
    user = {norm_word(w): int(g) for w, g in (chosen or {}).items()}
    needed = {norm_word(w) for w in words}
    left = needed - set(user)
    if not left:
        return {w: user[w] for w in needed}, ("chosen" if needed else "")
    for name, table in DEFAULTS:
        if left <= set(table):
            return {w: user.get(w, table.get(w, 0)) for w in needed}, name + ("+chosen" if needed & set(user) else "")
    return None, ""


def default_grades(values: Iterable[Any]) -> str:
    """The default grades of the label words among ``values`` (``"Exact=100, Irrelevant=0"``), or "" when they
    are numbers or no default table knows them all (for a preview's hint)."""
    spelled: dict[str, str] = {}
    for v in values:
        if not _missing(v) and str(v).strip() and _as_number(v) is None:
            spelled.setdefault(norm_word(v), str(v).strip())
    table, _ = word_table(spelled)
    return format_grades({spelled[w]: g for w, g in table.items()}) if table and spelled else ""


def looks_like_labels(values: Iterable[Any], *, yes_no: bool = True) -> bool:
    """Whether a column's values are all words of one default table (at least two distinct words); with
    ``yes_no`` False, yes/no words do not count (a column of them may be any flag, such as "in stock")."""
    words = {norm_word(v) for v in values if not _missing(v) and str(v).strip()}
    tables = [t for name, t in DEFAULTS if yes_no or t is not YES_NO]
    return len(words) >= 2 and any(words <= set(table) for table in tables)


def grades_from_labels(values: list[Any], label: str, column: str, where: Callable[[int], str],
                       chosen: Mapping[str, int] | None = None) -> tuple[list[int], Grading]:
    """Integer grades for a label column, by the rules in the module docstring, and how they were made.

    Raises:
        DataError: an empty cell, a negative number, a word no table knows (the message lists the words found
            and names :data:`FLAG` and :data:`CONTROL`), or fractional scores mixed with grades or words.
    """
    numbers: list[float | None] = []
    spelled: dict[str, str] = {}
    for i, value in enumerate(values):
        if _missing(value) or not str(value).strip():
            raise DataError(f"{label}: {where(i)}, column {column!r} has an empty label; give every row a grade.")
        number = _as_number(value)
        if number is not None and not math.isfinite(number):
            raise DataError(f"{label}: {where(i)}, column {column!r} has label {value!r}; use grades 0, 1, 2 ... or "
                            "scores in [0, 1].")
        if number is not None and number < 0:
            raise DataError(f"{label}: {where(i)}, column {column!r} has negative label {value!r}; grades must be >= 0.")
        if number is None:
            spelled.setdefault(norm_word(value), str(value).strip())
        numbers.append(number)
    table, name = word_table(spelled, chosen)
    if table is None:
        known = {w for _, t in DEFAULTS for w in t} | {norm_word(w) for w in (chosen or {})}
        unknown = [spelled[w] for w in spelled if w not in known] or list(spelled.values())  # or: tables mixed
        found = ", ".join(sorted(spelled.values(), key=str.lower))
        example = ",".join(f"{w}=1" for w in unknown[:2])
        raise DataError(
            f"{label}: column {column!r} has label words with no grade ({', '.join(unknown[:5])}; words found: "
            f"{found[:200]}); map each word to a whole-number grade with {FLAG} \"{example}\" (CLI) or the "
            f"'{CONTROL}' box of the column mapping (app).")
    grades_of = {w: table[w] for w in spelled}
    fractional = [i for i, x in enumerate(numbers) if x is not None and x != int(x)]
    if not fractional:
        grades = [int(x) if x is not None else grades_of[norm_word(values[i])] for i, x in enumerate(numbers)]
        words = tuple(sorted(((spelled[w], g) for w, g in grades_of.items()), key=lambda wg: (-wg[1], wg[0])))
        return grades, Grading(column, words, name if words else "")
    odd = next((i for i, x in enumerate(numbers) if x is None or x > 1), None)
    if odd is not None:
        raise DataError(
            f"{label}: column {column!r} mixes fractional scores with {values[odd]!r} ({where(odd)}); give "
            "whole-number grades (0, 1, 2 ...), scores between 0 and 1, or words.")
    return [score_to_grade(float(x)) for x in numbers], Grading(column, scores=True)  # type: ignore[arg-type]
