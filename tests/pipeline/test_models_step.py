"""The bake-off step of a workspace: computed once and stored, rebuilt from the stored files, runs join it."""

from __future__ import annotations

import pytest

from explorer import pipeline
from tests.ui.conftest import make_finished_run, write_tiny_csv


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """The local workspace with the tiny dataset chosen (the fake encoder stands for MiniLM)."""
    from explorer.workspace import DatasetChoice, open_workspace

    monkeypatch.setenv("EXPLORER_ENCODER", "fake")
    ws = open_workspace()
    ws.set_dataset_choice(DatasetChoice(spec=str(write_tiny_csv(tmp_path / "tiny.csv")), name="tiny"))
    return ws, pipeline.load_dataset(ws.dataset_choice())


def test_bakeoff_is_stored_and_rebuilt_without_computing(workspace, monkeypatch):
    ws, dataset = workspace
    fp = dataset.fingerprint()
    assert pipeline.stored_bakeoff(ws, dataset, ["minilm", "bm25"]) is None
    first = pipeline.run_bakeoff(ws, dataset, ["minilm", "bm25", "hybrid"], reference="bm25")
    assert [r.spec for r in first.rows] == ["minilm", "bm25", "hybrid"] and first.reference == "bm25"
    assert {m["spec"] for m in pipeline.stored_models(ws, fp)} == {"minilm", "bm25", "hybrid"}
    monkeypatch.setattr("explorer.retrievers.bakeoff.compare_models",
                        lambda *a, **k: pytest.fail("stored models were computed again"))
    again = pipeline.run_bakeoff(ws, dataset, ["hybrid", "minilm", "bm25"], reference="minilm")
    by_spec = {r.spec: r for r in again.rows}
    for row in first.rows:  # the same results and costs; the p-values follow the new reference
        assert by_spec[row.spec].result.metrics == pytest.approx(row.result.metrics)
        assert by_spec[row.spec].index_bytes == row.index_bytes and by_spec[row.spec].dim == row.dim
    assert by_spec["minilm"].p_holm is None and by_spec["bm25"].p_holm is not None
    assert pipeline.models.missing_models(ws, fp, ["bm25", "static"]) == ["static"]


def test_a_run_joins_the_bakeoff_but_not_the_stored_models(workspace):
    ws, dataset = workspace
    run_id = make_finished_run(ws, dataset)
    choices = pipeline.bakeoff_choices(ws)
    assert choices[pipeline.run_spec(run_id)] == pipeline.run_label(ws, run_id)
    bake = pipeline.run_bakeoff(ws, dataset, ["bm25", pipeline.run_spec(run_id)])
    assert [r.kind for r in bake.rows] == ["bm25", "run"]
    assert pipeline.stored_bakeoff(ws, dataset, [pipeline.run_spec(run_id)]) is not None  # its row, costs included
    assert [m["spec"] for m in pipeline.stored_models(ws, dataset.fingerprint())] == ["bm25"]  # runs are runs
    pair = pipeline.compared_pair(ws, dataset.fingerprint())
    assert pair.b == run_id and pair.options["model:bm25"] == "BM25"


@pytest.mark.model
def test_bakeoff_with_the_real_minilm(tmp_path):
    """The real path: the bundled MiniLM, BM25 and their hybrid on the tiny set, then MiniLM's stored result
    stands for the baseline when BM25 is B."""
    from explorer.workspace import DatasetChoice, open_workspace

    ws = open_workspace()
    ws.set_dataset_choice(DatasetChoice(spec=str(write_tiny_csv(tmp_path / "tiny.csv")), name="tiny"))
    dataset = pipeline.load_dataset(ws.dataset_choice())
    bake = pipeline.run_bakeoff(ws, dataset, ["minilm", "bm25", "hybrid"])
    minilm, bm25, hybrid = bake.rows
    assert minilm.dim == 384 and bm25.dim is None and hybrid.dim == 384
    assert minilm.result.metrics["ndcg@10"] > 0.5 and hybrid.result.metrics["recall@100"] == pytest.approx(1.0)
    sides = pipeline.stored_pair(ws, dataset.fingerprint(), pipeline.BASELINE, "model:bm25", baseline_model="minilm")
    assert all(side is not None for side in sides)
    comparison = pipeline.pair_comparison(dataset, sides, encoder_a=lambda: pytest.fail("loaded MiniLM"),
                                          encoder_b=lambda: pytest.fail("loaded BM25"))
    assert comparison.per_query["ndcg@10_a"].mean() == pytest.approx(minilm.result.metrics["ndcg@10"])
