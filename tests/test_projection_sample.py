"""Large projections: PCA and UMAP fitted on a seeded sample and applied to the rest with ``transform``."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.latent import projection


@pytest.fixture
def small_sample(monkeypatch):
    monkeypatch.setattr(projection, "FIT_SAMPLE", 300)
    projection.clear_memory_cache()


def _points(n: int, dim: int = 16) -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, dim)) * 4
    return (centres[rng.integers(0, 4, n)] + rng.normal(size=(n, dim))).astype(np.float32)


def test_pca_is_fitted_on_the_sample_and_places_the_rest(small_sample):
    from sklearn.decomposition import PCA

    x = _points(1000)
    coords = projection.project(x, "pca", 2, seed=3, use_cache=False)
    rows = projection.fit_sample(len(x), 3)
    assert rows is not None and len(rows) == 300
    fitted = PCA(n_components=2, random_state=3).fit(x[rows])
    np.testing.assert_allclose(coords, fitted.transform(x), atol=1e-4)  # every point, by the sample's fit
    assert projection.fit_sample(300, 3) is None  # at or below the sample size: one plain fit


def test_umap_transforms_the_points_outside_its_sample(small_sample, monkeypatch):
    import umap

    fitted_on = []
    original = umap.UMAP.fit

    def spy(self, x, *args, **kwargs):
        fitted_on.append(len(x))
        return original(self, x, *args, **kwargs)

    monkeypatch.setattr(umap.UMAP, "fit", spy)
    x = _points(700)
    coords = projection.project(x, "umap", 2, seed=1, use_cache=False)
    assert coords.shape == (700, 2) and np.isfinite(coords).all()
    assert fitted_on == [300]
