"""The one dataset model every loader returns.

A :class:`Dataset` is queries, a corpus of passages, graded relevance judgements (qrels) and a split by
query. Loaders build it and call :meth:`Dataset.validate`, so code downstream can trust its invariants:
every judged id exists, grades are integers >= 0, no query is in two splits, texts are non-empty.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from explorer.core.errors import DataError
from explorer.data.labels import Grading

SPLITS = ("train", "test")


@dataclass(frozen=True, init=False)
class Passage:
    """One document of the corpus: ``Passage(id, text, title="")``.

    Its title and body are stored once, joined as :attr:`full_text` (what an encoder embeds: the title, then the
    body, as BEIR evaluations do; a product with a title and no description is its title), and :attr:`text` is
    read back from it. Every encode of a corpus then hands the encoder the strings the dataset holds, instead of
    joining a new copy of the corpus each time (230 MB at 200,000 abstracts, per step).
    """

    id: str
    full_text: str
    title: str
    _start: int = field(repr=False)

    def __init__(self, id: str, text: str, title: str = "") -> None:  # noqa: A002 - the field's name
        full = f"{title}. {text}" if title and text else title or text
        for name, value in (("id", id), ("full_text", full), ("title", title), ("_start", len(full) - len(text))):
            object.__setattr__(self, name, value)

    @property
    def text(self) -> str:
        """The body, without the title."""
        return self.full_text[self._start:]


@dataclass
class Dataset:
    """Queries, corpus, graded judgements and a split.

    Attributes:
        name: a short label for the UI and run configs.
        queries: query id -> query text.
        corpus: passage id -> passage.
        qrels: query id -> passage id -> grade (int >= 0; 0 means judged irrelevant).
        split: query id -> "train" or "test" (only judged queries need a split).
        hard_negative_candidates: query id -> passage ids that a source marked as near misses
            (e.g. the other long-answer candidates of a Natural Questions page).
        source: where it came from (path, "demo", hub name), for run configs.
        notes: what the loader skipped, merged or dropped (description -> count), for the UI and stats.
        grading: how a table's label column became grades (None: the source's judgements are grades already,
            as in BEIR qrels).
    """

    name: str
    queries: dict[str, str]
    corpus: dict[str, Passage]
    qrels: dict[str, dict[str, int]]
    split: dict[str, str]
    hard_negative_candidates: dict[str, list[str]] = field(default_factory=dict)
    source: str = ""
    notes: dict[str, int] = field(default_factory=dict)
    grading: Grading | None = None
    _fingerprint: tuple[tuple[int, ...], str] | None = field(default=None, init=False, repr=False, compare=False)

    # ----------------------------------------------------------------------------------------- views
    def query_ids(self, split: str | None = None) -> list[str]:
        """Judged query ids of a split (all judged queries when ``split`` is None), in a stable order."""
        if split is not None and split not in SPLITS:
            raise DataError(f"Unknown split {split!r}; use one of {', '.join(SPLITS)}.")
        ids = [q for q in self.qrels if any(g > 0 for g in self.qrels[q].values())]
        if split is not None:
            ids = [q for q in ids if self.split.get(q) == split]
        return sorted(ids)

    def qrels_for(self, split: str | None = None, min_grade: int = 1) -> dict[str, dict[str, int]]:
        """Judgements of a split, keeping grades >= ``min_grade`` (ranx wants positive grades only)."""
        return {
            q: {p: g for p, g in self.qrels[q].items() if g >= min_grade}
            for q in self.query_ids(split)
        }

    def passage_ids(self) -> list[str]:
        """Corpus ids in a stable order (the row order of corpus embedding matrices)."""
        return list(self.corpus)

    def passage_texts(self, ids: Iterable[str] | None = None) -> list[str]:
        """Texts to embed for the given passage ids (all of them by default)."""
        ids = self.passage_ids() if ids is None else ids
        return [self.corpus[p].full_text for p in ids]

    def positives(self, qid: str, min_grade: int = 1) -> dict[str, int]:
        """Relevant passages of a query with their grades."""
        return {p: g for p, g in self.qrels.get(qid, {}).items() if g >= min_grade}

    # ----------------------------------------------------------------------------------------- identity
    def fingerprint(self) -> str:
        """A short content hash: same texts, judgements and split give the same fingerprint.

        Computed once (at 100,000 passages it takes a fifth of a second, and a page asks for it several times):
        a dataset is a value once loaded. Replacing one of its tables or changing how many items it holds is
        noticed; editing a text in place is not, so build a new dataset (``dataclasses.replace``) instead.
        """
        stamp = tuple(n for table in (self.queries, self.corpus, self.qrels, self.split) for n in (id(table), len(table)))
        if self._fingerprint is not None and self._fingerprint[0] == stamp:
            return self._fingerprint[1]
        h = hashlib.sha256()
        for key in sorted(self.queries):
            h.update(f"q\x1f{key}\x1f{self.queries[key]}\x1e".encode())
        for key in sorted(self.corpus):
            p = self.corpus[key]
            h.update(f"p\x1f{key}\x1f{p.title}\x1f{p.text}\x1e".encode())
        h.update(json.dumps(self.qrels, sort_keys=True).encode())
        h.update(json.dumps(self.split, sort_keys=True).encode())
        self._fingerprint = (stamp, h.hexdigest()[:16])
        return self._fingerprint[1]

    # ----------------------------------------------------------------------------------------- checks
    def validate(self) -> "Dataset":
        """Check the invariants; raise :class:`DataError` naming the first problem. Returns self."""
        if not self.corpus:
            raise DataError(f"Dataset {self.name!r} has no passages; check that the corpus file is not empty.")
        if not self.queries:
            raise DataError(f"Dataset {self.name!r} has no queries; check that the queries file is not empty.")
        for pid, passage in self.corpus.items():
            if not passage.text.strip() and not passage.title.strip():
                raise DataError(f"Passage {pid!r} has an empty text; remove it or fill in its text.")
        for qid, text in self.queries.items():
            if not str(text).strip():
                raise DataError(f"Query {qid!r} has an empty text; remove it or fill in its text.")
        for qid, judged in self.qrels.items():
            if qid not in self.queries:
                raise DataError(f"A judgement names query {qid!r}, which is not among the queries; fix the id or add the query.")
            for pid, grade in judged.items():
                if pid not in self.corpus:
                    raise DataError(
                        f"A judgement of query {qid!r} names passage {pid!r}, which is not in the corpus; "
                        "fix the id or add the passage."
                    )
                if not isinstance(grade, int) or isinstance(grade, bool) or grade < 0:
                    raise DataError(f"Judgement ({qid!r}, {pid!r}) has grade {grade!r}; grades must be integers >= 0.")
        for qid, part in self.split.items():
            if part not in SPLITS:
                raise DataError(f"Query {qid!r} is in split {part!r}; splits must be 'train' or 'test'.")
        if not self.query_ids():
            raise DataError(f"Dataset {self.name!r} has no query with a relevant passage (grade > 0); nothing to evaluate.")
        return self

    # ----------------------------------------------------------------------------------------- splits
    def with_split(self, test_fraction: float = 0.3, seed: int = 13) -> "Dataset":
        """Return a copy whose judged queries are split by query with a seeded shuffle.

        At least one query goes to each side when there are two or more judged queries.
        """
        if not 0.0 < test_fraction < 1.0:
            raise DataError(f"test_fraction must be between 0 and 1, got {test_fraction}.")
        ids = self.query_ids()
        rng = random.Random(seed)
        shuffled = sorted(ids)
        rng.shuffle(shuffled)
        n_test = round(len(shuffled) * test_fraction)
        if len(shuffled) >= 2:
            n_test = min(max(n_test, 1), len(shuffled) - 1)
        test = set(shuffled[:n_test])
        split = {q: ("test" if q in test else "train") for q in shuffled}
        return replace(self, split=split)

    def record(self) -> dict[str, Any]:
        """What a run config records of its dataset: name, source, fingerprint, summary, and how labels were graded."""
        return {"name": self.name, "source": self.source, "fingerprint": self.fingerprint(),
                "summary": self.summary(), "grading": self.grading.to_dict() if self.grading else None}

    def summary(self) -> str:
        """One line for logs and the CLI."""
        return (
            f"{self.name}: {len(self.queries)} queries ({len(self.query_ids('train'))} train / "
            f"{len(self.query_ids('test'))} test judged), {len(self.corpus)} passages, "
            f"{sum(len(v) for v in self.qrels.values())} judgements"
        )
