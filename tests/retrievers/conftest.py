"""Fixtures of the retriever tests: a tiny corpus where words decide relevance, as a Dataset and a BEIR folder."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from explorer.data.model import Dataset

_TRAINING = Path(__file__).resolve().parents[1] / "training" / "conftest.py"


def training_helpers():
    """tests/training/conftest.py as a module (its tiny dataset, BEIR writer and tiny model builder)."""
    spec = importlib.util.spec_from_file_location("training_conftest_helpers", _TRAINING)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
