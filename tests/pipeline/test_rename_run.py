"""A run renamed by its user: the name replaces the generated one, empty brings that back, never a path."""

from __future__ import annotations

import json

import pytest

from explorer import pipeline
from explorer.core.errors import ExplorerError, StorageError
from explorer.jobs.runs import MAX_NAME_CHARS
from tests.ui.conftest import make_finished_run, write_tiny_csv


@pytest.fixture
def run(tmp_path, monkeypatch):
    from explorer.workspace import DatasetChoice, open_workspace

    monkeypatch.setenv("EXPLORER_ENCODER", "fake")
    ws = open_workspace()
    choice = DatasetChoice(spec=str(write_tiny_csv(tmp_path / "tiny.csv")), name="tiny")
    ws.set_dataset_choice(choice)
    return ws, make_finished_run(ws, pipeline.load_dataset(choice), stored=False)


def test_a_renamed_run_is_named_by_its_user_everywhere_the_library_names_it(run):
    ws, run_id = run
    generated = pipeline.run_label(ws, run_id)
    assert generated.startswith("MiniLM + adapter")
    assert pipeline.rename_run(ws, run_id, "  my\nbest\trun ") == "my best run"
    assert pipeline.run_label(ws, run_id) == "my best run"  # read again: the store saw the folder change
    assert pipeline.run_labels(ws, [run_id]) == {run_id: "my best run"}
    assert pipeline.compared_pair(ws).label_b == "my best run"
    assert json.loads((ws.runs.get(run_id).path / "name.json").read_text()) == {"name": "my best run"}
    assert pipeline.run_name(ws, run_id) == "my best run"
    assert pipeline.generated_name(ws, run_id) == generated


def test_an_empty_name_brings_back_the_generated_one(run):
    ws, run_id = run
    generated = pipeline.run_label(ws, run_id)
    pipeline.rename_run(ws, run_id, "temporary")
    assert pipeline.rename_run(ws, run_id, " \n ") == ""
    assert pipeline.run_label(ws, run_id) == generated
    assert not (ws.runs.get(run_id).path / "name.json").exists()


def test_a_name_too_long_is_refused_in_one_line_and_the_old_name_kept(run):
    ws, run_id = run
    pipeline.rename_run(ws, run_id, "kept")
    with pytest.raises(ExplorerError) as caught:
        pipeline.rename_run(ws, run_id, "x" * (MAX_NAME_CHARS + 1))
    message = str(caught.value)
    assert "\n" not in message and f"at most {MAX_NAME_CHARS} characters" in message and "shorten" in message
    assert pipeline.run_label(ws, run_id) == "kept"
    assert pipeline.rename_run(ws, run_id, "y" * MAX_NAME_CHARS) == "y" * MAX_NAME_CHARS


def test_a_name_is_never_a_path(run):
    ws, run_id = run
    folder = ws.runs.get(run_id).path
    before = sorted(p.name for p in folder.parent.parent.rglob("*"))
    pipeline.rename_run(ws, run_id, "../../escape/me")
    after = sorted(p.name for p in folder.parent.parent.rglob("*"))
    assert set(after) - set(before) == {"name.json"}
    assert pipeline.run_label(ws, run_id) == "../../escape/me"
    assert pipeline.file_safe("../../escape/me") == "escape-me"
    with pytest.raises(StorageError):
        pipeline.rename_run(ws, "../" + run_id, "x")
    with pytest.raises(StorageError, match="No run"):
        pipeline.rename_run(ws, "20990101-000000-000-abcdef", "x")


def test_two_runs_named_alike_stay_apart(run):
    ws, run_a = run
    run_b = make_finished_run(ws, pipeline.load_dataset(ws.dataset_choice()), seed=2, stored=False)
    for run_id in (run_a, run_b):
        pipeline.rename_run(ws, run_id, "same")
    labels = pipeline.run_labels(ws, [run_a, run_b])
    assert labels == {run_a: f"same · {run_a[-6:]}", run_b: f"same · {run_b[-6:]}"}


def test_a_broken_name_file_reads_as_no_name(run):
    ws, run_id = run
    generated = pipeline.run_label(ws, run_id)
    (ws.runs.get(run_id).path / "name.json").write_text("{not json", encoding="utf-8")
    ws.runs.forget()
    assert pipeline.run_label(ws, run_id) == generated


def test_the_download_and_its_model_card_carry_the_name_as_text(run):
    import io
    import zipfile

    ws, run_id = run
    pipeline.rename_run(ws, run_id, "Launch [v2](http://evil)")
    with zipfile.ZipFile(io.BytesIO(pipeline.run_zip(ws, run_id, "model"))) as archive:
        card = next(archive.read(n).decode() for n in archive.namelist() if n.endswith("README.md"))
    assert "# Launch \\[v2\\]\\(http\\:\\/\\/evil\\)\n" in card  # the heading, escaped: no link
    assert "](http://evil)" not in card.split("---", 2)[-1]
