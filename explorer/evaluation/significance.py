"""Significance tests and confidence intervals over per-query scores.

Two encoders evaluated on the same queries give paired per-query scores; whether their mean difference is
more than noise is a paired test (Smucker, Allan & Carterette, "A comparison of statistical significance
tests for information retrieval evaluation", CIKM 2007), and how precise a mean is, a bootstrap interval.

* ``method="student"`` calls ranx's paired Student t-test (``ranx.statistical_tests.paired_student_t_test``,
  the function ``ranx.compare`` runs). ``ranx.compare`` itself needs qrels and runs, not scores, so the
  test function is called directly on the per-query scores.
* ``method="fisher"`` is Fisher's randomization test, the paired permutation test that swaps the two
  systems' scores within each query. ranx has one, but it is a numba-parallel kernel whose seed only fixes
  the calling thread's random stream: on the same input it returned 0.078, 0.062, 0.059 in three calls.
  A p-value that changes on every page refresh is not acceptable, so this uses
  ``scipy.stats.permutation_test(permutation_type="samples")``, the same test with a seeded generator.
* Confidence intervals use ``scipy.stats.bootstrap`` (BCa, falling back to the percentile interval when BCa
  is undefined, e.g. for very skewed or nearly constant scores).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np

Scores = Sequence[float] | Mapping[str, float] | np.ndarray


def _paired_arrays(a: Scores, b: Scores) -> tuple[np.ndarray, np.ndarray]:
    """Align two per-query score collections (dicts by query id, or sequences by position)."""
    if isinstance(a, Mapping) or isinstance(b, Mapping):
        if not (isinstance(a, Mapping) and isinstance(b, Mapping)):
            raise ValueError("pass both per-query scores as dicts (query id -> score) or both as sequences")
        if set(a) != set(b):
            missing = sorted(set(a) ^ set(b))[:5]
            raise ValueError(f"the two score dicts cover different queries (e.g. {missing}); evaluate both on the same split")
        keys = sorted(a)
        return np.array([a[k] for k in keys], dtype=float), np.array([b[k] for k in keys], dtype=float)
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired scores must be two 1-D arrays of the same length, got {x.shape} and {y.shape}")
    return x, y


def paired_test(
    per_query_a: Scores,
    per_query_b: Scores,
    method: str = "student",
    n_permutations: int = 10_000,
    seed: int = 0,
) -> float:
    """Two-sided p-value of "A and B have the same mean" on paired per-query scores.

    Args:
        per_query_a: scores of system A, a dict query id -> score or a sequence.
        per_query_b: scores of system B, paired with A's (same keys, or same positions).
        method: "student" (paired t-test, via ranx) or "fisher" (randomization test, via scipy).
        n_permutations: resamples of the randomization test.
        seed: seed of the randomization test.

    Returns:
        The p-value. 1.0 when every per-query difference is zero (no evidence of a difference; the t
        statistic would be 0/0), and 1.0 for fewer than two queries (no test is possible).

    Raises:
        ValueError: unknown method or misaligned inputs.
    """
    if method not in {"student", "fisher"}:
        raise ValueError(f"method must be 'student' or 'fisher', got {method!r}")
    a, b = _paired_arrays(per_query_a, per_query_b)
    diff = b - a
    if len(diff) < 2 or np.allclose(diff, 0.0, rtol=0.0, atol=1e-12):
        return 1.0
    if method == "student":
        from ranx.statistical_tests import paired_student_t_test

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # constant non-zero differences: t = inf, p = 0
            p_value, _ = paired_student_t_test(a, b)
        p_value = float(p_value)
        return 1.0 if math.isnan(p_value) else p_value
    from scipy.stats import permutation_test

    result = permutation_test(
        (a, b),
        lambda x, y, axis: np.mean(x, axis=axis) - np.mean(y, axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=n_permutations,
        alternative="two-sided",
        rng=np.random.default_rng(seed),
    )
    return float(min(1.0, result.pvalue))


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Bootstrap confidence interval of the mean.

    Args:
        values: per-query scores.
        n_resamples: bootstrap resamples.
        confidence: coverage, strictly between 0 and 1.
        seed: seed of the resampling (same input and seed, same interval).

    Returns:
        (low, high). A single value or constant values give the degenerate interval (mean, mean).

    Raises:
        ValueError: no values, or confidence outside (0, 1).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    x = np.asarray(values, dtype=float).ravel()
    if x.size == 0:
        raise ValueError("cannot bootstrap an empty set of scores")
    mean = float(x.mean())
    if x.size == 1 or np.ptp(x) == 0.0:
        return mean, mean
    from scipy.stats import bootstrap

    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # BCa warns (and returns NaN) when it is undefined
            res = bootstrap(
                (x,), np.mean, n_resamples=n_resamples, confidence_level=confidence, method=method,
                vectorized=True, rng=np.random.default_rng(seed),
            )
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if not (math.isnan(low) or math.isnan(high)):
            return low, high
    return mean, mean  # pragma: no cover - the percentile interval is always defined here


def paired_bootstrap_ci(
    per_query_a: Scores,
    per_query_b: Scores,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Bootstrap confidence interval of the mean paired difference B - A.

    Resampling queries and taking both systems' scores of each drawn query is resampling the per-query
    differences, so this is :func:`bootstrap_ci` of ``b - a``.

    Returns:
        (low, high) of mean(B - A); an interval excluding 0 agrees with a small p-value.
    """
    a, b = _paired_arrays(per_query_a, per_query_b)
    return bootstrap_ci(b - a, n_resamples=n_resamples, confidence=confidence, seed=seed)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down correction of several p-values tested together (Holm, "A simple sequentially
    rejective multiple test procedure", Scand. J. Statistics 1979): controls the chance of any false
    "significant" when several models are each compared with one reference.

    The i-th smallest p-value (from 0) becomes ``max over j <= i of min(1, (m - j) * p_(j))``, returned in the
    input order. Written out (six lines) because scipy has only Benjamini-Hochberg
    (``scipy.stats.false_discovery_control``) and statsmodels' ``multipletests``, which has Holm, is not a
    dependency of this project; a test checks known values.

    Raises:
        ValueError: a p-value outside [0, 1] or NaN.
    """
    values = [float(p) for p in p_values]
    if any(not 0.0 <= p <= 1.0 for p in values):  # NaN fails both comparisons
        raise ValueError(f"p-values must lie in [0, 1], got {values}")
    m = len(values)
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(sorted(range(m), key=lambda i: values[i])):
        running = max(running, min(1.0, (m - rank) * values[index]))
        adjusted[index] = running
    return adjusted
