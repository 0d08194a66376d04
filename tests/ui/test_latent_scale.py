"""The Latent page at corpus scale: 20,000 points in 2D drawn with WebGL, the animation included; caps said."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explorer.ui import latent, latent_charts


def _points(n_passages: int, n_queries: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    ids = [f"q{i}" for i in range(n_queries)] + [f"p{i}" for i in range(n_passages)]
    kinds = ["query"] * n_queries + ["passage"] * n_passages
    frames = []
    for stage in ("before", "after"):
        frames.append(pd.DataFrame({"id": ids, "kind": kinds, "stage": stage, "text": ids, "grade": np.nan,
                                    "change": "", "x": rng.normal(size=len(ids)), "y": rng.normal(size=len(ids))}))
    return pd.concat(frames, ignore_index=True)


def _marker_points(traces) -> int:
    return sum(len(t.x) for t in traces if t.mode == "markers")


def test_20000_points_animate_in_webgl():
    fig = latent_charts.animated(_points(20_000), [], "kind", 2, "pca")
    assert {type(t) for t in fig.data} == {go.Scattergl}
    assert all(isinstance(t, go.Scattergl) for f in fig.frames for t in f.data)
    assert _marker_points(fig.data) == 20_030 and [_marker_points(f.data) for f in fig.frames] == [20_030] * 2
    play = fig.layout.updatemenus[0].buttons[0].args[1]
    assert play["frame"]["redraw"] is True  # WebGL frames are drawn anew


def test_a_small_animation_keeps_smooth_svg_motion():
    fig = latent_charts.animated(_points(500), [], "kind", 2, "pca")
    assert {type(t) for t in fig.data} == {go.Scatter}
    assert fig.layout.updatemenus[0].buttons[0].args[1]["frame"]["redraw"] is False


def test_side_by_side_draws_20000_points_per_model():
    fig = latent_charts.side_by_side(_points(20_000), [], "kind", 2, "pca", set(), ("A", "B"))
    assert all(isinstance(t, go.Scattergl) for t in fig.data) and _marker_points(fig.data) == 2 * 20_030


def test_passage_caps_say_why():
    assert latent.passage_cap("pca", 2, 50_000) == (50_000, "")
    assert latent.passage_cap("umap", 2, 20_000) == (20_000, "")
    cap, note = latent.passage_cap("tsne", 2, 20_000)
    assert cap == 5000 and "t-SNE runs on a sample only" in note
    cap, note = latent.passage_cap("pca", 3, 50_000)
    assert cap == latent.MAX_3D_POINTS and "3D" in note
    assert latent.passage_cap("tsne", 3, 2000) == (2000, "")
