"""Shared fixtures: every test gets its own EXPLORER_HOME, and nothing may reach a model hub."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def explorer_home(tmp_path, monkeypatch):
    """Point the library's workspace at a temporary folder."""
    home = tmp_path / "home"
    monkeypatch.setenv("EXPLORER_HOME", str(home))
    monkeypatch.delenv("EXPLORER_PUBLIC", raising=False)
    return home


@pytest.fixture
def fake_encoder(tmp_path):
    """A deterministic hashing encoder with its own cache folder."""
    from explorer.encoders.fake import FakeEncoder

    return FakeEncoder(dim=64, cache_dir=tmp_path / "cache")
