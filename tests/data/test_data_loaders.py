"""The dispatcher: every spec kind reaches its loader, uploads are recognised, unknown specs are explained."""

from __future__ import annotations

import gzip
import io
import json
import zipfile

import pytest

import explorer.data.demo as demo
from data_builders import CORPUS, write_beir
from data_builders import GOOD_NQ as NQ_LINES
from explorer.data.loaders import detect_kind, load_dataset
from explorer.core.errors import DataError

PAIRS = b"question,passage,grade\nq one,p one,2\nq two,p two,1\nq three,p three,1\n"


def _zip_folder(folder) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for path in folder.rglob("*"):
            if path.is_file():
                zf.write(path, "top/" + path.relative_to(folder).as_posix())
    return buffer.getvalue()


def test_each_kind_is_dispatched(tmp_path, beir_folder):
    (tmp_path / "pairs.csv").write_bytes(PAIRS)
    (tmp_path / "nq.jsonl.gz").write_bytes(gzip.compress(NQ_LINES))
    (tmp_path / "b.zip").write_bytes(_zip_folder(beir_folder))
    assert detect_kind("demo") == "demo" and detect_kind("hf:a/b") == "hub"
    assert detect_kind(beir_folder) == "beir" and detect_kind(tmp_path / "b.zip") == "beir"
    assert detect_kind(tmp_path / "nq.jsonl.gz") == "nq" and detect_kind(tmp_path / "pairs.csv") == "table"
    assert len(load_dataset(beir_folder).query_ids("test")) == 3
    assert load_dataset(tmp_path / "b.zip").fingerprint() == load_dataset(beir_folder).fingerprint()
    assert load_dataset(str(tmp_path / "nq.jsonl.gz"), name="NQ").name == "NQ"
    table = load_dataset(tmp_path / "pairs.csv", columns={"label": "grade"}, test_fraction=0.5, seed=3)
    assert sorted(g for j in table.qrels.values() for g in j.values()) == [1, 1, 2]


def test_json_lines_are_told_apart_by_their_first_record(tmp_path):
    (tmp_path / "sample.jsonl").write_bytes(NQ_LINES)
    (tmp_path / "p.jsonl").write_bytes(b'{"query": "a", "passage": "x"}\n{"query": "b", "passage": "y"}\n')
    assert detect_kind(tmp_path / "sample.jsonl") == "nq" and len(load_dataset(tmp_path / "sample.jsonl").queries) == 3
    assert detect_kind(tmp_path / "p.jsonl") == "table" and len(load_dataset(tmp_path / "p.jsonl").corpus) == 2


@pytest.mark.parametrize("spec, message", [
    ("/no/such/file.csv", r"'/no/such/file.csv' not found; give 'demo', a BEIR folder"),
    ("owner/dataset", r"not found \(for a Hugging Face dataset write hf:owner/dataset\)"),
])
def test_unknown_specs(spec, message):
    with pytest.raises(DataError, match=message):
        load_dataset(spec)


def test_unsupported_file_and_lone_beir_file(tmp_path, beir_folder):
    (tmp_path / "data.xlsx").write_bytes(b"x")
    with pytest.raises(DataError, match=r"data.xlsx: unsupported file type"):
        load_dataset(tmp_path / "data.xlsx")
    with pytest.raises(DataError, match=r"corpus.jsonl looks like one file of a BEIR dataset; load the folder"):
        load_dataset(beir_folder / "corpus.jsonl")


def test_demo_loads_the_bundled_folder_with_its_fixed_split(tmp_path, monkeypatch):
    folder = write_beir(tmp_path / "demo")
    monkeypatch.setattr(demo, "DEMO_DIR", folder)
    a, b = load_dataset("demo", seed=1), load_dataset("demo", seed=2)
    assert a.name == "demo" and a.source == "demo"
    assert a.split == b.split and a.query_ids("test") == ["q4", "q5", "q6"]


def test_missing_demo_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "DEMO_DIR", tmp_path / "nowhere")
    with pytest.raises(DataError, match="bundled demo data is missing"):
        load_dataset("demo")


@pytest.mark.skipif(not demo.demo_available(), reason="demo files not written yet")
def test_real_bundled_demo_is_valid():
    ds = load_dataset("demo")
    assert ds.query_ids("train") and ds.query_ids("test")
    assert {g for j in ds.qrels.values() for g in j.values()} <= {0, 1, 2, 3}


def test_lone_corpus_detection_reads_only_the_first_line(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(CORPUS[0]) + "\n" + "garbage\n" * 3)
    with pytest.raises(DataError, match="one file of a BEIR dataset"):
        detect_kind(path)
