"""User text in Streamlit elements that render markdown: shown as typed, never interpreted.

``st.markdown``, ``st.caption``, ``st.subheader``, ``st.error`` and friends, ``st.metric`` labels and values,
``st.spinner``, ``st.toast``, ``st.status`` and ``st.expander`` labels all render their text as markdown.
Streamlit 1.67 has no function that escapes markdown, so a dataset named ``[x](http://evil)`` would become
a link there. :func:`plain` escapes such text; :func:`message` also hides server paths in public mode.
Long user texts (passages) go into ``st.text`` or a dataframe instead, which never interpret anything.
"""

from __future__ import annotations

import re

from explorer.core.messages import public_message
from explorer.ui import state

# Characters with a meaning anywhere in a line, in CommonMark/GFM or in Streamlit's own extensions:
# links and images ([ ] ( ) !), emphasis (* _ ~), code (`), raw HTML and autolinks (< >), tables (|),
# LaTeX ($), colour and icon directives (: [ ]), GFM autolink literals ("http://", "www.", "a@b.c": ":" "." "@"
# are escaped so the literal never appears), character references (&), and the escape itself (\).
_INLINE = re.compile(r"([\\`*_{}\[\]()<>#|~$:!&@])")
_DOT_AFTER_WWW = re.compile(r"(?i)(www)\.")


def plain(text: object) -> str:
    """``text`` escaped so that every markdown renderer of Streamlit shows it literally.

    Every ASCII punctuation character may be backslash-escaped in CommonMark, so the escaped text renders
    as exactly the original characters. Line breaks become spaces: user text shown inline (a name, a
    message) should not open a new block.
    """
    flat = " ".join(str(text).splitlines())
    escaped = _INLINE.sub(r"\\\1", flat)
    escaped = _DOT_AFTER_WWW.sub(r"\1\\.", escaped)
    return _escape_line_start(escaped)


def _escape_line_start(text: str) -> str:
    # After flattening there is one line: a leading "-", "+", "=", ">" or "1." would start a block.
    stripped = text.lstrip()
    lead = text[: len(text) - len(stripped)]
    if stripped[:1] in {"-", "+", "=", ">"}:
        return f"{lead}\\{stripped}"
    digits = re.match(r"\d+(?=[.)])", stripped)
    if digits:
        end = digits.end()
        return f"{lead}{stripped[:end]}\\{stripped[end:]}"
    return text


def message(text: object, workspace_folder: object = None) -> str:
    """A message (an error's text, a run's failure) ready for ``st.error``: paths hidden, markdown escaped.

    Args:
        text: the message.
        workspace_folder: the visitor's workspace; in public mode paths inside it are shown relative to it
            and any other absolute path by its last part (locally the owner sees full paths).
    """
    return plain(redact(text, workspace_folder))


def redact(text: object, workspace_folder: object = None) -> str:
    """``text`` without server paths in public mode (for plain-text sinks such as dataframe cells).

    Public or not is the server's setting (:func:`explorer.ui.state.server_settings`): every visitor of a
    public server gets redacted messages."""
    shown = str(text)
    return public_message(shown, workspace_folder) if state.server_settings().public else shown
