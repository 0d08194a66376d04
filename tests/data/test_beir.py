"""BEIR folder and zip loading: good input, splits, and malformed files with precise messages."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from data_builders import CORPUS, QUERIES, TEST, TRAIN, jsonl, tsv
from explorer.data.beir import find_beir_root, load_beir
from explorer.core.errors import DataError


def _zip(folder: Path, prefix: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(folder).as_posix())
    return buffer.getvalue()


def test_folder_loads_with_its_train_test_split(beir_folder):
    ds = load_beir(beir_folder)
    assert ds.name == "mini"
    assert len(ds.corpus) == 6 and len(ds.queries) == 6
    assert ds.query_ids("train") == ["q1", "q2", "q3"]
    assert ds.query_ids("test") == ["q4", "q5", "q6"]
    assert ds.qrels["q3"] == {"d3": 3, "d1": 0}  # grade 0 kept as judged-irrelevant
    assert ds.corpus["d1"].full_text == "Cats. Cats are small domesticated carnivores."
    assert ds.corpus["d3"].title == ""


def test_zip_with_and_without_top_folder_loads_the_same(beir_folder, tmp_path):
    flat, nested = tmp_path / "flat.zip", tmp_path / "nested.zip"
    flat.write_bytes(_zip(beir_folder))
    nested.write_bytes(_zip(beir_folder, prefix="scifact-mini/"))
    a, b = load_beir(flat), load_beir(nested)
    assert a.fingerprint() == b.fingerprint() == load_beir(beir_folder).fingerprint()
    assert a.name == "flat"


def test_zip_bytes_upload(beir_folder):
    upload = io.BytesIO(_zip(beir_folder))
    upload.name = "upload.zip"
    ds = load_beir(upload)
    assert ds.name == "upload" and len(ds.query_ids("test")) == 3


def test_dev_counts_as_test_when_there_is_no_test(make_beir):
    ds = load_beir(make_beir(qrels={"train": TRAIN, "dev": TEST}))
    assert ds.query_ids("test") == ["q4", "q5", "q6"]


def test_only_test_qrels_are_split_by_seed(make_beir):
    folder = make_beir(qrels={"test": TRAIN + TEST})
    a, b = load_beir(folder, seed=1), load_beir(folder, seed=1)
    assert a.split == b.split
    assert len(a.query_ids("test")) == 2 and len(a.query_ids("train")) == 4  # round(6 * 0.3) = 2
    assert load_beir(folder, test_fraction=0.5).query_ids("test").__len__() == 3


def test_unused_dev_and_unjudged_queries_are_noted(make_beir):
    extra = QUERIES + [{"_id": "q7", "text": "an unjudged query"}]
    ds = load_beir(make_beir(queries=extra, qrels={"train": TRAIN, "dev": [("q7", "d1", 1)], "test": TEST}))
    assert "q7" not in ds.queries
    assert ds.notes == {"qrels/dev.tsv not used": 1, "queries without judgements (dropped)": 1}


def test_query_in_train_and_test_goes_to_test(make_beir):
    ds = load_beir(make_beir(qrels={"train": TRAIN + [("q4", "d1", 1)], "test": TEST}))
    assert ds.split["q4"] == "test" and ds.qrels["q4"] == {"d1": 1, "d4": 1}
    assert ds.notes["queries judged in both train and test (kept in test)"] == 1


def test_trec_four_column_qrels_and_missing_header(make_beir):
    trec = "\n".join(f"{q} 0 {d} {g}" for q, d, g in TEST)
    ds = load_beir(make_beir(qrels={"train": tsv(TRAIN, header=False), "test": trec}))
    assert ds.query_ids("test") == ["q4", "q5", "q6"]


def test_duplicate_identical_lines_are_merged(make_beir):
    ds = load_beir(make_beir(corpus=CORPUS + CORPUS[:1]))
    assert len(ds.corpus) == 6 and ds.notes["duplicate passage lines (merged)"] == 1


def test_find_root_lists_what_it_found(tmp_path):
    (tmp_path / "stuff").mkdir()
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(DataError, match=r"no corpus.jsonl found \(found: readme.txt, stuff/\)"):
        find_beir_root(tmp_path)


BAD_CORPUS = jsonl(CORPUS[:2]) + "{not json}\n"
BAD_CASES = {
    "corpus line not JSON": (dict(corpus=BAD_CORPUS), r"corpus.jsonl: line 3 is not valid JSON"),
    "corpus line not an object": (dict(corpus=jsonl(CORPUS) + "[1, 2]\n"), r"corpus.jsonl: line 7 is a JSON list"),
    "corpus line without _id": (dict(corpus=jsonl(CORPUS) + '{"text": "x"}\n'), r"line 7 lacks '_id' \(found keys: text"),
    "empty passage": (dict(corpus=jsonl(CORPUS) + '{"_id": "d9", "title": "", "text": "   "}\n'),
                      r"corpus.jsonl: line 7 \(passage 'd9'\) has an empty text and title"),
    "duplicate passage id": (dict(corpus=jsonl(CORPUS) + '{"_id": "d1", "text": "other"}\n'),
                             r"passage id 'd1' appears on lines 1 and 7 with different texts"),
    "empty corpus": (dict(corpus=""), r"corpus.jsonl is empty"),
    "query without text": (dict(queries=jsonl(QUERIES) + '{"_id": "q9"}\n'), r"queries.jsonl: line 7 lacks 'text'"),
    "blank query": (dict(queries=jsonl(QUERIES) + '{"_id": "q9", "text": " "}\n'),
                    r"queries.jsonl: line 7 \(query 'q9'\) has an empty text"),
    "duplicate query id": (dict(queries=jsonl(QUERIES) + '{"_id": "q1", "text": "dogs"}\n'),
                           r"query id 'q1' appears on lines 1 and 7"),
    "unknown query in qrels": (dict(qrels={"train": TRAIN + [("q99", "d1", 1)], "test": TEST}),
                               r"qrels/train.tsv: line 6 names query 'q99', which is not in queries.jsonl"),
    "unknown passage in qrels": (dict(qrels={"train": TRAIN, "test": TEST + [("q4", "d99", 1)]}),
                                 r"qrels/test.tsv: line 5 names passage 'd99', which is not in corpus.jsonl"),
    "negative grade": (dict(qrels={"train": TRAIN + [("q1", "d2", -1)], "test": TEST}),
                       r"qrels/train.tsv: line 6 has negative grade '-1'"),
    "non-numeric grade": (dict(qrels={"train": TRAIN + [("q1", "d2", "high")], "test": TEST}),
                          r"qrels/train.tsv: line 6 has grade 'high', which is not a number"),
    "fractional grade": (dict(qrels={"train": TRAIN + [("q1", "d2", 0.5)], "test": TEST}),
                         r"line 6 has grade '0.5'; grades must be whole numbers"),
    "qrels with two columns": (dict(qrels={"train": "q1\td1\n", "test": TEST}), r"qrels/train.tsv: line 1 has 2 fields"),
    "qrels bad header": (dict(qrels={"train": "query-id\tcorpus-id\n" + tsv(TRAIN, False), "test": TEST}),
                         r"line 1 has 2 fields \(query-id, corpus-id\); expected query-id, corpus-id, score"),
    "qrels header only": (dict(qrels={"train": TRAIN, "test": "query-id\tcorpus-id\tscore\n"}),
                          r"qrels/test.tsv has a header but no judgements"),
    "no qrels files": (dict(qrels={}), r"no qrels/train.tsv, qrels/dev.tsv or qrels/test.tsv"),
    "one judged query": (dict(qrels={"test": [("q1", "d1", 1), ("q2", "d2", 0)]}), r"has only 1 query with a relevant passage"),
    "no relevant test query": (dict(qrels={"train": TRAIN, "test": [("q4", "d4", 0)]}), r"has no test queries with a relevant passage"),
}


@pytest.mark.parametrize("kwargs, message", BAD_CASES.values(), ids=BAD_CASES.keys())
def test_malformed_folders_are_rejected_with_the_place(make_beir, kwargs, message):
    with pytest.raises(DataError, match=message):
        load_beir(make_beir(**kwargs))


def test_non_utf8_corpus_names_line_and_offset(beir_folder):
    path = beir_folder / "corpus.jsonl"
    path.write_bytes(path.read_bytes() + b'{"_id": "d9", "text": "caf\xe9"}\n')
    with pytest.raises(DataError, match=r"corpus.jsonl: line 7 \(byte offset \d+\) is not valid UTF-8"):
        load_beir(beir_folder)


def test_missing_queries_file(beir_folder):
    (beir_folder / "queries.jsonl").unlink()
    with pytest.raises(DataError, match=r"^queries.jsonl is missing; a BEIR folder holds"):
        load_beir(beir_folder)


def test_file_over_the_size_limit(beir_folder):
    with pytest.raises(DataError, match=r"corpus.jsonl is .* over the 100 bytes limit"):
        load_beir(beir_folder, max_bytes=100)


def test_zip_without_beir_files_names_the_zip(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("data/pairs.csv", "query,passage\n")
    with pytest.raises(DataError, match=r"^up.zip: no corpus.jsonl found \(found: data/\)"):
        load_beir(_named(buffer.getvalue(), "up.zip"))


def _named(data: bytes, name: str) -> io.BytesIO:
    stream = io.BytesIO(data)
    stream.name = name
    return stream


def test_not_a_zip(tmp_path):
    fake = tmp_path / "data.zip"
    fake.write_bytes(b"hello")
    with pytest.raises(DataError, match="neither a folder nor a zip"):
        load_beir(fake)


def test_missing_path():
    with pytest.raises(DataError, match="not found"):
        load_beir("/no/such/folder")

