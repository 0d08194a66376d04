"""The one-click demo: bundled dataset -> background job (baseline, mining, fine-tune, evaluation) -> Metrics.

The click only chooses the dataset and submits the job, so it returns in about a second and a visitor who
switches pages at once does not interrupt anything: the job evaluates the baseline itself (the demo's
baseline embeddings ship with it), and :func:`explorer.ui.jobs.job_panel` follows it and switches to the
Metrics page when it is done.
"""

from __future__ import annotations

import streamlit as st

from explorer import pipeline
from explorer.ui import state
from explorer.workspace import DatasetChoice

DEMO_CHOICE = DatasetChoice(spec="demo", name="Demo (bundled)")


def run_demo(method: str) -> str:
    """Choose the bundled demo dataset and submit its fine-tune; returns the job id."""
    ws = state.workspace()
    with st.status("Starting the demo…", expanded=True) as status:
        ws.set_dataset_choice(DEMO_CHOICE)
        dataset = state.current_dataset(ws)
        st.write(f"Dataset: {dataset.summary()}")
        job_id = pipeline.start_training(state.job_manager(), ws, dataset, pipeline.demo_config(method))
        status.update(label=f"Demo started: the {method} training runs in the background (baseline first)",
                      state="complete", expanded=False)
    st.session_state["_follow_job"] = job_id
    return job_id
