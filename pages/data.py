"""Data: choose a dataset (demo, upload, hub), see its statistics, mine and audit negatives."""

import streamlit as st

from explorer.ui import datasets, guard, negatives, state, text
from explorer.workspace import DatasetChoice

with guard.page("Data", "Choose a dataset, check its statistics, and mine and audit training negatives."):
    source = st.radio("Source", ["Bundled demo", "Upload a file", "Hugging Face hub"], horizontal=True,
                      key="data_source", help="The demo is a small graded dataset shipped with the app.")
    if source == "Bundled demo":
        frac, seed = datasets.split_widgets("demo")
        if st.button("Use the demo dataset", type="primary", key="use_demo"):
            datasets.choose(DatasetChoice(spec="demo", name="Demo (bundled)", test_fraction=frac, seed=seed))
    elif source == "Upload a file":
        datasets.upload_section()
    else:
        name = st.text_input("Dataset name", placeholder="e.g. sentence-transformers/natural-questions", key="hub_name",
                             help="Needs internet access from the server; the offline demo always works.")
        frac, seed = datasets.split_widgets("hub")
        if st.button("Load from the hub", key="load_hub", disabled=not name):
            datasets.choose(DatasetChoice(spec=f"hf:{name}", name=name, test_fraction=frac, seed=seed))

    dataset = state.current_dataset()
    guard.need(dataset, "No dataset yet: pick the demo or upload a file above.")
    st.divider()
    st.subheader("Statistics: " + text.plain(dataset.name))
    datasets.statistics(dataset)

    st.divider()
    st.subheader("Negatives")
    st.caption("Training contrasts each relevant passage with negatives. Hard negatives (ranked high but not "
               "judged relevant) teach the most, but some are unjudged relevant passages: review and exclude them.")
    negatives.mining_form(dataset)
    negatives.audit_table()
