"""Every page renders in a fresh session and with a finished run; widgets drive the library."""

from __future__ import annotations

import pytest

from explorer.ui.navigation import PAGES
from tests.ui.conftest import app, change_dataset, problems

PAGE_PATHS = [path for path, *_ in PAGES]


@pytest.mark.parametrize("path", PAGE_PATHS)
def test_page_renders_in_a_fresh_session(path):
    at = app()
    at.run()
    at.switch_page(path).run()
    assert problems(at) == []
    if path not in ("pages/home.py", "pages/data.py"):
        assert at.info, "an empty workspace should explain what to do"


def test_result_pages_render_after_a_run(workspace_with_run):
    ws, run_id = workspace_with_run
    at = app(default_timeout=180)
    at.run()
    for path in PAGE_PATHS:
        at.switch_page(path).run()
        assert problems(at) == [], path
    at.switch_page("pages/metrics.py").run()
    assert {m.label for m in at.metric} >= {"Fixed queries", "Broken queries", "Mean RBO@10"}
    assert any(run_id in c.value for c in at.caption)


def test_inspect_and_search_show_two_rankings(workspace_with_run):
    at = app(default_timeout=180)
    at.run()
    at.switch_page("pages/inspect.py").run()
    assert problems(at) == []
    assert len(at.dataframe) >= 2
    at.switch_page("pages/search.py").run()
    at.text_input(key="search_query").input("coffee espresso").run()
    assert problems(at) == []
    assert len(at.dataframe) == 2


def test_choosing_the_demo_sets_the_dataset():
    from explorer.workspace import open_workspace

    at = app()
    at.run()
    at.switch_page("pages/data.py").run()
    at.button(key="use_demo").click().run()
    assert problems(at) == []
    assert open_workspace().dataset_choice().spec == "demo"
    assert {m.label for m in at.metric} >= {"Queries", "Passages", "Test queries"}


def test_a_bad_dataset_shows_an_error_not_an_exception(tmp_path):
    from explorer.workspace import DatasetChoice, open_workspace

    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n", encoding="utf-8")
    open_workspace().set_dataset_choice(DatasetChoice(spec=str(bad), name="bad"))
    at = app()
    at.run()
    at.switch_page("pages/data.py").run()
    assert not at.exception
    assert at.error and "column" in at.error[0].value
    # The picker stays open under the message, so another dataset can be chosen right there.
    assert at.radio(key="data_source").value == "Upload a file"
    at.radio(key="data_source").set_value("Bundled demo").run()
    at.button(key="use_demo").click().run()
    assert problems(at) == []
    assert open_workspace().dataset_choice().spec == "demo"


def test_data_page_leads_with_the_loaded_dataset_and_draws_its_charts_on_request(tiny_csv):
    from explorer.ui.datasets import DISTRIBUTIONS
    from explorer.workspace import DatasetChoice, open_workspace

    open_workspace().set_dataset_choice(DatasetChoice(spec=str(tiny_csv), name="tiny"))
    at = app()
    at.run()
    at.switch_page("pages/data.py").run()
    assert problems(at) == []
    # Counts and a one-line summary; the picker and the three charts are collapsed (and not run).
    assert {m.label for m in at.metric} >= {"Queries", "Passages", "Test queries"}
    assert any("median" in c.value and "judged passages per query" in c.value for c in at.caption)
    labels = [e.label for e in at.expander]
    assert "Change the dataset" in labels and any(label.startswith("Distributions") for label in labels)
    assert not [r for r in at.radio if r.key == "data_source"]
    assert len(at.get("plotly_chart")) == 0
    at.session_state[DISTRIBUTIONS] = True  # as a click on the expander does
    at.run()
    assert problems(at) == []
    assert len(at.get("plotly_chart")) == 3
    # Opened, the picker offers the current dataset's source first.
    change_dataset(at)
    assert at.radio(key="data_source").value == "Upload a file"


def test_mining_negatives_from_the_data_page_saves_an_audit(tiny_csv):
    from explorer import pipeline
    from explorer.workspace import DatasetChoice, open_workspace

    ws = open_workspace()
    ws.set_dataset_choice(DatasetChoice(spec=str(tiny_csv), name="tiny"))
    at = app(default_timeout=120)
    at.run()
    at.switch_page("pages/data.py").run()
    at.button(key="FormSubmitter:mine_form-Mine negatives").click().run()
    assert problems(at) == []
    negs = pipeline.saved_negatives(ws)
    assert negs is not None and len(negs) > 0
    at.button(key="save_audit").click().run()
    assert problems(at) == []
    assert pipeline.saved_negatives(ws) is not None


@pytest.mark.parametrize(("method", "dims", "view"), [("pca", 3, "side by side"), ("pca", 2, "animated"),
                                                      ("tsne", 2, "side by side")])
def test_latent_space_views(workspace_with_run, method, dims, view):
    at = app(default_timeout=180)
    at.run()
    at.switch_page("pages/latent.py").run()
    at.selectbox(key="latent_method").set_value(method)
    at.radio(key="latent_dims").set_value(dims)
    at.radio(key="latent_view").set_value(view)
    at.selectbox(key="latent_color").set_value("change")
    at.run()
    assert problems(at) == []


def test_inspect_filters_by_status(workspace_with_run):
    at = app(default_timeout=180)
    at.run()
    at.switch_page("pages/inspect.py").run()
    for status in ("fixed", "broken", "unchanged"):
        at.radio(key="inspect_filter").set_value(status).run()
        assert not at.exception


def test_latent_page_ranks_biggest_movers_and_stores_them_with_the_run(workspace_with_run):
    ws, run_id = workspace_with_run
    at = app(default_timeout=180)
    at.run()
    at.switch_page("pages/latent.py").run()
    assert problems(at) == []
    table = at.dataframe(key="latent_movers").value
    assert list(table.columns[:3]) == ["kind", "change", "RBO"]
    assert table["change"].is_monotonic_decreasing and set(table["kind"]) == {"query", "passage"}
    from explorer import pipeline

    stored = list(pipeline.run_folder(ws, run_id).glob("neighbourhood-*.npz"))
    assert len(stored) == 1
    at.selectbox(key="latent_color").set_value("moved")
    at.selectbox(key="latent_show").set_value("top 50 movers")
    at.select_slider(key="latent_k").set_value(5)
    at.run()
    assert problems(at) == []
    assert at.dataframe(key="latent_movers").value["change"].is_monotonic_decreasing


def test_latent_page_plays_the_runs_training_snapshots(workspace_with_run):
    import numpy as np

    from explorer import pipeline
    from explorer.latent.snapshots import SnapshotStore, snapshot_points

    ws, run_id = workspace_with_run
    dataset = pipeline.load_dataset(ws.dataset_choice(), ws.settings)
    qids, pids = snapshot_points(dataset, max_queries=5, max_points=20)
    store = SnapshotStore(pipeline.run_folder(ws, run_id))
    store.start(qids, pids)
    rng = np.random.default_rng(0)
    for step, label in ((0, "baseline"), (3, "step 3"), (6, "final")):
        store.add(step, label, rng.standard_normal((len(qids) + len(pids), 16)), {"ndcg@10": 0.5 + step / 100})
    at = app(default_timeout=180)
    at.run()
    at.switch_page("pages/latent.py").run()
    assert problems(at) == []
    frames = next(df.value for df in at.dataframe if "measured on" in df.value.columns)
    assert list(frames["frame"]) == ["baseline", "step 3", "final"]
    assert list(frames["measured on"]) == ["whole test split", "held-out sample", "whole test split"]


def test_why_views_on_a_beir_folder(tmp_path):
    """A BEIR folder uploaded as a zip through the Data page: every result page with the baseline alone, then
    the Latent page's biggest movers and the Metrics page's comparison once a run exists."""
    import shutil

    from explorer import pipeline
    from explorer.workspace import open_workspace
    from tests.training.conftest import tiny_dataset, write_beir
    from tests.ui.conftest import make_finished_run

    folder = write_beir(tiny_dataset(), tmp_path / "beir" / "tinybeir")
    archive = shutil.make_archive(str(tmp_path / "tinybeir"), "zip", folder.parent)
    at = app(default_timeout=180)
    at.run()
    at.switch_page("pages/data.py").run()
    at.radio(key="data_source").set_value("Upload a file").run()
    with open(archive, "rb") as fh:
        at.file_uploader(key="upload").upload("tinybeir.zip", fh.read(), "application/zip").run()
    at.button(key="load_upload").click().run()
    assert problems(at) == []
    ws = open_workspace()
    assert ws.dataset_choice().spec.endswith("tinybeir.zip")
    for page in ("pages/latent.py", "pages/similarity.py", "pages/metrics.py", "pages/inspect.py"):
        at.switch_page(page).run()
        assert problems(at) == [], page
    run_id = make_finished_run(ws, pipeline.load_dataset(ws.dataset_choice()))
    at.switch_page("pages/latent.py").run()
    assert problems(at) == []
    movers = at.dataframe(key="latent_movers").value
    assert "change" in movers.columns and movers["change"].is_monotonic_decreasing
    at.switch_page("pages/metrics.py").run()
    assert problems(at) == [] and any(pipeline.run_label(ws, run_id) in df.value.columns for df in at.dataframe)
