"""Weak and hard negatives: guards against false negatives, skip counts, suspects, editing, files."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from explorer.data.model import Dataset, Passage
from explorer.data.negatives import NegativeSet, mine_hard_negatives, weak_negatives
from explorer.encoders.base import Encoder
from explorer.core.errors import DataError, StorageError


class TableEncoder(Encoder):
    """Returns hand-made vectors, so every cosine score in a test is known in advance."""

    name = "table"

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        super().__init__(None)
        self.vectors = vectors

    @property
    def fingerprint(self) -> str:
        return "table"

    def embed_batch(self, texts: list[str], kind) -> np.ndarray:
        return np.array([self.vectors[t] for t in texts], dtype=np.float32)


def at(score: float) -> list[float]:
    """A unit vector whose cosine with the query vector [1, 0] is ``score``."""
    return [score, math.sqrt(1.0 - score * score)]


# q1's positive scores 0.80; with relative_margin 0.05 a negative must score <= 0.76.
SCORES = {"pos1": 0.80, "n95": 0.95, "n78": 0.78, "n75": 0.75, "j72": 0.72, "n70": 0.70, "n60": 0.60,
          "n50": 0.50, "n10": 0.10}


@pytest.fixture
def scored():
    corpus = {pid: Passage(pid, f"text {pid}") for pid in SCORES}
    vectors = {"query one": [1.0, 0.0]} | {corpus[p].full_text: at(s) for p, s in SCORES.items()}
    ds = Dataset(
        name="scored",
        queries={"q1": "query one"},
        corpus=corpus,
        qrels={"q1": {"pos1": 2, "j72": 0}},  # j72 is judged irrelevant: a fine negative
        split={"q1": "train"},
        hard_negative_candidates={"q1": ["n10", "n78", "pos1", "ghost"], "q_none": ["n50", "n60"]},
    )
    return ds, TableEncoder(vectors)


def included_ids(negs: NegativeSet) -> list[str]:
    return [r.neg_id for r in negs.included()]


def test_margin_keeps_the_highest_scoring_negatives_below_the_threshold(scored):
    ds, enc = scored
    negs = mine_hard_negatives(ds, enc, num_negatives=3, include_candidates=False)
    assert included_ids(negs) == ["n75", "j72", "n70"]
    row = negs.included()[0]
    assert row.pos_id == "pos1" and row.pos_score == pytest.approx(0.80, abs=1e-5)
    assert row.neg_score == pytest.approx(0.75, abs=1e-5)
    assert row.rank == 2  # after n95 and n78; the positive does not count
    assert negs.skipped == {"above relative margin": 2, "judged relevant": 1}


def test_no_margin_takes_the_top_ranked(scored):
    ds, enc = scored
    negs = mine_hard_negatives(ds, enc, num_negatives=2, relative_margin=None, include_candidates=False)
    assert included_ids(negs) == ["n95", "n78"]
    assert [r.rank for r in negs] == [0, 1]


def test_absolute_margin_and_max_score(scored):
    ds, enc = scored
    negs = mine_hard_negatives(ds, enc, num_negatives=2, relative_margin=None, absolute_margin=0.1,
                               include_candidates=False)
    assert included_ids(negs) == ["n70", "n60"]  # must score <= 0.80 - 0.1
    assert negs.skipped["above absolute margin"] == 4  # n95 n78 n75 j72
    negs = mine_hard_negatives(ds, enc, num_negatives=2, relative_margin=None, max_score=0.71,
                               include_candidates=False)
    assert included_ids(negs) == ["n70", "n60"]
    assert negs.skipped["above max score"] == 4


def test_rank_window_is_respected(scored):
    ds, enc = scored
    negs = mine_hard_negatives(ds, enc, num_negatives=2, range_min=3, range_max=5, relative_margin=None,
                               include_candidates=False)
    assert included_ids(negs) == ["j72", "n70"]  # ranks 3 and 4 (n95 n78 n75 come first)
    assert all(3 <= r.rank < 5 for r in negs)
    assert negs.skipped["outside rank window"] == 3


def test_suspects_are_the_rejections_just_above_the_threshold_and_excluded(scored):
    ds, enc = scored
    negs = mine_hard_negatives(ds, enc, num_negatives=3, include_candidates=False, num_suspects=1)
    suspects = negs.suspects()
    assert [r.neg_id for r in suspects] == ["n78"]  # closer to the 0.76 threshold than n95
    assert all(r.excluded for r in suspects)
    assert "n78" not in [n for _, _, n in negs.triplets()] and "text n78" not in [n for _, _, n in negs.triplets()]
    cleared = negs.include([(r.qid, r.neg_id) for r in suspects])
    assert "n78" in included_ids(cleared)


def test_candidates_are_guarded_and_counted(scored):
    ds, enc = scored
    negs = mine_hard_negatives(ds, enc, num_negatives=1, num_suspects=0)
    by_source = {r.neg_id: r.source for r in negs.included()}
    assert by_source == {"n75": "mined", "n10": "candidate"}
    cand = next(r for r in negs if r.neg_id == "n10")
    assert cand.rank == 7 and cand.kind == "hard"
    assert negs.skipped["no positive"] == 2  # q_none's candidates
    assert negs.skipped["unknown passage"] == 1  # "ghost"
    assert negs.skipped["judged relevant"] == 2  # pos1 in the ranking and among the candidates
    assert negs.skipped["above relative margin"] == 2  # n95, n78 (n78 is not counted twice)


def test_no_positive_is_ever_a_negative(fake_encoder):
    ds = _word_dataset()
    for kwargs in ({}, {"relative_margin": None}, {"range_min": 1, "range_max": 6}):
        negs = mine_hard_negatives(ds, fake_encoder, num_negatives=2, **kwargs)
        negs = negs + weak_negatives(ds, per_positive=3, seed=1)
        for r in negs:
            assert ds.qrels[r.qid].get(r.neg_id, 0) == 0, (kwargs, r)
            assert ds.qrels[r.qid][r.pos_id] > 0


def test_chunked_mining_equals_unchunked(fake_encoder):
    ds = _word_dataset()
    one = mine_hard_negatives(ds, fake_encoder, num_negatives=3, chunk_size=10_000, relative_margin=0.02)
    chunked = mine_hard_negatives(ds, fake_encoder, num_negatives=3, chunk_size=1, relative_margin=0.02)
    assert [(r.qid, r.pos_id, r.neg_id, r.rank, r.suspect_false_negative) for r in one] == \
           [(r.qid, r.pos_id, r.neg_id, r.rank, r.suspect_false_negative) for r in chunked]
    np.testing.assert_allclose([r.neg_score for r in one], [r.neg_score for r in chunked], atol=1e-6)
    assert one.skipped == chunked.skipped


def test_weak_negatives_are_seeded_and_never_relevant():
    ds = _word_dataset()
    a, b, c = (weak_negatives(ds, per_positive=2, seed=s) for s in (7, 7, 8))
    assert [r.neg_id for r in a] == [r.neg_id for r in b]
    assert [r.neg_id for r in a] != [r.neg_id for r in c]
    assert len(a) == 2 * sum(len(ds.positives(q)) for q in ds.query_ids("train"))
    assert {r.kind for r in a} == {"weak"} and all(math.isnan(r.neg_score) and r.rank == -1 for r in a)
    assert all(ds.qrels[r.qid].get(r.neg_id, 0) == 0 for r in a)
    with pytest.raises(ValueError, match="per_positive"):
        weak_negatives(ds, per_positive=0)


def test_weak_negatives_when_almost_everything_is_relevant():
    corpus = {p: Passage(p, p) for p in "abc"}
    ds = Dataset("tiny", {"q": "q"}, corpus, {"q": {"a": 1, "b": 1}}, {"q": "train"})
    negs = weak_negatives(ds, per_positive=2)
    assert [r.neg_id for r in negs] == ["c", "c"]
    assert negs.skipped == {"corpus too small": 2}


def test_exclude_by_index_and_pair_returns_a_new_set(scored):
    ds, enc = scored
    negs = mine_hard_negatives(ds, enc, num_negatives=3, include_candidates=False, num_suspects=0)
    fewer = negs.exclude([0])
    assert included_ids(fewer) == ["j72", "n70"] and included_ids(negs) == ["n75", "j72", "n70"]
    assert included_ids(negs.exclude([("q1", "n70")])) == ["n75", "j72"]
    assert fewer.skipped == negs.skipped and fewer.params == negs.params
    with pytest.raises(IndexError):
        negs.exclude([99])


def test_frame_columns_and_summary(scored):
    ds, enc = scored
    negs = mine_hard_negatives(ds, enc, num_negatives=3)
    frame = negs.to_frame()
    assert list(frame.columns[:13]) == ["qid", "query", "pos_id", "positive", "neg_id", "negative", "kind", "source",
                                        "pos_score", "neg_score", "rank", "suspect_false_negative", "excluded"]
    assert frame["excluded"].dtype == bool and frame["rank"].dtype == "int64"
    s = negs.summary()
    assert s["included"] == 4 and s["suspects"] == 2 and s["skipped"] == negs.skipped
    assert negs.params["relative_margin"] == 0.05 and negs.params["encoder_fingerprint"] == "table"


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_save_load_round_trip(tmp_path, scored, suffix):
    ds, enc = scored
    ds.queries["q1"] = "NA"  # a text pandas would read as missing
    enc.vectors["NA"] = [1.0, 0.0]
    negs = mine_hard_negatives(ds, enc, num_negatives=3) + weak_negatives(ds, per_positive=1)
    negs = negs.exclude([1])
    path = negs.save(tmp_path / f"out{suffix}")
    back = NegativeSet.load(path)
    assert len(back) == len(negs)
    for a, b in zip(negs, back):
        for field in ("qid", "query", "pos_id", "positive", "neg_id", "negative", "kind", "source", "rank",
                      "suspect_false_negative", "excluded"):
            assert getattr(a, field) == getattr(b, field), field
        for field in ("pos_score", "neg_score"):
            x, y = getattr(a, field), getattr(b, field)
            assert (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y, abs=1e-9)
    assert back.skipped == negs.skipped and back.params == negs.params


def test_save_and_load_errors(tmp_path, scored):
    ds, enc = scored
    negs = mine_hard_negatives(ds, enc)
    with pytest.raises(StorageError, match=r"\.jsonl"):
        negs.save(tmp_path / "out.txt")
    with pytest.raises(DataError, match="does not exist"):
        NegativeSet.load(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("qid,query\nq,text\n")
    with pytest.raises(DataError, match="pos_id"):
        NegativeSet.load(bad)


def test_bad_parameters(scored):
    ds, enc = scored
    with pytest.raises(ValueError, match="range_min must be smaller"):
        mine_hard_negatives(ds, enc, range_min=5, range_max=5)
    with pytest.raises(ValueError, match="Cannot mine 4 negatives"):
        mine_hard_negatives(ds, enc, num_negatives=4, range_min=0, range_max=3)
    with pytest.raises(DataError, match="split 'test'"):
        mine_hard_negatives(ds, enc, split="test")


def _word_dataset() -> Dataset:
    """Twelve queries over thirty passages that share words, two positives for some queries."""
    topics = ["apple", "river", "engine", "violin", "glacier", "python"]
    corpus, queries, qrels, split = {}, {}, {}, {}
    for t, topic in enumerate(topics):
        for k in range(5):
            corpus[f"{topic}{k}"] = Passage(f"{topic}{k}", f"{topic} note {k} about the {topic} and {topics[(t + k) % 6]}")
        for k in range(2):
            qid = f"q-{topic}-{k}"
            queries[qid] = f"what about the {topic} {k}"
            qrels[qid] = {f"{topic}{k}": 1} | ({f"{topic}{k + 2}": 2, f"{topic}4": 0} if k == 0 else {})
            split[qid] = "train"
    return Dataset("words", queries, corpus, qrels, split).validate()


def test_cli_writes_negatives_and_prints_the_summary(tmp_path, monkeypatch, capsys):
    import json

    import explorer.data.loaders as loaders
    from explorer.cli import main

    monkeypatch.setattr(loaders, "load_dataset", lambda spec, **kw: _word_dataset())
    out = tmp_path / "negs.jsonl"
    code = main(["negatives", "--data", "words", "--model", "fake", "--out", str(out), "--num-negatives", "2",
                 "--relative-margin", "none", "--weak", "1"])
    assert code == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert re.search(r"^\[embedding\] (\d+)/\1 \(100%\)$", captured.err, re.M)  # progress on stderr, up to every text
    back = NegativeSet.load(out)
    assert summary["rows"] == len(back) and summary["by_kind"] == {"hard": 2 * 18, "weak": 18}
    assert back.params["parts"][0]["relative_margin"] is None
    assert main(["negatives", "--data", "words", "--model", "fake", "--out", str(tmp_path / "n.txt")]) == 2
    assert ".jsonl" in capsys.readouterr().err
    assert main(["negatives", "--data", "words", "--model", "fake", "--out", str(out), "--range-max", "1"]) == 2
    assert "Cannot mine 3 negatives" in capsys.readouterr().err
