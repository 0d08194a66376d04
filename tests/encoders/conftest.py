"""Fixtures of the encoder tests: a clean registry and in-memory cache for every test."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_encoders():
    from explorer.encoders import cache, registry

    registry.clear_cache()
    cache.forget_memory()
    yield
    registry.clear_cache()
    cache.forget_memory()
