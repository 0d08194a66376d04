"""Train: pick the base model, configure and start a background fine-tune, follow it live, list past runs."""

import streamlit as st

from explorer.ui import curve, guard, jobs, state, training

with guard.page("Train", "Fine-tune the encoder (or an adapter) in the background; keep exploring meanwhile."):
    ws = state.workspace()
    choice = ws.dataset_choice()
    guard.need(choice, "Choose a dataset first.", "pages/data.py", "Open the Data page")
    training.data_shape_panel(state.current_dataset(ws))
    base = training.base_model_picker()
    confirmed = base is not None and training.cost_confirmed(base, state.current_dataset(ws))
    params = training.training_form()
    if params and base is None:
        st.error("Pick a usable base model above first.")
    elif params and not confirmed:
        st.error("Confirm the API cost above (or pick another model) to start.")
    elif params:
        with st.spinner("Submitting the job…"):
            job_id = training.start_job({**params, "base_model": base.spec}, base.api_key)
        st.session_state["train_job"] = job_id
        st.toast("Training started. You can switch pages; progress stays in the sidebar.")
    active = jobs.active_job_ids()
    followed = st.session_state.get("train_job")
    for job_id in dict.fromkeys(([followed] if followed else []) + active):
        jobs.job_panel(job_id)
    curve.section()

    st.subheader("Runs")
    runs = state.runs(ws)
    if not runs:
        st.info("No runs yet: start one above (or run the demo on the Home page).")
    else:
        training.runs_table(runs)
