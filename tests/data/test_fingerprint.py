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
