"""Messages fit to show a visitor: server paths replaced by names relative to the visitor's workspace.

Library errors name the files they are about with full paths, which is what a user of the CLI on their own
machine needs. On a public server the same message would show every visitor where the server keeps its
files (and, for a message about a shared folder, other visitors' workspace ids). :func:`public_message`
rewrites a message before it is shown: a path inside the visitor's workspace becomes relative to it
(``runs/abc/status.json``), any other absolute path becomes its last part (``cache``).
"""

from __future__ import annotations

import re
from pathlib import Path

# An absolute POSIX path: a "/" not preceded by a word character, "/", ":" or "." (so "owner/name", "1/3",
# "it/s" and URLs such as "https://host/x" are left alone), then path characters.
_PATH_CHARS = r"[\w.@+=%~-]"
ABSOLUTE_PATH = re.compile(rf"(?<![\w:/.\\-])/{_PATH_CHARS}+(?:/{_PATH_CHARS}*)*")


def public_message(message: str, workspace_folder: Path | str | None = None) -> str:
    """``message`` with every absolute path shortened so it reveals nothing about the server's file system.

    Args:
        message: a message meant for the user (an exception's text, a run's error).
        workspace_folder: the visitor's workspace; paths inside it are shown relative to it.

    Returns:
        The message with paths in the workspace made relative (the workspace itself is called "(your
        workspace)") and any other absolute path reduced to its last part.
    """
    root = str(workspace_folder).rstrip("/") if workspace_folder else None

    def shorten(match: re.Match[str]) -> str:
        path = match.group(0)
        if root and (path == root or path.startswith(root + "/")):
            relative = path[len(root):].lstrip("/")
            return relative or "(your workspace)"
        name = path.rstrip("/").rsplit("/", 1)[-1]
        return name or "/"

    return ABSOLUTE_PATH.sub(shorten, str(message))
