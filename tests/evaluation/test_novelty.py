"""The gain split by novelty: which test queries have new passages, and the change on each part."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from explorer.data.model import Dataset, Passage
from explorer.evaluation.novelty import (PartChange, novelty_parts, novelty_record, novelty_split, seen_passages,
                                         split_line)
from explorer.evaluation.retrieval import RetrievalResult
from explorer.evaluation.significance import paired_bootstrap_ci


def _dataset() -> Dataset:
    """Train queries t0..t3 cite p0..p3; test queries n0..n5 cite unseen passages, s0..s5 cite a train one.

    s-queries also cite an unseen passage (one seen is enough to count as seen); a train passage judged 0 by a
    train query does not make it seen.
    """
    corpus = {f"p{i}": Passage(f"p{i}", f"passage {i}") for i in range(20)}
    queries, qrels, split = {}, {}, {}
    for i in range(4):
        queries[f"t{i}"], qrels[f"t{i}"], split[f"t{i}"] = f"train {i}", {f"p{i}": 1, "p19": 0}, "train"
    for i in range(6):
        queries[f"n{i}"], qrels[f"n{i}"], split[f"n{i}"] = f"new {i}", {f"p{10 + i}": 2, "p19": 1}, "test"
        queries[f"s{i}"], qrels[f"s{i}"], split[f"s{i}"] = f"seen {i}", {f"p{i % 4}": 1, f"p{10 + i}": 2}, "test"
    return Dataset("novelty", queries, corpus, qrels, split).validate()


def _comparison(a: dict[str, float], b: dict[str, float]) -> SimpleNamespace:
    result = lambda scores: RetrievalResult({"ndcg@10": sum(scores.values()) / len(scores)},  # noqa: E731
                                            {"ndcg@10": scores}, {}, len(scores))
    return SimpleNamespace(result_a=result(a), result_b=result(b), test="student")


def test_parts_follow_the_relevant_passages_of_training_queries():
    ds = _dataset()
    assert seen_passages(ds) == {"p0", "p1", "p2", "p3"}  # grade 0 (p19) is not relevant
    parts = novelty_parts(ds, ds.query_ids("test"))
    assert parts["new"] == [f"n{i}" for i in range(6)]
    assert parts["seen"] == [f"s{i}" for i in range(6)]


def test_the_change_on_each_part_with_interval_and_p_value():
    ds = _dataset()
    a = {q: 0.5 for q in ds.query_ids("test")}
    # The model gains a lot on seen passages and nothing on new ones (a little noise either way).
    b = {**{f"s{i}": 0.9 + 0.01 * i for i in range(6)}, **{f"n{i}": 0.5 + (0.01 if i % 2 else -0.01) for i in range(6)}}
    changes = {c.part: c for c in novelty_split(_comparison(a, b), ds)}
    assert [c for c in changes] == ["all", "new", "seen"]
    assert changes["all"].n_queries == 12 and changes["new"].n_queries == 6 and changes["seen"].n_queries == 6
    assert changes["seen"].delta == pytest.approx(0.425)
    assert changes["new"].delta == pytest.approx(0.0)
    assert changes["new"].ci_delta[0] <= 0.0 <= changes["new"].ci_delta[1]  # within noise
    assert changes["seen"].ci_delta[0] > 0.3 and changes["seen"].p_value < 0.001
    assert changes["new"].p_value > 0.5
    new = [f"n{i}" for i in range(6)]
    assert changes["new"].ci_delta == paired_bootstrap_ci([a[q] for q in new], [b[q] for q in new])


def test_an_empty_part_is_kept_blank_and_the_record_round_trips():
    ds = _dataset()
    only_new = {f"n{i}": 0.4 + 0.1 * (i % 3) for i in range(6)}
    changes = novelty_split(_comparison(only_new, {q: v + 0.1 for q, v in only_new.items()}), ds)
    seen = changes[2]
    assert seen.part == "seen" and seen.n_queries == 0 and seen.delta is None and "no queries" in seen.text()
    record = novelty_record(_comparison(only_new, {q: v + 0.1 for q, v in only_new.items()}), ds)
    assert [PartChange.from_dict(p) for p in record["parts"]] == changes
    line = split_line(record)
    assert line.startswith("NDCG@10 by novelty: new passages (6 queries): ") and "+0.100" in line
    assert split_line(None) == "" and split_line({"parts": []}) == ""


def test_missing_scores_are_refused():
    ds = _dataset()
    comp = SimpleNamespace(result_a=RetrievalResult({}, {}, {}, 0), result_b=RetrievalResult({}, {}, {}, 0),
                           test="student")
    with pytest.raises(ValueError, match="per-query scores of ndcg@10"):
        novelty_split(comp, ds)


def test_compare_command_prints_the_split(tmp_path, capsys):
    import json

    from explorer.cli import main
    from test_cli_evaluate import write_beir

    beir = write_beir(tmp_path / "tiny")
    assert main(["compare", "--data", str(beir), "--a", "fake", "--b", "fake:32"]) == 0
    novelty = json.loads(capsys.readouterr().out)["novelty"]
    parts = {p["part"]: p for p in novelty["parts"]}
    # The tiny set's test queries cite passages no training query cites: all four are new.
    assert parts["all"]["n_queries"] == parts["new"]["n_queries"] == 4 and parts["seen"]["n_queries"] == 0
    assert len(parts["new"]["ci_delta"]) == 2 and 0.0 <= parts["new"]["p_value"] <= 1.0
