"""Pipeline step 6: what changed between the baseline and a fine-tuned encoder.

:func:`compare` (ranking metrics with significance, per query), :func:`similarity` (pair-similarity
distributions and the threshold classifier), :func:`projection` (before/after points in one aligned 2D/3D
space, sampled so the chart stays fluid). Search: :mod:`explorer.pipeline.search`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from explorer.core.memory import releasing_memory
from explorer.core.progress import Progress
from explorer.core.storage import stored_or_computed

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset
    from explorer.encoders.base import Encoder
    from explorer.evaluation.compare import Comparison
    from explorer.evaluation.retrieval import RetrievalResult


def compare(dataset: "Dataset", base: "Encoder", tuned: "Encoder", split: str = "test",
            baseline: "RetrievalResult | None" = None, progress: Progress | None = None,
            names: tuple[str, str] | None = None, *, k: int = 100, test: str = "student") -> "Comparison":
    """Model A (the baseline, or any run) vs model B on ``split``, reusing an already computed result of A.
    The pages and ``python -m explorer compare`` both call it.

    Args:
        names: display names of A and B carried by the comparison (default: the encoders' own names).
        k: passages retrieved per query.
        test: the paired significance test, "student" or "fisher".
    """
    from explorer.evaluation.compare import compare_encoders

    comp = compare_encoders(dataset, base, tuned, split=split, k=k, progress=progress, results=(baseline, None),
                            method=test)
    if names:
        comp.name_a, comp.name_b = names
    return comp


def similarity(dataset: "Dataset", encoder: "Encoder", negatives: Any = None) -> tuple[Any, pd.DataFrame]:
    """Pair classification (threshold chosen on train, scored on test) and the scored pairs of both splits."""
    from explorer.evaluation.pairs import pair_classification

    return pair_classification(dataset, encoder, negatives=negatives)


@dataclass
class ProjectionData:
    """Points of one before/after projection.

    Attributes:
        points: one row per (item, stage): id, kind ("query"/"passage"), stage ("before"/"after"), text,
            grade (best grade of a passage for the sampled queries, 0 when unjudged; NaN for queries),
            change (queries: "fixed"/"broken"/"unchanged"; passages: ""), x, y and (3D) z.
        edges: (query id, passage id) pairs to draw as lines (each query to its relevant passages).
        n_passages_total: corpus size before sampling.
        alignment: None when both stages came from one joint fit (or there is one stage); else, for two models
            of different widths, one line saying each was projected on its own and rotated onto A, with the
            residual (:func:`explorer.latent.projection.alignment_residual`).
    """

    points: pd.DataFrame
    edges: list[tuple[str, str]] = field(default_factory=list)
    n_passages_total: int = 0
    alignment: str | None = None


def best_grades(dataset: "Dataset", qids: list[str]) -> dict[str, int]:
    """Each passage's best relevance grade for any of ``qids`` (unjudged passages are absent)."""
    grades: dict[str, int] = {}
    for q in qids:
        for p, g in dataset.qrels.get(q, {}).items():
            grades[p] = max(grades.get(p, 0), g)
    return grades


def points_frame(dataset: "Dataset", qids: list[str], pids: list[str], **columns: list[Any]) -> pd.DataFrame:
    """One row per point, queries first: id, kind ("query"/"passage"), text, grade (a passage's best grade for
    ``qids``, 0 when unjudged; NaN for queries), then ``columns`` (one value per point each)."""
    grades = best_grades(dataset, qids)
    return pd.DataFrame({
        "id": qids + pids,
        "kind": ["query"] * len(qids) + ["passage"] * len(pids),
        "text": [dataset.queries[q] for q in qids] + dataset.passage_texts(pids),
        "grade": [np.nan] * len(qids) + [float(grades.get(p, 0)) for p in pids],
        **columns,
    })


def _with_coords(rows: pd.DataFrame, coords: np.ndarray, n_components: int, **values: Any) -> pd.DataFrame:
    """``rows`` with constant columns ``values`` and the projected coordinates as x, y (and z)."""
    return rows.assign(**values, **{axis: coords[:, i] for i, axis in enumerate("xyz"[:n_components])})


def _pool_passages(dataset: "Dataset", qids: list[str], max_passages: int, seed: int) -> list[str]:
    """The relevant passages of ``qids`` plus a seeded sample of the rest (:func:`explorer.data.sampling.sample_passages`)."""
    from explorer.data.sampling import sample_passages

    return sample_passages(dataset, qids, max_passages, random.Random(seed))


MAX_QUERIES = 500
"""Queries drawn in the latent-space chart at most (a seeded sample beyond): with 2,000 passages and both
stages, the chart then holds at most 5,000 points, which WebGL keeps fluid."""


@releasing_memory
def projection(dataset: "Dataset", base: "Encoder", tuned: "Encoder | None", *, method: str = "pca",
               n_components: int = 2, seed: int = 13, max_passages: int = 2000,
               status: dict[str, str] | None = None, max_queries: int = MAX_QUERIES,
               cache_dir: Path | None = None) -> ProjectionData:
    """Test queries and sampled passages, embedded by both encoders, projected into one aligned space.

    Args:
        dataset: the dataset (its test queries are shown).
        base, tuned: the two encoders; with ``tuned`` None, ``base`` alone is projected (stage "before" only).
        method: "pca", "umap" or "tsne" (see :func:`explorer.latent.projection.project_aligned`).
        n_components: 2 or 3.
        seed: sampling and reducer seed.
        max_passages: passage cap (fluid charts need a few thousand points at most).
        max_queries: query cap: a seeded sample of the test queries when there are more (their relevant
            passages come first among the passages).
        status: query id -> "fixed"/"broken"/"unchanged" from a comparison, for colouring.
        cache_dir: the workspace's ``projection_cache_dir`` (None: cached in memory only).
    """
    from explorer.latent.projection import alignment_residual, project, project_aligned

    if max_queries < 1 or max_passages < 1:
        raise ValueError(f"max_queries and max_passages must be >= 1, got {max_queries} and {max_passages}.")
    qids = dataset.query_ids("test") or dataset.query_ids()
    if len(qids) > max_queries:
        qids = sorted(random.Random(seed).sample(qids, max_queries))
    pids = _pool_passages(dataset, qids, max_passages, seed)
    qtexts = [dataset.queries[q] for q in qids]
    ptexts = dataset.passage_texts(pids)
    before = np.vstack([base.encode(qtexts, "query"), base.encode(ptexts, "passage")])
    alignment = None
    if tuned is None:  # the baseline alone (no run yet): one plain projection, nothing to align
        stages = [("before", project(before, method, n_components, seed, cache_dir=cache_dir))]
    else:
        after = np.vstack([tuned.encode(qtexts, "query"), tuned.encode(ptexts, "passage")])
        stages = list(zip(("before", "after"), project_aligned(before, after, method=method,
                                                                  n_components=n_components, seed=seed,
                                                                  cache_dir=cache_dir)))
        if after.shape[1] != before.shape[1]:
            residual = alignment_residual(stages[0][1], stages[1][1])
            how = {"umap": "each model gets its own UMAP, fitted together (AlignedUMAP) so that a point's two "
                           "places stay close where the models agree",
                   "tsne": "each model gets its own t-SNE, B's started from A's layout"}.get(method, "each model "
                                                                                             "gets its own PCA")
            alignment = (f"A has {before.shape[1]} dimensions and B {after.shape[1]}, so no single fit takes both: "
                         f"{how}, and B's picture is rotated, scaled and shifted onto A's (orthogonal Procrustes on "
                         f"the shared points). Even so a point's two places lie {residual:.0%} of the picture's "
                         "radius apart on average: compare neighbourhoods, not exact places.")
    status = status or {}
    rows = points_frame(dataset, qids, pids, change=[status.get(q, "unchanged") for q in qids] + [""] * len(pids))
    frames = [_with_coords(rows, coords, n_components, stage=stage) for stage, coords in stages]
    chosen = set(pids)
    edges = [(q, p) for q in qids for p in dataset.positives(q) if p in chosen]
    return ProjectionData(points=pd.concat(frames, ignore_index=True), edges=edges,
                          n_passages_total=len(dataset.corpus), alignment=alignment)


NEIGHBOURHOOD_K = 50
"""Neighbours stored per point; any smaller k the page offers is derived from them (no re-encoding)."""


@dataclass
class Neighbourhoods:
    """Neighbourhood change of a pool of points (test queries and sampled passages), and what each point is.

    Attributes:
        change: the stored :class:`~explorer.evaluation.neighbourhood.NeighbourhoodChange` (k = NEIGHBOURHOOD_K).
        points: one row per point, in the same order: id, kind, text, grade (passages: best grade for any test
            query; queries: NaN), delta_ndcg (queries: NDCG@10 after minus before; passages: NaN).
        qrels: the dataset's judgements, for the grade of each neighbour.
    """

    change: Any
    points: pd.DataFrame
    qrels: dict[str, dict[str, int]] = field(default_factory=dict, repr=False)

    def movers(self, k: int = 10) -> pd.DataFrame:
        """Points sorted by neighbourhood change at ``k`` (most changed first): the "biggest movers" table."""
        ch = self.change.at(k)
        table = self.points.assign(change=ch.change, jaccard=ch.jaccard, rbo=ch.rbo)
        return table.sort_values(["change", "rbo"], ascending=[False, True], kind="stable").reset_index(drop=True)

    def neighbours(self, point_id: str, k: int = 10) -> pd.DataFrame:
        """One point's k nearest neighbours before and after: id, kind, text, grade, rank_before, rank_after,
        status ("kept" / "gained" / "lost"). ``grade`` is the judgement linking the neighbour and the point
        (a query's grade for a passage, either way round), 0 when unjudged, NaN between two passages or queries."""
        nb = self.change.at(k).neighbours(point_id)
        info = self.points.set_index("id")
        kind = info.at[point_id, "kind"]
        out = nb.join(info[["kind", "text"]], on="id")
        out["grade"] = [_link_grade(self.qrels, point_id, kind, i, k_) for i, k_ in zip(out["id"], out["kind"])]
        return out[["status", "rank_before", "rank_after", "kind", "grade", "id", "text"]]


def _link_grade(qrels: dict[str, dict[str, int]], point: str, kind: str, other: str, other_kind: str) -> float:
    """The judgement linking two points (a query's grade for a passage, either way round): 0 when unjudged,
    NaN between two passages or two queries."""
    if kind == other_kind:
        return np.nan
    q, p = (point, other) if kind == "query" else (other, point)
    return float(qrels.get(q, {}).get(p, 0))


def neighbourhoods(dataset: "Dataset", base: "Encoder", tuned: "Encoder", *, cache_dir: Path | None = None,
                   max_passages: int = 5000, seed: int = 13, per_query: pd.DataFrame | None = None) -> Neighbourhoods:
    """How each test query's and sampled passage's neighbourhood changed, in the full embedding space.

    Computed once per (dataset, base, tuned, max_passages) and stored in ``cache_dir`` (a run's folder) as
    ``neighbourhood-<key>.npz``; embeddings come from the encoders' caches, so after an evaluation nothing
    is re-encoded. Memory is bounded by the chunked top-k search.

    Args:
        dataset: the dataset (its test queries form the pool, with their relevant passages and a seeded sample
            of the rest, as in :func:`explorer.data.sampling.sample_passages`).
        base, tuned: the two encoders.
        cache_dir: where to store the result (None: not stored).
        max_passages: passage cap of the pool.
        seed: passage-sampling seed.
        per_query: the comparison's per-query table (columns qid, delta_ndcg@10), for the queries' NDCG change.
    """
    import hashlib

    from explorer.evaluation.neighbourhood import NeighbourhoodChange

    qids = dataset.query_ids("test") or dataset.query_ids()
    pids = _pool_passages(dataset, qids, max_passages, seed)
    ids = qids + pids
    key = hashlib.sha1("|".join([dataset.fingerprint(), base.fingerprint, tuned.fingerprint, str(max_passages),
                                 str(seed), str(NEIGHBOURHOOD_K)]).encode()).hexdigest()[:12]
    path = Path(cache_dir) / f"neighbourhood-{key}.npz" if cache_dir is not None else None
    change = stored_or_computed(path, lambda: _change(dataset, base, tuned, qids, pids), load=lambda p: _same_points(NeighbourhoodChange.load(p), ids),
                                save=lambda value, p: value.save(p))
    deltas = {}
    if per_query is not None and len(per_query):
        deltas = dict(zip(per_query["qid"], per_query["delta_ndcg@10"]))
    points = points_frame(dataset, qids, pids, delta_ndcg=[deltas.get(q, np.nan) for q in qids] + [np.nan] * len(pids))
    return Neighbourhoods(change=change, points=points, qrels={q: dict(dataset.qrels.get(q, {})) for q in qids})


def _change(dataset: "Dataset", base: "Encoder", tuned: "Encoder", qids: list[str], pids: list[str]) -> Any:
    """The neighbourhood change of the pool (queries, then passages), embedded by both encoders."""
    from explorer.evaluation.neighbourhood import neighbourhood_change

    qtexts, ptexts = [dataset.queries[q] for q in qids], dataset.passage_texts(pids)
    before = np.vstack([base.encode(qtexts, "query"), base.encode(ptexts, "passage")])
    after = np.vstack([tuned.encode(qtexts, "query"), tuned.encode(ptexts, "passage")])
    return neighbourhood_change(before, after, qids + pids, k=NEIGHBOURHOOD_K)


def _same_points(change: Any, ids: list[str]) -> Any:
    """``change`` when it was computed for the points ``ids`` (in order), else None (a stale file)."""
    return change if change.ids == ids else None


@dataclass
class TrainingFrames:
    """Snapshots of a run, projected into one space: what the Latent page plays while a job trains.

    Attributes:
        points: one row per (point, frame): id, kind, text, grade, frame (index), label, step, x, y[, z].
        frames: one dict per frame, in order: index, label, step and its held-out metrics.
        edges: (query id, passage id) of each sampled query to its relevant sampled passages.
    """

    points: pd.DataFrame
    frames: list[dict[str, Any]]
    edges: list[tuple[str, str]] = field(default_factory=list)


def training_frames(run_path: Path, dataset: "Dataset", *, method: str = "pca", n_components: int = 2,
                    seed: int = 13, cache_dir: Path | None = None) -> TrainingFrames | None:
    """The run's training snapshots (baseline first, final last) in one jointly fitted 2D/3D space.

    Reads what the job wrote so far (:class:`explorer.latent.snapshots.SnapshotStore`), so it works while the job
    runs. Returns None when the run has no snapshots (yet). No model is loaded: the vectors are stored.
    ``cache_dir``: the workspace's ``projection_cache_dir`` (None: cached in memory only).
    """
    from explorer.latent.projection import project_frames
    from explorer.latent.snapshots import SnapshotStore

    store = SnapshotStore(run_path)
    ids = store.points()
    frames = store.frames()
    if ids is None or not frames:
        return None
    qids, pids = ids
    known_q = [q for q in qids if q in dataset.queries]
    if len(known_q) != len(qids) or any(p not in dataset.corpus for p in pids):
        return None  # snapshots of another dataset (the workspace changed dataset since)
    coords = project_frames([f.vectors for f in frames], method=method, n_components=n_components, seed=seed,
                            cache_dir=cache_dir)
    rows = points_frame(dataset, qids, pids)
    parts = [_with_coords(rows, xy, n_components, frame=i, label=frame.label, step=frame.step)
             for i, (frame, xy) in enumerate(zip(frames, coords))]
    chosen = set(pids)
    edges = [(q, p) for q in qids for p in dataset.positives(q) if p in chosen]
    info = [{"index": i, "label": f.label, "step": f.step, **f.metrics} for i, f in enumerate(frames)]
    return TrainingFrames(points=pd.concat(parts, ignore_index=True), frames=info, edges=edges)
