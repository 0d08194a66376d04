"""Choosing where a training run stops: a dev split of the training queries, and the best point on it.

A run never looks at its test split until the final report. Every choice it makes (which checkpoint to keep,
when to stop) is made on a *dev split*: training queries held out by query (:func:`dev_split`), scored as the
test split is scored, NDCG@10 of a search over the whole corpus, by ranx (:class:`DevScorer`). The base model
is scored first, as step 0, and counts as a candidate: when no later point beats it, the base model is kept and
the run says so ("no gain" is a result, not a failure). :class:`BestPoint` tracks the curve, keeps the best
point and says when to stop early (no improvement for ``patience`` evaluations, the rule of Prechelt, "Early
stopping - but when?", 1998); its :class:`SelectionResult` is what a run records and shows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset

from explorer.data.splits import DEV_FRACTION, MAX_DEV_QUERIES, MIN_TRAIN_QUERIES_FOR_DEV, dev_split

__all__ = ["DEV_FRACTION", "MAX_DEV_QUERIES", "MIN_TRAIN_QUERIES_FOR_DEV", "dev_split"]  # re-exported: trainers' entry

SELECTION_METRIC = "ndcg@10"
MIN_DEV_QUERIES = 30
"""Below this many dev queries a choice is noisy: one query moves the mean NDCG@10 by over 0.03."""
MIN_IMPROVEMENT = 1e-4
"""A dev score must beat the best so far by more than this to count as better (ties keep the earlier point)."""


def without_dev(dataset: "Dataset", dev_ids: Sequence[str]) -> "Dataset":
    """A copy of ``dataset`` whose dev queries are in neither split, so a trainer never sees them (their
    judgements stay, for :class:`DevScorer`)."""
    from dataclasses import replace

    dev = set(dev_ids)
    return replace(dataset, split={q: part for q, part in dataset.split.items() if q not in dev})


class DevScorer:
    """NDCG@10 of dev queries over the whole corpus, from vectors (exact search, then ranx).

    Args:
        dataset: its judgements of ``dev_ids`` are the truth; its whole corpus is searched (rows of the
            passage vectors passed to :meth:`score`, in :meth:`Dataset.passage_ids` order).
        dev_ids: the dev query ids (rows of the query vectors passed to :meth:`score`).
        metric: a ranx metric name.
    """

    def __init__(self, dataset: "Dataset", dev_ids: Sequence[str], metric: str = SELECTION_METRIC) -> None:
        self.dev_ids = list(dev_ids)
        self.passage_ids = dataset.passage_ids()
        self.qrels = {q: dataset.positives(q) for q in self.dev_ids}
        self.metric = metric
        self.query_texts = [dataset.queries[q] for q in self.dev_ids]
        self.passage_texts = dataset.passage_texts(self.passage_ids)

    def score_encoder(self, encoder: Any) -> float:
        """Mean ``metric`` of the dev queries with ``encoder`` (its cache reused: the corpus is embedded as the
        test evaluation embeds it)."""
        return self.score(encoder.encode(self.query_texts, "query"), encoder.encode(self.passage_texts, "passage"))

    def score(self, query_vectors: np.ndarray, passage_vectors: np.ndarray) -> float:
        """Mean ``metric`` of the dev queries given their (unit) vectors and the corpus's."""
        from explorer.evaluation.retrieval import evaluate_run, search_exact

        k = max(10, int(self.metric.split("@")[1]) if "@" in self.metric else 100)
        run = search_exact(query_vectors, passage_vectors, self.dev_ids, self.passage_ids, k=k)
        return evaluate_run(self.qrels, run, metrics=[self.metric]).metrics[self.metric]


@dataclass
class SelectionResult:
    """What a run's choice of point was based on, and what it chose.

    Attributes:
        metric: the metric that selects (e.g. "ndcg@10"), over the whole corpus.
        dev_queries: number of dev queries (0 = no dev split: nothing was chosen, the last point is kept).
        curve: one ``{"step", "epoch", "value"}`` per evaluation, step 0 (the base model) first.
        chosen_step: the step of the kept point (0 = the base model).
        kept: "best" (the best dev point) or "last" (the last point, asked for even when worse).
        stopped_early: training stopped before its planned end because dev stopped improving.
        min_dev_queries: below this many dev queries the choice is flagged noisy.
    """

    metric: str = SELECTION_METRIC
    dev_queries: int = 0
    curve: list[dict[str, float]] = field(default_factory=list)
    chosen_step: int | None = None
    kept: str = "best"
    stopped_early: bool = False
    min_dev_queries: int = MIN_DEV_QUERIES

    @property
    def base_value(self) -> float | None:
        """The dev score of the base model (step 0), if it was measured."""
        return next((p["value"] for p in self.curve if p["step"] == 0), None)

    @property
    def best_value(self) -> float | None:
        """The best dev score of a trained point (step > 0), if any was measured."""
        values = [p["value"] for p in self.curve if p["step"] > 0]
        return max(values) if values else None

    @property
    def gain(self) -> bool | None:
        """Whether any trained point beat the base model on dev (None without a dev split)."""
        if self.base_value is None or self.best_value is None:
            return None
        return self.best_value > self.base_value + MIN_IMPROVEMENT

    @property
    def noisy(self) -> bool:
        """Whether the dev split is too small for the choice to be trusted."""
        return 0 < self.dev_queries < self.min_dev_queries

    def summary(self) -> str:
        """One plain line for the CLI, the pages and the model card."""
        if not self.dev_queries:
            return "No dev split (none asked for, or too few training queries): the last checkpoint is kept, unchecked."
        where = f"on {self.dev_queries} held-out training queries ({self.metric} over the whole corpus)"
        if not self.gain:
            line = (f"{where} no checkpoint beat the base model; "
                    + ("the last checkpoint is kept anyway, as asked." if self.kept == "last"
                       else "the base model is kept."))
        elif self.kept == "last":
            line = f"{where} the best checkpoint was at step {self._best_step()}; the last checkpoint is kept, as asked."
        else:
            line = (f"{where} the checkpoint at step {self.chosen_step} is kept "
                    f"({self.base_value:.3f} -> {self.best_value:.3f}).")
        line = line[0].upper() + line[1:]
        if self.noisy:
            line += f" With fewer than {self.min_dev_queries} dev queries this choice is noisy."
        return line

    def next_steps(self) -> str:
        """What to try when no checkpoint beat the base model ("" otherwise); each face adds its own way to keep
        the last checkpoint anyway."""
        if self.gain is not False:
            return ""
        return ("To try next: more training queries (or a larger dev split's worth of them), a lower learning rate "
                "or fewer epochs, only the top grade as positives (min_positive_grade), or the other method.")

    def _best_step(self) -> int:
        return int(max(self.curve, key=lambda p: (p["value"], -p["step"]))["step"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, with the derived facts (base, best, gain, noisy, summary) spelled out for readers."""
        return {**asdict(self), "base_value": self.base_value, "best_value": self.best_value, "gain": self.gain,
                "noisy": self.noisy, "summary": self.summary(), "next_steps": self.next_steps()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SelectionResult":
        """Rebuild from :meth:`to_dict` (the derived keys are ignored)."""
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})


class BestPoint:
    """Keep-best and early stopping over a sequence of dev evaluations.

    Call :meth:`observe` with each evaluation, the base model first (step 0); it keeps a copy of the state
    (``snapshot()``, called only when the point is the best so far) and returns True when training should stop.

    Args:
        dev_queries: number of dev queries (recorded in the result).
        keep_best: return the best point; False keeps the last one (the curve is still recorded) and never
            stops early.
        patience: evaluations without improvement before stopping (0 = never stop early).
        metric: the selecting metric's name (recorded).
    """

    def __init__(self, dev_queries: int, keep_best: bool = True, patience: int = 3,
                 metric: str = SELECTION_METRIC) -> None:
        if patience < 0:
            raise ValueError(f"patience must be >= 0, got {patience}")
        self.result = SelectionResult(metric=metric, dev_queries=dev_queries, kept="best" if keep_best else "last")
        self.keep_best, self.patience = keep_best, patience
        self.best_value = -np.inf
        self.best_state: Any = None
        self.since_best = 0

    def observe(self, step: int, epoch: float, value: float, snapshot: Callable[[], Any]) -> bool:
        """Record one evaluation; returns whether to stop now."""
        self.result.curve.append({"step": int(step), "epoch": round(float(epoch), 4), "value": float(value)})
        if value > self.best_value + MIN_IMPROVEMENT:
            self.best_value, self.since_best = value, 0
            if self.keep_best:
                self.best_state = snapshot()
                self.result.chosen_step = int(step)
            return False
        self.since_best += 1
        stop = self.keep_best and self.patience > 0 and self.since_best >= self.patience
        self.result.stopped_early = stop
        return stop

    def finish(self, last_step: int) -> SelectionResult:
        """The result, once training ended at ``last_step`` (the chosen step of a keep-last run)."""
        if not self.keep_best or not self.result.curve:
            self.result.chosen_step = int(last_step)
        return self.result
