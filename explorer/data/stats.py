"""Descriptive statistics of a dataset: sizes, text lengths, grades, judgements per query.

Lengths are counted in whitespace-separated words (cheap and tokenizer-free). Encoders truncate long
inputs (all-MiniLM-L6-v2 at 256 word pieces, roughly 200 words), so passages over ``long_text_words``
are counted: they are accepted, but their tails are invisible to the encoder.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from explorer.data.model import Dataset

PERCENTILES = (0, 5, 25, 50, 75, 95, 100)


def distribution(values: np.ndarray) -> dict[str, float]:
    """Mean and percentiles (p0 = min, p100 = max) of a distribution; zeros when it is empty."""
    if values.size == 0:
        return {"mean": 0.0, **{f"p{p}": 0.0 for p in PERCENTILES}}
    points = np.percentile(values, PERCENTILES)
    return {"mean": round(float(values.mean()), 2), **{f"p{p}": round(float(v), 2) for p, v in zip(PERCENTILES, points)}}


def _histogram(values: np.ndarray, bins: int = 20) -> dict[str, list[float]]:
    """Counts and bin edges for a bar chart (integer-width bins, so word counts are not split)."""
    if values.size == 0:
        return {"edges": [], "counts": []}
    low, high = int(values.min()), int(values.max()) + 1
    width = max(1, int(np.ceil((high - low) / bins)))
    edges = np.arange(low, high + width, width)
    counts, edges = np.histogram(values, bins=edges)
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


@dataclass
class DatasetStats:
    """What :func:`dataset_stats` measures. Arrays hold one value per query / passage (for histograms)."""

    name: str
    fingerprint: str
    n_queries: int
    n_passages: int
    n_judgements: int
    n_positive_judgements: int
    n_train_queries: int
    n_test_queries: int
    query_lengths: np.ndarray
    passage_lengths: np.ndarray
    judgements_per_query: np.ndarray
    grade_counts: dict[int, int]
    n_hard_negative_candidates: int
    n_queries_with_hard_negatives: int
    long_text_words: int
    n_long_passages: int
    n_long_queries: int
    notes: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary: counts, percentiles and histogram bins (not the raw arrays)."""
        return {
            "name": self.name,
            "fingerprint": self.fingerprint,
            "queries": self.n_queries,
            "passages": self.n_passages,
            "judgements": self.n_judgements,
            "positive_judgements": self.n_positive_judgements,
            "train_queries": self.n_train_queries,
            "test_queries": self.n_test_queries,
            "query_words": {**distribution(self.query_lengths), "histogram": _histogram(self.query_lengths)},
            "passage_words": {**distribution(self.passage_lengths), "histogram": _histogram(self.passage_lengths)},
            "judgements_per_query": distribution(self.judgements_per_query),
            "grades": {str(g): c for g, c in sorted(self.grade_counts.items())},
            "hard_negative_candidates": self.n_hard_negative_candidates,
            "queries_with_hard_negative_candidates": self.n_queries_with_hard_negatives,
            "long_text_words": self.long_text_words,
            "long_passages": self.n_long_passages,
            "long_queries": self.n_long_queries,
            "notes": dict(self.notes),
        }


def dataset_stats(ds: Dataset, long_text_words: int = 200) -> DatasetStats:
    """Measure a dataset.

    Args:
        ds: the dataset.
        long_text_words: texts with more words than this are counted as long (likely truncated).
    """
    query_lengths = np.array([len(t.split()) for t in ds.queries.values()], dtype=np.int64)
    passage_lengths = np.array([len(ds.corpus[p].full_text.split()) for p in ds.corpus], dtype=np.int64)
    grades = Counter(g for judged in ds.qrels.values() for g in judged.values())
    per_query = np.array([len(j) for j in ds.qrels.values()], dtype=np.int64)
    hard = ds.hard_negative_candidates
    return DatasetStats(
        name=ds.name,
        fingerprint=ds.fingerprint(),
        n_queries=len(ds.queries),
        n_passages=len(ds.corpus),
        n_judgements=int(per_query.sum()),
        n_positive_judgements=sum(c for g, c in grades.items() if g > 0),
        n_train_queries=len(ds.query_ids("train")),
        n_test_queries=len(ds.query_ids("test")),
        query_lengths=query_lengths,
        passage_lengths=passage_lengths,
        judgements_per_query=per_query,
        grade_counts=dict(sorted(grades.items())),
        n_hard_negative_candidates=sum(len(v) for v in hard.values()),
        n_queries_with_hard_negatives=sum(1 for v in hard.values() if v),
        long_text_words=long_text_words,
        n_long_passages=int((passage_lengths > long_text_words).sum()),
        n_long_queries=int((query_lengths > long_text_words).sum()),
        notes=dict(ds.notes),
    )


def format_stats(stats: DatasetStats) -> str:
    """A plain-text table of the statistics, for the CLI."""
    d = stats.to_dict()
    rows: list[tuple[str, str]] = [
        ("dataset", f"{d['name']} ({d['fingerprint']})"),
        ("queries", f"{d['queries']:,} ({d['train_queries']:,} train / {d['test_queries']:,} test with a relevant passage)"),
        ("passages", f"{d['passages']:,}"),
        ("judgements", f"{d['judgements']:,} ({d['positive_judgements']:,} relevant)"),
        ("grades", ", ".join(f"{g}: {c:,}" for g, c in d["grades"].items()) or "none"),
    ]
    for key, label in (("query_words", "query words"), ("passage_words", "passage words"),
                       ("judgements_per_query", "judgements / query")):
        s = d[key]
        rows.append((label, f"mean {s['mean']:g}, min {s['p0']:g}, median {s['p50']:g}, p95 {s['p95']:g}, max {s['p100']:g}"))
    rows.append(("hard-negative candidates", f"{d['hard_negative_candidates']:,} for {d['queries_with_hard_negative_candidates']:,} queries"))
    rows.append((f"texts > {d['long_text_words']} words", f"{d['long_passages']:,} passages, {d['long_queries']:,} queries (the encoder truncates them)"))
    for what, count in d["notes"].items():
        rows.append(("note", f"{what}: {count:,}"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


@dataclass
class DataShape:
    """What the data says before training (:func:`data_shape`): shown to the user, never used to choose.

    Attributes:
        positives_per_query: judged-relevant passages (grade > 0) per training query: mean and percentiles.
        grade_levels: positive grade -> judgements of training queries with that grade.
        passage_words: words per passage of the whole corpus: mean and percentiles.
        test_positives: relevant (test query, passage) judgements.
        test_positives_in_train: how many of them name a passage that is also relevant to a training query.
        test_queries_with_train_positive: test queries with at least one such passage, of ``test_queries``.
        test_queries: judged test queries.
    """

    positives_per_query: dict[str, float]
    grade_levels: dict[int, int]
    passage_words: dict[str, float]
    test_positives: int
    test_positives_in_train: int
    test_queries_with_train_positive: int
    test_queries: int

    @property
    def test_overlap(self) -> float:
        """Share of the test judgements whose passage is also a training positive (0 when there are none)."""
        return self.test_positives_in_train / self.test_positives if self.test_positives else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"positives_per_query": self.positives_per_query,
                "grade_levels": {str(g): c for g, c in self.grade_levels.items()},
                "passage_words": self.passage_words, "test_positives": self.test_positives,
                "test_positives_in_train": self.test_positives_in_train, "test_overlap": round(self.test_overlap, 4),
                "test_queries_with_train_positive": self.test_queries_with_train_positive,
                "test_queries": self.test_queries}

    def lines(self) -> list[str]:
        """Plain sentences for the CLI and the Train page."""
        p, w = self.positives_per_query, self.passage_words
        levels = ", ".join(f"grade {g}: {c:,}" for g, c in self.grade_levels.items()) or "none"
        kind = "binary judgements" if len(self.grade_levels) < 2 else f"{len(self.grade_levels)} grade levels"
        return [
            f"Relevant passages per training query: mean {p['mean']:g}, median {p['p50']:g}, max {p['p100']:g}.",
            f"{kind.capitalize()} in the training split ({levels}).",
            f"Passage length: mean {w['mean']:g} words, median {w['p50']:g}, p95 {w['p95']:g}.",
            f"{self.test_overlap:.0%} of the test judgements ({self.test_positives_in_train:,} of "
            f"{self.test_positives:,}) name a passage that is also relevant to a training query; "
            f"{self.test_queries_with_train_positive:,} of {self.test_queries:,} test queries have one.",
        ]


def data_shape(ds: Dataset) -> DataShape:
    """Positives per training query, grade levels, passage length, and how often test positives are also
    training positives (a tuned model can gain there by remembering, which says little about new passages)."""
    train, test = ds.query_ids("train"), ds.query_ids("test")
    grades = Counter(g for q in train for g in ds.qrels[q].values() if g > 0)
    in_train = {p for q in train for p in ds.positives(q)}
    test_pairs = [(q, p) for q in test for p in ds.positives(q)]
    shared = [(q, p) for q, p in test_pairs if p in in_train]
    return DataShape(
        positives_per_query=distribution(np.array([len(ds.positives(q)) for q in train], dtype=np.int64)),
        grade_levels=dict(sorted(grades.items())),
        passage_words=distribution(np.array([len(ds.corpus[p].full_text.split()) for p in ds.corpus], dtype=np.int64)),
        test_positives=len(test_pairs), test_positives_in_train=len(shared),
        test_queries_with_train_positive=len({q for q, _ in shared}), test_queries=len(test),
    )
