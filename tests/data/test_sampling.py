"""The seeded samplers: random negatives outside the relevant passages, and a judged-plus-random sample."""

from __future__ import annotations

import random

from explorer.data.model import Dataset, Passage
from explorer.data.sampling import random_negatives, sample_passages, sample_queries, within_caps


def _dataset(n_passages: int = 20) -> Dataset:
    corpus = {f"p{i}": Passage(f"p{i}", f"text {i}") for i in range(n_passages)}
    qrels = {"q1": {"p0": 2, "p1": 0}, "q2": {"p2": 1}, "q3": {"p3": 1, "p4": 1}}
    return Dataset("d", {"q1": "a", "q2": "b", "q3": "c"}, corpus, qrels, {"q1": "test", "q2": "test", "q3": "test"})


def test_random_negatives_are_distinct_outside_the_excluded_and_seeded():
    pool = [f"p{i}" for i in range(100)]
    drawn = random_negatives(random.Random(3), pool, 5, exclude={"p0", "p1"})
    assert len(set(drawn)) == 5 and not {"p0", "p1"} & set(drawn)
    assert drawn == random_negatives(random.Random(3), pool, 5, exclude={"p0", "p1"})
    assert random_negatives(random.Random(3), pool, 0) == [] and random_negatives(random.Random(3), [], 2) == []


def test_random_negatives_list_what_is_left_when_draws_run_out():
    pool = ["a", "b", "c", "d"]
    assert sorted(random_negatives(random.Random(0), pool, 5, exclude={"a"})) == ["b", "c", "d"]
    assert random_negatives(random.Random(0), pool, 1, exclude=set(pool)) == []


def test_random_negatives_differ_in_their_key_and_avoid_taken_keys():
    text = {"a": "same", "b": "same", "c": "other", "d": "positive"}
    drawn = random_negatives(random.Random(1), list(text), 3, key=text.get, taken=["positive"])
    assert sorted(text[p] for p in drawn) == ["other", "same"]


def test_sample_queries_keeps_a_short_list_and_samples_a_long_one():
    assert sample_queries(["b", "a"], 5, random.Random(0)) == ["b", "a"]
    sample = sample_queries([f"q{i:02d}" for i in range(30)], 4, random.Random(0))
    assert len(sample) == 4 and sample == sorted(sample)


def test_sample_passages_puts_judged_first_then_random_others():
    ds = _dataset()
    pids = sample_passages(ds, ["q1", "q3"], 6, random.Random(0))
    assert pids[:3] == ["p0", "p3", "p4"] and len(pids) == 6 and len(set(pids)) == 6
    assert sample_passages(ds, ["q1"], 4, random.Random(0), min_grade=0)[:2] == ["p0", "p1"]


def test_sample_passages_caps_the_judged_unless_all_are_kept():
    ds = _dataset()
    assert sample_passages(ds, ["q1", "q2", "q3"], 2, random.Random(0)) == ["p0", "p2"]
    kept = sample_passages(ds, ["q1", "q2", "q3"], 2, random.Random(0), keep_all_judged=True)
    assert kept == ["p0", "p2", "p3", "p4"]


def _big(n_queries: int = 40, per_query: int = 3, others: int = 200) -> Dataset:
    corpus = {f"q{q}-{j}": Passage(f"q{q}-{j}", f"judged {q} {j}") for q in range(n_queries) for j in range(per_query)}
    corpus.update({f"o{i}": Passage(f"o{i}", f"other {i}") for i in range(others)})
    qrels = {f"q{q}": {f"q{q}-{j}": 1 for j in range(per_query)} for q in range(n_queries)}
    queries = {f"q{q}": f"query {q}" for q in range(n_queries)} | {"lonely": "a query nobody judged"}
    split = {f"q{q}": "test" if q % 3 == 0 else "train" for q in range(n_queries)}
    return Dataset("big", queries, corpus, qrels, split, hard_negative_candidates={"q0": ["o1", "o2"]})


def test_a_sample_within_the_caps_keeps_whole_queries_and_distractors_and_says_what_it_left_out():
    ds = _big()
    sample = within_caps(ds, max_passages=60, max_queries=1000, seed=5)
    assert len(sample.corpus) == 60
    judged = {p for q in sample.qrels for p in sample.qrels[q]}
    assert len(judged) <= 30 and len(sample.qrels) == len(judged) // 3  # whole queries, half the passages at most
    assert all(p in sample.corpus for p in judged)  # every kept query keeps every judged passage
    assert set(sample.queries) == set(sample.qrels) and set(sample.split) == set(sample.qrels)
    assert all(sample.split[q] == ds.split[q] for q in sample.split)  # the load's split stands
    assert set(sample.hard_negative_candidates) <= set(sample.qrels)
    assert all(p in sample.corpus for ps in sample.hard_negative_candidates.values() for p in ps)
    assert sample.notes == {"passages left out to fit this server (a seeded sample)": len(ds.corpus) - 60,
                            "queries left out to fit this server (a seeded sample)": len(ds.queries) - len(sample.queries)}
    again = within_caps(ds, max_passages=60, max_queries=1000, seed=5)
    assert list(again.corpus) == list(sample.corpus) and list(sample.corpus) == [p for p in ds.corpus if p in sample.corpus]
    assert list(within_caps(ds, max_passages=60, max_queries=1000, seed=6).corpus) != list(sample.corpus)


def test_a_sample_over_the_query_cap_keeps_every_passage_when_they_fit():
    ds = _big(others=10)
    sample = within_caps(ds, max_passages=10_000, max_queries=7, seed=1)
    assert len(sample.queries) == 7 and len(sample.corpus) == len(ds.corpus) and "passages" not in str(sample.notes)
    assert within_caps(ds, max_passages=10_000, max_queries=10_000, seed=1) is ds  # within the caps: as it is
