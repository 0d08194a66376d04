"""The app's page list (one place, so app.py stays a few lines)."""

from __future__ import annotations

import streamlit as st

PAGES = [
    ("pages/home.py", "Home", ":material/home:", True),
    ("pages/data.py", "Data", ":material/dataset:", False),
    ("pages/train.py", "Train", ":material/model_training:", False),
    ("pages/latent.py", "Latent space", ":material/scatter_plot:", False),
    ("pages/similarity.py", "Similarity", ":material/stacked_line_chart:", False),
    ("pages/metrics.py", "Metrics", ":material/leaderboard:", False),
    ("pages/inspect.py", "Inspect", ":material/compare_arrows:", False),
    ("pages/search.py", "Search", ":material/search:", False),
]


def build_navigation():
    """An ``st.navigation`` over the pages in :data:`PAGES`."""
    pages = [
        st.Page(path, title=title, icon=icon, default=default, url_path=None if default else path.split("/")[-1][:-3])
        for path, title, icon, default in PAGES
    ]
    return st.navigation(pages)
