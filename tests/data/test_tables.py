"""Tables of pairs: reading every format, guessing columns, conversion rules, and malformed tables."""

from __future__ import annotations

import gzip
import io

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from explorer.data.columns import ColumnMap, guess_columns
from explorer.data.labels import score_to_grade
from explorer.data.loaders import load_table
from explorer.data.tables import read_head, read_table
from explorer.data.validation import stable_id
from explorer.core.errors import DataError

CSV = (
    "question,answer,label\n"
    "what is a cat,A cat is a small feline.,1\n"
    "what is a dog,A dog is a domesticated wolf.,1\n"
    "what is a dog,A cat is a small feline.,0\n"
    "what is tea,Tea is a brewed drink.,2\n"
)


def _parquet(df: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    df.to_parquet(buffer)
    return buffer.getvalue()


def test_csv_pairs_become_deduplicated_passages_and_graded_judgements(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text(CSV)
    ds = load_table(path)
    assert ds.name == "pairs" and ds.source == str(path)
    assert len(ds.queries) == 3 and len(ds.corpus) == 3  # the cat passage appears twice, stored once
    cat, dog = stable_id("p", "A cat is a small feline."), stable_id("q", "what is a dog")
    assert ds.qrels[dog] == {stable_id("p", "A dog is a domesticated wolf."): 1, cat: 0}
    assert ds.qrels[stable_id("q", "what is tea")] == {stable_id("p", "Tea is a brewed drink."): 2}
    assert set(ds.split.values()) == {"train", "test"}


@pytest.mark.parametrize("fmt, payload", [
    ("tsv", CSV.replace(",", "\t")),
    ("jsonl", "".join(
        f'{{"question": "{q}", "answer": "{a}", "label": {g}}}\n'
        for q, a, g in (line.rsplit(",", 2) for line in CSV.splitlines()[1:]))),
    ("json", '[{"q": "a b", "document": "x y"}, {"q": "c d", "document": "z"}]'),
])
def test_text_formats_from_bytes_and_file_objects(fmt, payload):
    a = load_table(payload.encode(), name=f"upload.{fmt}")
    stream = io.BytesIO(payload.encode())
    stream.name = f"upload.{fmt}"
    b = load_table(stream)
    assert a.fingerprint() == b.fingerprint() and a.name == "upload"
    assert len(a.query_ids()) >= 2


def test_parquet_and_gzip(tmp_path):
    df = read_table(CSV.encode(), name="x.csv")
    a = load_table(_parquet(df), name="x.parquet")
    b = load_table(gzip.compress(CSV.encode()), name="x.csv.gz")
    assert a.fingerprint() == b.fingerprint() == load_table(CSV.encode(), name="x.csv").fingerprint()


def test_read_table_keeps_cells_as_strings():
    df = read_table(b"query,passage,qid\nq,p,007\nr,s,8\n", name="t.csv")
    assert df["qid"].tolist() == ["007", "8"]


@pytest.mark.parametrize("columns, expected", [
    (["anchor", "positive", "negative"], ColumnMap("anchor", "positive", negatives=("negative",))),
    (["Question", "Context", "Relevance", "Title"], ColumnMap("Question", "Context", label="Relevance", title="Title")),
    (["qid", "pid", "query", "text", "score"], ColumnMap("query", "text", label="score", query_id="qid", passage_id="pid")),
    (["query", "positive", "negative_1", "negative_2"], ColumnMap("query", "positive", negatives=("negative_1", "negative_2"))),
    (["q", "doc_id", "document"], ColumnMap("q", "document", passage_id="doc_id")),
])
def test_guess_columns(columns, expected):
    assert guess_columns(pd.DataFrame(columns=columns)) == expected


def test_labels_float_scores_are_mapped_to_grades():
    assert [score_to_grade(x) for x in (0, 0.1, 0.2, 0.5, 0.9, 1.0)] == [0, 0, 1, 2, 3, 3]
    rows = "query,passage,score\n" + "".join(f"q{i},p{i},{s}\n" for i, s in enumerate((0.2, 0.5, 1.0, 0.0)))
    ds = load_table(rows.encode(), name="s.csv")
    assert sorted(g for j in ds.qrels.values() for g in j.values()) == [0, 1, 2, 3]


def test_boolean_labels_and_no_label_column():
    ds = load_table(b"query,passage,relevant\na,x,true\nb,y,false\nc,z,yes\n", name="b.csv")
    assert sorted(g for j in ds.qrels.values() for g in j.values()) == [0, 1, 1]
    ds = load_table(b"query,passage\na,x\nb,y\n", name="n.csv")
    assert all(g == 1 for j in ds.qrels.values() for g in j.values())


def test_id_columns_title_and_partial_column_map():
    text = (b"query_id,question,doc,body,heading,rel_score\n1,cats?,d1,cats purr,Cats,2\n2,dogs?,d2,dogs bark,Dogs,1\n"
            b"1,cats?,d2,dogs bark,Dogs,0\n")
    ds = load_table(text, {"passage": "body", "passage_id": "doc", "title": "heading", "label": "rel_score"}, name="i.csv")
    assert ds.corpus["d1"].full_text == "Cats. cats purr"
    assert ds.qrels["1"] == {"d1": 2, "d2": 0}
    assert ds.queries == {"1": "cats?", "2": "dogs?"}


def test_negative_column_becomes_hard_negative_candidates():
    df = pd.DataFrame({"anchor": ["a", "b", "a"], "positive": ["pa", "pb", "pa"], "negative": ["pb", "nb", "n2"]})
    ds = load_table(df)
    qa = stable_id("q", "a")
    assert ds.hard_negative_candidates[qa] == [stable_id("p", "pb"), stable_id("p", "n2")]
    assert stable_id("p", "pb") not in ds.qrels[qa]  # a negative is not a judgement


def test_conflicting_duplicates_keep_the_highest_grade():
    ds = load_table(b"query,passage,label\na,x,0\na,x,2\nb,y,1\n", name="c.csv")
    assert ds.qrels[stable_id("q", "a")] == {stable_id("p", "x"): 2}
    assert ds.notes == {"conflicting duplicate judgements (kept the highest grade)": 1}


def _bad(payload: bytes | pd.DataFrame, name: str = "t.csv", **kwargs):
    return lambda: load_table(payload, name=name, **kwargs)


BAD = {
    "empty file": (_bad(b""), r"t.csv is empty"),
    "whitespace only": (_bad(b"  \n\n"), r"t.csv is empty"),
    "header only": (_bad(b"query,passage\n"), r"t.csv has a header but no rows"),
    "semicolon delimiter": (_bad(b"query;passage\na;b\n"), r"single column 'query;passage'.*looks like a semicolon"),
    "tab in a csv": (_bad(b"query\tpassage\na\tb\n"), r"delimiter looks like a tab"),
    "one column": (_bad(b"query\na\n"), r"single column 'query': a table needs a query and a passage column"),
    "no query column": (_bad(b"foo,passage\na,b\n"), r"no query column found \(columns found: foo, passage; expected one of: query, question"),
    "no passage column": (_bad(b"query,bar\na,b\n"), r"no passage column found \(columns found: query, bar"),
    "mapped column missing": (_bad(b"query,passage\na,b\n", columns={"label": "grade"}), r"column 'grade' not found \(columns found: query, passage\)"),
    "column mapped twice": (_bad(b"query,passage\na,b\n", columns={"passage": "query"}), r"column 'query' is mapped to two roles"),
    "empty query cell": (_bad(b"query,passage\na,b\n,c\n"), r"t.csv: line 3, column 'query' has an empty text"),
    "blank passage": (_bad(b"query,passage\na,b\nc,   \n"), r"line 3, column 'passage' has an empty text"),
    "non-numeric label": (_bad(b"query,passage,label\na,b,1\nc,d,high\n"), r"t.csv: column 'label' has label words with no grade \(high; words found: high\); map each word"),
    "empty label": (_bad(b"query,passage,label\na,b,1\nc,d,\n"), r"line 3, column 'label' has an empty label"),
    "negative label": (_bad(b"query,passage,label\na,b,1\nc,d,-2\n"), r"line 3, column 'label' has negative label '-2'"),
    "scores outside 0..1": (_bad(b"query,passage,label\na,b,0.5\nc,d,2.5\n"), r"mixes fractional scores with '2.5' \(line 3\)"),
    "ragged row": (_bad(b"query,passage\na,b\nc,d,e,f\n"), r"t.csv: Error tokenizing data.*line 3.*quoted"),
    "not utf-8": (_bad(b"query,passage\na,b\nc,caf\xe9\n"), r"t.csv: line 3 \(byte offset 23\) is not valid UTF-8"),
    "jsonl bad line": (_bad(b'{"query": "a", "passage": "b"}\n{"query": "c",\n', name="t.jsonl"), r"t.jsonl: line 2 is not valid JSON"),
    "jsonl not object": (_bad(b'{"query": "a", "passage": "b"}\n\n"text"\n', name="t.jsonl"), r"t.jsonl: line 3 is a JSON str"),
    "jsonl list as text": (_bad(b'{"query": "a", "passage": "b"}\n{"query": "c", "passage": ["d"]}\n', name="t.jsonl"),
                           r"t.jsonl: line 2, column 'passage' has a list as text"),
    "unknown extension": (_bad(b"query,passage\na,b\n", name="t.xlsx"), r"Cannot tell the format of 't.xlsx'"),
    "duplicate passage id": (_bad(b"query,passage,pid\na,b,1\nc,d,1\n"), r"passage id '1' has different texts on line 2 and line 3"),
    "duplicate query id": (_bad(b"query,passage,qid\na,b,1\nc,d,1\n"), r"query id '1' has different texts on line 2 and line 3"),
    "one query": (_bad(b"query,passage\na,b\na,c\n"), r"has only 1 query with a relevant passage"),
    "nothing relevant": (_bad(b"query,passage,label\na,b,0\nc,d,0\n"), r"no query with a relevant passage"),
    "over size limit": (_bad(b"query,passage\na,b\nc,d\n", max_bytes=10), r"t.csv is 22 bytes, over the 10 bytes limit"),
    "parquet int query": (_bad(_parquet(pd.DataFrame({"query": [1, 2], "passage": ["a", "b"]})), name="t.parquet"),
                          r"column 'query' holds int64 values; expected text"),
    "parquet list passage": (_bad(_parquet(pd.DataFrame({"query": ["a", "b"], "passage": [["x"], ["y"]]})), name="t.parquet"),
                             r"t.parquet: row 1, column 'passage' has a list as text"),
    "not parquet": (_bad(b"PAR1 nonsense", name="t.parquet"), r"t.parquet is not a readable Parquet file"),
    "bad gzip": (_bad(b"not gzip at all", name="t.csv.gz"), r"t.csv.gz is not a valid gzip file"),
    "missing file": (lambda: load_table("/no/such/pairs.csv"), r"file '/no/such/pairs.csv' not found"),
}


@pytest.mark.parametrize("call, message", BAD.values(), ids=BAD.keys())
def test_malformed_tables_are_rejected_with_the_place(call, message):
    with pytest.raises(DataError, match=message):
        call()


texts = st.text(alphabet="abc ,\"'\n", min_size=1, max_size=6).filter(lambda s: s.strip())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs=st.lists(st.tuples(texts, texts), min_size=2, max_size=25), seed=st.integers(0, 10_000))
def test_property_random_tables_give_valid_split_deduplicated_datasets(pairs, seed):
    queries = {q.strip() for q, _ in pairs}
    if len(queries) < 2:
        assume(False)  # a dataset needs two queries; that rejection is tested above
    csv = pd.DataFrame(pairs, columns=["query", "passage"]).to_csv(index=False).encode()
    ds = load_table(csv, name="random.csv", seed=seed)
    passage_texts = [p.text for p in ds.corpus.values()]
    assert len(passage_texts) == len(set(passage_texts)) == len({p.strip() for _, p in pairs})
    assert set(ds.queries.values()) == queries
    train, test = set(ds.query_ids("train")), set(ds.query_ids("test"))
    assert train and test and not train & test and train | test == set(ds.queries)
    for q, p in pairs:
        assert ds.qrels[stable_id("q", q.strip())][stable_id("p", p.strip())] == 1


def test_read_head_reads_the_first_rows_only(tmp_path):
    """The preview's reader stops after its rows: a broken line further down does not reach it (the full read,
    at load time, names it)."""
    good = "".join(f"question {i},answer {i}\n" for i in range(30))
    csv = tmp_path / "t.csv"
    csv.write_bytes(b"query,passage\n" + good.encode() + b"bad,caf\xe9\n")
    assert list(read_head(csv, 5)["query"]) == [f"question {i}" for i in range(5)]
    with pytest.raises(DataError, match="not valid UTF-8"):
        read_table(csv)
    lines = "".join(f'{{"query": "q{i}", "passage": "p{i}"}}\n' for i in range(30)) + "{broken\n"
    (tmp_path / "t.jsonl").write_text(lines)
    with gzip.open(tmp_path / "t.jsonl.gz", "wt") as fh:
        fh.write(lines)
    for name in ("t.jsonl", "t.jsonl.gz"):
        assert len(read_head(tmp_path / name, 20)) == 20
    (tmp_path / "a.json").write_text('[{"q": "a", "document": "x"}, {"q": "b", "document": "y"}]')
    assert list(read_head(tmp_path / "a.json", 1)["q"]) == ["a"]
    pd.DataFrame({"query": [f"q{i}" for i in range(50)], "passage": ["p"] * 50}).to_parquet(tmp_path / "t.parquet")
    assert len(read_head(tmp_path / "t.parquet", 7)) == 7
    (tmp_path / "semi.csv").write_text("query;passage\na;b\n")
    with pytest.raises(DataError, match="looks like a semicolon"):
        read_head(tmp_path / "semi.csv")
