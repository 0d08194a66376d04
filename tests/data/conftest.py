"""Fixtures of the data-layer tests: small BEIR folders written on the fly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from data_builders import write_beir


@pytest.fixture
def beir_folder(tmp_path) -> Path:
    """A valid six-query BEIR folder with train and test qrels."""
    return write_beir(tmp_path / "mini")


@pytest.fixture
def make_beir(tmp_path) -> Callable[..., Path]:
    """``make_beir(corpus=..., queries=..., qrels=...)`` writes a BEIR folder under tmp_path."""
    counter = iter(range(1000))

    def make(**kwargs) -> Path:
        return write_beir(tmp_path / f"beir{next(counter)}", **kwargs)

    return make
