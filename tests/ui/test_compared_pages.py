"""The result pages with the baseline alone (no run yet) and with any two runs compared."""

from __future__ import annotations

import pytest

from explorer import pipeline
from explorer.ui.text import plain
from tests.ui.conftest import app, make_finished_run, problems

RESULT_PAGES = ["pages/latent.py", "pages/similarity.py", "pages/metrics.py", "pages/inspect.py", "pages/search.py"]


@pytest.fixture
def workspace_without_run(tiny_csv):
    """The local workspace holding the tiny dataset and no run."""
    from explorer.workspace import DatasetChoice, open_workspace

    ws = open_workspace()
    ws.set_dataset_choice(DatasetChoice(spec=str(tiny_csv), name="tiny *bold* [x](y)"))
    return ws


@pytest.fixture
def workspace_with_two_runs(workspace_with_run):
    """The tiny dataset with two finished runs (A, the older, and B, the newest)."""
    ws, run_a = workspace_with_run
    run_b = make_finished_run(ws, pipeline.load_dataset(ws.dataset_choice()), seed=2)
    return ws, run_a, run_b


def _frame(at, column: str):
    """The first data frame on the page with this column (AppTest keeps no key of a plain st.dataframe)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _says_after_training(at) -> bool:
    return any("appears here after training" in i.value for i in at.info)


@pytest.mark.parametrize("path", RESULT_PAGES)
def test_result_pages_show_the_baseline_before_any_run(workspace_without_run, path):
    at = app(default_timeout=180)
    at.run()
    at.switch_page(path).run()
    if path == "pages/search.py":
        at.text_input(key="search_query").input("coffee espresso").run()
    assert problems(at) == []
    assert _says_after_training(at), "one line should say the comparison comes after training"
    assert not any("No finished training run" in i.value for i in at.info)
    # The dataset name is user text: shown escaped, never as Markdown.
    assert any("tiny \\*bold\\* \\[x\\]\\(y\\)" in c.value for c in at.caption)
    if path == "pages/metrics.py":
        table = _frame(at, "metric")
        assert list(table.columns) == ["metric", "baseline", "baseline 95% CI"]
        assert (table["baseline"] >= 0).all() and table["baseline 95% CI"].str.startswith("[").all()
        worst = _frame(at, "first_relevant")
        assert worst["ndcg@10"].is_monotonic_increasing
    elif path == "pages/inspect.py":
        ranking, relevant = (d.value for d in at.dataframe)
        assert "move" not in ranking.columns and list(relevant.columns) == ["grade", "rank", "passage"]
        assert len(relevant) >= 1 and (relevant["grade"] > 0).all()
    elif path == "pages/search.py":
        assert len(at.dataframe) == 1
    elif path == "pages/similarity.py":
        assert [m.label for m in at.metric].count("Test accuracy") == 1
    elif path == "pages/latent.py":
        assert "NDCG@10" in at.dataframe(key="latent_movers").value.columns
        assert "moved" not in at.selectbox(key="latent_color").options


def test_baseline_metrics_match_the_later_comparison(workspace_without_run):
    """The baseline-only table's numbers are the "before" column of the comparison a run brings."""
    at = app(default_timeout=180)
    at.run()
    at.switch_page("pages/metrics.py").run()
    alone = _frame(at, "metric").set_index("metric")
    make_finished_run(workspace_without_run, pipeline.load_dataset(workspace_without_run.dataset_choice()))
    at.switch_page("pages/metrics.py").run()
    assert problems(at) == []
    paired = _frame(at, "metric").set_index("metric")
    assert alone["baseline"].round(6).equals(paired["baseline"].round(6))
    assert (alone["baseline 95% CI"] == paired["baseline 95% CI"]).all()


def test_two_runs_are_compared_with_each_other(workspace_with_two_runs):
    ws, run_a, run_b = workspace_with_two_runs
    label_a, label_b = pipeline.run_label(ws, run_a), pipeline.run_label(ws, run_b)
    at = app(default_timeout=180)
    at.run()
    at.switch_page("pages/metrics.py").run()
    assert at.selectbox(key="pair_a").value == "baseline" and at.selectbox(key="pair_b").value == run_b
    at.selectbox(key="pair_a").set_value(run_a).run()
    assert problems(at) == []
    assert ws.reference_run() == run_a and pipeline.compared_pair(ws).a == run_a
    columns = list(_frame(at, "metric").columns)
    assert label_a in columns and label_b in columns and "baseline" not in columns
    assert any(run_a in c.value and run_b in c.value for c in at.caption)
    # Every other page compares the same two models, named.
    at.switch_page("pages/inspect.py").run()
    assert problems(at) == []
    assert at.selectbox(key="pair_a").value == run_a
    assert any(plain(f"A: {label_a}") in md.value for md in at.markdown)  # titles are escaped: names are user text
    assert any(plain(f"B: {label_b}") in md.value for md in at.markdown)
    for path in ("pages/similarity.py", "pages/latent.py"):
        at.switch_page(path).run()
        assert problems(at) == [], path
    at.switch_page("pages/search.py").run()
    at.text_input(key="search_query").input("bread flour").run()
    assert problems(at) == [] and len(at.dataframe) == 2


def test_pair_falls_back_and_warns(workspace_with_two_runs, tmp_path):
    import json

    ws, run_a, run_b = workspace_with_two_runs
    pair = pipeline.compared_pair(ws)
    assert (pair.a, pair.b, pair.label_a) == ("baseline", run_b, "baseline") and pair.warnings == []
    pipeline.choose_pair(ws, run_a, run_b)
    fp = pipeline.load_dataset(ws.dataset_choice()).fingerprint()
    pair = pipeline.compared_pair(ws, fp)
    assert (pair.a, pair.b) == (run_a, run_b) and pair.warnings == []
    with pytest.raises(ValueError):
        pipeline.choose_pair(ws, run_a, run_a)
    # A run trained on another split: both warnings.
    config = pipeline.run_folder(ws, run_a).parent / run_b / "config.json"
    data = json.loads(config.read_text())
    data["dataset"]["fingerprint"] = "0" * 16
    config.write_text(json.dumps(data))
    warnings = pipeline.compared_pair(ws, fp).warnings
    assert len(warnings) == 2 and "different dataset or split" in warnings[0]
    # B chosen as the reference too: the reference falls back to the baseline.
    ws.set_reference_run(run_b)
    assert pipeline.compared_pair(ws).a == "baseline"
