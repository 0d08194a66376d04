"""Data: choose a dataset (demo, upload, hub), see its statistics, mine and audit negatives."""

import streamlit as st

from explorer.ui import datasets, guard, negatives, text, training

with guard.page("Data", "Choose a dataset, check its statistics, and mine and audit training negatives."):
    dataset = datasets.current_with_picker()
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

    st.divider()
    st.subheader("Your own model")
    st.caption("Every page starts from the bundled MiniLM. The Train page's **Base model** picker takes another one, "
               "and the Metrics page compares several on this dataset:")
    training.own_model_note()
