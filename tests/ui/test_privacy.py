"""Public mode, driven through the real app (AppTest): one visitor never reads another's data.

Each test plays two visitors of the same server process (two AppTest sessions, so two workspaces) the way a
hostile or unlucky visitor would: same upload file name, server paths typed into the hub box.
"""

from __future__ import annotations

import pytest

from explorer.core.config import WorkspaceRequiredError, get_settings
from explorer.workspace import open_workspace
from tests.ui.conftest import app, change_dataset, problems, write_tiny_csv


def _ws_id(at) -> str:
    value = at.query_params["ws"]
    return value[0] if isinstance(value, list) else value


def _visitor_on_data_page():
    at = app()
    at.run()
    at.switch_page("pages/data.py").run()
    return at


def _upload_and_load(at, filename: str, content: bytes) -> None:
    if not any(r.key == "data_source" for r in at.radio):  # a dataset is loaded: the picker is collapsed
        change_dataset(at)
    at.radio(key="data_source").set_value("Upload a file").run()
    at.file_uploader(key="upload").upload(filename, content, "text/csv").run()
    assert problems(at) == []
    at.button(key="load_upload").click().run()
    assert problems(at) == []


@pytest.fixture
def public(monkeypatch):
    monkeypatch.setenv("EXPLORER_PUBLIC", "1")


def test_two_visitors_uploading_the_same_file_name_each_keep_their_own(public, tmp_path):
    mine = write_tiny_csv(tmp_path / "a.csv", seed=1).read_bytes()
    theirs = write_tiny_csv(tmp_path / "b.csv", seed=2).read_bytes().replace(b"what about", b"tell me about")
    first, second = _visitor_on_data_page(), _visitor_on_data_page()
    _upload_and_load(first, "data.csv", mine)
    _upload_and_load(second, "data.csv", theirs)

    ws1, ws2 = open_workspace(_ws_id(first)), open_workspace(_ws_id(second))
    assert ws1.folder != ws2.folder
    # Each upload sits in its visitor's own workspace, and nothing lands in the server-wide folder.
    assert (ws1.settings.uploads_dir / "data.csv").read_bytes() == mine
    assert (ws2.settings.uploads_dir / "data.csv").read_bytes() == theirs
    assert not get_settings().uploads_dir.exists()
    # The first visitor's page, drawn again after the second upload, still shows the first visitor's rows.
    first.switch_page("pages/inspect.py").run()
    first.switch_page("pages/data.py").run()
    from explorer import pipeline

    loaded1 = pipeline.load_dataset(ws1.dataset_choice(), ws1.settings)
    loaded2 = pipeline.load_dataset(ws2.dataset_choice(), ws2.settings)
    assert all(t.startswith("what about") for t in loaded1.queries.values())
    assert all(t.startswith("tell me about") for t in loaded2.queries.values())


def test_loading_another_dataset_removes_the_old_upload(public, tmp_path):
    at = _visitor_on_data_page()
    _upload_and_load(at, "old.csv", write_tiny_csv(tmp_path / "o.csv").read_bytes())
    ws = open_workspace(_ws_id(at))
    assert (ws.settings.uploads_dir / "old.csv").exists()
    change_dataset(at)
    at.file_uploader(key="upload").set_value(None).run()
    at.radio(key="data_source").set_value("Bundled demo").run()
    at.button(key="use_demo").click().run()
    assert problems(at) == []
    assert ws.dataset_choice().spec == "demo"
    assert list(ws.settings.uploads_dir.iterdir()) == []


@pytest.mark.parametrize("typed", ["{home}/workspaces", "{upload}", "/etc/passwd", "../home/workspaces",
                                   "home/workspaces", "owner/name/../../x"])
def test_hub_box_never_reads_a_server_path(public, tmp_path, monkeypatch, typed):
    # The server's working directory holds the home folder, as with the default EXPLORER_HOME=./workspace:
    # "home/workspaces" then looks like an owner/name id but names a local folder of every visitor's data.
    monkeypatch.chdir(get_settings().home.parent)
    victim = _visitor_on_data_page()
    _upload_and_load(victim, "secret.csv", write_tiny_csv(tmp_path / "s.csv").read_bytes())
    victim_ws = open_workspace(_ws_id(victim))
    upload = victim_ws.settings.uploads_dir / "secret.csv"
    name = typed.format(home=get_settings().home, upload=upload)

    attacker = _visitor_on_data_page()
    attacker.radio(key="data_source").set_value("Hugging Face hub").run()
    attacker.text_input(key="hub_name").input(name).run()
    attacker.button(key="load_hub").click().run()
    errors = [e.value for e in attacker.error]
    assert errors and "owner/name" in errors[0] and str(get_settings().home) not in errors[0]
    assert open_workspace(_ws_id(attacker)).dataset_choice() is None


def test_library_refuses_to_fall_back_to_server_settings_in_public_mode(public):
    from explorer import pipeline
    from explorer.workspace import DatasetChoice

    with pytest.raises(WorkspaceRequiredError, match="workspace"):
        pipeline.save_upload("data.csv", b"query,passage\nq,p\n")
    with pytest.raises(WorkspaceRequiredError):
        pipeline.load_dataset(DatasetChoice(spec="demo"))


def test_hub_ids_with_a_config_are_accepted_in_public_mode(public):
    from explorer.pipeline.data import check_public_spec

    settings = open_workspace("abc123").settings
    for spec in ("demo", "hf:sentence-transformers/natural-questions", "hf:owner/name:pair-score"):
        check_public_spec(spec, settings)


def test_local_mode_still_loads_files_by_path(tiny_csv):
    from explorer import pipeline
    from explorer.workspace import DatasetChoice

    ds = pipeline.load_dataset(DatasetChoice(spec=f"hf:{tiny_csv}"))
    assert len(ds.queries) > 0
