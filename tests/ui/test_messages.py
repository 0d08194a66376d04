"""Errors reach the visitor as clear messages: never Streamlit's error page, never a server path.

A storage error raised while the sidebar is drawn used to end the page's context manager before it yielded,
so Streamlit showed "generator didn't yield" instead of the message. Library messages
name files by their full path; in public mode the page shows them relative to the visitor's workspace
(item 13).
"""

from __future__ import annotations

import pytest

from explorer.core.messages import public_message
from tests.ui.apptest_walk import shown_text
from tests.ui.conftest import app


@pytest.fixture
def unwritable_home(tmp_path, monkeypatch):
    """A home folder that cannot be created: its parent is a file (root ignores permission bits)."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    home = blocker / "home"
    monkeypatch.setenv("EXPLORER_HOME", str(home))
    return home


@pytest.mark.parametrize("public", ["0", "1"])
@pytest.mark.parametrize("page", [None, "pages/data.py", "pages/train.py", "pages/metrics.py"])
def test_unwritable_storage_shows_the_storage_message_on_every_page(unwritable_home, monkeypatch, public, page):
    monkeypatch.setenv("EXPLORER_PUBLIC", public)
    at = app()
    at.run()
    if page:
        at.switch_page(page).run()
    assert [e.value for e in at.exception] == []
    errors = [e.value for e in at.error]
    assert len(errors) == 1, errors
    assert "generator" not in errors[0] and "Something went wrong" not in errors[0]
    assert errors[0].startswith("Cannot create")
    if public == "1":
        assert str(unwritable_home) not in shown_text(at)
        assert str(unwritable_home.parent) not in shown_text(at)


def test_a_storage_error_in_the_workspace_shows_a_path_relative_to_it(monkeypatch):
    from explorer.core.config import get_settings

    monkeypatch.setenv("EXPLORER_PUBLIC", "1")
    at = app()
    at.run()
    ws_id = at.query_params["ws"]
    ws_id = ws_id[0] if isinstance(ws_id, list) else ws_id
    at.switch_page("pages/data.py").run()
    folder = get_settings().for_workspace(ws_id).home
    (folder / "current.json").mkdir()  # saving the dataset choice now fails (a directory is in the way)
    at.button(key="use_demo").click().run()
    errors = [e.value for e in at.error]
    assert errors and "current.json" in errors[0].replace("\\", "")
    assert str(get_settings().home) not in shown_text(at)
    assert "workspaces" not in errors[0]


def test_local_mode_keeps_full_paths_for_the_owner(monkeypatch):
    from explorer.core.config import get_settings

    at = app()
    at.run()
    at.switch_page("pages/data.py").run()
    (get_settings().home / "current.json").mkdir()
    at.button(key="use_demo").click().run()
    assert str(get_settings().home) in at.error[0].value.replace("\\", "")


@pytest.mark.parametrize(("message", "shown"), [
    ("Cannot write /srv/h/workspaces/ab-cd/runs/r1/status.json: full", "Cannot write runs/r1/status.json: full"),
    ("Cannot create the workspace folder /srv/h/workspaces/ab-cd: denied", "Cannot create the workspace folder "
     "(your workspace): denied"),
    ("No run 'x' in /srv/h/workspaces/other/runs.", "No run 'x' in runs."),
    ("Cannot read '/etc/passwd' (from /usr/lib/python3/x.py)", "Cannot read 'passwd' (from x.py)"),
    ("owner/name, 1/3 done, 12 it/s, see https://huggingface.co/datasets/a/b", "owner/name, 1/3 done, 12 it/s, "
     "see https://huggingface.co/datasets/a/b"),
])
def test_public_message_shortens_paths(message, shown):
    assert public_message(message, "/srv/h/workspaces/ab-cd") == shown


def test_a_failed_runs_error_is_listed_without_server_paths(monkeypatch):
    from explorer import pipeline
    from explorer.core.config import get_settings
    from explorer.training.config import TrainConfig
    from explorer.jobs.runs import RunStore
    from explorer.workspace import DatasetChoice, open_workspace

    monkeypatch.setenv("EXPLORER_PUBLIC", "1")
    at = app()
    at.run()
    ws_id = at.query_params["ws"]
    ws = open_workspace(ws_id[0] if isinstance(ws_id, list) else ws_id)
    ws.set_dataset_choice(DatasetChoice(spec="demo", name="Demo"))
    run = RunStore(ws.settings.runs_dir).create(TrainConfig(method="adapter", epochs=1),
                                                pipeline.load_dataset(ws.dataset_choice(), ws.settings))
    run.set_status("failed", error=f"Cannot write {run.path / 'adapter'}: No space left on device.")
    at.switch_page("pages/train.py").run()
    table = "\n".join(str(df.value.to_dict()) for df in at.dataframe)
    assert f"runs/{run.id}/adapter" in table
    assert str(get_settings().home) not in shown_text(at) and str(get_settings().home) not in table
