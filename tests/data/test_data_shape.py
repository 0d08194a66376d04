"""The data-shape summary shown before training, against hand-counted values."""

from __future__ import annotations

import json

from explorer.data.model import Dataset, Passage
from explorer.data.stats import data_shape


def small() -> Dataset:
    corpus = {f"p{i}": Passage(f"p{i}", " ".join(["word"] * (i + 1))) for i in range(6)}  # 1..6 words
    qrels = {
        "t1": {"p0": 2, "p1": 1, "p2": 1},  # train: 3 positives
        "t2": {"p1": 2, "p5": 0},  # train: 1 positive (p5 judged irrelevant)
        "s1": {"p1": 2, "p3": 1},  # test: p1 is also a training positive
        "s2": {"p4": 1},  # test: nothing shared
    }
    split = {"t1": "train", "t2": "train", "s1": "test", "s2": "test"}
    return Dataset("small", {q: f"query {q}" for q in qrels}, corpus, qrels, split).validate()


def test_data_shape_counts():
    shape = data_shape(small())
    assert shape.positives_per_query["mean"] == 2 and shape.positives_per_query["p100"] == 3
    assert shape.grade_levels == {1: 2, 2: 2}
    assert shape.passage_words["mean"] == 3.5 and shape.passage_words["p0"] == 1
    assert (shape.test_positives, shape.test_positives_in_train) == (3, 1) and shape.test_overlap == 1 / 3
    assert (shape.test_queries_with_train_positive, shape.test_queries) == (1, 2)
    lines = shape.lines()
    assert lines[1] == "2 grade levels in the training split (grade 1: 2, grade 2: 2)."
    assert lines[3].startswith("33% of the test judgements (1 of 3) name a passage that is also relevant")
    assert json.loads(json.dumps(shape.to_dict()))["grade_levels"] == {"1": 2, "2": 2}


def test_binary_sets_say_so():
    ds = small()
    binary = Dataset(ds.name, ds.queries, ds.corpus, {q: {p: min(g, 1) for p, g in j.items()} for q, j in ds.qrels.items()},
                     ds.split)
    assert data_shape(binary).lines()[1].startswith("Binary judgements in the training split (grade 1: 4)")
