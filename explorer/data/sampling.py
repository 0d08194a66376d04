"""Seeded random draws over a dataset's ids, each idea written once.

* :func:`random_negatives`: passages drawn at random outside a query's relevant ones (weak negatives, and
  the top-up of a training pair that has fewer mined negatives than it needs).
* :func:`sample_queries` and :func:`sample_passages`: a small, fixed sample of queries, the passages judged
  for them and random other passages (training snapshots, the held-out evaluation during training).

Every function draws from the ``random.Random`` its caller passes, so the caller decides which draws share
one stream; the same seed and the same calls give the same sample.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Hashable, Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset

MAX_TRIES = 50
"""Random draws per wanted negative before :func:`random_negatives` lists what is left to choose from."""


def random_negatives(
    rng: random.Random,
    pool: Sequence[str],
    k: int,
    exclude: Collection[str] = frozenset(),
    *,
    key: Callable[[str], Hashable] | None = None,
    taken: Iterable[Hashable] = (),
) -> list[str]:
    """``k`` distinct ids of ``pool``, none in ``exclude``, drawn at random.

    Rejection sampling: up to ``MAX_TRIES * k`` draws of ``rng.randrange(len(pool))``, since what is excluded
    (a query's relevant passages) is tiny next to a corpus and copying the pool for every query would cost
    more. When that leaves fewer than ``k`` (a tiny pool, or nearly all of it excluded), the rest is a
    ``rng.sample`` of what is still eligible; fewer than ``k`` come back only when fewer are eligible.

    Args:
        rng: the caller's random stream.
        pool: ids to draw from (a corpus' passage ids, in a stable order).
        k: how many to draw.
        exclude: ids never drawn (the query's relevant passages).
        key: what two drawn ids must differ in (default: the id itself); for example the passage text, so
            that two ids holding the same text are not both drawn.
        taken: keys already in use (never drawn), such as the texts of the pair's positive and its negatives.

    Returns:
        The drawn ids, in the order drawn.
    """
    if k <= 0 or not pool:
        return []
    key_of = key or (lambda pid: pid)
    used = set(taken)
    chosen: list[str] = []
    for _ in range(MAX_TRIES * k):
        if len(chosen) == k:
            break
        pid = pool[rng.randrange(len(pool))]
        if pid not in exclude and key_of(pid) not in used:
            used.add(key_of(pid))
            chosen.append(pid)
    if len(chosen) < k:
        rest: dict[Hashable, str] = {}
        for pid in pool:
            if pid not in exclude and key_of(pid) not in used:
                rest.setdefault(key_of(pid), pid)
        chosen += rng.sample(list(rest.values()), min(k - len(chosen), len(rest)))
    return chosen


def sample_queries(qids: Sequence[str], max_queries: int, rng: random.Random) -> list[str]:
    """``qids`` when there are at most ``max_queries``, else a random sample of that many, sorted."""
    if len(qids) > max_queries:
        return sorted(rng.sample(list(qids), max_queries))
    return list(qids)


def sample_passages(
    dataset: "Dataset",
    qids: Iterable[str],
    max_passages: int,
    rng: random.Random,
    *,
    min_grade: int = 1,
    keep_all_judged: bool = False,
) -> list[str]:
    """The passages judged for ``qids``, then random other passages, ``max_passages`` in all.

    Args:
        dataset: the dataset.
        qids: the sampled queries.
        max_passages: how many passages in all.
        rng: the caller's random stream (one ``rng.sample`` of the other passages).
        min_grade: judged passages with at least this grade come first (1: the relevant ones; 0: every
            judged one, so judged-irrelevant passages stay in as the distractors the data names).
        keep_all_judged: keep every such passage even when they alone exceed ``max_passages`` (an evaluation
            that dropped relevant passages would score wrong); otherwise the first ``max_passages`` in id
            order are kept (a chart's point budget is a hard cap).

    Returns:
        The judged passage ids (sorted), then the random ones (sorted).
    """
    judged = sorted({p for q in qids for p in dataset.positives(q, min_grade)})
    if not keep_all_judged:
        judged = judged[:max_passages]
    chosen = set(judged)
    others = [p for p in dataset.passage_ids() if p not in chosen]
    extra = rng.sample(others, min(len(others), max(0, max_passages - len(judged))))
    return judged + sorted(extra)


def eval_subset(dataset: "Dataset", max_queries: int, max_passages: int, seed: int) -> "Dataset":
    """A held-out sample small enough to evaluate during training: test queries (at most ``max_queries``),
    every passage judged for them, and random other passages up to ``max_passages`` (the whole corpus if
    smaller), in corpus order."""
    from dataclasses import replace

    rng = random.Random(seed)
    qids = sample_queries(dataset.query_ids("test"), max_queries, rng)
    keep = set(sample_passages(dataset, qids, max_passages, rng, min_grade=0, keep_all_judged=True))
    corpus_ids = [p for p in dataset.passage_ids() if p in keep]
    return replace(
        dataset,
        queries={q: dataset.queries[q] for q in qids},
        corpus={p: dataset.corpus[p] for p in corpus_ids},
        qrels={q: {p: g for p, g in dataset.qrels[q].items() if p in keep} for q in qids},
        split={q: "test" for q in qids},
        hard_negative_candidates={},
    )


JUDGED_SHARE = 0.5
"""Of a sample's passages, at most this share are judged ones (with their queries); the rest are drawn at random,
so the sample keeps distractors, as the whole corpus has."""


def within_caps(dataset: "Dataset", max_passages: int, max_queries: int, seed: int) -> "Dataset":
    """``dataset`` itself when it is within both caps; else a seeded sample that is: judged queries in random
    order, each kept with every passage judged for it (an evaluation that lost a query's relevant passages would
    score wrong) while the queries' cap and :data:`JUDGED_SHARE` of the passages' allow, then random other
    passages up to ``max_passages`` (the distractors a search meets), in corpus order.

    What was left out is counted in the sample's ``notes``.
    """
    from dataclasses import replace

    if len(dataset.corpus) <= max_passages and len(dataset.queries) <= max_queries:
        return dataset
    rng = random.Random(seed)
    judged = [q for q in dataset.queries if dataset.qrels.get(q)]
    rng.shuffle(judged)
    budget = int(max_passages * JUDGED_SHARE) if len(dataset.corpus) > max_passages else max_passages
    passages: dict[str, None] = {}
    queries: list[str] = []
    for q in judged:
        if len(queries) >= max_queries:
            break
        new = [p for p in dataset.qrels[q] if p in dataset.corpus and p not in passages]
        if len(passages) + len(new) <= budget:
            passages.update(dict.fromkeys(new))
            queries.append(q)
    others = [p for p in dataset.passage_ids() if p not in passages]
    passages.update(dict.fromkeys(rng.sample(others, min(len(others), max_passages - len(passages)))))
    kept_q = set(queries)
    notes = dict(dataset.notes)
    left = {"passages left out to fit this server (a seeded sample)": len(dataset.corpus) - len(passages),
            "queries left out to fit this server (a seeded sample)": len(dataset.queries) - len(kept_q)}
    notes.update({k: v for k, v in left.items() if v})
    return replace(
        dataset,
        queries={q: t for q, t in dataset.queries.items() if q in kept_q},
        corpus={p: v for p, v in dataset.corpus.items() if p in passages},
        qrels={q: {p: g for p, g in dataset.qrels[q].items() if p in passages} for q in dataset.qrels if q in kept_q},
        split={q: s for q, s in dataset.split.items() if q in kept_q},
        hard_negative_candidates={q: [p for p in ps if p in passages]
                                  for q, ps in dataset.hard_negative_candidates.items() if q in kept_q},
        notes=notes,
    )
