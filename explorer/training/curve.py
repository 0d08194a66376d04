"""How much data does it need? The adapter trained on growing shares of the training queries, scored on dev.

A learning curve (dev NDCG@10 against the number of training queries) tells a user whether labelling more
queries would pay: a curve still rising at 100 % says more labels would help; a flat one says they would not.
:func:`learning_curve` carves the run's dev split once (:func:`~explorer.training.selection.dev_split`, the
split a real run uses), trains the linear adapter (:func:`~explorer.training.adapter.train_adapter`, seconds
each, from the base encoder's cached embeddings) on nested seeded subsets of the remaining training queries
(the first 10 % are inside the first 25 %, and so on, so the points differ only by the added queries), and
scores every point on the same dev queries with a 95 % bootstrap interval of the mean over dev queries
(:func:`~explorer.evaluation.significance.bootstrap_ci`). The base model is the 0 % point.

Each point keeps its best dev epoch (keep-best on the same dev queries it is scored on, as a run does), so a
point is slightly optimistic, by the same small amount at every size; the comparison between sizes is what
the curve is for. No hard negatives are mined (mining is the slow part); a real run with mined negatives
usually lands a little higher.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from explorer.core.errors import TrainingError
from explorer.core.progress import Progress
from explorer.training.selection import SELECTION_METRIC, DevScorer, dev_split

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from explorer.data.model import Dataset
    from explorer.encoders.base import Encoder
    from explorer.training.adapter import AdapterConfig

FRACTIONS = (0.1, 0.25, 0.5, 1.0)
"""Shares of the training queries (dev excluded) the curve trains on."""
MIN_QUERIES = 2
"""A share smaller than this many queries is skipped (in-batch negatives need two pairs)."""


@dataclass
class CurvePoint:
    """One point: the model trained on ``train_queries`` queries (0 = the base model), scored on dev.

    Attributes:
        fraction: share of the training queries (0 for the base model).
        train_queries: queries trained on.
        value: mean dev metric.
        ci: 95 % bootstrap interval of the mean over dev queries.
        seconds: training time of this point (0 for the base model).
    """

    fraction: float
    train_queries: int
    value: float
    ci: tuple[float, float]
    seconds: float = 0.0


@dataclass
class LearningCurve:
    """The curve: the base model first, then one point per share, in increasing size."""

    metric: str
    dev_queries: int
    points: list[CurvePoint] = field(default_factory=list)
    seconds: float = 0.0

    def rows(self) -> list[dict[str, Any]]:
        """One plain dict per point (for a table or a chart)."""
        return [{"fraction": p.fraction, "train_queries": p.train_queries, "value": p.value, "low": p.ci[0],
                 "high": p.ci[1], "seconds": p.seconds} for p in self.points]

    def verdict(self) -> str:
        """One sentence: does the last doubling still pay, judged against the dev intervals."""
        trained = [p for p in self.points if p.train_queries and p.fraction]
        if len(trained) < 2:
            return "Too few points to read a trend."
        last, before = trained[-1], trained[-2]
        gain = last.value - before.value
        half_width = (last.ci[1] - last.ci[0]) / 2
        if gain > half_width:
            return (f"Still rising: going from {before.train_queries} to {last.train_queries} training queries added "
                    f"{gain:+.3f} {self.metric}, more than the dev noise (±{half_width:.3f}); more labelled queries "
                    "would likely pay.")
        return (f"Flattening: going from {before.train_queries} to {last.train_queries} training queries changed "
                f"{self.metric} by {gain:+.3f}, within the dev noise (±{half_width:.3f}); more queries of the same "
                "kind may not pay much.")


def _per_query(scorer: DevScorer, query_vectors: "np.ndarray", passage_vectors: "np.ndarray") -> list[float]:
    """Per-dev-query scores of ``scorer.metric`` (the scorer's search and judgements, kept per query)."""
    from explorer.evaluation.retrieval import evaluate_run, search_exact

    run = search_exact(query_vectors, passage_vectors, scorer.dev_ids, scorer.passage_ids, k=100)
    scores = evaluate_run(scorer.qrels, run, metrics=[scorer.metric]).per_query[scorer.metric]
    return [float(scores.get(q, 0.0)) for q in scorer.dev_ids]


def _point(fraction: float, n: int, scores: list[float], seconds: float) -> CurvePoint:
    from explorer.evaluation.significance import bootstrap_ci

    return CurvePoint(fraction, n, sum(scores) / len(scores), bootstrap_ci(scores), round(seconds, 2))


def learning_curve(dataset: "Dataset", encoder: "Encoder", config: "AdapterConfig | None" = None,
                   fractions: tuple[float, ...] = FRACTIONS, progress: Progress | None = None) -> LearningCurve:
    """Train the adapter on growing shares of the training queries and score each on the dev split.

    Args:
        dataset: the dataset (its "train" split; the test split is never touched).
        encoder: the frozen base encoder (its cached embeddings are reused by every point).
        config: the adapter's settings (default :class:`~explorer.training.adapter.AdapterConfig`); its seed
            and dev fraction choose the dev split and the subsets; hard negatives are not used.
        fractions: shares of the non-dev training queries, each in (0, 1].
        progress: hears ``("learning curve", points done, points total)``.

    Returns:
        The :class:`LearningCurve` (base model first).

    Raises:
        TrainingError: no dev split can be carved (too few training queries or a dev fraction of 0), or a
            share outside (0, 1].
    """
    from explorer.training.adapter import AdapterConfig, train_adapter

    started = time.perf_counter()
    config = replace(config or AdapterConfig(), use_hard_negatives=False).validate()
    if not fractions or any(not 0.0 < f <= 1.0 for f in fractions):
        raise TrainingError(f"Learning-curve shares must lie in (0, 1], got {list(fractions)}.")
    train_ids, dev_ids = dev_split(dataset.query_ids("train"), config.dev_fraction, config.seed)
    if not dev_ids:
        raise TrainingError(f"{len(train_ids)} training queries are too few for a dev split (it needs at least 10 "
                            "and a dev fraction above 0): label more queries or lower the test fraction.")
    shuffled = list(train_ids)
    random.Random(config.seed).shuffle(shuffled)
    sizes = sorted({n for n in (round(f * len(shuffled)) for f in fractions) if n >= MIN_QUERIES})
    total = len(sizes) + 1
    scorer = DevScorer(dataset, dev_ids)
    passages = encoder.encode(dataset.passage_texts(), "passage")
    dev_texts = [dataset.queries[q] for q in dev_ids]
    curve = LearningCurve(scorer.metric, len(dev_ids))
    curve.points.append(_point(0.0, 0, _per_query(scorer, encoder.encode(dev_texts, "query"), passages), 0.0))
    if progress is not None:
        progress("learning curve", 1, total)
    dev = set(dev_ids)
    for i, n in enumerate(sizes, start=2):
        keep = set(shuffled[:n]) | dev
        subset = replace(dataset, split={q: s for q, s in dataset.split.items() if s != "train" or q in keep})
        t0 = time.perf_counter()
        adapter = train_adapter(subset, encoder, config, dev_ids=list(dev_ids))
        seconds = time.perf_counter() - t0
        corpus = passages if config.query_only else adapter.encode(dataset.passage_texts(), "passage")
        curve.points.append(_point(n / len(shuffled), n, _per_query(scorer, adapter.encode(dev_texts, "query"), corpus),
                                   seconds))
        if progress is not None:
            progress("learning curve", i, total)
    curve.seconds = round(time.perf_counter() - started, 2)
    return curve


__all__ = ["FRACTIONS", "SELECTION_METRIC", "CurvePoint", "LearningCurve", "learning_curve"]
