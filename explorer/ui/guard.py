"""Page scaffolding: every page body runs inside :func:`page`, which turns user errors into messages.

An :class:`~explorer.core.errors.ExplorerError` (bad file, missing model, failed run) is drawn as ``st.error``
with its message, never a traceback; anything else is a bug and is shown as a short error with the
exception type (Streamlit's own traceback display is off in ``.streamlit/config.toml``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from explorer.core.errors import ExplorerError
from explorer.ui import state, text
from explorer.ui.sidebar import draw_sidebar

log = logging.getLogger(__name__)


@contextmanager
def page(title: str, caption: str | None = None, *, sidebar: bool = True) -> Iterator[None]:
    """Draw the page title and the shared sidebar, then run the body, catching user errors.

    Args:
        title: the page heading.
        caption: one line under the heading saying what the page is for.
        sidebar: draw the workspace summary and the compact job panel in the sidebar.
    """
    # Also set here, not only in app.py: with a pages/ folder next to app.py, Streamlit 1.67 runs a page
    # opened by its URL (/data ...) without the entry script, which would leave the layout centered.
    st.set_page_config(page_title=f"{title} · Embedding fine-tuning explorer", page_icon="🧭", layout="wide")
    st.title(title)
    if caption:
        st.caption(caption)
    state.show_flash()
    # The sidebar runs before the ``yield``: an error there must stop the page with its message, not return
    # from this generator without yielding (which Streamlit shows as "generator didn't yield").
    if sidebar:
        try:
            draw_sidebar()
        except Exception as exc:
            show_error(exc, title)
            st.stop()
    try:
        yield
    except Exception as exc:
        show_error(exc, title)


def show_error(exc: Exception, title: str) -> None:
    """Draw ``exc`` as a message (re-raising Streamlit's own control-flow exceptions).

    The message is shown as plain text (it may quote a file name or a line of the visitor's data) and, in
    public mode, without server paths.
    """
    if not isinstance(exc, ExplorerError) and type(exc).__module__.startswith("streamlit"):
        raise exc  # st.rerun / st.switch_page / st.stop use exceptions
    folder = _workspace_folder()
    if isinstance(exc, ExplorerError):
        st.error(text.message(exc, folder), icon=":material/error:")
        return
    # A bug: say so briefly, keep the details in the server log.
    log.exception("page %s failed", title, exc_info=exc)
    st.error(f"Something went wrong ({type(exc).__name__}: {text.message(exc, folder)}). The details are in the "
             "server log.", icon=":material/bug_report:")


def _workspace_folder() -> object:
    # Only to shorten paths in messages: the folder is known even when the workspace cannot be created.
    try:
        return state.workspace_folder()
    except Exception:  # the error being shown may be about the workspace itself
        return None


def need(condition: object, message: str, page_path: str | None = None, label: str | None = None) -> None:
    """Stop the page with an explanation (and a link to the page that fixes it) when ``condition`` is falsy."""
    if condition:
        return
    st.info(message, icon=":material/info:")
    if page_path:
        st.page_link(page_path, label=label or "Go there", icon=":material/arrow_forward:")
    st.stop()
