"""The cost of encoding a dataset, said before it runs: texts left, time from a remembered throughput, memory, disk."""

from __future__ import annotations

import json

from explorer.data.model import Dataset, Passage
from explorer.encoders.cache import forget_memory
from explorer.encoders.fake import FakeEncoder
from explorer.pipeline import cost


def _dataset(n: int = 300) -> Dataset:
    corpus = {f"p{i}": Passage(id=f"p{i}", text=f"passage {i} " + "word " * (i % 50)) for i in range(n)}
    queries = {f"q{i}": f"query {i}" for i in range(20)}
    qrels = {q: {f"p{i}": 1} for i, q in enumerate(queries)}
    split = {q: ("test" if i % 2 else "train") for i, q in enumerate(queries)}
    return Dataset(name="t", queries=queries, corpus=corpus, qrels=qrels, split=split)


def test_cost_counts_only_uncached_texts_and_remembers_the_throughput(tmp_path, monkeypatch):
    ds, enc = _dataset(), FakeEncoder(dim=32, cache_dir=tmp_path)
    first = cost.encoding_cost(ds, enc)
    assert (first.texts, first.to_encode) == (310, 310)  # every passage, the 10 test queries
    assert first.seconds > 0 and first.chars_per_second > 0
    assert first.memory_bytes == 310 * (2 * 4 * 32 + cost.CACHE_BYTES_PER_VECTOR_EXTRA)
    assert first.disk_bytes == 310 * (4 * 32 + cost.DISK_BYTES_PER_VECTOR_EXTRA)
    stored = json.loads((tmp_path / cost.THROUGHPUT_FILE).read_text())
    assert len(stored) == 1 and next(iter(stored.values()))["dim"] == 32

    enc.encode(ds.passage_texts()[:200], "passage")
    forget_memory()  # the count comes from the shards on disk
    calls = []
    monkeypatch.setattr(FakeEncoder, "embed_batch", lambda self, texts, kind: calls.append(texts))
    second = cost.encoding_cost(ds, FakeEncoder(dim=32, cache_dir=tmp_path))
    assert calls == []  # the throughput was remembered: nothing was embedded to estimate
    assert second.to_encode == 110 and second.seconds < first.seconds
    assert "110 of 310 texts to embed" in second.describe() and "on this machine" in second.describe()


def test_everything_cached_says_nothing_to_encode(tmp_path):
    ds, enc = _dataset(50), FakeEncoder(dim=16, cache_dir=tmp_path)
    enc.encode(ds.passage_texts(), "passage")
    enc.encode(list(ds.queries.values()), "query")
    result = cost.encoding_cost(ds, enc)
    assert cost.encoding_cost(ds, enc, split=None).texts == 70  # mining and training add the train queries
    assert result.to_encode == 0 and result.seconds == 0
    assert "nothing to encode" in result.describe()


def _cost(seconds: float | None) -> cost.EncodingCost:
    return cost.EncodingCost(model="m", texts=1, to_encode=1, seconds=seconds, chars_per_second=None,
                             memory_bytes=0, disk_bytes=0)


def test_a_long_encode_gets_a_sample_with_every_test_query_and_its_judged_passages():
    ds = _dataset(3000)
    sample = cost.first_sample(ds, _cost(60.0), after_seconds=20.0, max_passages=500)
    assert sample is not None and len(sample.corpus) == 500
    assert set(sample.queries) == set(ds.query_ids("test"))
    assert all(p in sample.corpus for q in sample.queries for p in ds.qrels[q])  # no relevant passage is lost
    assert set(sample.corpus) <= set(ds.corpus) and sample.fingerprint() != ds.fingerprint()
    again = cost.first_sample(ds, _cost(60.0), after_seconds=20.0, max_passages=500)
    assert list(again.corpus) == list(sample.corpus)  # seeded: the same sample on every visit


def test_no_sample_for_a_quick_encode_an_unknown_time_or_a_small_corpus():
    ds = _dataset(3000)
    assert cost.first_sample(ds, _cost(10.0), after_seconds=20.0) is None
    assert cost.first_sample(ds, _cost(None), after_seconds=20.0) is None  # an API model: time unknown
    assert cost.first_sample(_dataset(300), _cost(600.0), after_seconds=20.0, max_passages=500) is None


def test_the_sample_is_as_large_as_embeds_in_about_twenty_seconds_here():
    ds = _dataset(20_000)
    per_passage = cost._cost_chars(ds.passage_texts()) / 20_000
    slow = cost.EncodingCost(model="m", texts=1, to_encode=1, seconds=900.0, chars_per_second=per_passage * 100,
                             memory_bytes=0, disk_bytes=0)
    assert len(cost.first_sample(ds, slow).corpus) == 2000  # 100 passages a second: 20 s of them
    slower = cost.EncodingCost(**{**slow.__dict__, "chars_per_second": per_passage * 5})
    assert len(cost.first_sample(ds, slower).corpus) == cost.SAMPLE_PASSAGES[0]  # never too few distractors
    fast = cost.EncodingCost(**{**slow.__dict__, "chars_per_second": per_passage * 10_000})
    assert len(cost.first_sample(ds, fast).corpus) == cost.SAMPLE_PASSAGES[1]
