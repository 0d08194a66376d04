"""Weak negatives: random passages that are not relevant to the query.

Random negatives are what in-batch training sees anyway; they are cheap, need no encoder, and make a
baseline to compare mined hard negatives against.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from explorer.data.negatives.negative_set import NegativeRow, NegativeSet
from explorer.data.sampling import random_negatives
from explorer.core.errors import DataError

if TYPE_CHECKING:
    from explorer.data.model import Dataset


def weak_negatives(dataset: "Dataset", split: str = "train", per_positive: int = 1, seed: int = 0) -> NegativeSet:
    """``per_positive`` random non-relevant passages for each (query, positive) pair of a split.

    A passage with grade > 0 for the query is never drawn (judged grade-0 passages may be); the draw is
    seeded, so the same arguments give the same set.

    Args:
        dataset: queries, corpus and judgements.
        split: "train" or "test".
        per_positive: negatives drawn for each positive (distinct within a pair).
        seed: seed of the random draw.

    Returns:
        A :class:`NegativeSet` of kind "weak", source "random", with no scores (NaN) and rank -1.

    Raises:
        ValueError: per_positive < 1.
        DataError: the split has no judged query.
    """
    if per_positive < 1:
        raise ValueError(f"per_positive must be at least 1, got {per_positive}.")
    qids = dataset.query_ids(split)
    if not qids:
        raise DataError(f"Dataset {dataset.name!r} has no judged query in split {split!r}; nothing to draw negatives for.")
    pids = dataset.passage_ids()
    rng = random.Random(seed)
    rows: list[NegativeRow] = []
    short = 0
    for qid in qids:
        positives = dataset.positives(qid)
        for pos_id in positives:
            drawn = random_negatives(rng, pids, per_positive, exclude=set(positives))
            short += per_positive - len(drawn)
            rows.extend(
                NegativeRow(
                    qid=qid, query=dataset.queries[qid], pos_id=pos_id, positive=dataset.corpus[pos_id].full_text,
                    neg_id=neg_id, negative=dataset.corpus[neg_id].full_text, kind="weak", source="random",
                )
                for neg_id in drawn
            )
    params = {"method": "weak", "split": split, "per_positive": per_positive, "seed": seed,
              "dataset": dataset.name, "dataset_fingerprint": dataset.fingerprint()}
    return NegativeSet(rows, skipped={"corpus too small": short} if short else {}, params=params)
