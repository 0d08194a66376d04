"""Fixtures of the evaluation tests."""

from __future__ import annotations

import pytest

from eval_builders import make_dataset
from explorer.data.model import Dataset


@pytest.fixture
def tiny_dataset() -> Dataset:
    """The tiny dataset of :func:`make_dataset`."""
    return make_dataset()
