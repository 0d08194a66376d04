"""Home: what the tool does."""

import streamlit as st

st.title("Embedding fine-tuning explorer")
st.write("Load a search dataset, fine-tune an encoder, and see what changed.")
