"""The workspace rule of docs/architecture.md: no library function falls back to the server's settings for a visitor's data.

A function that works on a visitor's data takes the workspace's settings (or its paths) from its caller; where
a fallback is kept for the command line it goes through :func:`explorer.core.config.settings_for`, which raises in
public mode. The server's own settings (:func:`explorer.core.config.get_settings`) are read only for what is the
same for every visitor, in the places listed in :data:`SERVER_WIDE` with the reason. :func:`calls` finds
every call by parsing the code (docstrings and comments do not count), so a new fallback makes
:func:`test_get_settings_is_called_only_where_allowed` fail until it is removed or listed here with its reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from explorer.core.config import WorkspaceRequiredError, get_settings

ROOT = Path(__file__).resolve().parents[1]

SERVER_WIDE: dict[str, tuple[int, str]] = {
    "explorer/core/config.py": (1, "settings_for: the one gate of the command-line fallback, raising in public mode"),
    "explorer/workspace/__init__.py": (1, "server_settings: where all workspaces live; a visitor's are derived with "
                                 "Settings.for_workspace"),
    "explorer/encoders/base.py": (1, "the embedding cache is shared by every workspace (keyed by encoder and "
                                     "text hash)"),
    "explorer/encoders/hardware.py": (1, "device and bfloat16 describe the machine"),
    "explorer/encoders/registry.py": (1, "embedding cache folder, EXPLORER_ENCODER and bfloat16 are server-wide"),
    "explorer/commands/data.py": (2, "the command line runs as the owner of its machine, on its settings (load_data and data stats)"),
    "explorer/commands/evaluate.py": (1, "the command line runs as the owner of its machine, on its settings"),
    "explorer/commands/train.py": (1, "the command line runs as the owner of its machine, on its settings"),
}
"""File -> (calls of ``get_settings()`` allowed, why the setting read there is server-wide)."""

PENDING: dict[str, int] = {}
"""Calls not reviewed yet under this rule; the count may only go down."""


def calls(path: Path) -> int:
    """How many times a file calls ``get_settings`` (as a name or an attribute)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return sum(
        1 for node in ast.walk(tree)
        if isinstance(node, ast.Call) and (
            (isinstance(node.func, ast.Name) and node.func.id == "get_settings")
            or (isinstance(node.func, ast.Attribute) and node.func.attr == "get_settings"))
    )


def offenders(root: Path = ROOT) -> list[str]:
    """``file: n calls, m allowed`` for every file calling ``get_settings()`` more often than listed."""
    found = []
    files = [*(root / "explorer").rglob("*.py"), *(root / "pages").glob("*.py"), root / "app.py"]
    for path in sorted(p for p in files if p.is_file()):
        name = path.relative_to(root).as_posix()
        allowed = SERVER_WIDE.get(name, (PENDING.get(name, 0), ""))[0]
        n = calls(path)
        if n > allowed:
            found.append(f"{name}: {n} calls of get_settings(), {allowed} allowed")
    return found


def test_get_settings_is_called_only_where_allowed():
    assert offenders() == []


def test_the_ui_reads_settings_only_through_its_state_module():
    ui = [p for p in (ROOT / "explorer" / "ui").glob("*.py")] + list((ROOT / "pages").glob("*.py"))
    assert [p.name for p in ui if calls(p) or "get_settings" in p.read_text(encoding="utf-8")] == []


def test_the_checker_catches_a_planted_fallback(tmp_path):
    (tmp_path / "explorer" / "data").mkdir(parents=True)
    (tmp_path / "pages").mkdir()
    (tmp_path / "explorer" / "data" / "bad.py").write_text(
        '"""Mentions get_settings() in a docstring, which is fine."""\n'
        "from explorer import config\n\n"
        "def f(settings=None):\n    return settings or config.get_settings()\n")
    (tmp_path / "pages" / "ok.py").write_text("# get_settings() in a comment is fine\n")
    assert offenders(tmp_path) == ["explorer/data/bad.py: 1 calls of get_settings(), 0 allowed"]


# ----------------------------------------------------------------------- public mode, without a workspace
@pytest.fixture
def public(monkeypatch):
    monkeypatch.setenv("EXPLORER_PUBLIC", "1")


def test_dataset_limits_without_the_workspace_raise_in_public_mode(public):
    from explorer.data.limits import Limits, resolve_limits
    from explorer.data.validation import limit_bytes, read_source

    with pytest.raises(WorkspaceRequiredError):
        resolve_limits(None)
    with pytest.raises(WorkspaceRequiredError):
        limit_bytes()
    with pytest.raises(WorkspaceRequiredError):
        read_source(b"query,passage\n", "the upload")
    assert resolve_limits(Limits(max_queries=3)).max_queries == 3
    assert read_source(b"abc", "the upload", 10) == b"abc"


def test_dataset_limits_fall_back_to_the_local_settings_locally():
    from explorer.data.limits import resolve_limits

    assert resolve_limits(None).max_passages == get_settings().max_passages


def test_run_ids_are_found_only_in_the_given_workspace(public):
    from explorer.encoders.registry import clear_cache, load_encoder
    from explorer.workspace import new_workspace_id, open_workspace

    server_run = get_settings().runs_dir / "r1"  # a run in the server's own folder must stay out of reach
    server_run.mkdir(parents=True)
    (server_run / "config.json").write_text('{"base_model": "fake"}')
    (server_run / "adapter").mkdir()
    clear_cache()
    with pytest.raises(WorkspaceRequiredError):
        load_encoder("run:r1")
    ws = open_workspace(new_workspace_id())
    with pytest.raises(Exception, match="no training run 'r1'"):
        load_encoder("run:r1", settings=ws.settings)
    assert load_encoder("fake").dim == 64  # server-wide specs need no workspace
