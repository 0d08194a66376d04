"""``python -m explorer compare-models``: the bake-off's JSON, its table, its stored results and its errors."""

from __future__ import annotations

import json

import pytest

from explorer.cli import main
from explorer.core.config import get_settings
from explorer.encoders.spec import parse_spec
from explorer.evaluation.significance import holm
from explorer.retrievers.bakeoff import list_stored_models, load_model_results


def test_compare_models_json(words_beir, capsys):
    code = main(["compare-models", "--data", words_beir, "--models", "fake,bm25,hybrid:fake", "--reference", "bm25",
                 "--json"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["reference"] == "bm25" and payload["metrics"] == ["ndcg@10", "mrr@10", "recall@100"]
    rows = {row["spec"]: row for row in payload["models"]}
    assert list(rows) == ["fake", "bm25", "hybrid:fake"]
    assert rows["hybrid:fake"]["display"] == "BM25 + hashing encoder (64 dims) (hybrid)"
    assert rows["bm25"]["metrics"]["ndcg@10"]["p_value"] is None  # the reference is not tested against itself
    for spec in ("fake", "hybrid:fake"):
        metric = rows[spec]["metrics"]["ndcg@10"]
        low, high = metric["ci95"]
        assert low <= metric["mean"] <= high and 0 <= metric["p_value"] <= metric["p_holm"] <= 1
    assert rows["bm25"]["dim"] is None and rows["fake"]["dim"] == 64 and rows["hybrid:fake"]["dim"] == 64
    assert rows["hybrid:fake"]["index_bytes"] > rows["fake"]["index_bytes"] > 0
    assert rows["hybrid:fake"]["fusion"]["chosen_on"] == "defaults (fewer than 20 training queries)"  # 12: too few
    assert all(row["encode_seconds_per_1000"] > 0 for row in rows.values())
    # Stored like a run's results, in the workspace's models/ folder, readable without any model.
    settings = get_settings()
    from explorer.data.loaders import load_dataset

    fingerprint = load_dataset(words_beir).fingerprint()
    for spec in rows:
        stored = load_model_results(settings.home / "models", parse_spec(spec), fingerprint, "test")
        assert stored is not None and stored.metrics["ndcg@10"] == pytest.approx(rows[spec]["metrics"]["ndcg@10"]["mean"], abs=1e-4)
    assert load_model_results(settings.home / "models", parse_spec("fake"), fingerprint, "train") is None
    listed = list_stored_models(settings.home / "models", fingerprint)
    assert sorted(entry["spec"] for entry in listed) == ["bm25", "fake", "hybrid:fake"]
    assert list_stored_models(settings.home / "models", "another-dataset") == []


def test_the_hybrid_fusion_is_chosen_on_training_queries(words_beir, capsys, monkeypatch):
    monkeypatch.setattr("explorer.retrievers.bakeoff.MIN_DEV_QUERIES", 5)
    assert main(["compare-models", "--data", words_beir, "--models", "hybrid:fake", "--json"]) == 0
    fusion = json.loads(capsys.readouterr().out)["models"][0]["fusion"]
    assert fusion["chosen_on"] == "12 training queries" and len(fusion["dev_ndcg@10"]) == 10
    best = max(fusion["dev_ndcg@10"].values())
    label = "rrf" if fusion["method"] == "rrf" else f"wsum@{fusion['dense_weight']}"
    assert fusion["dev_ndcg@10"][label] == best


def test_a_hybrid_over_a_fine_tune_chooses_its_fusion_on_the_queries_its_run_held_out(words_beir, tmp_path):
    """Its run trained on every other training query: choosing the weight on those would favour the dense side."""
    from explorer.data.loaders import load_dataset
    from explorer.data.splits import DEV_FRACTION, dev_split
    from explorer.retrievers.bakeoff import fusion_queries

    dataset = load_dataset(words_beir)
    run = tmp_path / "runs" / "20261207-tuned"
    (run / "model").mkdir(parents=True)  # a finished full fine-tune
    (run / "config.json").write_text(json.dumps({"seed": 7, "method": "full", "base_model": "minilm",
                                                 "dataset": {"fingerprint": dataset.fingerprint()}}))
    held_out = dev_split(dataset.query_ids("train"), DEV_FRACTION, seed=7)[1]
    assert 0 < len(held_out) < len(dataset.qrels_for("train"))
    qids, where = fusion_queries(dataset, parse_spec(f"hybrid:{run}"), None)
    assert qids == sorted(held_out) and where == "training queries its fine-tune held out"
    (run / "config.json").write_text(json.dumps({"seed": 7, "dataset": {"fingerprint": "another dataset"}}))
    qids, where = fusion_queries(dataset, parse_spec(f"hybrid:{run}"), None)  # trained elsewhere: all count
    assert qids == sorted(dataset.qrels_for("train")) and where == "training queries"
    assert fusion_queries(dataset, parse_spec("hybrid:fake"), None)[0] == sorted(dataset.qrels_for("train"))


def test_compare_models_table(words_beir, capsys):
    assert main(["compare-models", "--data", words_beir, "--models", "bm25,fake:16"]) == 0
    out = capsys.readouterr().out
    assert "BM25" in out and "hashing encoder (16 dims)" in out and "Holm-corrected" in out and "sparse" in out


@pytest.mark.parametrize(("models", "reference", "words"), [
    ("fake,bm25", "minilm", "not among the models compared"),
    ("fake,hybrid:bm25", None, "takes a dense model"),
    (",", None, "No model to compare"),
])
def test_compare_models_errors_are_one_line(words_beir, capsys, models, reference, words):
    argv = ["compare-models", "--data", words_beir, "--models", models, *(["--reference", reference] if reference else [])]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert words in err[-1] and err[-1].startswith("error: ")


def test_holm_known_values():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []
    with pytest.raises(ValueError):
        holm([0.2, float("nan")])
