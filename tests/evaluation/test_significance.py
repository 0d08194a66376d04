"""Paired tests and bootstrap intervals."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.evaluation.significance import bootstrap_ci, paired_bootstrap_ci, paired_test


@pytest.mark.parametrize("method", ["student", "fisher"])
def test_identical_scores_give_p_one(method):
    a = [0.1, 0.5, 0.9, 0.3]
    assert paired_test(a, list(a), method=method) == 1.0


@pytest.mark.parametrize("method", ["student", "fisher"])
def test_clearly_different_scores_give_a_small_p(method):
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 0.5, size=60)
    b = a + 0.3 + rng.normal(0, 0.05, size=60)
    assert paired_test(a, b, method=method) < 0.001


def test_noise_gives_a_large_p_and_fisher_is_reproducible():
    rng = np.random.default_rng(2)
    a = rng.uniform(size=50)
    b = a + rng.normal(0, 0.1, size=50) - 0.0  # no systematic difference
    assert paired_test(a, b) > 0.05
    assert paired_test(a, b, method="fisher", seed=3) == paired_test(a, b, method="fisher", seed=3)


def test_student_matches_scipy_and_dicts_are_aligned_by_key():
    from scipy.stats import ttest_rel

    a = {"q1": 0.2, "q2": 0.4, "q3": 0.9, "q4": 0.1}
    b = {"q3": 1.0, "q1": 0.5, "q4": 0.1, "q2": 0.6}  # other key order
    keys = sorted(a)
    expected = ttest_rel([a[k] for k in keys], [b[k] for k in keys]).pvalue
    assert paired_test(a, b) == pytest.approx(expected)
    with pytest.raises(ValueError, match="different queries"):
        paired_test(a, {"q1": 1.0})
    with pytest.raises(ValueError, match="method"):
        paired_test([1, 2], [2, 3], method="wilcoxon")


def test_bootstrap_ci_contains_the_mean_and_narrows_with_more_data():
    rng = np.random.default_rng(4)
    small = rng.uniform(size=20)
    big = rng.uniform(size=2000)
    lo, hi = bootstrap_ci(small)
    assert lo < small.mean() < hi
    blo, bhi = bootstrap_ci(big)
    assert blo < big.mean() < bhi and (bhi - blo) < (hi - lo)
    assert bootstrap_ci(small, seed=7) == bootstrap_ci(small, seed=7)


def test_bootstrap_degenerate_and_invalid_inputs():
    assert bootstrap_ci([0.5, 0.5, 0.5]) == (0.5, 0.5)
    assert bootstrap_ci([0.3]) == (0.3, 0.3)
    with pytest.raises(ValueError):
        bootstrap_ci([])
    with pytest.raises(ValueError):
        bootstrap_ci([1.0, 2.0], confidence=1.0)


def test_paired_bootstrap_ci_of_the_difference():
    rng = np.random.default_rng(5)
    a = rng.uniform(size=100)
    b = a + 0.2 + rng.normal(0, 0.05, size=100)
    lo, hi = paired_bootstrap_ci(a, b)
    assert 0.0 < lo < (b - a).mean() < hi
