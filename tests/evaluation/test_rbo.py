"""Rank-biased overlap (RBO_ext, Webber et al. 2010) against hand-worked values."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.evaluation.overlap import mean_rbo, rbo, rbo_per_query, top_ids


def test_identical_lists_score_one_and_disjoint_zero():
    assert rbo(list("abcdefghij"), list("abcdefghij")) == pytest.approx(1.0)
    assert rbo(list("abc"), list("abc"), p=0.5) == pytest.approx(1.0)
    assert rbo(list("abc"), list("xyz")) == 0.0
    assert rbo([], []) == 1.0 and rbo([], ["a"]) == 0.0


def test_equal_length_worked_example():
    # S = a b c, L = b a c, p = 0.5 (so (1 - p) / p = 1):
    # X_1 = 0 (a vs b), X_2 = 2, X_3 = 3  ->  A_1 = 0, A_2 = 1, A_3 = 1
    # sum_d A_d p^d = 0 * 0.5 + 1 * 0.25 + 1 * 0.125 = 0.375;  + A_3 p^3 = 0.125  ->  RBO_ext = 0.5
    assert rbo(list("abc"), list("bac"), p=0.5) == pytest.approx(0.5)


def test_uneven_length_worked_example():
    # S = a b (s = 2), L = a c b d (l = 4), p = 0.5:
    # X_1 = 1, X_2 = |{a,b} & {a,c}| = 1, X_3 = |{a,b} & {a,c,b}| = 2, X_4 = 2;  X_s = X_2 = 1, X_l = X_4 = 2
    # sum_{d=1..4} X_d/d p^d = 1/2 + 1/2 * 1/4 + 2/3 * 1/8 + 2/4 * 1/16 = 1/2 + 1/8 + 1/12 + 1/32
    # sum_{d=3..4} X_s (d - s)/(s d) p^d = 1/6 * 1/8 + 2/8 * 1/16 = 1/48 + 1/64
    # ((X_l - X_s)/l + X_s/s) p^l = (1/4 + 1/2) / 16 = 3/64
    # total = (96 + 24 + 16 + 6 + 4 + 3 + 9) / 192 = 158/192 = 79/96
    assert rbo(list("ab"), list("acbd"), p=0.5) == pytest.approx(79 / 96)
    assert rbo(list("acbd"), list("ab"), p=0.5) == pytest.approx(79 / 96)


def test_p_and_k_validation_and_truncation():
    for p in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="p"):
            rbo(["a"], ["a"], p=p)
    with pytest.raises(ValueError, match="k"):
        rbo(["a"], ["a"], k=0)
    with pytest.raises(ValueError, match="repeats"):
        rbo(["a", "a"], ["a"])
    # Only the top 3 are compared: the differing tails do not matter.
    assert rbo(list("abcx"), list("abcy"), k=3) == pytest.approx(1.0)
    assert rbo(list("abcx"), list("abcy")) < 1.0


def test_top_heavy_a_swap_at_the_top_costs_more_than_at_the_bottom():
    base = list("abcdefghij")
    top_swap = ["b", "a"] + base[2:]
    bottom_swap = base[:8] + ["j", "i"]
    assert rbo(base, top_swap) < rbo(base, bottom_swap) < 1.0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from("abcdefghijklmnop"), unique=True, max_size=10),
    st.lists(st.sampled_from("abcdefghijklmnop"), unique=True, max_size=10),
    st.floats(0.05, 0.95),
)
def test_symmetric_and_bounded(a, b, p):
    value = rbo(a, b, p=p)
    assert 0.0 <= value <= 1.0
    assert value == pytest.approx(rbo(b, a, p=p))


def test_runs_per_query_and_mean():
    run_a = {"q1": {"a": 3.0, "b": 2.0, "c": 1.0}, "q2": {"x": 1.0}}
    run_b = {"q1": {"b": 3.0, "a": 2.0, "c": 1.0}, "q2": {"y": 1.0}}
    assert top_ids(run_b["q1"]) == ["b", "a", "c"]
    per = rbo_per_query(run_a, run_b, k=3, p=0.5)
    assert per == pytest.approx({"q1": 0.5, "q2": 0.0})
    assert mean_rbo(run_a, run_b, k=3, p=0.5) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        mean_rbo({}, {})
