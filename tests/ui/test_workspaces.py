"""Workspaces: one shared locally, private per visitor in public mode, cleaned up when idle."""

from __future__ import annotations

import os
import time

import pytest

from explorer.core.config import get_settings
from explorer.workspace import DatasetChoice, cleanup_workspaces, new_workspace_id, open_workspace
from tests.ui.conftest import app, make_finished_run, problems


def test_local_mode_has_one_shared_workspace():
    a, b = open_workspace("x"), open_workspace("y")
    assert a.id == b.id == "local"
    assert a.folder == get_settings().home


def test_public_mode_needs_an_id_and_isolates_folders(monkeypatch):
    monkeypatch.setenv("EXPLORER_PUBLIC", "1")
    with pytest.raises(ValueError, match="workspace id"):
        open_workspace(None)
    a, b = open_workspace(new_workspace_id()), open_workspace(new_workspace_id())
    assert a.folder != b.folder and a.settings.runs_dir != b.settings.runs_dir
    a.set_dataset_choice(DatasetChoice(spec="demo"))
    assert b.dataset_choice() is None


def test_changing_the_dataset_forgets_run_choice_and_exclusions():
    ws = open_workspace()
    ws.set_dataset_choice(DatasetChoice(spec="demo"))
    ws.set_selected_run("r1")
    ws.set_excluded_negatives(["q|p"])
    ws.negatives_path.write_text("{}\n")
    ws.set_dataset_choice(DatasetChoice(spec="other.csv"))
    assert ws.selected_run() is None and ws.excluded_negatives() == [] and not ws.negatives_path.exists()


def test_corrupt_state_file_falls_back_to_empty():
    ws = open_workspace()
    (ws.folder / "current.json").write_text("{not json")
    assert ws.dataset_choice() is None


def test_cleanup_removes_only_idle_workspaces(monkeypatch):
    monkeypatch.setenv("EXPLORER_PUBLIC", "1")
    old, fresh = open_workspace("old1"), open_workspace("fresh1")
    past = time.time() - 3 * 3600
    os.utime(old.folder, (past, past))
    assert cleanup_workspaces(max_age_hours=1) == ["old1"]
    assert not old.folder.exists() and fresh.folder.exists()


def test_two_public_sessions_get_different_workspaces_and_runs(monkeypatch, tiny_csv):
    monkeypatch.setenv("EXPLORER_PUBLIC", "1")
    first, second = app(), app()
    first.run()
    second.run()
    assert problems(first) == [] and problems(second) == []
    id1, id2 = first.query_params["ws"], second.query_params["ws"]
    id1 = id1[0] if isinstance(id1, list) else id1
    id2 = id2[0] if isinstance(id2, list) else id2
    assert id1 and id2 and id1 != id2
    from explorer import pipeline

    ws1 = open_workspace(id1)
    upload = pipeline.save_upload("tiny.csv", tiny_csv.read_bytes(), ws1.settings)
    choice = DatasetChoice(spec=str(upload), name="tiny")
    ws1.set_dataset_choice(choice)
    run_id = make_finished_run(ws1, pipeline.load_dataset(choice, ws1.settings))
    assert [r.id for r in pipeline.list_runs(ws1)] == [run_id]
    assert pipeline.list_runs(open_workspace(id2)) == []
    first.switch_page("pages/train.py").run()
    second.switch_page("pages/train.py").run()
    assert any(run_id in str(df.value.to_dict()) for df in first.dataframe)
    assert not any(run_id in str(df.value.to_dict()) for df in second.dataframe)
    assert any("public" in c.value.lower() for c in first.sidebar.caption)


def test_cleanup_never_removes_a_workspace_with_an_active_job_or_a_recent_visit(monkeypatch, tmp_path, tiny_csv):
    """age alone never deletes a workspace whose job runs or waits; old projections go."""
    import os
    import time

    from explorer.core.config import get_settings
    from explorer.training.config import TrainConfig
    from explorer.jobs.runs import RunStore

    monkeypatch.setenv("EXPLORER_PUBLIC", "1")
    monkeypatch.setenv("EXPLORER_HOME", str(tmp_path / "home"))
    settings = get_settings()
    spaces = {name: open_workspace(name, settings) for name in ("running1", "queued1", "idle1", "visited1")}
    from explorer import pipeline

    dataset = pipeline.load_dataset(DatasetChoice(spec="demo"), spaces["running1"].settings)
    run = RunStore(spaces["running1"].settings.runs_dir).create(TrainConfig(), dataset)
    run.set_status("running")  # owned by this (live) process
    projections = settings.projection_cache_dir
    projections.mkdir(parents=True)
    (projections / "old.npz").write_bytes(b"x")
    (projections / "new.npz").write_bytes(b"x")
    long_ago = time.time() - 3 * 86400
    for path in [*tmp_path.rglob("*"), projections / "old.npz"]:
        os.utime(path, (long_ago, long_ago))
    os.utime(projections / "new.npz")
    spaces["visited1"].touch()
    removed = cleanup_workspaces(max_age_hours=24, settings=settings, active_owners={"queued1"})
    assert removed == ["idle1"]
    assert spaces["running1"].folder.is_dir() and spaces["queued1"].folder.is_dir() and spaces["visited1"].folder.is_dir()
    assert not (projections / "old.npz").exists() and (projections / "new.npz").exists()


def test_cleanup_prunes_old_projections_of_a_kept_workspace_without_keeping_it_alive(monkeypatch):
    monkeypatch.setenv("EXPLORER_PUBLIC", "1")
    ws = open_workspace("kept1")
    folder = ws.settings.projection_cache_dir
    folder.mkdir(parents=True)
    (folder / "old.npz").write_bytes(b"x")
    (folder / "new.npz").write_bytes(b"x")
    long_ago = time.time() - 3 * 86400
    os.utime(folder / "old.npz", (long_ago, long_ago))
    os.utime(folder, (long_ago, long_ago))  # an idle projections folder says nothing about the visit
    assert cleanup_workspaces(max_age_hours=24) == []
    assert not (folder / "old.npz").exists() and (folder / "new.npz").exists()
    assert folder.stat().st_mtime < time.time() - 86400
