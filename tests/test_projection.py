"""Projections: validation, determinism, one aligned space for before/after, caching."""

from __future__ import annotations

import numpy as np
import pytest

import explorer.latent.projection as projection
from explorer.core.config import get_settings
from explorer.core.errors import DataError
from explorer.latent.projection import _procrustes_onto, alignment_residual, project, project_aligned


FAST = {"pca": {}, "tsne": {"max_iter": 250}}  # sklearn's minimum; the tests need no polished layout


def _points(n: int = 40, dim: int = 12, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _moved(x: np.ndarray, rows: slice, seed: int = 1) -> np.ndarray:
    y = x.copy()
    y[rows] = _points(len(y[rows]), x.shape[1], seed)
    return y


@pytest.fixture(autouse=True)
def _fresh_memory():
    projection.clear_memory_cache()
    yield
    projection.clear_memory_cache()


def test_invalid_parameters_raise_value_error():
    x = _points()
    with pytest.raises(ValueError, match="method"):
        project(x, method="lda")
    with pytest.raises(ValueError, match="n_components"):
        project(x, n_components=4)
    with pytest.raises(ValueError, match="unknown umap parameter"):
        project(x, method="umap", perplexity=5)
    with pytest.raises(ValueError, match="perplexity"):
        project(x, method="tsne", perplexity=-1)
    with pytest.raises(ValueError, match="2-D"):
        project(x[0])
    with pytest.raises(ValueError, match="same points"):
        project_aligned(x, x[:-1])


def test_too_few_points_or_bad_values_raise_data_error():
    with pytest.raises(DataError, match="at least 10 points.*PCA"):
        project(_points(6), method="umap")
    with pytest.raises(DataError, match="at least 5"):
        project(_points(3), method="tsne")
    bad = _points()
    bad[0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        project(bad)


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_deterministic_with_a_seed(method):
    x = _points()
    first = project(x, method=method, seed=3, use_cache=False, **FAST[method])
    second = project(x, method=method, seed=3, use_cache=False, **FAST[method])
    assert first.shape == (40, 2) and first.dtype == np.float32
    np.testing.assert_array_equal(first, second)
    assert project(x, method=method, n_components=3, use_cache=False, **FAST[method]).shape == (40, 3)


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_identical_before_and_after_land_on_identical_coordinates(method):
    x = _points()
    noisy = x + np.float32(1e-8)  # float noise of a re-normalization is not a change
    before, after = project_aligned(x, noisy, method=method, use_cache=False, **FAST[method])
    np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_only_moved_points_move(method):
    x = _points()
    y = _moved(x, slice(0, 8))
    before, after = project_aligned(x, y, method=method, use_cache=False, **FAST[method])
    np.testing.assert_array_equal(before[8:], after[8:])  # one row of the joint fit each
    spread = np.linalg.norm(before - before.mean(axis=0), axis=1).mean()
    assert np.linalg.norm(before[:8] - after[:8], axis=1).mean() > 0.1 * spread


def test_tsne_between_different_widths_uses_procrustes():
    x = _points(30, 12)
    y = np.hstack([x, np.zeros((30, 4), dtype=np.float32)])  # same geometry in a wider space
    before, after = project_aligned(x, y, method="tsne", use_cache=False)  # converged layouts (500 iterations)
    assert before.shape == after.shape == (30, 2)
    spread = np.linalg.norm(before - before.mean(axis=0), axis=1).mean()
    # The after fit refines the before layout and is rotated onto it: the unchanged geometry stays put.
    assert np.linalg.norm(before - after, axis=1).mean() < 0.05 * spread


@pytest.mark.parametrize("method", ["pca", "umap"])
def test_pca_and_umap_between_different_widths_project_each_and_rotate_onto_the_first(method):
    x = _points(60, 12)
    rng = np.random.default_rng(4)
    rotation, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    # The same geometry, rotated in a wider space: each picture is fitted on its own, the second rotated onto
    # the first, so they agree where a joint fit is impossible (PCA: exactly up to float error).
    y = (np.hstack([x, np.zeros((60, 4), dtype=np.float32)]) @ rotation).astype(np.float32)
    before, after = project_aligned(x, y, method=method, use_cache=False)
    assert before.shape == after.shape == (60, 2)
    assert alignment_residual(before, after) < (1e-4 if method == "pca" else 0.6)
    unrelated = project_aligned(x, _points(60, 16, seed=9), method=method, use_cache=False)
    assert alignment_residual(*unrelated) > 0.5  # a different geometry does not align


def test_alignment_residual_is_zero_for_one_picture_and_scale_free():
    a = np.random.default_rng(0).normal(size=(30, 2))
    assert alignment_residual(a, a) == 0.0
    b = a + np.random.default_rng(1).normal(scale=0.1, size=a.shape)
    assert alignment_residual(a * 10, b * 10) == pytest.approx(alignment_residual(a, b))


def test_procrustes_undoes_rotation_scale_and_shift():
    target = np.random.default_rng(0).normal(size=(25, 2))
    angle = 0.7
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moving = target @ rotation * 3.0 + np.array([5.0, -2.0])
    np.testing.assert_allclose(_procrustes_onto(moving, target), target, atol=1e-9)


def test_cache_hit_skips_recomputation_memory_and_disk(monkeypatch, tmp_path):
    folder = tmp_path / "projections"
    calls = []
    real = projection._reduce

    def counting(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(projection, "_reduce", counting)
    x = _points()
    first = project(x, method="pca", seed=0, cache_dir=folder)
    first[0, 0] = 99.0  # callers get copies: mutating one must not poison the cache
    again = project(x, method="pca", seed=0, cache_dir=folder)
    assert len(calls) == 1 and again[0, 0] != 99.0
    assert list(folder.glob("*.npz"))
    projection.clear_memory_cache()
    from_disk = project(x, method="pca", seed=0, cache_dir=folder)
    assert len(calls) == 1
    np.testing.assert_array_equal(from_disk, again)
    project(x, method="pca", seed=1)
    assert len(calls) == 2  # another seed is another key
    y = _moved(x, slice(0, 4))
    b1, a1 = project_aligned(x, y)
    b2, a2 = project_aligned(x, y)
    assert len(calls) == 3
    np.testing.assert_array_equal(a1, a2)


def test_umap_joint_fit_keeps_unchanged_points_and_is_deterministic():
    # One small UMAP test: numba compiles UMAP's kernels on first use (tens of seconds).
    x = _points(60, 16)
    y = _moved(x, slice(0, 10))
    before, after = project_aligned(x, y, method="umap", n_neighbors=10, use_cache=False)
    np.testing.assert_array_equal(before[10:], after[10:])
    again, _ = project_aligned(x, y, method="umap", n_neighbors=10, use_cache=False)
    np.testing.assert_array_equal(before, again)


def test_frames_share_one_space_and_unchanged_points_stay_put():
    from explorer.latent.projection import project_frames

    rng = np.random.default_rng(3)
    base = rng.standard_normal((60, 16)).astype(np.float32)
    mid, final = base.copy(), base.copy()
    mid[:10] += 0.5 * rng.standard_normal((10, 16)).astype(np.float32)  # 10 points move at the checkpoint
    final[:20] += 0.8 * rng.standard_normal((20, 16)).astype(np.float32)  # 20 by the end
    final[30] += 1e-8  # float noise is not a move
    for method in ("pca", "umap"):
        coords = project_frames([base, mid, final], method=method, use_cache=False)
        assert len(coords) == 3 and all(c.shape == (60, 2) for c in coords)
        assert np.array_equal(coords[0][10:], coords[1][10:])  # unchanged at the checkpoint: same place
        assert np.array_equal(coords[0][20:], coords[2][20:])  # unchanged at the end (incl. the noisy one)
        assert not np.allclose(coords[0][:10], coords[1][:10])
    with pytest.raises(ValueError, match="same shape"):
        project_frames([base, base[:5]])


def test_projections_are_cached_in_the_callers_folder_never_the_servers(monkeypatch, explorer_home):
    """Public mode: a visitor's projection lands in that visitor's workspace; none goes to <home>/projections."""
    from explorer.workspace import new_workspace_id, open_workspace

    monkeypatch.setenv("EXPLORER_PUBLIC", "1")
    ws = open_workspace(new_workspace_id())
    x = _points()
    y = _moved(x, slice(0, 4))
    project(x, method="pca", cache_dir=ws.settings.projection_cache_dir)
    project_aligned(x, y, cache_dir=ws.settings.projection_cache_dir)
    projection.project_frames([x, y], cache_dir=ws.settings.projection_cache_dir)
    assert len(list(ws.settings.projection_cache_dir.glob("*.npz"))) == 3
    assert ws.settings.projection_cache_dir.is_relative_to(ws.folder)
    assert not get_settings().projection_cache_dir.exists()


def test_without_a_folder_projections_stay_in_memory(monkeypatch, explorer_home):
    monkeypatch.setenv("EXPLORER_PUBLIC", "1")
    x = _points()
    first = project(x, method="pca")
    np.testing.assert_array_equal(project(x, method="pca"), first)  # served from memory
    assert not list(explorer_home.rglob("*.npz"))
