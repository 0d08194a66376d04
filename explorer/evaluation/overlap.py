"""Rank-biased overlap (RBO): how alike two rankings are, weighting the top more than the tail.

No maintained Python library ships RBO (the few PyPI packages are unmaintained one-offs), so it is written
here, from Webber, Moffat & Zobel, "A similarity measure for indefinite rankings", ACM TOIS 28(4), 2010,
section 4 (https://doi.org/10.1145/1852102.1852106). It compares the top-k lists of two encoders for the
same query: 1 means the same passages in the same order, 0 means no passage in common.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def _validate_p(p: float) -> None:
    if not 0.0 < p < 1.0:
        raise ValueError(f"p (the persistence) must be strictly between 0 and 1, got {p}")


def rbo(list_a: Sequence[str], list_b: Sequence[str], p: float = 0.9, k: int | None = None) -> float:
    r"""Extrapolated rank-biased overlap, RBO_ext (Webber et al. 2010, eq. 32), of two rankings.

    With S the shorter list (length s), L the longer one (length l), X_d the size of the overlap of the
    top d of both lists (for d > s, all of S against the top d of L) and A_d = X_d / d the agreement:

    .. math::

        RBO_{ext}(S, L) = \frac{1-p}{p} \left( \sum_{d=1}^{l} \frac{X_d}{d} p^d
            + \sum_{d=s+1}^{l} \frac{X_s (d - s)}{s\,d} p^d \right)
            + \left( \frac{X_l - X_s}{l} + \frac{X_s}{s} \right) p^l

    For lists of equal length k this reduces to eq. 30,
    :math:`\frac{1-p}{p} \sum_{d=1}^{k} A_d p^d + A_k p^k`. It extrapolates the agreement seen at the
    evaluation depth to the unseen tail, so identical lists score exactly 1 and disjoint lists 0, whatever
    their length. ``p`` sets how top-heavy it is: the top d ranks carry
    :math:`1 - p^{d-1} + \frac{1-p}{p} d \left(\ln\frac{1}{1-p} - \sum_{i=1}^{d-1} p^i / i\right)`
    of the weight (about 86% for the top 10 at p = 0.9). Ties are not handled: each list is a strict order.

    Args:
        list_a: ids in rank order, best first, without repeats.
        list_b: the other ranking.
        p: persistence, strictly between 0 and 1.
        k: when given, only the top k of each list are compared.

    Returns:
        RBO_ext in [0, 1]. Two empty lists count as identical (1.0); one empty list against a non-empty
        one scores 0.0.

    Raises:
        ValueError: p outside (0, 1), k < 1, or an id repeated within a list.
    """
    _validate_p(p)
    if k is not None:
        if k < 1:
            raise ValueError(f"k must be >= 1 or None, got {k}")
        list_a, list_b = list_a[:k], list_b[:k]
    for name, items in (("list_a", list_a), ("list_b", list_b)):
        if len(set(items)) != len(items):
            raise ValueError(f"{name} repeats an id; RBO compares rankings without repeats")
    short, long_ = (list_a, list_b) if len(list_a) <= len(list_b) else (list_b, list_a)
    s, l = len(short), len(long_)
    if l == 0:
        return 1.0
    if s == 0:
        return 0.0
    seen_short: set = set()
    seen_long: set = set()
    overlap = 0  # X_d, updated incrementally
    sum_agreement = 0.0  # sum_{d=1}^{l} X_d / d * p^d
    sum_tail = 0.0  # sum_{d=s+1}^{l} X_s (d - s) / (s d) * p^d
    x_s = 0
    for d in range(1, l + 1):
        new_long = long_[d - 1]
        if d <= s:
            new_short = short[d - 1]
            if new_short == new_long:
                overlap += 1
            else:
                overlap += (new_short in seen_long) + (new_long in seen_short)
            seen_short.add(new_short)
        else:
            overlap += new_long in seen_short
        seen_long.add(new_long)
        weight = p**d
        sum_agreement += overlap / d * weight
        if d == s:
            x_s = overlap
        if d > s:
            sum_tail += x_s * (d - s) / (s * d) * weight
    x_l = overlap
    value = (1 - p) / p * (sum_agreement + sum_tail) + ((x_l - x_s) / l + x_s / s) * p**l
    return float(min(1.0, max(0.0, value)))  # clip float round-off only


def top_ids(scores: Mapping[str, float], k: int | None = None) -> list[str]:
    """Ids of a scored result list in rank order (highest score first; equal scores keep their order)."""
    ranked = sorted(scores, key=lambda pid: -scores[pid])
    return ranked if k is None else ranked[:k]


def rbo_per_query(
    run_a: Mapping[str, Mapping[str, float]],
    run_b: Mapping[str, Mapping[str, float]],
    k: int = 10,
    p: float = 0.9,
    query_ids: Iterable[str] | None = None,
) -> dict[str, float]:
    """RBO of the top-k lists of two runs, query by query.

    Args:
        run_a: query id -> passage id -> score.
        run_b: the other run.
        k: depth compared.
        p: persistence.
        query_ids: queries to compare (default: those of either run; a query missing from one run has an
            empty list there).

    Returns:
        query id -> RBO_ext.
    """
    _validate_p(p)
    ids = list(query_ids) if query_ids is not None else sorted(set(run_a) | set(run_b))
    return {q: rbo(top_ids(run_a.get(q, {}), k), top_ids(run_b.get(q, {}), k), p=p) for q in ids}


def mean_rbo(
    run_a: Mapping[str, Mapping[str, float]],
    run_b: Mapping[str, Mapping[str, float]],
    k: int = 10,
    p: float = 0.9,
) -> float:
    """Mean over queries of :func:`rbo` of the two runs' top-k lists (see :func:`rbo_per_query`).

    Raises:
        ValueError: neither run has a query.
    """
    values = rbo_per_query(run_a, run_b, k=k, p=p)
    if not values:
        raise ValueError("both runs are empty; there is nothing to compare")
    return float(sum(values.values()) / len(values))
