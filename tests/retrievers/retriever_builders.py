"""Builders shared by the retriever tests: tests/training/conftest.py's tiny dataset, BEIR writer and tiny model."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_TRAINING = Path(__file__).resolve().parents[1] / "training" / "conftest.py"


def training_helpers():
    """tests/training/conftest.py as a module (its tiny dataset, BEIR writer and tiny model builder)."""
    spec = importlib.util.spec_from_file_location("training_conftest_helpers", _TRAINING)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
