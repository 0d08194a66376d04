"""Tune the corpus side of a frozen model: NUDGE-N moves the passages that training queries reach.

NUDGE (Zeighami, Wellmer and Parameswaran, "NUDGE: Lightweight Non-Parametric Fine-Tuning of Embeddings for
Retrieval", arXiv:2409.02343) changes no weight: it moves the embedding of each passage ``d`` that is a
positive of training queries toward the sum ``g`` of those queries' embeddings, as far as a bound allows.
NUDGE-N keeps every vector unit length and bounds the squared move by ``gamma``:

    maximize g . (d + delta)   subject to   |d + delta| = 1,   |delta|^2 <= gamma

whose solution is ``g / |g|`` when that lies within the bound, else the point of the bound's rim toward ``g``:
``(1 - gamma/2) d + sqrt(gamma (4 - gamma)) / 2 * z``, ``z`` the unit part of ``g`` orthogonal to ``d``. A
passage no training query reaches has ``g = 0`` and stays where it was, as do queries: so the recipe helps
only passages that training queries reach, and a new passage gets exactly the base model's vector.

The bound is chosen on the run's dev split (:mod:`explorer.training.selection`): NDCG@10 over the whole corpus
for the base model (``gamma = 0``, step 0), then for each bound of a grid (the reference implementation's,
0.02 to 0.48); the best point is kept, the base included, so "no gain" keeps the base vectors.

Written out rather than called from the ``nudge-ft`` package (the authors' reference code, MIT), whose
update it reproduces (tests/training/test_nudge.py compares them when the package is installed): its one
entry point prints to stdout (which would corrupt ``train --json``), recomputes ``g`` passage by passage in
Python on every call, and chooses the bound by top-k accuracy over a dense dev-by-corpus matrix, while a run
here must choose by the shared dev rule (NDCG@10, the base model a candidate). NUDGE-M (unbounded norms,
scored by dot product) is not offered: every page of the explorer compares unit vectors by cosine.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from explorer.core.errors import TrainingError
from explorer.core.progress import Progress, part
from explorer.encoders.cache import text_key
from explorer.encoders.nudged import NudgedEncoder
from explorer.training.events import ProgressEvent, TrainingStopped
from explorer.training.grades import positive_grade
from explorer.training.options import check, settings_from
from explorer.training.selection import DEV_FRACTION, SELECTION_METRIC, BestPoint, DevScorer, dev_split

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset
    from explorer.encoders.base import Encoder

__all__ = ["NudgeConfig", "facts_line", "nudge_n", "train_nudge"]

MAX_GAMMA = 2.0
"""The largest bound accepted: a move of 90 degrees on the unit sphere."""


@dataclass
class NudgeConfig:
    """Settings of :func:`train_nudge`.

    Attributes:
        gamma: a fixed bound on each passage's squared move (the dev split still decides whether it beats the
            base); None = choose it on dev from the grid.
        max_gamma: the grid's largest bound.
        grid: bounds in the grid, evenly spaced in (0, max_gamma] (24 of 0.02 each by default).
        min_positive_grade: lowest grade that counts as a positive; None = the shared rule
            (:func:`explorer.training.grades.positive_grade`).
        dev_fraction: share of training queries held out as the dev split (0 = none: the largest bound is
            kept, unchecked).
        keep_best: keep the best dev point (the base included); False keeps the largest bound anyway.
        seed: seeds the dev split.
    """

    gamma: float | None = None
    max_gamma: float = 0.48
    grid: int = 24
    min_positive_grade: int | None = None
    dev_fraction: float = DEV_FRACTION
    keep_best: bool = True
    seed: int = 0

    def validate(self) -> "NudgeConfig":
        """Raise :class:`TrainingError` naming the first setting out of range; returns self."""
        checks = [
            (self.gamma is None or (_number(self.gamma) and 0 < self.gamma <= MAX_GAMMA),
             f"gamma must be in (0, {MAX_GAMMA:g}] (the bound on a passage's squared move), got {self.gamma}"),
            (_number(self.max_gamma) and 0 < self.max_gamma <= MAX_GAMMA, f"max_gamma must be in (0, {MAX_GAMMA:g}], got {self.max_gamma}"),
            (isinstance(self.grid, int) and 1 <= self.grid <= 200, f"grid must be a whole number from 1 to 200, got {self.grid!r}"),
        ]
        check(checks, "NUDGE", self)
        return self

    @classmethod
    def from_options(cls, options: dict[str, Any], **shared: Any) -> "NudgeConfig":
        """Validated settings from a run's ``nudge`` options (``TrainConfig.nudge``) over ``shared`` fields.

        Raises:
            TrainingError: an unknown option or a value out of range, in one line.
        """
        return settings_from(cls, options, "NUDGE", **shared)

    def gammas(self) -> list[float]:
        """The bounds tried, smallest first (one when ``gamma`` is fixed)."""
        if self.gamma is not None:
            return [float(self.gamma)]
        return [round(self.max_gamma * k / self.grid, 6) for k in range(1, self.grid + 1)]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def nudge_n(passages: np.ndarray, gradients: np.ndarray, gamma: float) -> np.ndarray:
    """The NUDGE-N update: each unit row of ``passages`` moved toward its row of ``gradients`` (the sum of the
    training queries it answers) within a squared distance ``gamma``; rows with a zero gradient, one pointing
    away from the passage (``g . d < 0``) or parallel to it stay put, as in the reference implementation."""
    d = np.asarray(passages, dtype=np.float64)
    g = np.asarray(gradients, dtype=np.float64)
    if gamma <= 0 or not len(d):
        return d.astype(np.float32)
    v = (g * d).sum(1)
    g_norm = np.linalg.norm(g, axis=1)
    ortho = np.sqrt(np.clip((g_norm**2) - v**2, 0.0, None))
    move = (v >= 0) & (ortho > 1e-12)
    z = (g - v[:, None] * d) / np.where(ortho > 1e-12, ortho, 1.0)[:, None]
    rim = (1 - gamma / 2) * d + math.sqrt(gamma * (4 - gamma)) / 2 * z
    target = g / np.where(g_norm > 0, g_norm, 1.0)[:, None]
    inside = (g_norm > 0) & ((d * target).sum(1) >= 1 - gamma / 2)
    out = np.where(move[:, None], rim, d)
    out = np.where(inside[:, None], target, out)
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def train_nudge(
    dataset: "Dataset",
    base_encoder: "Encoder",
    config: NudgeConfig | None = None,
    callback: Callable[[ProgressEvent], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    progress: Progress | None = None,
    dev_ids: list[str] | None = None,
) -> NudgedEncoder:
    """Move the passages the train split's queries reach, choosing the bound on dev.

    Args:
        dataset: judged queries and corpus; only the "train" split is used (its dev queries to choose).
        base_encoder: the frozen encoder (its cached embeddings are reused; it embeds each text once).
        config: settings, :class:`NudgeConfig` defaults when None.
        callback: hears a :class:`~explorer.training.events.ProgressEvent` per bound tried (phase "training",
            with ``metrics`` ``{"dev_ndcg@10", "dev_queries"}`` when there is a dev split), the base first.
        should_stop: polled before each bound; True raises :class:`TrainingStopped`.
        progress: hears ``("embedding", texts embedded, texts total)`` while the base embeds.
        dev_ids: the dev query ids; None = :func:`~explorer.training.selection.dev_split` by ``config``.

    Returns:
        A :class:`~explorer.encoders.nudged.NudgedEncoder` holding the moved passages (none when the base was
        kept); its ``metadata`` holds the config, the bound, counts, timings and, under ``"selection"``, the
        :class:`~explorer.training.selection.SelectionResult` as a dict.

    Raises:
        TrainingError: no training pairs, bad settings or non-finite base embeddings.
        TrainingStopped: ``should_stop()`` returned True.
    """
    config = (config or NudgeConfig()).validate()
    started = time.perf_counter()
    if dev_ids is None:
        dev_ids = dev_split(dataset.query_ids("train"), config.dev_fraction, config.seed)[1]
    data = _Embedded.build(dataset, base_encoder, config, progress, dev_ids)
    gammas = config.gammas()
    best = BestPoint(len(data.dev_ids), keep_best=config.keep_best, patience=0)
    if data.dev_ids:
        _dev_point(data, data.passages[data.reached], 0, 0.0, len(gammas), best, callback)
    for step, gamma in enumerate(gammas, start=1):
        if should_stop is not None and should_stop():
            raise TrainingStopped(f"NUDGE stopped at bound {step} of {len(gammas)}.")
        moved = nudge_n(data.passages[data.reached], data.gradients, gamma)
        if data.dev_ids:
            _dev_point(data, moved, step, gamma, len(gammas), best, callback)
        elif callback is not None:
            callback(ProgressEvent("training", step, len(gammas), message=f"bound gamma={gamma:g}"))
    selection = best.finish(len(gammas))
    chosen = int(selection.chosen_step or 0)
    gamma = gammas[chosen - 1] if chosen else 0.0
    return _result(base_encoder, data, config, gamma, selection.to_dict(), started)


def facts_line(facts: dict[str, Any]) -> str:
    """What a run moved (evaluation.json's ``nudge`` entry) on one plain line, for the CLI and the model card."""
    gamma = float(facts.get("gamma") or 0.0)
    if not gamma:
        return (f"{facts.get('variant', 'NUDGE-N')}: no bound beat the base model on held-out queries, so no "
                f"passage was moved (of the {facts.get('reached_passages', 0)} that training queries reach).")
    return (f"{facts.get('variant', 'NUDGE-N')} with the bound gamma = {gamma:g} (each passage moved at most "
            f"{math.sqrt(gamma):.3f} away): {facts.get('moved_passages', 0)} of the {facts.get('reached_passages', 0)} "
            "passages that training queries reach were moved; every other passage and every query keeps the base "
            "model's vector.")


def _dev_point(data: "_Embedded", moved: np.ndarray, step: int, gamma: float, total: int, best: BestPoint,
               callback: Callable[[ProgressEvent], None] | None) -> None:
    """Score the corpus with the reached passages at ``moved`` on dev and record the point."""
    value = data.dev_score(moved)
    best.observe(step, step / total, value, lambda: step)
    if callback is not None:
        callback(ProgressEvent("training", step, total, metrics={f"dev_{SELECTION_METRIC}": value,
                                                               "dev_queries": len(data.dev_ids)},
                               message="dev evaluation (base model)" if step == 0 else
                               f"dev evaluation, bound gamma={gamma:g}"))


def _result(base: "Encoder", data: "_Embedded", config: NudgeConfig, gamma: float, selection: dict[str, Any],
            started: float) -> NudgedEncoder:
    """The encoder of the chosen bound: the passages it moves, keyed by text, and what the run records."""
    before = data.passages[data.reached]
    after = nudge_n(before, data.gradients, gamma)
    shift = np.linalg.norm(after - before, axis=1)
    changed = np.flatnonzero(shift > 1e-6)
    rows = data.reached[changed]
    metadata = {
        "config": asdict(config), "gammas": config.gammas(), "gamma": gamma, "variant": "NUDGE-N",
        "train_queries": data.n_train_queries, "train_pairs": data.n_pairs, "min_positive_grade": data.grade,
        "reached_passages": int(len(data.reached)), "moved_passages": int(len(rows)),
        "max_shift": round(float(shift.max()) if len(shift) else 0.0, 6), "selection": selection,
        "seconds": round(time.perf_counter() - started, 3),
    }
    return NudgedEncoder(base, [data.keys[r] for r in rows], after[changed], dim=data.passages.shape[1],
                         metadata=metadata)


@dataclass
class _Embedded:
    """The base's vectors of the distinct passage texts, the summed training queries of each reached one, and
    the dev queries with the whole corpus (rows in :meth:`Dataset.passage_ids` order via ``corpus_rows``)."""

    passages: np.ndarray
    keys: list[str]
    reached: np.ndarray
    gradients: np.ndarray
    corpus_rows: np.ndarray
    n_train_queries: int
    n_pairs: int
    grade: int
    dev_ids: list[str]
    dev_vecs: np.ndarray
    scorer: DevScorer | None

    @classmethod
    def build(cls, dataset: "Dataset", encoder: "Encoder", config: NudgeConfig, progress: Progress | None,
              dev_ids: list[str]) -> "_Embedded":
        dev = set(dev_ids)
        grade = positive_grade(dataset, config.min_positive_grade)
        qids = [q for q in dataset.query_ids("train") if q not in dev and dataset.positives(q, grade)]
        if not qids:
            raise TrainingError(
                f"Dataset {dataset.name!r} has no training query with a passage of grade >= {grade} outside the "
                "dev split; check the split (test fraction) and the grades, or lower min_positive_grade.")
        texts: dict[str, int] = {}
        corpus_rows = np.asarray([texts.setdefault(t, len(texts)) for t in dataset.passage_texts()], dtype=np.int64)
        row_of = dict(zip(dataset.passage_ids(), corpus_rows.tolist()))
        query_texts = [dataset.queries[q] for q in qids + list(dev_ids)]
        total = len(query_texts) + len(texts)
        query_vecs = encoder.encode(query_texts, "query", progress=part(progress, 0, total))
        passages = encoder.encode(list(texts), "passage", progress=part(progress, len(query_texts), total))
        if not (np.all(np.isfinite(query_vecs)) and np.all(np.isfinite(passages))):
            raise TrainingError("The base encoder returned NaN or infinite embeddings; check the model.")
        pairs = [(i, row_of[p]) for i, q in enumerate(qids) for p in dataset.positives(q, grade)]
        sums = np.zeros_like(passages, dtype=np.float64)
        np.add.at(sums, [p for _, p in pairs], query_vecs[[i for i, _ in pairs]])
        reached = np.unique([p for _, p in pairs])
        return cls(passages=passages, keys=[text_key(t) for t in texts], reached=reached, gradients=sums[reached],
                   corpus_rows=corpus_rows, n_train_queries=len(qids), n_pairs=len(pairs), grade=grade,
                   dev_ids=list(dev_ids), dev_vecs=query_vecs[len(qids):],
                   scorer=DevScorer(dataset, dev_ids) if dev_ids else None)

    def dev_score(self, moved: np.ndarray) -> float:
        """NDCG@10 of the dev queries over the whole corpus with the reached passages at ``moved``."""
        corpus = self.passages.copy()
        corpus[self.reached] = moved
        return self.scorer.score(self.dev_vecs, corpus[self.corpus_rows])
