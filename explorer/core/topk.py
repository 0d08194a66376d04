"""Exact top-k by cosine similarity over unit vectors, in chunks of bounded memory.

The one brute-force nearest-neighbour search of the library: retrieval (:func:`explorer.evaluation.retrieval.
search_exact`), neighbourhood change (:mod:`explorer.evaluation.neighbourhood`) and the on-disk Search index
(:mod:`explorer.store.flat`) call :func:`top_k`; hard-negative mining scores through the same chunks
(:func:`score_chunks`), under the same memory budget. An approximate index (a Chroma server's HNSW) is for
corpora past one machine; up to the local cap a matrix product per chunk is fast enough, and exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

MAX_BLOCK_FLOATS = 8_000_000
"""Scores of one chunk are a (rows, n_keys) float32 block: capped near 32 MB (and its top-k selection's int64
indices near 64 MB), so a 200k-passage corpus fits on a 2.7 GB machine whatever chunk size a caller asks for.
Smaller blocks cost no speed: the matrix product runs at the same rate on 40 rows as on 1,000."""


def score_chunks(queries: np.ndarray, keys: np.ndarray, chunk_size: int = 1024) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start, scores)``: the similarities of consecutive chunks of query rows with every key, one
    (rows, n_keys) float32 block at a time, at most :data:`MAX_BLOCK_FLOATS` scores (fewer rows than
    ``chunk_size`` when the keys are many). :func:`top_k_chunks` and hard-negative mining (which needs each
    row's scores of the positives, not only its top k) both score through it."""
    rows = max(1, min(chunk_size, MAX_BLOCK_FLOATS // max(1, len(keys))))
    for start in range(0, len(queries), rows):
        yield start, queries[start:start + rows] @ keys.T


def top_k_chunks(queries: np.ndarray, keys: np.ndarray, k: int, *, chunk_size: int = 1024,
                 skip_self: bool = False) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield ``(start, indices, scores)`` for consecutive chunks of query rows, best first.

    ``np.argpartition`` picks each row's top k in linear time before they are sorted; the sort is stable on
    the negated score, so equal scores keep key order and results are reproducible.

    Args:
        queries: (n, dim) unit vectors.
        keys: (m, dim) unit vectors.
        k: neighbours per row (capped at the number of candidates).
        chunk_size: query rows scored at once (further capped by :data:`MAX_BLOCK_FLOATS`).
        skip_self: ``queries`` and ``keys`` are the same rows: a row is never its own neighbour.

    Raises:
        ValueError: k or chunk_size below 1, or arrays of different widths.
    """
    q = np.asarray(queries, dtype=np.float32)
    p = np.asarray(keys, dtype=np.float32)
    if k < 1 or chunk_size < 1:
        raise ValueError(f"k and chunk_size must be >= 1, got k={k}, chunk_size={chunk_size}")
    if q.ndim != 2 or p.ndim != 2 or (len(q) and len(p) and q.shape[1] != p.shape[1]):
        raise ValueError(f"expected 2-D arrays of the same width, got {q.shape} and {p.shape}")
    if skip_self and len(q) != len(p):
        raise ValueError(f"skip_self needs the same rows on both sides, got {len(q)} and {len(p)}")
    n_keys = len(p)
    candidates = n_keys - 1 if skip_self else n_keys
    k = min(k, candidates)
    if k < 1:
        for start in range(0, len(q), chunk_size):
            rows = len(q[start:start + chunk_size])
            yield start, np.zeros((rows, 0), dtype=np.int64), np.zeros((rows, 0), dtype=np.float32)
        return
    for start, scores in score_chunks(q, p, chunk_size):
        if skip_self:
            idx = np.arange(start, start + len(scores))
            scores[np.arange(len(scores)), idx] = -np.inf
        np.negative(scores, out=scores)  # in place: ascending order of the negation is best first, no copy
        if k < n_keys:
            top = np.argpartition(scores, k - 1, axis=1)[:, :k]
        else:
            top = np.broadcast_to(np.arange(n_keys), scores.shape)
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(top_scores, axis=1, kind="stable")
        # Among equal scores argpartition's order is arbitrary: re-sort ties by key index for reproducibility.
        top = np.take_along_axis(top, order, axis=1)
        top_scores = -np.take_along_axis(top_scores, order, axis=1)
        yield start, top, top_scores


def top_k(queries: np.ndarray, keys: np.ndarray, k: int, *, chunk_size: int = 1024,
          skip_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """All rows' top-k key indices and scores at once: ``(indices (n, k), scores (n, k))``, best first.

    Same arguments as :func:`top_k_chunks`; use that one to stream rows when n is large.
    """
    parts = list(top_k_chunks(queries, keys, k, chunk_size=chunk_size, skip_self=skip_self))
    if not parts:
        return np.zeros((0, 0), dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    return np.vstack([p[1] for p in parts]), np.vstack([p[2] for p in parts])


def top_k_over_blocks(queries: np.ndarray, blocks: Iterable[tuple[int, np.ndarray]],
                      k: int) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`top_k`, over keys that arrive in consecutive blocks ``(first row, keys)`` (read from a file a
    block at a time, so the whole key matrix is never in memory at once): each block's top k, merged into the
    running best k. Among equal scores the lower key index comes first, as in :func:`top_k`.

    Returns:
        (indices (n, k'), scores (n, k')), best first, k' = min(k, keys seen); indices count from the first block.
    """
    q = np.asarray(queries, dtype=np.float32)
    best_rows = np.zeros((len(q), 0), dtype=np.int64)
    best_scores = np.zeros((len(q), 0), dtype=np.float32)
    for first, keys in blocks:
        rows, scores = top_k(q, keys, k)
        # The running best first: a stable sort keeps it ahead of a later block's equal scores.
        rows = np.hstack([best_rows, rows + first])
        scores = np.hstack([best_scores, scores])
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        best_rows = np.take_along_axis(rows, order, axis=1)
        best_scores = np.take_along_axis(scores, order, axis=1)
    return best_rows, best_scores
