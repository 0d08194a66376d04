"""2D/3D projections of embeddings, and the before/after projection in ONE aligned space.

Reducers: PCA (scikit-learn), UMAP (umap-learn, McInnes et al. 2018) and t-SNE (scikit-learn, van der
Maaten & Hinton 2008). Two fitted-separately projections are not comparable (axes flip, rotate, rescale),
so :func:`project_aligned` puts before and after in one space:

* Joint fit (PCA, UMAP, and t-SNE when before and after have the same width): one fit on the distinct
  rows of before and after stacked. A point whose embedding did not change (within 1e-6 per coordinate)
  is one row of that fit, so its before and after points coincide exactly.
* Procrustes (when the widths differ, e.g. two different models: no single reducer can take both): each
  model is projected on its own, then "after" is rotated, reflected, shifted and uniformly scaled onto
  "before" by orthogonal Procrustes on the shared points (``scipy.linalg.orthogonal_procrustes``;
  Schönemann 1966). Each picture's own geometry is untouched; across the two, positions agree as far as a
  rigid map can make them (:func:`alignment_residual` measures how far). PCA fits "after" on its own. UMAP
  fits both with umap-learn's ``AlignedUMAP`` (each model's own neighbourhood graph, plus a regulariser that
  keeps each point's two positions close), then Procrustes: on unstructured points whose geometry did not
  change (rotated into 16 dimensions from 12), two separate fits landed 69% (60 points) of the radius apart,
  one started from the before layout 48% (60) and 82% (300), AlignedUMAP 44% (60), 23% (300) and 17%
  (2,000), while unrelated geometries stay about 100% apart (it does not force an agreement). Beyond
  :data:`FIT_SAMPLE` points (AlignedUMAP has no ``transform``) UMAP falls back to a fit started from the
  before layout. t-SNE fits "after" starting from the before layout with no early exaggeration
  and a small learning rate (1.0, the minimum 250 iterations: a gentle refinement of that layout, not a fresh
  one): t-SNE is chaotic, and refining at the usual learning rate flipped whole clusters on some inputs (up
  to 74% of the mean radius on 30-80 points whose geometry did not change). With the gentle refinement, on
  200 such points over three seeds, they stay 0.1-4.8% of the mean radius apart; on 30-80 points, 0.1-11%.

Too few points: UMAP needs at least :data:`MIN_POINTS` ["umap"] points and t-SNE ["tsne"] (their
neighbourhood graphs are meaningless below that), PCA ``n_components`` points; below that a
:class:`~explorer.core.errors.DataError` says so and suggests PCA, rather than silently drawing another method.

Many points: a reducer is fitted on a seeded sample of at most :data:`FIT_SAMPLE` rows and places every row
with its ``transform`` (PCA, UMAP), so 50,000 points cost about what 5,000 cost plus a transform. t-SNE has no
transform: the caller gives it at most :data:`TSNE_MAX_POINTS` points (the Latent page samples and says so).

Results are cached by (SHA-256 of the embedding bytes, method, resolved parameters): in memory (LRU) and,
when the caller names a folder (``cache_dir``: the workspace's ``Settings.projection_cache_dir``), on disk
there as .npz written atomically. Nothing here reads the server's settings: a projection of a visitor's
embeddings is cached in that visitor's workspace or on no disk at all, and the workspace clean-up removes it
with the workspace. The memory cache is shared; it is keyed by the embeddings themselves, so a hit only
returns what the caller could compute from what it already holds. UMAP runs under
:data:`NUMBA_LOCK` because numba aborts the process when two threads launch its parallel kernels at once;
ranx metrics take the same lock.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

from explorer.core.errors import DataError
from explorer.core.memory import MB, ByteLRU
from explorer.core.storage import atomic_path, stored_or_computed

NUMBA_LOCK = threading.RLock()
"""Process-wide lock around numba-parallel work (UMAP, ranx)."""

METHODS = ("pca", "umap", "tsne")
MIN_POINTS = {"umap": 10, "tsne": 5}
_DEFAULTS: dict[str, dict[str, Any]] = {
    "pca": {},
    "umap": {"n_neighbors": 15, "min_dist": 0.1, "metric": "cosine", "low_memory": True},
    "tsne": {"perplexity": 30.0, "metric": "cosine", "max_iter": 500},
}
_SAME = 1e-6  # per-coordinate tolerance under which an embedding counts as unchanged
FIT_SAMPLE = 5000
"""Rows a PCA or UMAP reducer is fitted on at most; the rest are placed by its ``transform``."""
TSNE_MAX_POINTS = 5000
"""Points t-SNE is given at most (it has no transform, and its cost grows faster than linearly)."""
_VERSION = "3"  # bump when a reducer's behaviour changes, so old disk caches are ignored
_MEMORY = ByteLRU(64 * MB)
"""Projections in memory, bounded by bytes (least recently used out); the disk cache keeps the rest."""


def _resolve(method: str, n_components: int, n_points: int, params: dict[str, Any]) -> dict[str, Any]:
    """Validate the call and return the full parameter set actually used (defaults adapted to n)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if n_components not in (2, 3):
        raise ValueError(f"n_components must be 2 or 3, got {n_components!r}")
    unknown = set(params) - set(_DEFAULTS[method])
    if unknown:
        allowed = ", ".join(sorted(_DEFAULTS[method])) or "none"
        raise ValueError(f"unknown {method} parameter(s) {sorted(unknown)}; allowed: {allowed}")
    minimum = MIN_POINTS.get(method, n_components)
    if n_points < minimum:
        raise DataError(
            f"{method.upper()} needs at least {minimum} points, got {n_points}; "
            "choose PCA or include more queries/passages."
        )
    resolved = {**_DEFAULTS[method], **params}
    if method == "umap":
        if int(resolved["n_neighbors"]) < 2 or not 0.0 <= float(resolved["min_dist"]):
            raise ValueError(f"UMAP needs n_neighbors >= 2 and min_dist >= 0, got {params}")
        resolved["n_neighbors"] = min(int(resolved["n_neighbors"]), n_points - 1)
    if method == "tsne":
        if float(resolved["perplexity"]) <= 0:
            raise ValueError(f"perplexity must be > 0, got {resolved['perplexity']}")
        # sklearn requires perplexity < n; (n - 1) / 3 keeps 3 * perplexity neighbours available.
        resolved["perplexity"] = float(min(float(resolved["perplexity"]), max(1.0, (n_points - 1) / 3)))
    return resolved


def _as_matrix(embeddings: np.ndarray, name: str = "embeddings") -> np.ndarray:
    x = np.ascontiguousarray(embeddings, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (points x dimensions), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise DataError(f"{name} contain NaN or infinite values; re-embed the texts.")
    return x


def _reduce(x: np.ndarray, method: str, n_components: int, seed: int, params: dict[str, Any],
            init: np.ndarray | None = None) -> np.ndarray:
    """Fit one reducer on ``x`` (no caching, no alignment). ``init`` seeds a UMAP or t-SNE layout."""
    if method == "pca":
        from sklearn.decomposition import PCA

        if x.shape[1] < n_components:
            raise DataError(f"Embeddings have {x.shape[1]} dimensions, fewer than the {n_components} asked for.")
        return _fit_sample_transform(PCA(n_components=n_components, random_state=seed), x, seed)
    if method == "umap":
        with NUMBA_LOCK:
            import umap

            if init is not None:  # start from the given layout (of the rows the fit will see)
                rows = fit_sample(len(x), seed)
                params = {**params, "init": np.asarray(init if rows is None else init[rows], dtype=np.float32)}
            reducer = umap.UMAP(n_components=n_components, random_state=seed, n_jobs=1, **params)
            return np.asarray(_fit_sample_transform(reducer, x, seed))
    from sklearn.manifold import TSNE

    if init is None:
        tsne = TSNE(n_components=n_components, init="pca", learning_rate="auto", random_state=seed, **params)
    else:
        # Refine the given layout rather than re-run t-SNE from scratch: start from it as it is and skip
        # early exaggeration, whose job (forming clusters from a random start) would scramble it.
        refine = {**params, "max_iter": 250}  # sklearn's minimum; see the module docstring for why so gentle
        tsne = TSNE(n_components=n_components, init=np.asarray(init, dtype=np.float32), early_exaggeration=1.0,
                    learning_rate=1.0, random_state=seed, **refine)
    return tsne.fit_transform(x)


def fit_sample(n: int, seed: int) -> np.ndarray | None:
    """Sorted row indices a reducer is fitted on when ``n`` exceeds :data:`FIT_SAMPLE` (seeded), else None."""
    if n <= FIT_SAMPLE:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, FIT_SAMPLE, replace=False))


def _fit_sample_transform(reducer: Any, x: np.ndarray, seed: int) -> np.ndarray:
    """``reducer.fit_transform(x)``, or for more than :data:`FIT_SAMPLE` rows, fit on a seeded sample and
    ``transform`` the others (the sample keeps its fitted coordinates)."""
    rows = fit_sample(len(x), seed)
    if rows is None:
        return reducer.fit_transform(x)
    out = np.empty((len(x), reducer.n_components), dtype=np.float32)
    out[rows] = reducer.fit_transform(x[rows])
    rest = np.setdiff1d(np.arange(len(x)), rows, assume_unique=True)
    out[rest] = reducer.transform(x[rest])
    return out


def _key(arrays: tuple[np.ndarray, ...], method: str, n_components: int, seed: int, params: dict[str, Any],
         kind: str) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    spec = {"v": _VERSION, "kind": kind, "method": method, "n": n_components, "seed": seed, "params": params}
    h.update(json.dumps(spec, sort_keys=True, default=str).encode())
    return h.hexdigest()[:32]


def _load_arrays(path: Path) -> tuple[np.ndarray, ...]:
    with np.load(path, allow_pickle=False) as data:
        return tuple(data[f"a{i}"] for i in range(len(data.files)))


def _save_arrays(arrays: tuple[np.ndarray, ...], path: Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **{f"a{i}": a for i, a in enumerate(arrays)})


def _cached(key: str, compute: Any, use_cache: bool, cache_dir: Path | str | None) -> tuple[np.ndarray, ...]:
    """Look up memory, then ``cache_dir`` (when given); else compute, store both. Returns copies the caller
    may modify. A file read is touched: the workspace clean-up removes only projections unused for a day."""
    if use_cache:
        found = _MEMORY.get(key)
        if found is not None:
            return tuple(a.copy() for a in found)
    path = Path(cache_dir) / f"{key}.npz" if use_cache and cache_dir is not None else None
    arrays = stored_or_computed(path, lambda: tuple(np.asarray(a, dtype=np.float32) for a in compute()),
                                load=_load_arrays, save=_save_arrays, touch=True)
    if use_cache:
        _MEMORY.put(key, arrays)
    return tuple(a.copy() for a in arrays)


def project(embeddings: np.ndarray, method: str = "pca", n_components: int = 2, seed: int = 0,
            use_cache: bool = True, *, cache_dir: Path | str | None = None, **params: Any) -> np.ndarray:
    """Project embeddings to 2 or 3 dimensions.

    Args:
        embeddings: (n, dim) array.
        method: "pca", "umap" or "tsne".
        n_components: 2 or 3.
        seed: random seed (same input and seed, same output).
        use_cache: read and write the memory cache, and the disk cache when ``cache_dir`` is given.
        cache_dir: the folder of the disk cache: the workspace's ``Settings.projection_cache_dir``
            (None: memory only; the server's folder is never used for a visitor's embeddings).
        **params: reducer parameters: UMAP n_neighbors (15), min_dist (0.1), metric ("cosine"),
            low_memory (True); t-SNE perplexity (30, lowered to (n - 1) / 3 for small n), metric
            ("cosine"), max_iter (500: half sklearn's default, for speed on 2 CPUs).

    Returns:
        float32 array (n, n_components).

    Raises:
        ValueError: unknown method or parameter, n_components not 2 or 3, not a 2-D array.
        DataError: too few points for the method, or non-finite embeddings.
    """
    x = _as_matrix(embeddings)
    resolved = _resolve(method, n_components, len(x), params)
    key = _key((x,), method, n_components, seed, resolved, "single")
    return _cached(key, lambda: (_reduce(x, method, n_components, seed, resolved),), use_cache, cache_dir)[0]


def _procrustes_onto(moving: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Rotate/reflect, scale and shift ``moving`` to best match ``target`` (least squares)."""
    from scipy.linalg import orthogonal_procrustes

    mu_m, mu_t = moving.mean(axis=0), target.mean(axis=0)
    a, b = moving - mu_m, target - mu_t
    norm = float((a**2).sum())
    if norm == 0.0:
        return np.broadcast_to(mu_t, moving.shape).copy()
    rotation, singular_sum = orthogonal_procrustes(a, b)
    return a @ rotation * (singular_sum / norm) + mu_t


def project_aligned(before: np.ndarray, after: np.ndarray, method: str = "pca", n_components: int = 2,
                    seed: int = 0, use_cache: bool = True, *, cache_dir: Path | str | None = None,
                    **params: Any) -> tuple[np.ndarray, np.ndarray]:
    """Project the same points before and after fine-tuning into one shared 2D/3D space.

    Args:
        before: (n, dim) embeddings under the baseline encoder.
        after: (n, dim') embeddings of the same n points, in the same order, under the tuned encoder (or
            another model: when dim' differs from dim, each is projected on its own and "after" is rotated
            onto "before" by Procrustes).
        method, n_components, seed, use_cache, cache_dir, **params: as in :func:`project`.

    Returns:
        (before coordinates, after coordinates), each float32 (n, n_components). A point whose embedding
        did not change gets identical coordinates in both (between different widths, only when nothing
        changed at all).

    Raises:
        ValueError: mismatched numbers of points, or as :func:`project`.
        DataError: as :func:`project`.
    """
    b, a = _as_matrix(before, "before"), _as_matrix(after, "after")
    if len(a) != len(b):
        raise ValueError(f"before has {len(b)} points but after has {len(a)}; pass the same points in the same order")
    if a.shape[1] == b.shape[1]:
        # Float noise (a re-normalization, a bf16 round trip) must not make an unchanged point "move".
        a = np.where(np.all(np.abs(a - b) <= _SAME, axis=1, keepdims=True), b, a)
        if np.array_equal(a, b):  # nothing changed: one projection serves both, coordinates coincide
            single = project(b, method, n_components, seed, use_cache, cache_dir=cache_dir, **params)
            return single, single.copy()
    # Keyed on the caller's parameters, not the resolved ones: resolving needs the distinct-row count, a
    # sort of all 2n rows that would make every cached re-render pay seconds on large inputs.
    key = _key((b, a), method, n_components, seed, dict(params), "aligned")

    out = _cached(key, lambda: _fit_aligned(b, a, method, n_components, seed, params), use_cache, cache_dir)
    return out[0], out[1]


def _fit_aligned(b: np.ndarray, a: np.ndarray, method: str, n_components: int, seed: int,
                 params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Before and after in one space: one joint fit when the widths agree, else each fitted on its own (t-SNE:
    "after" refined from the "before" layout) and "after" rotated onto "before" (see the module docstring)."""
    if a.shape[1] == b.shape[1]:
        # Fit on distinct rows: an unchanged point is a single row, so it lands in one place.
        distinct, inverse = np.unique(np.vstack([b, a]), axis=0, return_inverse=True)
        resolved = _resolve(method, n_components, len(distinct), params)
        coords = _reduce(distinct, method, n_components, seed, resolved)[inverse.ravel()]
        return coords[: len(b)], coords[len(b) :]
    resolved = _resolve(method, n_components, len(b), params)
    first = _reduce(b, method, n_components, seed, resolved)
    if method == "umap" and len(b) <= FIT_SAMPLE:
        first, second = _aligned_umap(b, a, n_components, seed, resolved)
    else:
        first = _reduce(b, method, n_components, seed, resolved)
        second = _reduce(a, method, n_components, seed, resolved, init=None if method == "pca" else first)
    return first, _procrustes_onto(second, first)


def _aligned_umap(b: np.ndarray, a: np.ndarray, n_components: int, seed: int,
                  params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Two UMAP layouts of the same points under two models, fitted together by umap-learn's AlignedUMAP
    (each on its own neighbourhood graph, a regulariser pulling each point's two positions together)."""
    with NUMBA_LOCK:
        import umap

        options = {k: v for k, v in params.items() if k != "low_memory"}  # AlignedUMAP does not take it
        fitted = umap.AlignedUMAP(n_components=n_components, random_state=seed, **options).fit(
            [b, a], relations=[{i: i for i in range(len(b))}])
        return np.asarray(fitted.embeddings_[0]), np.asarray(fitted.embeddings_[1])


def alignment_residual(before: np.ndarray, after: np.ndarray) -> float:
    """How far two aligned pictures of the same points disagree: the root-mean-square distance between each
    point's two positions, as a share of the before picture's root-mean-square radius (0 = identical; about
    1.4 = unrelated layouts of the same spread). For a caption under a picture of two different models."""
    b, a = np.asarray(before, dtype=np.float64), np.asarray(after, dtype=np.float64)
    radius = float(np.sqrt(((b - b.mean(axis=0)) ** 2).sum(axis=1).mean()))
    if radius == 0.0:
        return 0.0
    return float(np.sqrt(((a - b) ** 2).sum(axis=1).mean()) / radius)


def project_frames(frames: list[np.ndarray], method: str = "pca", n_components: int = 2, seed: int = 0,
                   use_cache: bool = True, *, cache_dir: Path | str | None = None, **params: Any) -> list[np.ndarray]:
    """Project several snapshots of the same points (baseline, checkpoints..., final) into one space.

    The generalization of :func:`project_aligned`'s joint fit to any number of frames: one reducer is fitted
    on the distinct rows of all frames stacked, so a point whose embedding did not change between two
    frames (within 1e-6 per coordinate of the first frame) sits at exactly the same place in both, and a
    point that moved a little moves a little. Used to play training as an animation.

    Args:
        frames: (n, dim) arrays of the same n points in the same order, all of the same width.
        method, n_components, seed, use_cache, cache_dir, **params: as in :func:`project`.

    Returns:
        One float32 (n, n_components) array per frame.

    Raises:
        ValueError: fewer than one frame, different shapes, or as :func:`project`.
        DataError: as :func:`project`.
    """
    if not frames:
        raise ValueError("project_frames needs at least one frame")
    mats = [_as_matrix(f, f"frame {i}") for i, f in enumerate(frames)]
    if any(m.shape != mats[0].shape for m in mats):
        raise ValueError(f"all frames must have the same shape, got {[m.shape for m in mats]}")
    first = mats[0]
    mats = [first] + [np.where(np.all(np.abs(m - first) <= _SAME, axis=1, keepdims=True), first, m) for m in mats[1:]]
    key = _key(tuple(mats), method, n_components, seed, dict(params), f"frames{len(mats)}")
    n = len(first)

    def compute() -> tuple[np.ndarray, ...]:
        distinct, inverse = np.unique(np.vstack(mats), axis=0, return_inverse=True)
        resolved = _resolve(method, n_components, len(distinct), params)
        coords = _reduce(distinct, method, n_components, seed, resolved)[inverse.ravel()]
        return tuple(coords[i * n:(i + 1) * n] for i in range(len(mats)))

    return list(_cached(key, compute, use_cache, cache_dir))


def clear_memory_cache() -> None:
    """Forget in-memory projections (the disk cache stays)."""
    _MEMORY.clear()
