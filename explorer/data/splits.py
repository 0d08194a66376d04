"""The dev split: training queries held out, by query, to choose a run's point (and a hybrid's fusion).

It lives with the data because more than training needs it: a hybrid over a fine-tuned model must choose its
fusion on the queries that model never trained on, the same ones its run held out
(:mod:`explorer.retrievers.bakeoff`). The choosing itself is in :mod:`explorer.training.selection`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

DEV_FRACTION = 0.2
"""Share of the training queries held out as the dev split."""
MAX_DEV_QUERIES = 500
"""More dev queries barely sharpen the choice and make each evaluation slower."""
MIN_TRAIN_QUERIES_FOR_DEV = 10
"""Below this many training queries no dev split is carved (every query is needed to train)."""


def dev_split(query_ids: Sequence[str], fraction: float = DEV_FRACTION, seed: int = 0,
              max_dev: int = MAX_DEV_QUERIES) -> tuple[list[str], list[str]]:
    """Split training query ids into (train, dev), by query, with a seeded shuffle; both lists sorted.

    No dev split (every id trains) when ``fraction`` is 0 or there are fewer than
    :data:`MIN_TRAIN_QUERIES_FOR_DEV` ids; otherwise at least one query on each side, at most ``max_dev`` dev.

    Raises:
        ValueError: ``fraction`` outside [0, 1).
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"the dev fraction must be in [0, 1), got {fraction}")
    ids = sorted(query_ids)
    if fraction == 0 or len(ids) < MIN_TRAIN_QUERIES_FOR_DEV:
        return ids, []
    shuffled = list(ids)
    random.Random(seed).shuffle(shuffled)
    n_dev = min(max(1, round(len(ids) * fraction)), max_dev, len(ids) - 1)
    return sorted(shuffled[n_dev:]), sorted(shuffled[:n_dev])
