"""``python -m explorer evaluate`` and ``compare`` with the fake encoder on a small BEIR folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.cli import main

from eval_builders import make_dataset

ROOT = Path(__file__).resolve().parents[2]
METRIC_KEYS = {"ndcg@10", "mrr@10", "recall@10", "recall@100", "map@100", "n_queries"}


def write_beir(folder: Path) -> Path:
    """The tiny dataset of conftest.py as a BEIR folder (its split as qrels/train.tsv and qrels/test.tsv)."""
    ds = make_dataset()
    (folder / "qrels").mkdir(parents=True)
    with open(folder / "corpus.jsonl", "w") as fh:
        for p in ds.corpus.values():
            fh.write(json.dumps({"_id": p.id, "title": p.title, "text": p.text}) + "\n")
    with open(folder / "queries.jsonl", "w") as fh:
        for q, text in ds.queries.items():
            fh.write(json.dumps({"_id": q, "text": text}) + "\n")
    for split in ("train", "test"):
        lines = ["query-id\tcorpus-id\tscore"]
        lines += [f"{q}\t{p}\t{g}" for q in ds.query_ids(split) for p, g in ds.qrels[q].items()]
        (folder / "qrels" / f"{split}.tsv").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture
def beir(tmp_path) -> Path:
    return write_beir(tmp_path / "tiny")


def test_evaluate_prints_flat_json_and_writes_out(beir, tmp_path, capsys):
    out = tmp_path / "res" / "eval.json"
    code = main(["evaluate", "--data", str(beir), "--model", "fake", "--k", "20", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0
    printed = json.loads(captured.out)
    assert METRIC_KEYS <= set(printed) and printed["n_queries"] == 4
    assert printed["model"] == "fake" and printed["split"] == "test"
    assert all(0.0 <= printed[k] <= 1.0 for k in METRIC_KEYS - {"n_queries"})
    assert json.loads(out.read_text()) == printed
    assert "[passages]" in captured.err  # progress on stderr, never mixed into the JSON
    cost = [line for line in captured.err.splitlines() if line.startswith("[cost] ")]
    assert len(cost) == 1 and "texts to embed, about" in cost[0]  # said once, before the encoding
    assert captured.err.index("[cost] ") < captured.err.index("[passages]")


def test_compare_reports_metrics_significance_overlap_and_counts(beir, tmp_path, capsys):
    per_query = tmp_path / "pq.csv"
    code = main(["compare", "--data", str(beir), "--a", "fake", "--b", "fake:32", "--split", "train",
                 "--per-query", str(per_query)])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert METRIC_KEYS <= set(data["a_metrics"]) and METRIC_KEYS <= set(data["b_metrics"])
    ndcg = data["metrics"]["ndcg@10"]
    assert {"p_value", "ci_a", "ci_b", "ci_delta", "delta"} <= set(ndcg)
    assert 0.0 <= data["mean_rbo@10"] <= 1.0
    assert sum(data["counts"].values()) == data["n_queries"] == 8
    assert per_query.read_text().splitlines()[0].startswith("qid,query,")


def test_bad_inputs_end_with_one_line_and_exit_code_2(beir, tmp_path, capsys):
    assert main(["evaluate", "--data", str(tmp_path / "missing"), "--model", "fake"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err
    assert main(["evaluate", "--data", str(beir), "--model", str(tmp_path / "no-such-model")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error:")


def test_module_entry_point_runs_as_a_process(beir):
    result = subprocess.run(
        [sys.executable, "-m", "explorer", "evaluate", "--data", str(beir), "--model", "fake"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert METRIC_KEYS <= set(json.loads(result.stdout))
