"""Training snapshots: the embeddings of a fixed, small sample of test points at each held-out evaluation.

While a job trains, each held-out evaluation also records where a fixed sample of test queries and their
passages sit in embedding space, so the Latent page can play training as an animation (baseline frame
first, final model last) with each frame's held-out NDCG@10 beside it, while the job runs and afterwards.

Layout in a run folder::

    snapshots/points.json     the sampled ids: {"queries": [...], "passages": [...]}
    snapshots/index.json      [{"step": 0, "label": "baseline", "file": "000000.npy", "metrics": {...}}, ...]
    snapshots/000000.npy      float16 (n_points, dim) unit vectors, queries first then passages

Bounded by construction: at most :data:`MAX_POINTS` points per frame in float16 (300 x 384 x 2 bytes =
225 KB a frame). Every file is written atomically, the index last, so a reader during training sees only
complete frames.
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from explorer.data.sampling import sample_passages, sample_queries
from explorer.core.errors import StorageError
from explorer.core.storage import write_bytes_atomic, write_json_atomic

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset
    from explorer.encoders.base import Encoder

FOLDER = "snapshots"
MAX_QUERIES = 60
MAX_POINTS = 300


def snapshot_points(dataset: "Dataset", max_queries: int = MAX_QUERIES, max_points: int = MAX_POINTS,
                    seed: int = 13) -> tuple[list[str], list[str]]:
    """The fixed sample a run snapshots: test queries (a seeded sample), their relevant passages, and random
    other passages, at most ``max_points`` in all.

    Returns:
        (query ids, passage ids).

    Raises:
        ValueError: max_queries < 1 or max_points <= max_queries.
    """
    if max_queries < 1 or max_points <= max_queries:
        raise ValueError(f"need max_queries >= 1 and max_points > max_queries, got {max_queries}, {max_points}")
    rng = random.Random(seed)
    qids = sample_queries(dataset.query_ids("test") or dataset.query_ids(), max_queries, rng)
    return qids, sample_passages(dataset, qids, max_points - len(qids), rng)


@dataclass
class Frame:
    """One snapshot: the step it was taken at, a label, the vectors (queries first) and held-out metrics."""

    step: int
    label: str
    vectors: np.ndarray
    metrics: dict[str, float] = field(default_factory=dict)


class SnapshotStore:
    """Reads and writes the ``snapshots/`` folder of one run.

    Args:
        run_path: the run folder.
    """

    def __init__(self, run_path: str | Path) -> None:
        self.folder = Path(run_path) / FOLDER

    def _index(self) -> list[dict[str, Any]]:
        try:
            data = json.loads((self.folder / "index.json").read_text(encoding="utf-8"))
            return data if isinstance(data, list) else []
        except (OSError, ValueError):
            return []

    def points(self) -> tuple[list[str], list[str]] | None:
        """(query ids, passage ids) of the sample, or None when the run took no snapshots."""
        try:
            data = json.loads((self.folder / "points.json").read_text(encoding="utf-8"))
            return list(data["queries"]), list(data["passages"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def start(self, query_ids: list[str], passage_ids: list[str]) -> None:
        """Record the sample (once, before the first frame); any earlier frames are forgotten."""
        write_json_atomic(self.folder / "points.json", {"queries": list(query_ids), "passages": list(passage_ids)})
        write_json_atomic(self.folder / "index.json", [])

    def add(self, step: int, label: str, vectors: np.ndarray, metrics: dict[str, float] | None = None) -> None:
        """Append one frame (vectors of the sample, queries first, in the order :meth:`start` recorded).

        Raises:
            ValueError: the row count differs from the recorded sample.
        """
        ids = self.points()
        if ids is None:
            raise ValueError("call start() with the sampled ids before adding frames")
        n = len(ids[0]) + len(ids[1])
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != n:
            raise ValueError(f"expected {n} vectors (the sample), got shape {vectors.shape}")
        name = f"{len(self._index()):03d}-{int(step):07d}.npy"
        buffer = io.BytesIO()
        np.save(buffer, vectors.astype(np.float16), allow_pickle=False)
        write_bytes_atomic(self.folder / name, buffer.getvalue())
        entry = {"step": int(step), "label": str(label), "file": name,
                 "metrics": {k: float(v) for k, v in (metrics or {}).items()}}
        write_json_atomic(self.folder / "index.json", [*self._index(), entry])

    def frames(self) -> list[Frame]:
        """Every complete frame, in the order taken (baseline first); unreadable frames are skipped."""
        out = []
        for entry in self._index():
            try:
                vectors = np.load(self.folder / entry["file"], allow_pickle=False).astype(np.float32)
            except (OSError, ValueError, KeyError):
                continue
            out.append(Frame(step=int(entry.get("step", 0)), label=str(entry.get("label", "")), vectors=vectors,
                             metrics=dict(entry.get("metrics") or {})))
        return out


class SnapshotWriter:
    """Writes one run's training snapshots while it trains: the baseline, each held-out point, the final model.

    A snapshot is a picture for the Latent page, never part of the result: a failure to write one goes to
    ``warn`` (the run's log, as a message) and training goes on.

    Args:
        run_path: the run folder.
        dataset: the run's dataset (the sample is :func:`snapshot_points` of it).
        warn: receives "snapshot not saved: <why>".
    """

    def __init__(self, run_path: str | Path, dataset: "Dataset", warn: Callable[[str], None]) -> None:
        self.store = SnapshotStore(run_path)
        self.warn = warn
        qids, pids = snapshot_points(dataset)
        self.queries = [dataset.queries[q] for q in qids]
        self.passages = dataset.passage_texts(pids)
        self.last_step = 0
        self.ok = self._try(self.store.start, qids, pids)

    def _try(self, write: Callable[..., None], *args: Any) -> bool:
        try:
            write(*args)
            return True
        except (StorageError, OSError, ValueError) as exc:
            self.warn(f"snapshot not saved: {exc}")
            return False

    def add(self, step: int, label: str, encoder: "Encoder", metrics: dict[str, float]) -> None:
        """Embed the sample with ``encoder`` and append it as a frame (its NDCG@10, MRR@10 and recall@10 beside)."""
        if not self.ok:
            return
        vectors = np.vstack([encoder.encode(self.queries, "query"), encoder.encode(self.passages, "passage")])
        self.last_step = max(self.last_step, int(step))
        shown = {k: float(v) for k, v in metrics.items() if k in ("ndcg@10", "mrr@10", "recall@10")}
        self._try(self.store.add, step, label, vectors, shown)

    def at_step(self, step: int, encoder: "Encoder", metrics: dict[str, float]) -> None:
        """A frame taken during training, labelled "step N" (the trainer's ``snapshot`` callback)."""
        self.add(step, f"step {step}", encoder, metrics)
