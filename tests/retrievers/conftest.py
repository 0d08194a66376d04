"""Fixtures of the retriever tests: a tiny corpus where words decide relevance, as a Dataset and a BEIR folder."""

from __future__ import annotations

import pytest

from explorer.data.model import Dataset
from retriever_builders import training_helpers


@pytest.fixture
def words_dataset() -> Dataset:
    """8 topics x 2 queries (12 train, 4 test) over 24 passages."""
    return training_helpers().tiny_dataset()


@pytest.fixture
def words_beir(tmp_path) -> str:
    helpers = training_helpers()
    return str(helpers.write_beir(helpers.tiny_dataset(), tmp_path / "tiny"))


@pytest.fixture
def small_corpus() -> tuple[list[str], list[str]]:
    ids = ["cats", "dogs", "fox", "empty"]
    texts = ["A cat sat on the mat with other cats.", "Dogs are running fast in the park.",
             "The quick brown fox jumps.", "the and of"]
    return ids, texts
