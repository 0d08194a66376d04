"""Home: what the tool does, the workspace at a glance, and the one-click demo."""

import streamlit as st

from explorer.ui import guard, state, text
from explorer.ui.demo import run_demo
from explorer.ui.jobs import job_panel

with guard.page("Embedding fine-tuning explorer"):
    st.markdown(
        "Load a search dataset of queries and passages, then fine-tune a sentence encoder (or train a small "
        "adapter on frozen embeddings) in the background. **See what changed**: the latent space before and "
        "after, similarity distributions, ranking metrics with confidence intervals, and rankings side by side."
    )
    ws = state.workspace()
    choice = ws.dataset_choice()
    runs = state.runs(ws)
    c1, c2, c3 = st.columns(3)
    c1.metric("Dataset", text.message(choice.name or choice.spec, ws.folder) if choice else "none")  # user text
    c2.metric("Finished runs", sum(r.status == "succeeded" for r in runs))
    c3.metric("Runs in total", len(runs))

    st.subheader("One-click demo")
    st.write("Loads the bundled demo, evaluates the baseline encoder, fine-tunes it in the background and "
             "opens the comparison when training is done.")
    method = st.radio("Training method", ["full", "adapter"], horizontal=True, key="demo_method",
                      format_func={"full": "Full fine-tune (best, slower)", "adapter": "Adapter (fast)"}.get,
                      help="A full fine-tune updates the encoder's own weights (by default its top three layers, "
                           "over a frozen bottom computed once); an adapter learns one linear map on top of "
                           "frozen embeddings, which trains in seconds.")
    if st.button("Run the demo", type="primary", icon=":material/play_arrow:", key="run_demo"):
        st.session_state["demo_job"] = run_demo(method)
        st.rerun()  # the counters above and the sidebar were drawn before the demo loaded its dataset
    job = st.session_state.get("demo_job")
    if job:
        job_panel(job, on_done="pages/metrics.py")

    st.subheader("Or step by step")
    for path, label in [("pages/data.py", "1. Load a dataset and audit negatives"), ("pages/train.py", "2. Train"),
                        ("pages/metrics.py", "3. Compare metrics"), ("pages/latent.py", "4. Explore the latent space")]:
        st.page_link(path, label=label)
