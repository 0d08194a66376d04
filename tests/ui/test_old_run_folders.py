"""Run folders written by an earlier version of the code still open on every page, and a Metrics render reads
the runs folder once and writes nothing.

``tests/fixtures/old_runs/`` holds a finished full fine-tune (of a tiny BERT, model included: 54 KB of weights)
and a finished adapter run (over the fake encoder), both written by commit f149eec with
``tests/fixtures/old_runs/make_runs.py``, and the dataset they were trained on.
"""

from __future__ import annotations

import json
import shutil

import pytest

from explorer import pipeline
from explorer.workspace import DatasetChoice, open_workspace
from tests.fsprobe import age, count_listings, count_reads, files
from tests.ui.conftest import ROOT, app, problems

FIXTURE = ROOT / "tests" / "fixtures" / "old_runs"
FULL, ADAPTER = "20261207-020745-883-30909e", "20261207-020755-131-09f1ba"
PAGES = ["pages/home.py", "pages/data.py", "pages/train.py", "pages/latent.py", "pages/similarity.py",
         "pages/metrics.py", "pages/inspect.py", "pages/search.py"]


@pytest.fixture
def old_workspace(tmp_path):
    """The local workspace with the fixture's dataset chosen and its two run folders copied in."""
    ws = open_workspace()
    csv = shutil.copy(FIXTURE / "tiny.csv", tmp_path / "tiny.csv")
    ws.set_dataset_choice(DatasetChoice(spec=str(csv), name="tiny"))
    shutil.copytree(FIXTURE / "runs", ws.settings.runs_dir, dirs_exist_ok=True)
    trained_on = json.loads((ws.settings.runs_dir / FULL / "config.json").read_text())["dataset"]["fingerprint"]
    assert pipeline.load_dataset(ws.dataset_choice()).fingerprint() == trained_on  # its stored results apply
    return ws


@pytest.mark.parametrize("pair", [(pipeline.BASELINE, ADAPTER), (FULL, ADAPTER)], ids=["baseline-adapter", "full-adapter"])
def test_every_page_opens_old_run_folders(old_workspace, pair):
    pipeline.choose_pair(old_workspace, *pair)
    assert {r.id: r.status for r in pipeline.list_runs(old_workspace)} == {FULL: "succeeded", ADAPTER: "succeeded"}
    at = app(default_timeout=240)
    at.run()
    for page in PAGES:
        at.switch_page(page).run()
        if page == "pages/latent.py" and pair[0] == FULL:  # 32 (tiny BERT) against 64 (fake) dimensions
            notes = [c.value for c in at.caption if "no single fit takes both" in c.value]
            assert notes and notes[0].startswith("A has 32 dimensions and B 64"), "the picture says how it aligned"
        assert problems(at) == [], page
    at.switch_page("pages/metrics.py").run()
    labels = [pipeline.run_label(old_workspace, r) if r != pipeline.BASELINE else "baseline" for r in pair]
    table = next(d.value for d in at.dataframe if "Δ" in d.value.columns)
    assert set(labels) <= set(table.columns)


def test_a_metrics_render_lists_the_runs_folder_once_and_writes_nothing(old_workspace, monkeypatch):
    """The first render of the Metrics page (nothing read before in this process for this workspace): the runs
    folder is listed once and each run's files read once, however many places ask for the runs, and no file
    in the workspace changes.

    The workspace folder itself was made moments ago, so the visit does not re-mark it as used (it does so
    at most once a minute)."""
    pipeline.choose_pair(old_workspace, pipeline.BASELINE, ADAPTER)
    runs_dir = old_workspace.settings.runs_dir
    age(runs_dir)
    before = files(old_workspace.folder)
    listings = count_listings(monkeypatch, runs_dir)
    reads = count_reads(monkeypatch, runs_dir)
    at = app(default_timeout=240)
    at.switch_page("pages/metrics.py").run()
    assert problems(at) == []
    assert any("Δ" in d.value.columns for d in at.dataframe)  # the comparison was drawn, from the stored results
    assert listings == ["scandir"]
    assert reads and max(reads.values()) == 1, reads  # each run's small files read once
    assert files(old_workspace.folder) == before
