"""``python -m explorer train`` end to end on the tiny model, then ``evaluate`` on the run folder it wrote."""

from __future__ import annotations

import json

import pytest

from explorer.cli import main


def test_train_then_evaluate_the_run_folder(tiny_beir, tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "my-run"
    code = main(["train", "--data", tiny_beir, "--model", tiny_model_dir, "--method", "full", "--epochs", "1",
                 "--batch-size", "8", "--lr", "5e-5", "--seed", "3", "--max-seq-length", "32", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "ndcg@10" in captured.out and "p-value" in captured.out and f"run: {out}" in captured.out
    assert "training" in captured.err  # the progress bar
    config = json.loads((out / "config.json").read_text())
    assert (config["epochs"], config["batch_size"], config["learning_rate"], config["seed"], config["max_seq_length"]) == (1, 8, 5e-5, 3, 32)
    assert json.loads((out / "status.json").read_text())["state"] == "succeeded"
    tuned = json.loads((out / "evaluation.json").read_text())["tuned"]

    assert main(["evaluate", "--data", tiny_beir, "--model", str(out), "--out", str(tmp_path / "eval.json")]) == 0
    again = json.loads((tmp_path / "eval.json").read_text())
    assert again["ndcg@10"] == pytest.approx(tuned["ndcg@10"], abs=1e-6)


def test_adapter_without_negatives_as_json(tiny_beir, tmp_path, capsys):
    out = tmp_path / "adapter-run"
    assert main(["train", "--data", tiny_beir, "--model", "fake", "--method", "adapter", "--epochs", "2",
                 "--no-hard-negatives", "--out", str(out), "--json"]) == 0
    evaluation = json.loads(capsys.readouterr().out)
    assert set(evaluation) >= {"baseline", "tuned", "comparison"}
    assert (out / "adapter").is_dir() and json.loads((out / "config.json").read_text())["use_hard_negatives"] is False


def test_keep_last_flag_is_recorded_and_reported(tiny_beir, tmp_path, capsys):
    out = tmp_path / "keep-last"
    assert main(["train", "--data", tiny_beir, "--model", "fake", "--method", "adapter", "--epochs", "2",
                 "--keep", "last", "--out", str(out)]) == 0
    report = capsys.readouterr().out
    assert json.loads((out / "config.json").read_text())["keep"] == "last"
    selection = json.loads((out / "evaluation.json").read_text())["selection"]
    assert selection["kept"] == "last" and selection["summary"] in report


def test_bad_flags_are_one_line_errors(tiny_beir, tmp_path, capsys):
    assert main(["train", "--data", tiny_beir, "--model", "fake", "--method", "adapter", "--epochs", "0", "--out", str(tmp_path / "x")]) == 2
    # stderr: the dataset's summary line (as every data-loading command prints it), then the one-line error
    assert capsys.readouterr().err.strip().splitlines()[-1] == "error: epochs must be a whole number >= 1, got 0."
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "f").write_text("x")
    assert main(["train", "--data", tiny_beir, "--model", "fake", "--method", "adapter", "--out", str(tmp_path / "taken")]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err
    assert main(["train", "--data", tiny_beir, "--matryoshka-dims", "64,x"]) == 2
    assert "--matryoshka-dims must be comma-separated" in capsys.readouterr().err
