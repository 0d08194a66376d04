"""Page scaffolding: every page body runs inside :func:`page`, which turns user errors into messages.

An :class:`~explorer.errors.ExplorerError` (bad file, missing model, failed run) is drawn as ``st.error``
with its message, never a traceback; anything else is a bug and is shown as a short error with the
exception type (Streamlit's own traceback display is off in ``.streamlit/config.toml``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from explorer.errors import ExplorerError

log = logging.getLogger(__name__)


@contextmanager
def page(title: str, caption: str | None = None, *, sidebar: bool = True) -> Iterator[None]:
    """Draw the page title and the shared sidebar, then run the body, catching user errors.

    Args:
        title: the page heading.
        caption: one line under the heading saying what the page is for.
        sidebar: draw the workspace summary and the compact job panel in the sidebar.
    """
    from explorer.ui import state

    # Also set here, not only in app.py: with a pages/ folder next to app.py, Streamlit 1.67 runs a page
    # opened by its URL (/data ...) without the entry script, which would leave the layout centered.
    st.set_page_config(page_title=f"{title} · Embedding fine-tuning explorer", page_icon="🧭", layout="wide")
    st.title(title)
    if caption:
        st.caption(caption)
    state.show_flash()
    try:
        if sidebar:
            from explorer.ui.sidebar import draw_sidebar

            draw_sidebar()
        yield
    except ExplorerError as exc:
        st.error(str(exc), icon=":material/error:")
    except Exception as exc:  # a bug: say so briefly, keep the details in the server log
        if type(exc).__module__.startswith("streamlit"):  # st.rerun / st.switch_page / st.stop use exceptions
            raise
        log.exception("page %s failed", title)
        st.error(f"Something went wrong ({type(exc).__name__}: {exc}). The details are in the server log.",
                 icon=":material/bug_report:")


def need(condition: object, message: str, page_path: str | None = None, label: str | None = None) -> None:
    """Stop the page with an explanation (and a link to the page that fixes it) when ``condition`` is falsy."""
    if condition:
        return
    st.info(message, icon=":material/info:")
    if page_path:
        st.page_link(page_path, label=label or "Go there", icon=":material/arrow_forward:")
    st.stop()
