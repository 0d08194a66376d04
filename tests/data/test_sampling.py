"""The seeded samplers: random negatives outside the relevant passages, and a judged-plus-random sample."""

from __future__ import annotations

import random

from explorer.data.model import Dataset, Passage
from explorer.data.sampling import random_negatives, sample_passages, sample_queries


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
