"""The Data page's upload, driven through the real app (AppTest): an ESCI-shaped table is mapped and graded as
chosen, the choice is remembered with the dataset, an unknown label word is one message, and the file is
parsed once from the upload to the loaded dataset."""

from __future__ import annotations

import pytest

from explorer import pipeline
from explorer.data import tables
from explorer.ui.text import plain
from explorer.workspace import open_workspace
from tests.data.data_builders import esci_rows, write_esci_csv
from tests.ui.conftest import app, change_dataset, problems

ESCI_GRADES = {"Exact": 100, "Substitute": 10, "Complement": 1, "Irrelevant": 0}


@pytest.fixture(autouse=True)
def fake_env(monkeypatch):
    from tests.ui.conftest import ROOT

    monkeypatch.setenv("EXPLORER_ENCODER", "fake")
    monkeypatch.chdir(ROOT)


def _upload(at, name: str, content: bytes):
    at.run()
    at.switch_page("pages/data.py").run()
    if not any(r.key == "data_source" for r in at.radio):  # a dataset is loaded: the picker is collapsed
        change_dataset(at)
    at.radio(key="data_source").set_value("Upload a file").run()
    at.file_uploader(key="upload").upload(name, content, "text/csv").run()
    assert problems(at) == []
    return at


def _captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def test_an_esci_upload_is_mapped_graded_as_chosen_and_remembered(tmp_path):
    at = _upload(app(), "esci.csv", write_esci_csv(tmp_path / "esci.csv").read_bytes())
    picked = {role: at.selectbox(key=f"col_{role}").value for role in ("query", "passage", "label", "title", "passage_id")}
    assert picked == {"query": "query", "passage": "product_description", "label": "esci_label",
                      "title": "product_title", "passage_id": "product_id"}
    grades_box = at.text_input(key="col_grades")
    assert grades_box.value == "" and "default: Exact=100, Substitute=10, Complement=1, Irrelevant=0" in grades_box.placeholder
    grades_box.set_value("Exact=3, Substitute=2").run()
    at.button(key="load_upload").click().run()
    assert problems(at) == []
    expected = ("column 'esci_label': Exact=3, Substitute=2, Complement=1, Irrelevant=0 (some chosen, the rest the "
                "ESCI default: the ESCI paper's gains 1, 0.1, 0.01, 0 as integers)")
    assert "Labels: " + plain(expected) in _captions(at)

    ws = open_workspace()
    choice = ws.dataset_choice()
    assert choice.columns["label"] == "esci_label" and choice.columns["grades"] == {"Exact": 3, "Substitute": 2}
    dataset = pipeline.load_dataset(choice, ws.settings)
    for row in esci_rows():
        grade = dataset.qrels[row["query_id"]][row["product_id"]]
        assert grade == {"Exact": 3, "Substitute": 2, "Complement": 1, "Irrelevant": 0}[row["esci_label"]]
        assert (row["product_id"] in dataset.positives(row["query_id"])) == (row["esci_label"] != "Irrelevant")

    # the same file uploaded again is offered with the remembered mapping, not the guess
    change_dataset(at)
    at.radio(key="data_source").set_value("Upload a file").run()
    at.file_uploader(key="upload").upload("esci.csv", (tmp_path / "esci.csv").read_bytes(), "text/csv").run()
    assert at.text_input(key="col_grades").value == "Exact=3, Substitute=2"


def test_the_default_esci_grades_are_shown_after_loading(tmp_path):
    at = _upload(app(), "esci.csv", write_esci_csv(tmp_path / "esci.csv").read_bytes())
    at.button(key="load_upload").click().run()
    assert problems(at) == []
    assert "Labels: " + plain("column 'esci_label': Exact=100, Substitute=10, Complement=1, Irrelevant=0") in _captions(at)
    ws = open_workspace()
    dataset = pipeline.load_dataset(ws.dataset_choice(), ws.settings)
    assert {row["esci_label"]: dataset.qrels[row["query_id"]][row["product_id"]] for row in esci_rows()} == ESCI_GRADES


def test_an_unknown_label_word_is_one_message_naming_the_control(tmp_path):
    path = write_esci_csv(tmp_path / "shop.csv", labels=("Exact", "Great", "Meh", "Irrelevant"))
    at = _upload(app(), "shop.csv", path.read_bytes())
    at.button(key="load_upload").click().run()
    (error,) = [e.value for e in at.error]
    assert "\n" not in error and "label words with no grade" in error and "Label grades" in error
    assert open_workspace().dataset_choice() is None or open_workspace().dataset_choice().spec == "demo"
    at.text_input(key="col_grades").set_value("Great=5, Meh=2").run()
    at.button(key="load_upload").click().run()
    assert problems(at) == []


def test_a_label_column_left_unmapped_is_warned_about(tmp_path):
    at = _upload(app(), "esci.csv", write_esci_csv(tmp_path / "esci.csv").read_bytes())
    at.selectbox(key="col_label").set_value("— none —").run()
    (warning,) = [w.value for w in at.warning]
    assert "esci\\_label" in warning and "looks like relevance labels" in warning


def test_the_upload_is_parsed_once_from_the_upload_to_the_loaded_dataset(tmp_path, monkeypatch):
    calls = {"read_table": 0, "read_head": 0}

    def counting(name):
        real = getattr(tables, name)

        def wrapper(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)
        return wrapper

    for name in calls:
        monkeypatch.setattr(tables, name, counting(name))
    at = _upload(app(), "esci.csv", write_esci_csv(tmp_path / "esci.csv").read_bytes())
    at.selectbox(key="col_title").set_value("product_title").run()  # a rerun, as any widget change makes
    at.button(key="load_upload").click().run()
    assert problems(at) == [] and "Labels: " in _captions(at)  # the page shows the loaded dataset
    at.run()
    at.switch_page("pages/home.py").run()
    at.switch_page("pages/data.py").run()
    assert calls["read_table"] == 1, calls
    assert 1 <= calls["read_head"] <= 4, calls  # the preview reads 20 rows per rerun with the uploader open


def test_the_upload_is_parsed_once_from_the_upload_to_a_submitted_job(tmp_path, monkeypatch):
    """Upload, Load, then Start training on the Train page: the job gets the dataset the page holds, so the
    file is still parsed once (the job's own reading happens in its child process, from the pickled dataset)."""
    reads = {"n": 0}
    real = tables.read_table

    def counting(*args, **kwargs):
        reads["n"] += 1
        return real(*args, **kwargs)

    submitted = []
    monkeypatch.setattr(tables, "read_table", counting)
    monkeypatch.setattr("explorer.jobs.supervisor.submit_run",
                        lambda manager, dataset, config, **kw: submitted.append((dataset, config)) or "job-1")
    at = _upload(app(), "esci.csv", write_esci_csv(tmp_path / "esci.csv").read_bytes())
    at.button(key="load_upload").click().run()
    assert problems(at) == []
    at.switch_page("pages/train.py").run()
    at.button(key="FormSubmitter:train_form-Start training").click().run()
    assert len(submitted) == 1 and submitted[0][0].name, submitted
    assert reads["n"] == 1, reads
