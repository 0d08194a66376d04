"""Watching the model learn: a run's training snapshots played on the Latent page, and "so far" metrics.

While a job trains, each held-out evaluation stores a frame (:mod:`explorer.latent.snapshots`); the Latent page plays
the frames in one aligned space, baseline first and final model last, and the Metrics page shows the latest
held-out numbers, labelled as a sample. Both poll only while the workspace has an active job, and only at a
slow pace, so the server's two CPUs stay with the training (the figure is rebuilt only when a new frame lands).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from explorer import pipeline
from explorer.core.errors import StorageError
from explorer.ui import charts, latent_charts, state

ACTIVE = ("queued", "running")
LIVE_EVERY = 10.0
"""Seconds between two looks at a running job's snapshots (a frame lands every 30 s at the earliest)."""


def _active(ws: Any) -> list[Any]:
    return [v for v in pipeline.workspace_jobs(state.job_manager(), ws) if v.status in ACTIVE]


def _frames_stamp(folder: Path) -> int:
    """When the run's snapshot index last changed (a cheap stat): part of the figure's cache key, so a new
    frame rebuilds the figure and nothing else does."""
    try:
        return int((folder / "snapshots" / "index.json").stat().st_mtime_ns)
    except OSError:
        return 0


@st.cache_resource(max_entries=4, show_spinner=False)
def _frames(folder: str, stamp: int, method: str, dims: int, ds_fp: str, _dataset: Any) -> Any:
    return pipeline.training_frames(Path(folder), _dataset, method=method, n_components=dims,
                                    cache_dir=state.workspace().settings.projection_cache_dir)


def section(m: Any, method: str, dims: int) -> None:
    """The Latent page's "Watching the model learn" section for the running job, else for model B's run."""
    ws = state.workspace()
    active = _active(ws)
    run_id = active[0].run_id if active else (m.run_id or None)
    if not run_id:
        return
    with st.expander("Watching the model learn", expanded=bool(active), icon=":material/play_circle:"):
        if active:
            st.caption("Live while the job trains: a new frame appears at each held-out evaluation (PCA, so each "
                       "new frame is placed at once).")
            _live(run_id, dims)
        else:
            _body(run_id, method, dims)


def _body(run_id: str, method: str, dims: int) -> None:
    ws = state.workspace()
    try:
        folder = pipeline.run_folder(ws, run_id)
    except StorageError:
        st.caption("The job has not created its run folder yet.")
        return
    dataset = state.current_dataset(ws)
    tf = _frames(str(folder), _frames_stamp(folder), method, dims, dataset.fingerprint(), dataset)
    if tf is None:
        st.caption("No snapshots yet: the first is the baseline, taken when training starts.")
        return
    st.plotly_chart(latent_charts.training_animation(tf, "kind", dims, method), key="learning_chart",
                    config=charts.png_config("training_frames"))
    table = pd.DataFrame([{"frame": latent_charts.frame_label(f).split(" · ")[0], "step": f["step"],
                           "NDCG@10": f.get("ndcg@10"), "measured on": "held-out sample"
                           if f["label"].startswith("step") else "whole test split"} for f in tf.frames])
    st.dataframe(table.round({"NDCG@10": 3}), hide_index=True, key="learning_frames")
    n_q = int((tf.points["kind"] == "query").sum() // max(1, len(tf.frames)))
    st.caption(f"A fixed sample of {n_q} test queries and their passages, at every held-out evaluation, in one "
               "jointly fitted space: a point that did not move between two frames stays in place.")


@st.fragment(run_every=LIVE_EVERY)
def _live(run_id: str, dims: int) -> None:
    _body(run_id, "pca", dims)
    if not _active(state.workspace()):
        st.rerun()  # the job ended: draw the finished run's section (and stop polling)


def so_far() -> None:
    """On the Metrics page while a job trains: its latest held-out numbers, clearly labelled as a sample."""
    if _active(state.workspace()):
        _live_so_far()


@st.fragment(run_every=LIVE_EVERY)
def _live_so_far() -> None:
    active = _active(state.workspace())
    if not active:
        st.rerun()
    view = active[0]
    rows = [e for e in view.evals if any(k.endswith("ndcg@10") for k in e)]
    if not rows:
        st.info(f"Training `{view.run_id}`: the first held-out evaluation comes about 30 s into training.",
                icon=":material/hourglass_top:")
        return
    first, last = rows[0], rows[-1]
    key = next(k for k in last if k.endswith("ndcg@10"))
    st.info(f"So far (training `{view.run_id}`, step {last['step']}): NDCG@10 {last[key]:.3f} on the held-out sample "
            f"(was {first[key]:.3f} at step {first['step']}). A sample of the test queries, evaluated during "
            "training, not the final evaluation: that appears here when the job ends.", icon=":material/trending_up:")
