"""Workspace ids the server issued, and the check that a visitor's link names one.

In public mode the workspace id in the page URL (``?ws=``) is the key to a visitor's data. An id is
``<random>-<tag>``: 16 random hex digits and the first 16 hex digits of their HMAC-SHA256 under a key only
the server knows. A link is accepted only when its id has this form, its tag verifies, and its folder exists
(so an expired workspace is never recreated from an old link). Nobody can choose an id, guess one, or mint
one that the server will accept, and a link with any other id gets a fresh workspace instead.

The key comes from ``EXPLORER_WORKSPACE_KEY`` when set, otherwise from ``<home>/.workspace_key``, created
once (random, owner-only permissions) so ids survive a server restart.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from explorer.core.config import Settings
from explorer.core.errors import StorageError

KEY_FILE = ".workspace_key"
ID_PATTERN = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16})$")


def _key(settings: Settings) -> bytes:
    try:
        return _read_or_create_key(settings)
    except OSError as exc:
        raise StorageError(
            f"Cannot create a workspace: the server's storage is not writable ({exc.strerror or exc}). "
            "Try again later."
        ) from exc


def _read_or_create_key(settings: Settings) -> bytes:
    env = os.environ.get("EXPLORER_WORKSPACE_KEY")
    if env:
        return env.encode("utf-8")
    path = settings.home / KEY_FILE
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (FileNotFoundError, ValueError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{KEY_FILE}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secrets.token_hex(32))
    try:
        # link, not rename: when two sessions race, the first key written wins and both read it back.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


def _tag(random_part: str, settings: Settings) -> str:
    return hmac.new(_key(settings), random_part.encode("ascii"), hashlib.sha256).hexdigest()[:16]


def issue_workspace_id(settings: Settings) -> str:
    """A fresh workspace id signed by this server (letters, digits and one dash).

    Args:
        settings: the server-wide settings (their ``home`` holds the key file).
    """
    random_part = secrets.token_hex(8)
    return f"{random_part}-{_tag(random_part, settings)}"


def is_issued(workspace_id: object, settings: Settings) -> bool:
    """Whether ``workspace_id`` has the issued form and a valid tag (its folder may not exist any more)."""
    match = ID_PATTERN.match(str(workspace_id)) if isinstance(workspace_id, str) else None
    if not match:
        return False
    return hmac.compare_digest(match.group(2), _tag(match.group(1), settings))


def workspace_folder(workspace_id: str, settings: Settings) -> Path:
    """Where the workspace ``workspace_id`` lives (see :meth:`Settings.for_workspace`)."""
    return settings.for_workspace(workspace_id).home


def is_open_workspace(workspace_id: object, settings: Settings) -> bool:
    """Whether a visitor's link may open ``workspace_id``: issued by this server and still on disk."""
    return is_issued(workspace_id, settings) and workspace_folder(str(workspace_id), settings).is_dir()
