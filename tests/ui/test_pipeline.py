"""The pipeline steps the pages call: uploads, negatives audit, runs and jobs."""

from __future__ import annotations

import pytest

from explorer import pipeline
from explorer.core.errors import DataError
from explorer.workspace import DatasetChoice, open_workspace


def test_uploaded_csv_becomes_a_dataset(tiny_csv):
    path = pipeline.save_upload("my data.csv", tiny_csv.read_bytes())
    assert path.name == "my_data.csv" and path.is_file()
    assert pipeline.is_table(path)
    preview, guess = pipeline.table_preview(path)
    assert guess["query"] == "query" and guess["passage"] == "passage" and guess["label"] == "label"
    assert len(preview) == 20
    ds = pipeline.load_dataset(DatasetChoice(spec=str(path), name="mine", columns={"query": "query", "passage": "passage"}))
    assert len(ds.queries) == 36 and ds.query_ids("test")


@pytest.mark.parametrize(("name", "data", "message"), [
    ("x.exe", b"a,b\n", "unsupported file type"),
    ("x.csv", b"", "empty"),
])
def test_bad_uploads_are_refused_with_a_message(name, data, message):
    with pytest.raises(DataError, match=message):
        pipeline.save_upload(name, data)


def test_upload_size_cap(monkeypatch):
    monkeypatch.setenv("EXPLORER_MAX_UPLOAD_MB", "0.001")
    with pytest.raises(DataError, match="limit"):
        pipeline.save_upload("big.csv", b"x" * 5000)


def test_corpus_cap(monkeypatch, tiny_csv):
    monkeypatch.setenv("EXPLORER_MAX_PASSAGES", "10")
    with pytest.raises(DataError, match="more than 10 passages"):  # stopped while parsing, not after
        pipeline.load_dataset(DatasetChoice(spec=str(tiny_csv)))


def test_audit_exclusions_are_saved_and_survive_remining(tiny_csv):
    ws = open_workspace()
    choice = DatasetChoice(spec=str(tiny_csv), name="tiny")
    ws.set_dataset_choice(choice)
    ds = pipeline.load_dataset(choice)
    enc = pipeline.load_encoder("minilm")
    negs = pipeline.mine_negatives(ws, ds, enc, num_negatives=2, range_max=10, weak=True, hard=True)
    assert len(negs) > 0
    target = next(i for i, r in enumerate(negs) if not r.excluded)
    saved = pipeline.save_audit(ws, negs, [target])
    assert saved[target].excluded
    assert sum(r.excluded for r in saved) == 1  # the suspects the user cleared are used again
    again = pipeline.mine_negatives(ws, ds, enc, num_negatives=2, range_max=10)
    key = (saved[target].qid, saved[target].neg_id)
    assert all(r.excluded for r in again if (r.qid, r.neg_id) == key)
    assert pipeline.saved_negatives(ws) is not None


def test_tuned_run_defaults_to_newest_succeeded(workspace_with_run):
    ws, run_id = workspace_with_run
    assert pipeline.tuned_run_id(ws) == run_id
    ws.set_selected_run("missing")
    assert pipeline.tuned_run_id(ws) == run_id
    assert pipeline.run_zip(ws, run_id)[:2] == b"PK"
    runs = pipeline.list_runs(ws)
    assert runs[0].metrics_after["ndcg@10"] == pipeline.run_results(ws, run_id).results["tuned"].metrics["ndcg@10"]


def test_demo_config_methods():
    assert pipeline.demo_config("adapter")["method"] == "adapter"
    with pytest.raises(ValueError):
        pipeline.demo_config("other")


def test_comparison_report_exports(workspace_with_run):
    from explorer.ui import charts, report

    ws, run_id = workspace_with_run
    ds = pipeline.load_dataset(ws.dataset_choice())
    base = pipeline.load_encoder("minilm")
    tuned = pipeline.load_encoder(str(pipeline.run_folder(ws, run_id)))
    comp = pipeline.compare(ds, base, tuned)
    table = report.metrics_table(comp)
    assert list(table["metric"])[:2] == ["NDCG@10", "MRR@10"]
    assert set(report.scatter_frame(comp)["status"]) <= {"fixed", "broken", "unchanged"}
    fig = charts.per_query_scatter(report.scatter_frame(comp))
    html = report.html_report(comp, [fig], "Comparison")
    assert html.startswith("<!doctype html>") and "cdn.plot.ly" in html and "NDCG@10" in html
    assert html.count("<script") >= 1


def test_projection_keeps_points_aligned(workspace_with_run):
    ws, run_id = workspace_with_run
    ds = pipeline.load_dataset(ws.dataset_choice())
    base = pipeline.load_encoder("minilm")
    data = pipeline.projection(ds, base, base, method="pca", n_components=2, max_passages=30)
    before = data.points[data.points["stage"] == "before"].reset_index(drop=True)
    after = data.points[data.points["stage"] == "after"].reset_index(drop=True)
    assert (before[["x", "y"]].to_numpy() == after[["x", "y"]].to_numpy()).all()  # same encoder: nothing moves
    assert (before["kind"] == "passage").sum() == 30
    assert data.edges and all(q in set(before["id"]) for q, _ in data.edges)


def test_search_returns_ranked_hits(workspace_with_run):
    ws, _ = workspace_with_run
    ds = pipeline.load_dataset(ws.dataset_choice())
    hits = pipeline.search(ds, pipeline.load_encoder("minilm"), "coffee espresso beans", k=5)
    assert list(hits["rank"]) == [1, 2, 3, 4, 5]
    assert "coffee" in hits["text"].iloc[0]


def test_saving_the_same_upload_twice_keeps_the_file_time(tiny_csv):
    data = tiny_csv.read_bytes()
    first = pipeline.save_upload("t.csv", data)
    stamp = first.stat().st_mtime_ns
    assert pipeline.save_upload("t.csv", data).stat().st_mtime_ns == stamp


def test_neighbourhoods_are_computed_once_and_read_back(tmp_path, tiny_csv):
    from explorer import pipeline
    from explorer.encoders.fake import FakeEncoder
    from explorer.workspace import DatasetChoice

    ds = pipeline.load_dataset(DatasetChoice(spec=str(tiny_csv), name="tiny"))
    base, tuned = FakeEncoder(dim=32, seed=1), FakeEncoder(dim=32, seed=2)
    first = pipeline.neighbourhoods(ds, base, tuned, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("neighbourhood-*.npz"))) == 1

    class Exploding(FakeEncoder):
        def embed_batch(self, texts, kind):
            raise AssertionError("re-encoded although the neighbourhoods were stored")

    again = pipeline.neighbourhoods(ds, base, Exploding(dim=32, seed=2), cache_dir=tmp_path)
    assert again.change.ids == first.change.ids
    movers = again.movers(5)
    assert movers["change"].is_monotonic_decreasing
    point = movers.at[0, "id"]
    nb = again.neighbours(point, 5)
    assert set(nb["status"]) <= {"kept", "gained", "lost"}
    assert (nb["rank_before"].notna().sum(), nb["rank_after"].notna().sum()) == (5, 5)


def test_projection_caps_queries_too(tmp_path):
    """the latent-space chart's point limit holds for queries, not only passages."""
    import pandas as pd

    from explorer.data.loaders import load_table

    rows = [{"query": f"question {i} about topic {i % 7}", "passage": f"answer {i} on topic {i % 7}"} for i in range(1200)]
    ds = load_table(pd.DataFrame(rows), name="many", test_fraction=0.5)
    assert len(ds.query_ids("test")) > 500
    base = pipeline.load_encoder("minilm")
    data = pipeline.projection(ds, base, base, max_passages=100, max_queries=40)
    before = data.points[data.points["stage"] == "before"]
    assert (before["kind"] == "query").sum() == 40 and (before["kind"] == "passage").sum() == 100
    default = pipeline.projection(ds, base, base, max_passages=100)
    assert (default.points["kind"] == "query").sum() // 2 == pipeline.views.MAX_QUERIES
