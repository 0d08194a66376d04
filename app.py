"""Entry point: ``streamlit run app.py``. Builds the navigation; every page lives in ``pages/``."""

import streamlit as st

from explorer.ui import datasets, warmup
from explorer.ui.navigation import build_navigation

st.set_page_config(page_title="Embedding fine-tuning explorer", page_icon="🧭", layout="wide")
datasets.apply_upload_cap()  # Streamlit's upload cap is the settings' (200 MB locally, 25 MB public)
warmup.start()  # heavy imports in a background thread, once per server, so no page pays them on first visit
build_navigation().run()
