"""Every cap is applied while a file is parsed, with a message naming the cap and the place.

Limits are set small here (a few queries, a few hundred bytes) so tiny files exercise them; the public
server's values come from :mod:`explorer.core.config` (tested at the end, with ``.streamlit/config.toml``).
"""

from __future__ import annotations

import gzip
import io
import json
import tomllib
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from explorer.core.config import PUBLIC_MAX_UPLOAD_MB, Settings
from explorer.data.limits import Limits
from explorer.data.loaders import load_dataset
from explorer.core.errors import DataError

ROOT = Path(__file__).resolve().parents[2]


def _rows(n_queries: int, per_query: int = 1, text: str = "a passage about topic") -> list[dict[str, str]]:
    return [{"query": f"question number {q}", "passage": f"{text} {q} {p}"}
            for q in range(n_queries) for p in range(per_query)]


def _csv(rows: list[dict[str, str]]) -> bytes:
    return pd.DataFrame(rows).to_csv(index=False).encode()


def _load_file(folder: Path, filename: str, data: bytes, limits: Limits):
    """Load ``data`` saved as ``folder/filename``, as an upload is loaded once saved."""
    path = folder / filename
    path.write_bytes(data)
    return load_dataset(path, limits=limits)


def test_a_gzip_upload_over_the_unpacked_cap_is_refused(tmp_path):
    packed = gzip.compress(_csv(_rows(400)))  # ~14 KB of CSV, packs to ~2 KB
    limits = Limits(max_bytes=1_000_000, max_unpacked_bytes=5_000)
    with pytest.raises(DataError, match=r"pairs\.csv\.gz unpacks to more than 4\.9 KB.*smaller sample"):
        _load_file(tmp_path, "pairs.csv.gz", packed, limits)
    assert len(_load_file(tmp_path, "pairs.csv.gz", packed, Limits()).queries) == 400


def test_a_zip_upload_over_the_unpacked_cap_is_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ds/corpus.jsonl", "\n".join(json.dumps({"_id": f"p{i}", "text": "word " * 50}) for i in range(200)))
        zf.writestr("ds/queries.jsonl", json.dumps({"_id": "q1", "text": "a question"}))
        zf.writestr("ds/qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\tp1\t1\n")
    with pytest.raises(DataError, match=r"ds\.zip unpacks to .*, over the 9\.8 KB accepted"):
        _load_file(tmp_path, "ds.zip", buffer.getvalue(), Limits(max_bytes=1_000_000, max_unpacked_bytes=10_000))


def test_queries_are_capped_in_tables_while_converting(tmp_path):
    with pytest.raises(DataError, match=r"more than 10 queries \(reached at line 12\).*EXPLORER_MAX_QUERIES"):
        _load_file(tmp_path, "pairs.csv", _csv(_rows(30)), Limits(max_queries=10))


def test_rows_are_capped_before_the_rest_is_parsed(tmp_path):
    limits = Limits(max_queries=5, max_passages=5)  # max_rows = 10
    with pytest.raises(DataError, match=r"more than 10 rows"):
        _load_file(tmp_path, "pairs.csv", _csv(_rows(50)), limits)
    jsonl = "\n".join(json.dumps(r) for r in _rows(50)).encode()
    with pytest.raises(DataError, match=r"more than 10 rows"):
        _load_file(tmp_path, "pairs.jsonl", jsonl, limits)
    path = tmp_path / "pairs.parquet"
    pd.DataFrame(_rows(50)).to_parquet(path)
    with pytest.raises(DataError, match=r"pairs\.parquet has more than 10 rows"):
        load_dataset(path, limits=limits)


def test_long_texts_are_refused_with_their_line(tmp_path):
    rows = _rows(6)
    rows[3]["passage"] = "long " * 500
    with pytest.raises(DataError, match=r"line 5, column 'passage' has a text of 2,499 characters; .* at most 1,000"):
        _load_file(tmp_path, "pairs.csv", _csv(rows), Limits(max_text_chars=1_000))


def test_negatives_per_query_are_capped_and_noted(tmp_path):
    rows = [{**r, **{f"negative_{k}": f"an unrelated passage {k} for {i}" for k in range(6)}}
            for i, r in enumerate(_rows(6))]
    ds = _load_file(tmp_path, "triplets.csv", _csv(rows), Limits(max_negatives_per_query=2))
    assert max(len(v) for v in ds.hard_negative_candidates.values()) == 2
    assert ds.notes["negatives over 2 per query (skipped)"] == 6 * 4


def _beir(folder: Path, n_queries: int, n_passages: int, text: str = "a passage") -> Path:
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps({"_id": f"p{i}", "text": f"{text} {i}"}) for i in range(n_passages)))
    (folder / "queries.jsonl").write_text("\n".join(json.dumps({"_id": f"q{i}", "text": f"question {i}"}) for i in range(n_queries)))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\tp{i}\t1\n" for i in range(n_queries)))
    return folder


def test_beir_counts_queries_passages_and_text_length_while_reading(tmp_path):
    folder = _beir(tmp_path / "ds", n_queries=20, n_passages=40)
    with pytest.raises(DataError, match=r"queries\.jsonl has more than 5 queries \(reached at line 6\)"):
        load_dataset(folder, limits=Limits(max_queries=5))
    with pytest.raises(DataError, match=r"corpus\.jsonl has more than 30 passages \(reached at line 31\)"):
        load_dataset(folder, limits=Limits(max_passages=30))
    with pytest.raises(DataError, match=r"corpus\.jsonl: line 1 \(passage 'p0'\) has a text of"):
        load_dataset(folder, limits=Limits(max_text_chars=5))
    assert len(load_dataset(folder, limits=Limits()).queries) == 20


def _nq_line(i: int, words: int = 12) -> str:
    answer = " ".join(f"w{i}_{k}" for k in range(words))
    other = " ".join(f"o{i}_{k}" for k in range(12))
    page = f"<P> {answer} </P> <P> {other} </P>"
    n = len(page.split(" "))
    return json.dumps({
        "example_id": i, "question_text": f"question {i}", "document_text": page,
        "long_answer_candidates": [{"start_token": 0, "end_token": words + 2, "top_level": True},
                                   {"start_token": words + 2, "end_token": n, "top_level": True}],
        "annotations": [{"long_answer": {"start_token": 0, "end_token": words + 2, "candidate_index": 0}}],
    })


def test_natural_questions_caps_questions_and_skips_overlong_answers(tmp_path):
    data = "\n".join(_nq_line(i) for i in range(12)).encode()
    with pytest.raises(DataError, match=r"more than 5 queries \(reached at line 6\)"):
        _load_file(tmp_path, "nq.jsonl", data, Limits(max_queries=5))
    data = "\n".join([_nq_line(0, words=400), *(_nq_line(i) for i in range(1, 8))]).encode()
    ds = _load_file(tmp_path, "nq.jsonl", data, Limits(max_text_chars=1_000))
    assert len(ds.queries) == 7 and ds.notes["long answers over 1,000 characters (skipped)"] == 1


def test_public_workspace_caps_reach_the_loaders(tmp_path):
    """Through the pipeline: the workspace's settings, not the server defaults, decide."""
    from explorer.pipeline.data import load_dataset as pipeline_load
    from explorer.workspace import DatasetChoice

    settings = Settings(home=tmp_path, public=True, max_queries=10).for_workspace("abc123")
    settings.uploads_dir.mkdir(parents=True)
    path = settings.uploads_dir / "pairs.csv"
    path.write_bytes(_csv(_rows(30)))
    with pytest.raises(DataError, match=r"more than 10 queries"):
        pipeline_load(DatasetChoice(spec=str(path)), settings)


def test_streamlit_upload_cap_matches_the_public_cap(monkeypatch, tmp_path):
    """``server.maxUploadSize`` in .streamlit/config.toml is the public cap of explorer/core/config.py."""
    from explorer.core.config import get_settings

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == PUBLIC_MAX_UPLOAD_MB
    monkeypatch.setenv("EXPLORER_HOME", str(tmp_path))
    monkeypatch.setenv("EXPLORER_PUBLIC", "1")
    monkeypatch.delenv("EXPLORER_MAX_UPLOAD_MB", raising=False)
    public = get_settings()
    assert public.max_upload_mb == PUBLIC_MAX_UPLOAD_MB
    assert public.max_unpacked_mb <= 4 * PUBLIC_MAX_UPLOAD_MB and public.max_queries <= public.max_passages
