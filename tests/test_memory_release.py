"""Steps over a whole corpus hand the heap they freed back to the operating system once they return."""

from __future__ import annotations

import gc
import weakref

import pytest

from explorer.core import memory


class Big:
    """Stands for a step's corpus-sized temporaries."""


def test_memory_is_released_after_the_step_returns_or_fails(monkeypatch):
    seen: list[tuple[bool, bool]] = []
    held: list[weakref.ref] = []
    monkeypatch.setattr(memory, "release_memory",
                        lambda collect=True: seen.append((collect, held[-1]() is None)))

    @memory.releasing_memory
    def step(fail: bool) -> int:
        local = Big()
        held.append(weakref.ref(local))
        if fail:
            raise ValueError("bad input")
        return 3

    gc.disable()  # freed by reference counting as the frame goes, not by a collection
    try:
        assert step(False) == 3
        with pytest.raises(ValueError, match="bad input"):
            step(True)
    finally:
        gc.enable()
    assert seen[0] == (False, True)  # released without a collection, the step's locals already gone
    assert len(seen) == 2 and step.__name__ == "step"


def test_the_corpus_wide_steps_release_their_memory(monkeypatch, tmp_path):
    from explorer import pipeline
    from explorer.data.model import Dataset, Passage
    from explorer.encoders.fake import FakeEncoder

    calls: list[bool] = []
    monkeypatch.setattr(memory, "release_memory", lambda collect=True: calls.append(collect))
    corpus = {f"p{i}": Passage(f"p{i}", f"passage number {i} about topic {i % 3}") for i in range(12)}
    queries = {f"q{i}": f"topic {i % 3} number {i}" for i in range(6)}
    qrels = {q: {f"p{i}": 1} for i, q in enumerate(queries)}
    split = {q: "train" if i % 2 else "test" for i, q in enumerate(queries)}
    ds = Dataset("tiny", queries, corpus, qrels, split)
    encoder = FakeEncoder(cache_dir=tmp_path)
    pipeline.evaluate(ds, encoder)
    assert calls == [False]
    pipeline.projection(ds, encoder, None, method="pca")
    assert calls == [False, False]
