"""Server warm-up: import the heavy libraries once, in a background thread, right after the server starts.

Without it, the *first* visit of each page paid for its imports (pandas, plotly, ranx, scikit-learn, torch,
sentence-transformers: several seconds on 2 CPUs), which is what made page switches slow while a training
job ran. The home page still paints first: the thread waits ``delay`` seconds before importing, and it only
imports modules (no Streamlit calls from the thread, no models loaded, nothing a page depends on).
"""

from __future__ import annotations

import importlib
import logging
import threading
import time

import streamlit as st

from explorer.ui import state

log = logging.getLogger(__name__)

MODULES = (
    "pandas", "plotly.graph_objects", "plotly.express", "numpy", "scipy.stats", "ranx", "sklearn.decomposition",
    "torch", "transformers", "sentence_transformers", "explorer.evaluation.retrieval", "explorer.evaluation.compare",
    "explorer.latent.projection", "explorer.pipeline",
)


def _import_all(delay: float, modules: tuple[str, ...]) -> None:
    time.sleep(delay)
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a module that fails here fails again, with its message, where used
            log.debug("warm-up import of %s failed", name, exc_info=True)


def start() -> threading.Thread | None:
    """Start the warm-up thread once per server process, after ``Settings.warmup_delay`` seconds
    (``EXPLORER_WARMUP``, a server-wide setting: one warm-up per process); None when the warm-up is off."""
    delay = state.server_settings().warmup_delay
    return None if delay is None else _start(delay, MODULES)


@st.cache_resource(show_spinner=False)
def _start(delay: float, modules: tuple[str, ...]) -> threading.Thread:
    thread = threading.Thread(target=_import_all, args=(delay, modules), name="explorer-warmup", daemon=True)
    thread.start()
    return thread
