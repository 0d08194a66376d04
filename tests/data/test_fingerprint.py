"""A dataset's fingerprint: a content hash, computed once per dataset value; a new value gets its own."""

from __future__ import annotations

import hashlib
from dataclasses import replace

from explorer.data.model import Dataset, Passage


def _dataset() -> Dataset:
    corpus = {f"p{i}": Passage(f"p{i}", f"text {i}") for i in range(50)}
    queries = {"q1": "first", "q2": "second"}
    return Dataset("d", queries, corpus, {"q1": {"p1": 1}, "q2": {"p2": 1}}, {"q1": "train", "q2": "test"})


def test_the_fingerprint_is_hashed_once_and_follows_new_values(monkeypatch):
    ds = _dataset()
    first = ds.fingerprint()
    hashed = []
    real = hashlib.sha256
    monkeypatch.setattr(hashlib, "sha256", lambda *a: hashed.append(1) or real(*a))
    assert ds.fingerprint() == first and hashed == []  # remembered
    other = replace(ds, split={"q1": "test", "q2": "train"})
    assert other.fingerprint() != first and hashed == [1]  # a new value is hashed
    ds.corpus["p99"] = Passage("p99", "one more")  # a table that grew
    assert ds.fingerprint() != first and len(hashed) == 2
    assert _dataset().fingerprint() == first  # the same content, the same fingerprint
    assert ds != other and _dataset() == _dataset()  # the remembered hash is not part of equality


def test_a_passage_keeps_its_text_once_and_hashes_as_before():
    """A passage stores its title and body joined (what an encoder embeds); its body reads back from that, the
    corpus' texts are the strings the dataset holds (no copy per encode), and fingerprints are unchanged."""
    corpus = {"a": Passage("a", "Body one.", "Title A"), "b": Passage("b", "Body two."),
              "c": Passage("c", "", "Only a title")}
    ds = Dataset("d", {"q1": "first", "q2": "second"}, corpus, {"q1": {"a": 1}, "q2": {"c": 2}},
                 {"q1": "train", "q2": "test"})
    assert [(p.text, p.title) for p in corpus.values()] == [("Body one.", "Title A"), ("Body two.", ""),
                                                            ("", "Only a title")]
    assert ds.passage_texts() == ["Title A. Body one.", "Body two.", "Only a title"]
    assert all(t is corpus[pid].full_text for t, pid in zip(ds.passage_texts(), ds.passage_ids()))
    assert Passage("a", "Body one.", "Title A") == corpus["a"] != Passage("a", "Title A. Body one.")
    assert ds.fingerprint() == "b976633a4219da19"  # as computed when a passage kept its body apart
