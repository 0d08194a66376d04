"""The app's page list (one place, so app.py stays a few lines)."""

from __future__ import annotations

import streamlit as st

PAGES = [
    ("pages/home.py", "Home", ":material/home:", True),
]


def build_navigation():
    """An ``st.navigation`` over the pages in :data:`PAGES`."""
    pages = [st.Page(path, title=title, icon=icon, default=default) for path, title, icon, default in PAGES]
    return st.navigation(pages)
