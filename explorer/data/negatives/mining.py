"""Hard-negative mining with the false-negative guards of sentence-transformers' ``mine_hard_negatives``.

Why not call :func:`sentence_transformers.util.mine_hard_negatives` itself: it takes a Hugging Face
``Dataset`` of (anchor, positive) texts and a ``SentenceTransformer``, and embeds every query and passage
again. Here the encoder may be an API model or an adapter (no SentenceTransformer at all), its embeddings are
already in the on-disk cache, relevance is graded (several positives per query, judged grade-0 passages that
*are* fine negatives), and rejected candidates must be counted by reason and partly kept for auditing. So the
similarities are computed here from cached embeddings, with the same parameter names and meanings:

- ``range_min`` / ``range_max``: only negatives whose rank among the query's non-relevant passages (0 = the
  most similar) lies in ``[range_min, range_max)``. Skipping the very top (``range_min > 0``) avoids
  unjudged relevant passages; ``range_max`` bounds the pool.
- ``absolute_margin``: keep a negative only if ``neg_score <= pos_score - absolute_margin``.
- ``relative_margin``: keep a negative only if ``neg_score <= pos_score - |pos_score| * relative_margin``
  (that is ``pos_score * (1 - relative_margin)`` for a positive score, and sign-safe otherwise, as in
  sentence-transformers 6).
- ``max_score``: keep a negative only if ``neg_score <= max_score``.

As in sentence-transformers, a query with several positives is compared with its *lowest* positive score
(the safe side), and the same negatives are paired with each positive. One small difference: the
rank window is applied to ranks in the full ranking, before the score guards, where sentence-transformers
re-ranks the survivors of the guards first; this way ``rank`` in the output always means the same thing.

Memory stays bounded: queries are scored in chunks against the corpus matrix (a chunk's score matrix holds
at most :data:`explorer.core.topk.MAX_BLOCK_FLOATS` floats) and each row is reduced to its top candidates with ``np.argpartition``,
so a full queries x corpus matrix never exists.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

from explorer.data.negatives.negative_set import NegativeRow, NegativeSet
from explorer.core.errors import DataError
from explorer.core.progress import Progress, part

if TYPE_CHECKING:
    from explorer.data.model import Dataset
    from explorer.encoders.base import Encoder

DEFAULT_RELATIVE_MARGIN = 0.05
"""NV-Retriever's best setting ("TopK-PercPos 95%", Moreira et al. 2024, arXiv:2407.15831), also the one
sentence-transformers recommends: a negative scoring within 5% of the positive is too often an unjudged
relevant passage, and training the model to push it away teaches it the wrong thing."""

SKIP_RELEVANT = "judged relevant"
SKIP_NO_POSITIVE = "no positive"
SKIP_WINDOW = "outside rank window"
SKIP_ABSOLUTE = "above absolute margin"
SKIP_RELATIVE = "above relative margin"
SKIP_MAX_SCORE = "above max score"
SKIP_UNKNOWN = "unknown passage"
_GUARD_REASONS = (SKIP_ABSOLUTE, SKIP_RELATIVE, SKIP_MAX_SCORE)


def mine_hard_negatives(
    dataset: "Dataset",
    encoder: "Encoder",
    split: str = "train",
    num_negatives: int = 3,
    range_min: int = 0,
    range_max: int = 50,
    relative_margin: float | None = DEFAULT_RELATIVE_MARGIN,
    absolute_margin: float | None = None,
    max_score: float | None = None,
    include_candidates: bool = True,
    chunk_size: int = 2048,
    progress: Progress | None = None,
    num_suspects: int | None = None,
) -> NegativeSet:
    """The most similar non-relevant passages of each judged query, guarded against false negatives.

    Scores are cosine similarities of ``encoder.encode`` outputs (unit vectors, cached on disk). A passage
    with grade > 0 for the query is never a negative; judged grade-0 passages are fine negatives.

    Args:
        dataset: queries, corpus and judgements.
        encoder: any encoder; its cache makes a second mining run cheap.
        split: which judged queries to mine for ("train" or "test").
        num_negatives: negatives per query taken from the ranking (each paired with every positive).
        range_min, range_max: rank window among the query's non-relevant passages, ``[range_min, range_max)``.
        relative_margin: keep a negative only if its score <= lowest positive score minus
            ``|positive score| * relative_margin``. Default 0.05, see :data:`DEFAULT_RELATIVE_MARGIN`; None
            turns it off.
        absolute_margin: keep a negative only if its score <= lowest positive score - absolute_margin.
        max_score: keep a negative only if its score <= max_score.
        include_candidates: also use the dataset's ``hard_negative_candidates`` (e.g. the other long-answer
            candidates of a Natural Questions page), up to ``num_negatives`` more per query, source
            "candidate", under the same guards.
        chunk_size: most queries scored at once (fewer when the corpus is large, see :func:`explorer.core.topk.score_chunks`).
        progress: hears ``("embedding", texts embedded, texts total)``, queries and passages counted together.
        num_suspects: how many guard-rejected candidates per query to keep, flagged
            ``suspect_false_negative`` and excluded, for a person to audit: those just above the threshold.
            Defaults to ``num_negatives``; 0 keeps none.

    Returns:
        A :class:`NegativeSet` of kind "hard"; ``.skipped`` counts rejected candidates by reason:
        "judged relevant", "outside rank window", "above absolute margin", "above relative margin",
        "above max score", "no positive" (a candidate of a query without positives), "unknown passage".

    Raises:
        ValueError: inconsistent parameters (same checks as sentence-transformers).
        DataError: the split has no judged query.
    """
    _check_params(num_negatives, range_min, range_max, relative_margin, absolute_margin, chunk_size, num_suspects)
    num_suspects = num_negatives if num_suspects is None else num_suspects
    qids = dataset.query_ids(split)
    if not qids:
        raise DataError(f"Dataset {dataset.name!r} has no judged query in split {split!r}; nothing to mine negatives for.")
    pids = dataset.passage_ids()
    index = {p: i for i, p in enumerate(pids)}

    n_texts = len(qids) + len(pids)
    query_vecs = encoder.encode([dataset.queries[q] for q in qids], "query", progress=part(progress, 0, n_texts))
    corpus_vecs = encoder.encode(dataset.passage_texts(pids), "passage", progress=part(progress, len(qids), n_texts))

    guards = _Guards(relative_margin, absolute_margin, max_score)
    skipped: Counter[str] = Counter()
    rows: list[NegativeRow] = []
    from explorer.core.topk import score_chunks

    for start, scores in score_chunks(np.asarray(query_vecs, dtype=np.float32),
                                      np.asarray(corpus_vecs, dtype=np.float32), chunk_size):
        for qid, row in zip(qids[start : start + len(scores)], scores):
            relevant = {index[p]: p for p in dataset.positives(qid) if p in index}
            candidates = dataset.hard_negative_candidates.get(qid, []) if include_candidates else []
            rows.extend(_mine_query(
                dataset, qid, row, relevant, candidates, pids, index, guards, skipped,
                num_negatives, range_min, range_max, num_suspects,
            ))
    if include_candidates:
        # Candidates of queries without any positive can never form a triplet: count them, don't drop silently.
        judged = set(dataset.query_ids())
        skipped[SKIP_NO_POSITIVE] += sum(len(c) for q, c in dataset.hard_negative_candidates.items() if q not in judged)

    params: dict[str, Any] = {
        "method": "hard", "split": split, "num_negatives": num_negatives, "range_min": range_min,
        "range_max": range_max, "relative_margin": relative_margin, "absolute_margin": absolute_margin,
        "max_score": max_score, "include_candidates": include_candidates, "num_suspects": num_suspects,
        "encoder": getattr(encoder, "name", type(encoder).__name__), "encoder_fingerprint": encoder.fingerprint,
        "dataset": dataset.name, "dataset_fingerprint": dataset.fingerprint(),
    }
    return NegativeSet(rows, skipped={k: v for k, v in skipped.items() if v}, params=params)


class _Guards:
    """The score guards of a run; :meth:`thresholds` turns them into score limits for one query."""

    def __init__(self, relative_margin: float | None, absolute_margin: float | None, max_score: float | None) -> None:
        self.relative_margin = relative_margin
        self.absolute_margin = absolute_margin
        self.max_score = max_score

    def thresholds(self, pos_score: float) -> list[tuple[str, float]]:
        """(reason, highest allowed negative score) for a query whose lowest positive scores ``pos_score``."""
        out = []
        if self.absolute_margin is not None:
            out.append((SKIP_ABSOLUTE, pos_score - self.absolute_margin))
        if self.relative_margin is not None:
            out.append((SKIP_RELATIVE, pos_score - abs(pos_score) * self.relative_margin))
        if self.max_score is not None:
            out.append((SKIP_MAX_SCORE, self.max_score))
        return out


def _top_order(row: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores, sorted by score then index (exact and deterministic on ties)."""
    n = row.shape[0]
    if k >= n:
        candidates = np.arange(n)
    else:
        kth = np.partition(row, n - k)[n - k]  # the k-th highest score
        candidates = np.flatnonzero(row >= kth)
    order = np.lexsort((candidates, -row[candidates]))
    return candidates[order][:k]


def _mine_query(
    dataset: "Dataset", qid: str, row: np.ndarray, relevant: dict[int, str], candidates: list[str],
    pids: list[str], index: dict[str, int], guards: _Guards, skipped: Counter[str],
    num_negatives: int, range_min: int, range_max: int, num_suspects: int,
) -> list[NegativeRow]:
    """Negatives (and suspects) of one query, paired with each of its positives."""
    pos_scores = {j: float(row[j]) for j in relevant}
    limits = guards.thresholds(min(pos_scores.values()))

    def failed(score: float) -> tuple[str, float] | None:
        for reason, limit in limits:
            if score > limit:
                return reason, limit
        return None

    # Vectorized over the pool: a Python loop per candidate cost more than the similarity matmul itself.
    order = _top_order(row, range_max + len(relevant))
    is_relevant = np.isin(order, np.fromiter(relevant, dtype=np.int64, count=len(relevant)))
    non_relevant_at = np.flatnonzero(~is_relevant)
    cutoff = int(non_relevant_at[range_max]) if len(non_relevant_at) > range_max else len(order)
    skipped[SKIP_RELEVANT] += int(is_relevant[:cutoff].sum())  # positives ranked inside the pool
    pool = order[non_relevant_at[:range_max]]  # non-relevant passages; position = rank
    scores = row[pool]
    reason = np.full(len(pool), -1)  # index of the first guard a candidate fails, -1 = passes
    for k in reversed(range(len(limits))):
        reason[scores > limits[k][1]] = k
    outside = np.arange(len(pool)) < range_min
    skipped[SKIP_WINDOW] += int(outside.sum())
    for k, (name, _) in enumerate(limits):
        skipped[name] += int(((reason == k) & ~outside).sum())
    kept: list[tuple[int, int, str]] = [  # (corpus index, rank, source)
        (int(pool[r]), int(r), "mined") for r in np.flatnonzero(~outside & (reason < 0))[:num_negatives]
    ]
    suspects: list[tuple[float, int, int, str]] = [  # (excess over the threshold, index, rank, source)
        (float(scores[r]) - limits[reason[r]][1], int(pool[r]), int(r), "mined")
        for r in np.flatnonzero(~outside & (reason >= 0))
    ]
    rejected = set(pool[outside | (reason >= 0)].tolist())  # counted already: a candidate among them is not

    mined = {j for j, _, _ in kept}
    extra: list[tuple[int, int, str]] = []
    for pid in dict.fromkeys(candidates):  # a candidate listed twice counts once
        j = index.get(pid)
        if j is None:
            skipped[SKIP_UNKNOWN] += 1
            continue
        if j in relevant:
            skipped[SKIP_RELEVANT] += 1
            continue
        if j in mined:  # the ranking found it too: the dataset vouches for it, say so
            kept = [(k, r, "candidate" if k == j else s) for k, r, s in kept]
            continue
        if j in rejected:
            continue
        score = float(row[j])
        # Rank among non-relevant passages, ties broken by corpus order as in _top_order.
        ahead = int(np.count_nonzero(row > score)) + int(np.count_nonzero(row[:j] == score))
        cand_rank = ahead - sum(1 for k in relevant if row[k] > score or (row[k] == score and k < j))
        if not range_min <= cand_rank < range_max:
            skipped[SKIP_WINDOW] += 1
        elif (fail := failed(score)) is not None:
            skipped[fail[0]] += 1
            suspects.append((score - fail[1], j, cand_rank, "candidate"))
        else:
            extra.append((j, cand_rank, "candidate"))
    extra = sorted(extra, key=lambda t: t[1])[:num_negatives]

    chosen = [(j, r, s, False) for j, r, s in kept + extra]
    chosen += [(j, r, s, True) for _, j, r, s in sorted(suspects)[:num_suspects]]
    query = dataset.queries[qid]
    out = []
    for pos_index, pos_id in relevant.items():
        positive = dataset.corpus[pos_id].full_text
        for j, r, source, suspect in chosen:
            out.append(NegativeRow(
                qid=qid, query=query, pos_id=pos_id, positive=positive, neg_id=pids[j],
                negative=dataset.corpus[pids[j]].full_text, kind="hard", source=source,
                pos_score=pos_scores[pos_index], neg_score=float(row[j]), rank=r,
                suspect_false_negative=suspect, excluded=suspect,
            ))
    return out


def _check_params(
    num_negatives: int, range_min: int, range_max: int, relative_margin: float | None,
    absolute_margin: float | None, chunk_size: int, num_suspects: int | None,
) -> None:
    if num_negatives < 1:
        raise ValueError(f"num_negatives must be at least 1, got num_negatives={num_negatives}.")
    if range_min < 0:
        raise ValueError(f"range_min must be non-negative, got range_min={range_min}.")
    if range_min >= range_max:
        raise ValueError(f"range_min must be smaller than range_max, got range_min={range_min} and range_max={range_max}.")
    if num_negatives > range_max - range_min:
        raise ValueError(
            f"Cannot mine {num_negatives} negatives per query: only {range_max - range_min} candidates remain after "
            f"skipping the first range_min={range_min} of range_max={range_max}. Decrease num_negatives or range_min, "
            "or increase range_max."
        )
    if relative_margin is not None and not 0.0 <= relative_margin < 1.0:
        raise ValueError(f"relative_margin must be in [0, 1), got {relative_margin}.")
    if absolute_margin is not None and absolute_margin < 0:
        raise ValueError(f"absolute_margin must be >= 0, got {absolute_margin}.")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size}.")
    if num_suspects is not None and num_suspects < 0:
        raise ValueError(f"num_suspects must be >= 0, got {num_suspects}.")
