"""The one-click demo: bundled dataset -> baseline -> background fine-tune -> comparison page.

Each step draws its own progress inside one ``st.status`` box; the training then runs in the job manager's
thread and :func:`explorer.ui.jobs.job_panel` follows it and switches to the Metrics page when it is done.
"""

from __future__ import annotations

import streamlit as st

from explorer import pipeline
from explorer.data.demo_embeddings import seed_demo_embeddings
from explorer.ui import state
from explorer.workspace import DatasetChoice

DEMO_CHOICE = DatasetChoice(spec="demo", name="Demo (bundled)")


def stage_progress(bar, label: str):
    """A ``progress(stage, done, total)`` callback that drives one ``st.progress`` bar."""

    def report(stage: str, done: int, total: int) -> None:
        bar.progress(min(1.0, done / total) if total else 0.0, text=f"{label}: {stage} {done:,}/{total:,}")

    return report


def run_demo(method: str) -> str:
    """Load the demo, compute the baseline, submit the fine-tune; returns the job id."""
    ws = state.workspace()
    with st.status("Running the demo…", expanded=True) as status:
        st.write("1/3 Loading the bundled demo dataset")
        ws.set_dataset_choice(DEMO_CHOICE)
        dataset = state.current_dataset(ws)
        st.write(f"  {dataset.summary()}")
        encoder = state.base_encoder()
        shipped = seed_demo_embeddings(encoder)
        st.write("2/3 Evaluating the baseline encoder" + (f" (its {shipped:,} demo embeddings ship precomputed)"
                                                          if shipped else ": embedding the corpus"))
        bar = st.progress(0.0)
        baseline = state.baseline_result(dataset, encoder, progress=stage_progress(bar, "baseline"))
        bar.progress(1.0, text=f"baseline NDCG@10 = {baseline.metrics['ndcg@10']:.3f}")
        st.write(f"3/3 Starting the {method} training in the background")
        job_id = pipeline.start_training(state.job_manager(), ws, DEMO_CHOICE, pipeline.demo_config(method))
        status.update(label="Demo started: training in the background", state="complete", expanded=False)
    st.session_state["_follow_job"] = job_id
    return job_id

