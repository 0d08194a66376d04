"""Which judged passages train as positives: one rule for every method (full fine-tune and adapter)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from explorer.data.model import Dataset


def positive_grade(dataset: "Dataset", min_positive_grade: int | None = None) -> int:
    """The lowest grade that makes a training positive, for every method.

    ``min_positive_grade`` when given; else (auto) the lowest positive grade of the train judgements is
    dropped when there are two or more (grades 1 and 2: train on the 2s; 1, 2 and 3: on the 2s and 3s), and
    a binary set trains on all its positives. Training "partially relevant" passages as positives teaches the
    model that they are as good as the clearly relevant ones, which the graded NDCG then punishes: measured
    on the many-positive, two-grade shape of ``tests/training/shapes.py`` with all-MiniLM-L6-v2 (90 test
    queries), the default adapter went from NDCG@10 0.898 to 0.812 with grade-1 positives (p < 1e-7) and to
    0.929 with grade-2 positives only (p < 1e-4).
    """
    if min_positive_grade is not None:
        return min_positive_grade
    grades = sorted({g for q in dataset.query_ids("train") for g in dataset.qrels[q].values() if g > 0})
    return grades[1] if len(grades) > 1 else 1
