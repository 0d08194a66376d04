"""Neighbourhood change: how much each point's nearest neighbours changed between two embedding spaces.

Measured in the full embedding space, never in a 2D projection (a projection distorts neighbourhoods). For
every point (query or passage) of a pool, its k nearest neighbours among the other pool points by cosine
similarity are found before and after fine-tuning, and compared two ways:

* **Jaccard@k** = |N_before ∩ N_after| / |N_before ∪ N_after|: 1 when the same k neighbours, 0 when none is
  shared. The *change* shown in the app is 1 − Jaccard@k.
* **Rank-biased overlap** of the two ordered neighbour lists (:func:`explorer.evaluation.overlap.rbo`,
  Webber et al. 2010): like Jaccard but the nearest neighbours weigh most.

This is the Embedding Comparator's "local neighbourhood similarity" (Boggust et al., "Embedding Comparator:
Visualizing Differences in Global Structure and Local Neighborhoods via Small Multiples", IUI 2022), which
uses Jaccard of k-NN sets. No maintained library computes it over two spaces (scikit-learn's
``NearestNeighbors`` finds neighbours, but brute force with one chunked matrix product is as fast here and
shares :func:`explorer.core.topk.top_k` with retrieval), so the comparison is written here.
Memory is bounded: neighbours are found chunk by chunk and only (n, k) index arrays are kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from explorer.evaluation.overlap import rbo
from explorer.core.topk import top_k


def jaccard_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Jaccard index of two (n, k) integer arrays read as sets (1.0 for two empty rows).

    Example: rows ``[1, 2, 3]`` and ``[3, 2, 9]`` share {2, 3} of {1, 2, 3, 9}: 0.5.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"expected the same number of rows, got {a.shape[0]} and {b.shape[0]}")
    out = np.ones(a.shape[0], dtype=np.float64)
    for i in range(a.shape[0]):
        sa, sb = set(a[i].tolist()), set(b[i].tolist())
        union = len(sa | sb)
        out[i] = len(sa & sb) / union if union else 1.0
    return out


@dataclass
class NeighbourhoodChange:
    """Nearest neighbours of every pool point before and after, and how much they changed.

    Attributes:
        ids: point ids, in row order.
        k: neighbours per point.
        before: (n, k) row indices of each point's nearest neighbours before, nearest first.
        after: (n, k) the same after fine-tuning.
        jaccard: (n,) Jaccard@k of the two neighbour sets.
        rbo: (n,) rank-biased overlap of the two neighbour lists (persistence ``p``).
        p: the RBO persistence used.
    """

    ids: list[str]
    k: int
    before: np.ndarray
    after: np.ndarray
    jaccard: np.ndarray
    rbo: np.ndarray
    p: float = 0.9

    @property
    def change(self) -> np.ndarray:
        """1 − Jaccard@k: 0 when a point kept all its neighbours, 1 when it kept none."""
        return 1.0 - self.jaccard

    def at(self, k: int) -> "NeighbourhoodChange":
        """The same comparison for a smaller k (the first k columns: neighbours are stored nearest first).

        A run stores its neighbours once at the largest k offered; every smaller k is derived without
        touching the embeddings again.

        Raises:
            ValueError: k < 1 or larger than the stored k.
        """
        if not 1 <= k <= self.k:
            raise ValueError(f"k must be between 1 and {self.k} (the stored neighbours), got {k}")
        nb, na = self.before[:, :k], self.after[:, :k]
        overlap = np.array([rbo(nb[i].tolist(), na[i].tolist(), p=self.p) for i in range(len(nb))], dtype=np.float64)
        return NeighbourhoodChange(ids=self.ids, k=k, before=nb, after=na, jaccard=jaccard_rows(nb, na), rbo=overlap,
                                   p=self.p)

    def frame(self) -> pd.DataFrame:
        """One row per point: id, jaccard, rbo, change (sorted as the ids are)."""
        return pd.DataFrame({"id": self.ids, "jaccard": self.jaccard, "rbo": self.rbo, "change": self.change})

    def neighbours(self, point_id: str) -> pd.DataFrame:
        """The neighbours of one point before and after: columns id, rank_before, rank_after, status.

        ``status`` is "kept" (in both lists), "lost" (only before) or "gained" (only after); ranks are 1-based
        and missing where the neighbour is not in that list. Kept first, then gained, then lost.

        Raises:
            KeyError: unknown ``point_id``.
        """
        row = self.ids.index(point_id)
        rank_b = {self.ids[j]: r + 1 for r, j in enumerate(self.before[row])}
        rank_a = {self.ids[j]: r + 1 for r, j in enumerate(self.after[row])}
        records = []
        for nid in dict.fromkeys([*rank_b, *rank_a]):
            status = "kept" if nid in rank_b and nid in rank_a else ("lost" if nid in rank_b else "gained")
            records.append({"id": nid, "rank_before": rank_b.get(nid), "rank_after": rank_a.get(nid),
                            "status": status})
        order = {"kept": 0, "gained": 1, "lost": 2}
        df = pd.DataFrame(records, columns=["id", "rank_before", "rank_after", "status"])
        df[["rank_before", "rank_after"]] = df[["rank_before", "rank_after"]].astype("Int64")
        return df.sort_values(["status", "rank_after", "rank_before"], key=lambda s: s.map(order) if s.name == "status"
                              else s, na_position="last", kind="stable").reset_index(drop=True)

    def save(self, path) -> None:
        """Write to an ``.npz`` (no pickles), atomically."""
        from explorer.core.storage import atomic_path

        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, ids=np.array(self.ids, dtype=str), k=self.k, before=self.before, after=self.after,
                         jaccard=self.jaccard, rbo=self.rbo, p=self.p)

    @classmethod
    def load(cls, path) -> "NeighbourhoodChange":
        """Read what :meth:`save` wrote."""
        with np.load(path, allow_pickle=False) as z:
            return cls(ids=[str(i) for i in z["ids"]], k=int(z["k"]), before=z["before"], after=z["after"],
                       jaccard=z["jaccard"], rbo=z["rbo"], p=float(z["p"]))


def neighbourhood_change(before: np.ndarray, after: np.ndarray, ids: Sequence[str], k: int = 10,
                         p: float = 0.9, chunk_size: int = 1024) -> NeighbourhoodChange:
    """Compare each point's k nearest neighbours (cosine, full space) before and after.

    Args:
        before: (n, dim) unit vectors of the pool points under the baseline encoder.
        after: (n, dim') unit vectors of the same points, same order, under the fine-tuned encoder.
        ids: the n point ids.
        k: neighbours per point (capped at n − 1).
        p: RBO persistence, strictly between 0 and 1.
        chunk_size: rows scored at once (bounded memory).

    Raises:
        ValueError: k < 1, mismatched row counts, or p outside (0, 1).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if len(before) != len(after) or len(before) != len(ids):
        raise ValueError(f"before, after and ids must have the same length, got {len(before)}, {len(after)}, {len(ids)}")
    nb, _ = top_k(before, before, k, chunk_size=chunk_size, skip_self=True)
    na, _ = top_k(after, after, k, chunk_size=chunk_size, skip_self=True)
    nb, na = nb.astype(np.int32), na.astype(np.int32)
    overlap = np.array([rbo(nb[i].tolist(), na[i].tolist(), p=p) for i in range(len(nb))], dtype=np.float64)
    return NeighbourhoodChange(ids=list(ids), k=int(nb.shape[1]) if nb.ndim == 2 else 0, before=nb, after=na,
                               jaccard=jaccard_rows(nb, na), rbo=overlap, p=p)
