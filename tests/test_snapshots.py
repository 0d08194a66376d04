"""Training snapshots: the fixed sample, frames written and read back in order, bounded, atomic."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.latent.snapshots import MAX_POINTS, SnapshotStore, snapshot_points
from tests.training.conftest import tiny_dataset


def test_sample_is_fixed_bounded_and_holds_each_querys_relevant_passages():
    ds = tiny_dataset()
    qids, pids = snapshot_points(ds, max_queries=3, max_points=10, seed=1)
    assert (qids, pids) == snapshot_points(ds, max_queries=3, max_points=10, seed=1)
    assert len(qids) == 3 and len(qids) + len(pids) <= 10
    assert set(qids) <= set(ds.query_ids("test"))
    for q in qids:
        assert {p for p, g in ds.qrels[q].items() if g > 0} <= set(pids)
    with pytest.raises(ValueError):
        snapshot_points(ds, max_queries=5, max_points=5)


def test_frames_round_trip_in_order(tmp_path):
    store = SnapshotStore(tmp_path)
    assert store.points() is None and store.frames() == []
    store.start(["q1", "q2"], ["p1", "p2", "p3"])
    rng = np.random.default_rng(0)
    vectors = [rng.standard_normal((5, 8)).astype(np.float32) for _ in range(3)]
    for step, (label, v) in enumerate(zip(["baseline", "step 10", "final"], vectors)):
        store.add(step * 10, label, v, {"ndcg@10": 0.5 + step / 10})
    frames = store.frames()
    assert [f.label for f in frames] == ["baseline", "step 10", "final"]
    assert [f.step for f in frames] == [0, 10, 20] and frames[2].metrics == {"ndcg@10": 0.7}
    assert np.allclose(frames[1].vectors, vectors[1], atol=1e-2)  # float16 on disk
    assert not list((tmp_path / "snapshots").glob("*.tmp"))
    with pytest.raises(ValueError, match="expected 5 vectors"):
        store.add(30, "bad", vectors[0][:4])


def test_a_full_frame_of_minilm_width_stays_under_256_kb(tmp_path):
    store = SnapshotStore(tmp_path)
    store.start([f"q{i}" for i in range(60)], [f"p{i}" for i in range(MAX_POINTS - 60)])
    store.add(0, "baseline", np.ones((MAX_POINTS, 384), dtype=np.float32))
    (frame,) = (tmp_path / "snapshots").glob("*.npy")
    assert frame.stat().st_size < 256 * 1024


def test_training_frames_put_every_snapshot_in_one_space_and_play_in_order(tmp_path):
    from explorer.encoders.fake import FakeEncoder
    from explorer.pipeline.views import training_frames
    from explorer.ui.latent_charts import training_animation

    ds = tiny_dataset()
    assert training_frames(tmp_path, ds) is None  # no snapshots yet
    qids, pids = snapshot_points(ds, max_queries=4, max_points=16)
    texts = [ds.queries[q] for q in qids] + ds.passage_texts(pids)
    store = SnapshotStore(tmp_path)
    store.start(qids, pids)
    base = FakeEncoder(dim=32, seed=1).encode(texts, "passage")
    moved = base.copy()
    moved[: len(qids)] = FakeEncoder(dim=32, seed=2).encode(texts[: len(qids)], "query")  # only queries move
    store.add(0, "baseline", base, {"ndcg@10": 0.4})
    store.add(5, "step 5", moved, {"ndcg@10": 0.5})
    store.add(9, "final", moved, {"ndcg@10": 0.55})
    tf = training_frames(tmp_path, ds, method="pca")
    assert [f["label"] for f in tf.frames] == ["baseline", "step 5", "final"]
    xy = {i: tf.points[tf.points["frame"] == i][["x", "y"]].to_numpy() for i in range(3)}
    n_q = len(qids)
    assert np.array_equal(xy[0][n_q:], xy[1][n_q:])  # passages did not move: same place in every frame
    assert np.array_equal(xy[1], xy[2])
    fig = training_animation(tf, "kind", 2, "pca")
    assert [f.name for f in fig.frames] == ["0", "1", "2"]
    labels = [s["label"] for s in fig.layout.sliders[0]["steps"]]
    assert labels == ["baseline · NDCG@10 0.400", "step 5 · sample NDCG@10 0.500", "final · NDCG@10 0.550"]
