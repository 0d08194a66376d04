"""Public mode: a ``?ws=`` link opens a workspace only when this server issued its id and it still exists.

Driven through the real app (AppTest): a visitor following a link with an id someone chose, guessed or
forged lands in a fresh workspace of their own, and no folder is created for the id in the link.
"""

from __future__ import annotations

import shutil

import pytest

from explorer.core.config import get_settings
from explorer.workspace.ids import is_issued, is_open_workspace, issue_workspace_id, workspace_folder
from tests.ui.conftest import app, problems


@pytest.fixture
def public(monkeypatch):
    monkeypatch.setenv("EXPLORER_PUBLIC", "1")


def _ws_id(at) -> str:
    value = at.query_params["ws"]
    return value[0] if isinstance(value, list) else value


def _visit(ws: str | None = None):
    at = app()
    if ws is not None:
        at.query_params["ws"] = ws
    at.run()
    assert problems(at) == []
    return at


def _workspaces() -> set[str]:
    root = get_settings().home / "workspaces"
    return {p.name for p in root.iterdir()} if root.is_dir() else set()


def test_a_new_visitor_gets_an_issued_id_and_its_folder(public):
    at = _visit()
    ws = _ws_id(at)
    assert is_issued(ws, get_settings()) and is_open_workspace(ws, get_settings())


def test_a_link_to_an_issued_workspace_opens_it_again(public):
    ws = _ws_id(_visit())
    again = _visit(ws)  # a reload, or the bookmarked URL in a new browser session
    assert _ws_id(again) == ws


@pytest.mark.parametrize("chosen", [
    "victim",                                   # the old format: any letters and digits were accepted
    "0123456789abcdef",                         # the old new_workspace_id() format, unsigned
    "0123456789abcdef-0123456789abcdef",        # the issued format with a forged tag
    "../../etc", "a/b", "x" * 500, "",
])
def test_a_link_with_an_id_the_server_did_not_issue_gets_a_fresh_workspace(public, chosen):
    before = _workspaces()
    at = _visit(chosen)
    ws = _ws_id(at)
    assert ws != chosen and is_issued(ws, get_settings())
    assert _workspaces() - before == {ws}  # no folder for the chosen id
    if chosen:
        assert any("new, empty" in t.value for t in at.toast)


def test_an_existing_folder_is_not_enough_without_the_servers_tag(public):
    # Someone who can make a folder appear under workspaces/ (or an id of an older release) still can't
    # have a visitor open it through a link.
    planted = get_settings().home / "workspaces" / "feedfacefeedface-0000000000000000"
    planted.mkdir(parents=True)
    at = _visit(planted.name)
    assert _ws_id(at) != planted.name


def test_an_expired_workspace_is_not_recreated_from_an_old_link(public):
    ws = _ws_id(_visit())
    shutil.rmtree(workspace_folder(ws, get_settings()))  # removed by the time-to-live clean-up
    at = _visit(ws)
    assert _ws_id(at) != ws and not workspace_folder(ws, get_settings()).exists()


def test_ids_from_another_server_key_are_refused(public, monkeypatch):
    monkeypatch.setenv("EXPLORER_WORKSPACE_KEY", "one key")
    ws = issue_workspace_id(get_settings())
    assert is_issued(ws, get_settings())
    monkeypatch.setenv("EXPLORER_WORKSPACE_KEY", "another key")
    assert not is_issued(ws, get_settings())
