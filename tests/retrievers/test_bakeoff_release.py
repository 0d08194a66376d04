"""The bake-off releases each model's retriever (its encoder and corpus vectors, a BM25 index) once no later
model of the comparison reuses it."""

from __future__ import annotations

from explorer.encoders.spec import parse_spec
from explorer.retrievers.bakeoff import _release


def test_only_what_a_later_model_reuses_stays():
    shared = {"fake:8": object(), "fake:16": object(), "bm25": object()}
    _release(shared, [parse_spec("hybrid:fake:8")])
    assert set(shared) == {"fake:8", "bm25"}, "the hybrid still to score reuses the dense model and BM25"
    _release(shared, [parse_spec("fake:32")])
    assert shared == {}
