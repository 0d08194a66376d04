"""The Metrics page's bake-off, stored models (BM25) as A or B on every result page, readable names, Search examples."""

from __future__ import annotations

import re

import pytest

from explorer import pipeline
from explorer.ui.text import plain
from tests.ui.apptest_walk import shown_text
from tests.ui.conftest import app, problems


@pytest.fixture
def tiny_workspace(tiny_csv):
    """The local workspace holding the tiny dataset and no run."""
    from explorer.workspace import DatasetChoice, open_workspace

    ws = open_workspace()
    ws.set_dataset_choice(DatasetChoice(spec=str(tiny_csv), name="tiny"))
    return ws


def _frame(at, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_bakeoff_section_computes_stores_and_shows_again(tiny_workspace, monkeypatch):
    at = app(default_timeout=240)
    at.run()
    at.switch_page("pages/metrics.py").run()
    assert problems(at) == []
    assert at.multiselect(key="bakeoff_models").value == ["minilm", "static", "bm25", "hybrid"]
    at.button(key="bakeoff_run").click().run()
    assert problems(at) == []
    table = _frame(at, "measure").set_index("measure")
    assert list(table.columns) == ["MiniLM (reference)", "static (MiniLM, model2vec)", "BM25", "BM25 + MiniLM (hybrid)"]
    assert table.loc["p NDCG@10 (Holm)"].tolist()[0] == "reference"
    assert all(re.fullmatch(r"< 0\.0001|\d\.\d+(e-\d+)?", p) for p in table.loc["p NDCG@10 (Holm)"].tolist()[1:])
    for metric in ("NDCG@10", "MRR@10", "Recall@100"):
        assert all(re.fullmatch(r"[01]\.\d{3} \[[01]\.\d{3}, [01]\.\d{3}\]", c) for c in table.loc[f"{metric} [95% CI]"])
    assert table.loc["dimensions"].tolist() == ["64", "256", "none (sparse)", "64"]  # static: the shipped table
    assert all(float(v) > 0 for v in table.loc["index MB"]) and all(float(v) > 0 for v in table.loc["seconds / 1,000 passages"])
    chart = [c for c in at.get("plotly_chart") if "against encode cost" in c.proto.spec]
    assert len(chart) == 1 and '"error_y"' in chart[0].proto.spec
    # Stored: a new session shows the table without computing anything, and offers BM25 as A or B.
    monkeypatch.setattr("explorer.retrievers.bakeoff.compare_models",
                        lambda *a, **k: pytest.fail("the stored bake-off was computed again"))
    again = app(default_timeout=240)
    again.run()
    again.switch_page("pages/metrics.py").run()
    assert problems(again) == []
    assert not [b for b in again.button if b.key == "bakeoff_run"]
    assert len(_frame(again, "measure").columns) == 5
    assert {"model:bm25", "model:hybrid"} <= set(pipeline.compared_pair(
        tiny_workspace, pipeline.load_dataset(tiny_workspace.dataset_choice()).fingerprint()).options)


@pytest.fixture
def bm25_and_run(workspace_with_run):
    """A finished run and BM25's stored bake-off results on the same dataset."""
    ws, run_id = workspace_with_run
    pipeline.run_bakeoff(ws, pipeline.load_dataset(ws.dataset_choice()), ["bm25"])
    return ws, run_id


def test_bm25_as_a_against_a_run_on_metrics_and_inspect(bm25_and_run):
    ws, run_id = bm25_and_run
    at = app(default_timeout=240)
    at.run()
    at.switch_page("pages/metrics.py").run()
    assert "model:bm25" in at.selectbox(key="pair_a").options or "BM25" in at.selectbox(key="pair_a").options
    at.selectbox(key="pair_a").set_value("model:bm25").run()  # the second click: B is the run already
    assert problems(at) == []
    label = pipeline.run_label(ws, run_id)
    columns = list(next(d.value for d in at.dataframe if "Δ" in d.value.columns).columns)
    assert "BM25" in columns and label in columns
    at.switch_page("pages/inspect.py").run()
    assert problems(at) == []
    assert any(plain("A: BM25") in md.value for md in at.markdown)  # titles are escaped: names are user text
    assert any(plain(f"B: {label}") in md.value for md in at.markdown)
    qid = at.selectbox(key="inspect_query").value
    ranking = next(d.value for d in at.dataframe if "move" in d.value.columns)
    from explorer.retrievers.bakeoff import load_model_results
    from explorer.encoders.spec import parse_spec

    bm25 = load_model_results(pipeline.models_dir(ws), parse_spec("bm25"), pipeline.load_dataset(ws.dataset_choice()).fingerprint())
    assert ranking["id"].tolist() == list(bm25.run[qid])[:len(ranking)]


@pytest.mark.parametrize("path", ["pages/latent.py", "pages/similarity.py"])
def test_bm25_gets_one_line_on_pages_that_need_vectors(bm25_and_run, path):
    ws, run_id = bm25_and_run
    pipeline.choose_pair(ws, "model:bm25", run_id)
    at = app(default_timeout=240)
    at.run()
    at.switch_page(path).run()
    assert problems(at) == []
    lines = [i.value for i in at.info if "without vectors" in i.value]
    assert len(lines) == 1 and "BM25" in lines[0] and "\n" not in lines[0]


def test_runs_are_named_by_what_they_are(workspace_with_run):
    ws, run_id = workspace_with_run
    label = pipeline.run_label(ws, run_id)
    assert re.fullmatch(r"MiniLM \+ adapter · \d\d:\d\d", label), label
    assert pipeline.describe_run({"method": "full", "base_model": "minilm", "train_layers": None, "epochs": 1}) \
        == "MiniLM fine-tune · 3 layers · 1 epoch"
    at = app(default_timeout=240)
    at.run()
    at.switch_page("pages/metrics.py").run()
    assert problems(at) == []
    shown = list(at.selectbox(key="pair_b").options) + list(at.selectbox(key="pair_a").options)
    assert label in shown and not any(run_id in option or run_id[-6:] in option for option in shown)
    assert label in at.multiselect(key="bakeoff_models").options


def test_search_offers_queries_from_the_data_and_grades_only_them(workspace_with_run):
    ws, _ = workspace_with_run
    dataset = pipeline.load_dataset(ws.dataset_choice())
    at = app(default_timeout=240)
    at.run()
    at.switch_page("pages/search.py").run()
    examples = [b for b in at.button if (b.key or "").startswith("example_")]
    assert len(examples) >= 3 and "vaccines train the immune system" not in shown_text(at)
    examples[0].click().run()
    assert problems(at) == [] and at.text_input(key="search_query").value in set(dataset.queries.values())
    assert all("grade" in d.value.columns for d in at.dataframe)
    at.text_input(key="search_query").input("espresso roasting at home").run()
    assert problems(at) == [] and len(at.dataframe) == 2
    assert not any("grade" in d.value.columns for d in at.dataframe)


def test_opening_the_train_page_keeps_bm25_as_b_and_picking_a_run_there_makes_it_b(bm25_and_run):
    """The Train page's run picker sets model B only when the user picks a run in it, not on every visit."""
    ws, run_id = bm25_and_run
    fingerprint = pipeline.load_dataset(ws.dataset_choice()).fingerprint()
    pipeline.choose_pair(ws, pipeline.BASELINE, "model:bm25")
    at = app(default_timeout=240)
    at.run()
    at.switch_page("pages/train.py").run()
    assert problems(at) == []
    assert pipeline.compared_pair(ws, fingerprint).b == "model:bm25", "visiting the Train page changed model B"
    at.selectbox(key="pick_run").set_value(run_id).run()
    assert pipeline.compared_pair(ws, fingerprint).b == run_id


def test_labels_of_models_at_the_same_cost_go_above_and_below_not_over_each_other():
    """A hybrid costs what its dense model costs: their labels must not overlap on the cost chart."""
    from types import SimpleNamespace

    from explorer.ui.bakeoff import cost_chart

    def row(spec, cost, mean):
        return SimpleNamespace(spec=spec, display=spec, encode_seconds_per_1000=cost,
                               result=SimpleNamespace(metrics={"ndcg@10": mean}), intervals={"ndcg@10": (mean - .03, mean + .03)})

    bake = SimpleNamespace(reference="minilm", rows=[row("bm25", 0.05, 0.52), row("static", 0.15, 0.47),
                                                     row("minilm", 9.5, 0.60), row("hybrid", 9.6, 0.63)])
    positions = {t.name: t.textposition for t in cost_chart(bake, {}).data}
    assert positions["hybrid"].startswith("top") and positions["minilm"].startswith("bottom")
