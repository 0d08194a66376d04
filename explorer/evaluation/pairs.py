"""Pair classification: can a similarity threshold tell relevant (query, passage) pairs from the rest?

This is how the "customizing embeddings" notebooks measure an embedding: label pairs, compute cosine
similarity, pick a threshold, report accuracy. Done honestly here: the threshold is chosen on the TRAIN
split's pairs only and then applied to the test pairs; the test accuracy comes with its standard error and
beside the majority-class baseline; F1, average precision and ROC AUC (scikit-learn) are on test pairs.

Pair kinds: "positive" (a judged relevant passage), "weak" (a random passage relevant to another query)
and "hard" (mined near misses, given by the caller).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from explorer.data.sampling import random_negatives
from explorer.core.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset
    from explorer.encoders.base import Encoder

PAIR_COLUMNS = ["qid", "pid", "kind", "label", "similarity", "split"]


def _negative_pairs(negatives: Any) -> list[tuple[str, str, str]]:
    """(qid, pid, kind) from a NegativeSet, its frame, or (qid, pid) pairs; excluded rows are dropped."""
    if negatives is None:
        return []
    if hasattr(negatives, "to_frame"):
        negatives = negatives.to_frame()
    if isinstance(negatives, pd.DataFrame):
        missing = {"qid", "neg_id"} - set(negatives.columns)
        if missing:
            raise ValueError(f"the negatives table lacks column(s) {sorted(missing)}; it needs qid and neg_id")
        frame = negatives
        if "excluded" in frame.columns:
            frame = frame[~frame["excluded"].astype(bool)]
        kinds = frame["kind"].astype(str) if "kind" in frame.columns else pd.Series("hard", index=frame.index)
        return list(zip(frame["qid"].astype(str), frame["neg_id"].astype(str), kinds))
    return [(str(q), str(p), "hard") for q, p in negatives]


def build_pairs(
    dataset: "Dataset",
    split: str,
    negatives: Any = None,
    weak_per_positive: int = 1,
    seed: int = 0,
) -> pd.DataFrame:
    """Labelled (query, passage) pairs of one split, without similarities.

    Args:
        dataset: the dataset.
        split: "train" or "test".
        negatives: optional hard negatives: a NegativeSet, its ``to_frame()`` (columns qid, neg_id and
            optionally kind, excluded) or an iterable of (qid, pid). Rows of other splits, excluded rows and
            pairs that are actually judged relevant are dropped.
        weak_per_positive: random negatives drawn per positive pair, among passages relevant to other
            queries of the split (the whole corpus when there are none), never a passage judged for the query.
        seed: seed of the weak-negative draw.

    Returns:
        DataFrame with columns qid, pid, kind, label, split (one row per distinct pair).
    """
    if weak_per_positive < 0:
        raise ValueError(f"weak_per_positive must be >= 0, got {weak_per_positive}")
    qids = dataset.query_ids(split)
    rows: list[tuple[str, str, str, int]] = []
    for q in qids:
        rows.extend((q, p, "positive", 1) for p in sorted(dataset.positives(q)))
    pool = sorted({p for q in qids for p in dataset.positives(q)})
    corpus_ids = dataset.passage_ids()
    rng = random.Random(f"{seed}:{split}")  # string seeds are hashed stably, unlike hash()
    for q in qids:
        judged = set(dataset.qrels.get(q, {}))
        n = len(dataset.positives(q)) * weak_per_positive
        source = pool if len(pool) - len(judged) >= n else corpus_ids
        rows.extend((q, p, "weak", 0) for p in random_negatives(rng, source, n, exclude=judged))
    in_split = set(qids)
    for q, p, kind in _negative_pairs(negatives):
        if q in in_split and p in dataset.corpus and dataset.qrels.get(q, {}).get(p, 0) <= 0:
            rows.append((q, p, kind if kind in {"weak", "hard"} else "hard", 0))
    frame = pd.DataFrame(rows, columns=["qid", "pid", "kind", "label"]).drop_duplicates(["qid", "pid"])
    frame["split"] = split
    return frame.reset_index(drop=True)


def pair_similarities(
    dataset: "Dataset",
    encoder: "Encoder",
    split: str,
    negatives: Any = None,
    weak_per_positive: int = 1,
    seed: int = 0,
) -> pd.DataFrame:
    """:func:`build_pairs` plus the cosine similarity of each pair under ``encoder``.

    Returns:
        DataFrame with columns qid, pid, kind ("positive"/"weak"/"hard"), label (1/0), similarity, split.

    Raises:
        DataError: the split has no judged query.
    """
    frame = build_pairs(dataset, split, negatives, weak_per_positive, seed)
    if frame.empty:
        raise DataError(f"Split {split!r} of dataset {dataset.name!r} has no judged query, so no pairs to score.")
    qids = sorted(set(frame["qid"]))
    pids = sorted(set(frame["pid"]))
    qv = encoder.encode([dataset.queries[q] for q in qids], "query")
    pv = encoder.encode(dataset.passage_texts(pids), "passage")
    q_row = {q: i for i, q in enumerate(qids)}
    p_row = {p: i for i, p in enumerate(pids)}
    qi = frame["qid"].map(q_row).to_numpy()
    pi = frame["pid"].map(p_row).to_numpy()
    frame["similarity"] = np.einsum("ij,ij->i", qv[qi], pv[pi]).astype(float)
    return frame[PAIR_COLUMNS]


def best_threshold(similarities: Sequence[float], labels: Sequence[int]) -> tuple[float, float]:
    """The accuracy-maximizing threshold (predict relevant when similarity >= threshold).

    Candidates are the midpoints between consecutive distinct similarities, plus one below the lowest and
    one above the highest (all positive / all negative). When several candidates reach the best accuracy,
    the middle one of them is taken (lower middle for an even count), so the threshold sits inside the
    optimal region rather than at its edge.

    Returns:
        (threshold, accuracy at that threshold).
    """
    s = np.asarray(similarities, dtype=float)
    y = np.asarray(labels, dtype=int)
    if s.size == 0:
        raise ValueError("cannot choose a threshold from no pairs")
    values = np.unique(s)
    cuts = np.concatenate([[values[0] - 1e-6], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-6]])
    # For each cut: positives at or above it are right, negatives below it are right.
    order = np.sort(s[y == 1])
    neg = np.sort(s[y == 0])
    true_pos = len(order) - np.searchsorted(order, cuts, side="left")
    true_neg = np.searchsorted(neg, cuts, side="left")
    accuracy = (true_pos + true_neg) / s.size
    best = np.flatnonzero(accuracy >= accuracy.max() - 1e-12)
    pick = best[(len(best) - 1) // 2]
    return float(cuts[pick]), float(accuracy[pick])


def _none_if_nan(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


@dataclass
class PairClassification:
    """Threshold classification of pairs, threshold from train, scores on test."""

    threshold: float
    train_accuracy: float
    test_accuracy: float
    test_accuracy_se: float
    majority_accuracy: float
    majority_label: int
    f1: float
    average_precision: float | None
    roc_auc: float | None
    n_train: int
    n_test: int
    confusion: dict[str, int] = field(default_factory=dict)
    accuracy_by_kind: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (undefined scores are None)."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return {k: (_none_if_nan(v) if isinstance(v, float) else v) for k, v in out.items()}


def classify_pairs(train_df: pd.DataFrame, test_df: pd.DataFrame) -> PairClassification:
    """Choose a similarity threshold on the train pairs, then score it on the test pairs.

    Args:
        train_df: pairs with ``similarity`` and ``label`` columns (e.g. from :func:`pair_similarities`).
        test_df: held-out pairs; only used for reporting, never to choose anything.

    Returns:
        A :class:`PairClassification`. Test accuracy comes with its binomial standard error
        ``sqrt(acc (1 - acc) / n)`` and the accuracy of always predicting the train majority label.
        Average precision and ROC AUC are None when the test pairs hold one label only.
    """
    from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

    for name, df in (("train", train_df), ("test", test_df)):
        if df.empty:
            raise DataError(f"No {name} pairs to classify; the {name} split has no judged query.")
        missing = {"similarity", "label"} - set(df.columns)
        if missing:
            raise ValueError(f"{name}_df lacks column(s) {sorted(missing)}")
    threshold, train_acc = best_threshold(train_df["similarity"], train_df["label"])
    y = test_df["label"].to_numpy(dtype=int)
    s = test_df["similarity"].to_numpy(dtype=float)
    pred = (s >= threshold).astype(int)
    acc = float((pred == y).mean())
    majority = int(train_df["label"].astype(int).mean() >= 0.5)
    two_classes = len(np.unique(y)) == 2
    by_kind: dict[str, float] = {}
    if "kind" in test_df.columns:
        correct = pd.Series(pred == y, index=test_df.index)
        by_kind = {str(k): float(v) for k, v in correct.groupby(test_df["kind"]).mean().items()}
    return PairClassification(
        threshold=threshold,
        train_accuracy=train_acc,
        test_accuracy=acc,
        test_accuracy_se=math.sqrt(acc * (1 - acc) / len(y)),
        majority_accuracy=float((y == majority).mean()),
        majority_label=majority,
        f1=float(f1_score(y, pred, zero_division=0.0)),
        average_precision=float(average_precision_score(y, s)) if two_classes else None,
        roc_auc=float(roc_auc_score(y, s)) if two_classes else None,
        n_train=int(len(train_df)),
        n_test=int(len(y)),
        confusion={
            "tp": int(((pred == 1) & (y == 1)).sum()), "fp": int(((pred == 1) & (y == 0)).sum()),
            "tn": int(((pred == 0) & (y == 0)).sum()), "fn": int(((pred == 0) & (y == 1)).sum()),
        },
        accuracy_by_kind=by_kind,
    )


def pair_classification(
    dataset: "Dataset",
    encoder: "Encoder",
    negatives: Any = None,
    weak_per_positive: int = 1,
    seed: int = 0,
) -> tuple[PairClassification, pd.DataFrame]:
    """Pairs of both splits scored by ``encoder``, classified with a train-chosen threshold.

    Returns:
        (the classification, the pairs of both splits concatenated, for distribution plots).
    """
    train = pair_similarities(dataset, encoder, "train", negatives, weak_per_positive, seed)
    test = pair_similarities(dataset, encoder, "test", negatives, weak_per_positive, seed)
    return classify_pairs(train, test), pd.concat([train, test], ignore_index=True)

