"""Dataset statistics against hand-counted values of the six-query fixture."""

from __future__ import annotations

import json

import numpy as np

from explorer.data.beir import load_beir
from explorer.data.stats import dataset_stats, format_stats
from explorer.data.loaders import load_table


def test_counts_lengths_and_grades_of_the_fixture(beir_folder):
    stats = dataset_stats(load_beir(beir_folder), long_text_words=6)
    assert (stats.n_queries, stats.n_passages, stats.n_judgements, stats.n_positive_judgements) == (6, 6, 7, 6)
    assert (stats.n_train_queries, stats.n_test_queries) == (3, 3)
    assert sorted(stats.query_lengths.tolist()) == [3, 3, 4, 5, 5, 6]
    assert sorted(stats.passage_lengths.tolist()) == [6, 6, 7, 7, 8, 10]  # title words included
    assert stats.grade_counts == {0: 1, 1: 3, 2: 2, 3: 1}
    assert sorted(stats.judgements_per_query.tolist()) == [1, 1, 1, 1, 1, 2]
    assert (stats.n_long_passages, stats.n_long_queries) == (4, 0)


def test_to_dict_is_json_with_percentiles_and_histograms(beir_folder):
    d = json.loads(json.dumps(dataset_stats(load_beir(beir_folder)).to_dict()))
    assert d["grades"] == {"0": 1, "1": 3, "2": 2, "3": 1}
    assert d["query_words"]["p0"] == 3 and d["query_words"]["p100"] == 6 and d["query_words"]["p50"] == 4.5
    assert d["judgements_per_query"]["mean"] == round(7 / 6, 2)
    hist = d["passage_words"]["histogram"]
    assert sum(hist["counts"]) == 6 and len(hist["edges"]) == len(hist["counts"]) + 1
    assert np.all(np.diff(hist["edges"]) > 0)


def test_hard_negatives_and_notes_are_reported():
    ds = load_table(b"anchor,positive,negative,label\na,x,n1,1\na,x,n2,0\nb,y,n1,1\n", name="t.csv")
    stats = dataset_stats(ds)
    assert (stats.n_hard_negative_candidates, stats.n_queries_with_hard_negatives) == (3, 2)
    text = format_stats(stats)
    assert "hard-negative candidates  3 for 2 queries" in text
    assert "note" in text and "conflicting duplicate judgements (kept the highest grade): 1" in text
    assert text.splitlines()[0].startswith("dataset")
