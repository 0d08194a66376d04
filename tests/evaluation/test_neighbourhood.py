"""Neighbourhood change against hand-worked cases, and the shared top-k search it uses."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.evaluation.neighbourhood import NeighbourhoodChange, jaccard_rows, neighbourhood_change
from explorer.evaluation.overlap import rbo
from explorer.core.topk import top_k


def _unit(angles_deg):
    a = np.radians(np.asarray(angles_deg, dtype=np.float64))
    return np.stack([np.cos(a), np.sin(a)], axis=1).astype(np.float32)


def test_top_k_skips_self_and_orders_by_cosine():
    # Points on the unit circle at 0, 10, 30, 100 degrees: nearest of 0 is 10, then 30, then 100.
    x = _unit([0, 10, 30, 100])
    idx, scores = top_k(x, x, 2, skip_self=True)
    assert idx.tolist() == [[1, 2], [0, 2], [1, 0], [2, 1]]
    assert np.all(np.diff(scores, axis=1) <= 0)


def test_top_k_small_chunks_give_the_same_answer():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    full = top_k(x, x, 5, skip_self=True)[0]
    chunked = top_k(x, x, 5, skip_self=True, chunk_size=3)[0]
    assert np.array_equal(full, chunked)


def test_jaccard_by_hand():
    assert jaccard_rows(np.array([[1, 2, 3]]), np.array([[3, 2, 9]])).tolist() == [0.5]
    assert jaccard_rows(np.array([[1, 2]]), np.array([[2, 1]])).tolist() == [1.0]
    assert jaccard_rows(np.array([[1, 2]]), np.array([[3, 4]])).tolist() == [0.0]


def test_unchanged_space_has_no_change():
    x = _unit([0, 10, 30, 100, 200])
    change = neighbourhood_change(x, x.copy(), list("abcde"), k=2)
    assert change.jaccard.tolist() == [1.0] * 5
    assert np.allclose(change.rbo, 1.0)
    assert change.change.tolist() == [0.0] * 5


def test_one_point_moving_changes_exactly_the_neighbourhoods_it_touches():
    # Before: a=0, b=10, c=30, d=100, e=110 degrees. After, c moves next to d and e (at 105).
    before = _unit([0, 10, 30, 100, 110])
    after = _unit([0, 10, 105, 100, 110])
    ch = neighbourhood_change(before, after, list("abcde"), k=1)
    # k=1 by hand: before a->b, b->a, c->b, d->e, e->d; after a->b, b->a, c->{d or e, equal at 5 deg}, d->c, e->c.
    assert ch.jaccard[:2].tolist() == [1.0, 1.0]
    assert ch.jaccard[2:].tolist() == [0.0, 0.0, 0.0]
    frame = ch.frame().set_index("id")
    assert frame.loc["a", "change"] == 0.0 and frame.loc["c", "change"] == 1.0


def test_k2_partial_overlap_and_rbo_weights_the_top():
    # a's two neighbours before: b (10 deg), c (30 deg). After, c is nearest and b is gone, d comes in.
    before = _unit([0, 10, 30, 170])
    after = _unit([0, 60, 5, 20])
    ch = neighbourhood_change(before, after, list("abcd"), k=2)
    assert ch.before[0].tolist() == [1, 2] and ch.after[0].tolist() == [2, 3]
    assert ch.jaccard[0] == pytest.approx(1 / 3)  # {b, c} vs {c, d}
    assert ch.rbo[0] == pytest.approx(rbo([1, 2], [2, 3], p=0.9))
    nb = ch.neighbours("a").fillna(0)  # 0: not in that list
    assert nb.to_dict("list") == {"id": ["c", "d", "b"], "rank_before": [2, 0, 1],
                                  "rank_after": [1, 2, 0], "status": ["kept", "gained", "lost"]}


def test_save_and_load_round_trip(tmp_path):
    x = _unit([0, 10, 30, 100])
    ch = neighbourhood_change(x, _unit([0, 50, 30, 100]), ["q1", "p1", "p2", "p3"], k=2)
    ch.save(tmp_path / "n.npz")
    back = NeighbourhoodChange.load(tmp_path / "n.npz")
    assert back.ids == ch.ids and back.k == 2 and np.array_equal(back.after, ch.after)
    assert np.allclose(back.rbo, ch.rbo) and list(tmp_path.iterdir()) == [tmp_path / "n.npz"]


def test_bad_arguments_raise_value_error():
    x = _unit([0, 10])
    with pytest.raises(ValueError, match="k must be"):
        neighbourhood_change(x, x, ["a", "b"], k=0)
    with pytest.raises(ValueError, match="same length"):
        neighbourhood_change(x, x[:1], ["a", "b"])


def test_smaller_k_is_derived_from_the_stored_neighbours():
    rng = np.random.default_rng(1)
    before = rng.standard_normal((40, 6)).astype(np.float32)
    after = before + 0.5 * rng.standard_normal((40, 6)).astype(np.float32)
    before /= np.linalg.norm(before, axis=1, keepdims=True)
    after /= np.linalg.norm(after, axis=1, keepdims=True)
    ids = [str(i) for i in range(40)]
    stored = neighbourhood_change(before, after, ids, k=10)
    direct = neighbourhood_change(before, after, ids, k=3)
    derived = stored.at(3)
    assert np.array_equal(derived.before, direct.before) and np.array_equal(derived.after, direct.after)
    assert np.allclose(derived.jaccard, direct.jaccard) and np.allclose(derived.rbo, direct.rbo)
    with pytest.raises(ValueError, match="between 1 and 10"):
        stored.at(11)


def test_top_k_over_blocks_is_the_top_k_of_the_whole_with_ties_by_index():
    from explorer.core.topk import top_k_over_blocks

    rng = np.random.default_rng(1)
    keys = rng.standard_normal((23, 6)).astype(np.float32)
    keys /= np.linalg.norm(keys, axis=1, keepdims=True)
    keys[17] = keys[3]  # a tie across blocks: the lower index first
    queries = np.vstack([keys[3], rng.standard_normal((4, 6)).astype(np.float32)])
    whole = top_k(queries, keys, 7)
    blocks = [(start, keys[start:start + 5]) for start in range(0, len(keys), 5)]
    rows, scores = top_k_over_blocks(queries, blocks, 7)
    assert np.array_equal(rows, whole[0]) and rows[0, :2].tolist() == [3, 17]
    np.testing.assert_allclose(scores, whole[1], atol=1e-6)
    assert top_k_over_blocks(queries, blocks, 100)[0].shape == (5, 23)
    assert top_k_over_blocks(queries, [], 3)[0].shape == (5, 0)
