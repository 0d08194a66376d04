"""Pair classification: labelled pairs, and a threshold chosen on train only."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from explorer.evaluation.pairs import PAIR_COLUMNS, best_threshold, build_pairs, classify_pairs, pair_similarities


def _pairs(pos: list[float], neg: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"similarity": pos + neg, "label": [1] * len(pos) + [0] * len(neg)})


def test_best_threshold_is_a_midpoint_between_scores():
    threshold, acc = best_threshold([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])
    assert threshold == pytest.approx(0.5) and acc == 1.0


def test_tied_optima_take_the_middle_optimal_cut():
    # Cuts 0.2 and 0.6 both reach 3/4 (0.4 only 2/4): the lower middle of the two optimal cuts, 0.2.
    threshold, acc = best_threshold([0.1, 0.3, 0.5, 0.7], [0, 1, 0, 1])
    assert threshold == pytest.approx(0.2) and acc == pytest.approx(0.75)


def test_threshold_comes_from_train_even_when_test_prefers_another():
    train = _pairs(pos=[0.6, 0.7], neg=[0.3, 0.4])  # train optimum: 0.5
    test = _pairs(pos=[0.45, 0.48], neg=[0.1])  # test optimum would be below 0.45
    result = classify_pairs(train, test)
    assert result.threshold == pytest.approx(0.5)
    assert result.train_accuracy == 1.0
    assert result.test_accuracy == pytest.approx(1 / 3)  # both test positives fall under the train threshold
    assert result.confusion == {"tp": 0, "fp": 0, "tn": 1, "fn": 2}
    # Another test set never moves the threshold.
    other = classify_pairs(train, _pairs(pos=[0.05], neg=[0.99, 0.98]))
    assert other.threshold == result.threshold and other.train_accuracy == result.train_accuracy


def test_report_fields_standard_error_baseline_and_json():
    train = _pairs(pos=[0.6, 0.7, 0.8], neg=[0.3, 0.4])  # majority label on train: 1
    test = _pairs(pos=[0.9, 0.55, 0.2], neg=[0.1, 0.35, 0.65, 0.3])
    result = classify_pairs(train, test)
    assert result.test_accuracy == pytest.approx(5 / 7)
    assert result.test_accuracy_se == pytest.approx(math.sqrt((5 / 7) * (2 / 7) / 7))
    assert result.majority_label == 1 and result.majority_accuracy == pytest.approx(3 / 7)
    assert 0.0 <= result.roc_auc <= 1.0 and 0.0 <= result.average_precision <= 1.0
    assert result.f1 == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))  # tp=2, fp=1, fn=1
    json.dumps(result.to_dict())
    one_class = classify_pairs(train, _pairs(pos=[0.9, 0.2], neg=[]))
    assert one_class.roc_auc is None and one_class.to_dict()["average_precision"] is None


def test_build_pairs_weak_negatives_are_seeded_and_never_judged(tiny_dataset):
    pairs = build_pairs(tiny_dataset, "train", weak_per_positive=2, seed=1)
    again = build_pairs(tiny_dataset, "train", weak_per_positive=2, seed=1)
    pd.testing.assert_frame_equal(pairs, again)
    assert set(pairs["split"]) == {"train"}
    assert set(pairs["qid"]) == set(tiny_dataset.query_ids("train"))
    positives = pairs[pairs["kind"] == "positive"]
    weak = pairs[pairs["kind"] == "weak"]
    assert (positives["label"] == 1).all() and (weak["label"] == 0).all()
    assert len(positives) == sum(len(tiny_dataset.positives(q)) for q in tiny_dataset.query_ids("train"))
    assert len(weak) == 2 * len(positives)
    for q, p in zip(weak["qid"], weak["pid"]):
        assert p not in tiny_dataset.qrels[q]
    assert not build_pairs(tiny_dataset, "train", weak_per_positive=2, seed=2).equals(pairs)


def test_hard_negatives_from_pairs_or_a_negative_set_frame(tiny_dataset):
    q = tiny_dataset.query_ids("test")[0]
    positive = next(iter(tiny_dataset.positives(q)))
    other_split = tiny_dataset.query_ids("train")[0]
    listed = build_pairs(tiny_dataset, "test", negatives=[(q, "p5"), (q, positive), (other_split, "p5")],
                         weak_per_positive=0)
    hard = listed[listed["kind"] == "hard"]
    assert list(zip(hard["qid"], hard["pid"])) == [(q, "p5")]  # a judged positive and another split dropped
    frame = pd.DataFrame({"qid": [q, q, q], "neg_id": ["p6", "p7", "p8"], "kind": ["hard", "weak", "hard"],
                          "excluded": [False, False, True]})
    from_frame = build_pairs(tiny_dataset, "test", negatives=frame, weak_per_positive=0)
    got = set(zip(from_frame["pid"], from_frame["kind"])) - {(p, "positive") for p in from_frame["pid"]}
    assert got == {("p6", "hard"), ("p7", "weak")}


def test_pair_similarities_and_end_to_end(tiny_dataset, fake_encoder):
    train = pair_similarities(tiny_dataset, fake_encoder, "train", seed=0)
    test = pair_similarities(tiny_dataset, fake_encoder, "test", seed=0)
    assert list(train.columns) == PAIR_COLUMNS
    assert train["similarity"].between(-1.0001, 1.0001).all()
    row = test.iloc[0]
    expected = float(fake_encoder.encode([tiny_dataset.queries[row["qid"]]], "query")[0]
                     @ fake_encoder.encode(tiny_dataset.passage_texts([row["pid"]]), "passage")[0])
    assert row["similarity"] == pytest.approx(expected, abs=1e-6)
    result = classify_pairs(train, test)
    assert result.n_test == len(test) and result.test_accuracy >= result.majority_accuracy
