"""``python -m explorer data stats``: table and JSON output, column flags, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from explorer.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_stats_table_and_json(beir_folder, capsys):
    assert main(["data", "stats", "--data", str(beir_folder)]) == 0
    out = capsys.readouterr().out
    assert "queries" in out and "6 (3 train / 3 test" in out
    assert main(["data", "stats", "--data", str(beir_folder), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["passages"] == 6


def test_column_flags(tmp_path, capsys):
    path = tmp_path / "odd.csv"
    path.write_text("ask,reply,stars,bad\nq1,p1,2,n1\nq2,p2,0,n2\nq3,p3,1,n3\n")
    code = main(["data", "stats", "--data", str(path), "--query-col", "ask", "--passage-col", "reply",
                 "--label-col", "stars", "--negative-col", "bad", "--json"])
    d = json.loads(capsys.readouterr().out)
    assert code == 0 and d["grades"] == {"0": 1, "1": 1, "2": 1} and d["hard_negative_candidates"] == 3


def test_malformed_input_is_one_line_and_exit_2(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("query;passage\na;b\n")
    assert main(["data", "stats", "--data", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: bad.csv parsed into a single column") and err.count("\n") == 1


def test_subprocess_exit_codes(tmp_path):
    missing = subprocess.run([sys.executable, "-m", "explorer", "data", "stats", "--data", str(tmp_path / "x.csv")],
                             cwd=ROOT, capture_output=True, text=True)
    assert missing.returncode == 2 and missing.stderr.startswith("error: ") and missing.stderr.count("\n") == 1
    usage = subprocess.run([sys.executable, "-m", "explorer", "data", "stats"], cwd=ROOT, capture_output=True, text=True)
    assert usage.returncode == 2 and "--data" in usage.stderr  # argparse: the required option is named


def test_bad_test_fraction(beir_folder, capsys):
    assert main(["data", "stats", "--data", str(beir_folder), "--test-fraction", "1.5"]) == 2
    assert "--test-fraction must be between 0 and 1" in capsys.readouterr().err


def test_max_mb_caps_the_file_size(tmp_path, capsys):
    path = tmp_path / "pairs.csv"
    path.write_text("query,passage\n" + "".join(f"question {i},answer number {i}\n" for i in range(200)))
    assert main(["data", "stats", "--data", str(path), "--max-mb", "0.001"]) == 2
    assert "over the 1.0 KB limit" in capsys.readouterr().err
    assert main(["data", "stats", "--data", str(path), "--max-mb", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["queries"] == 200


def test_over_the_passage_limit_the_cli_names_sample_and_sample_loads_within_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("EXPLORER_MAX_PASSAGES", "30")
    path = tmp_path / "pairs.csv"
    path.write_text("query,passage\n" + "".join(f"question {i},answer number {i} in words\n" for i in range(50)))
    assert main(["data", "stats", "--data", str(path)]) == 2
    err = capsys.readouterr().err
    assert "more than 30 passages" in err and "add --sample" in err and len(err.strip().splitlines()) == 1, err
    assert main(["data", "stats", "--data", str(path), "--sample", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["passages"] == 30
    assert "note: passages left out to fit this server (a seeded sample): 20" in err, err
