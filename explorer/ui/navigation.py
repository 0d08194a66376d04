"""The app's page list (one place, so app.py stays a few lines) and the sidebar links to the pages.

Streamlit's own sidebar page list is hidden (``position="hidden"``) and drawn here with ``st.page_link``
instead: in Streamlit 1.67, with a ``pages/`` folder next to ``app.py``, every ``run_every`` fragment rerun
replaces the built-in list by one generated from the file names ("app", "data", ...); links drawn by the
page itself are not touched by fragment reruns.
"""

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


def url_path(path: str) -> str:
    """The URL of a page: ``/`` for Home, else the file name (``/data``, ``/metrics`` ...)."""
    return path.split("/")[-1][:-3]


def build_navigation():
    """An ``st.navigation`` over the pages in :data:`PAGES` (its own menu hidden, see :func:`page_links`)."""
    pages = [
        st.Page(path, title=title, icon=icon, default=default, url_path=None if default else url_path(path))
        for path, title, icon, default in PAGES
    ]
    return st.navigation(pages, position="hidden")


def page_links() -> None:
    """The page menu, one ``st.page_link`` per page (call inside ``st.sidebar``)."""
    for path, title, icon, _ in PAGES:
        st.page_link(path, label=title, icon=icon)
