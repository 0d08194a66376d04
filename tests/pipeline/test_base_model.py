"""Which base model each method trains, and the public-mode hub cap named with the model's size."""

from __future__ import annotations

import pytest

from explorer.core.config import Settings
from explorer.core.errors import ModelError, TrainingError
from explorer.pipeline.base_model import check_base_model


@pytest.fixture
def online(monkeypatch):
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)


def test_each_method_trains_what_it_can(tmp_path):
    local = Settings(home=tmp_path)
    assert check_base_model("minilm", "full", local).kind == "bundled"
    assert check_base_model("static", "adapter", local).kind == "static"
    assert check_base_model("openai:text-embedding-3-small", "adapter", local).kind == "openai"
    with pytest.raises(TrainingError, match="choose the Adapter method"):
        check_base_model("static", "full", local)
    with pytest.raises(TrainingError, match="choose the Adapter method"):
        check_base_model("openai:text-embedding-3-small", "full", local)
    for retriever in ("bm25", "hybrid"):
        with pytest.raises(TrainingError, match="without vectors, so there is nothing to train"):
            check_base_model(retriever, "adapter", local)


def test_public_mode_caps_hub_models_and_names_size_and_cap(tmp_path, online):
    public = Settings(home=tmp_path, public=True, hub_max_parameters=150_000_000)
    sizes = {"BAAI/bge-large-en-v1.5": 335_141_888, "BAAI/bge-small-en-v1.5": 33_360_000, "x/unlisted": None}
    with pytest.raises(TrainingError, match=r"335 M parameters.*at most 150 M parameters"):
        check_base_model("BAAI/bge-large-en-v1.5", "full", public, parameters=sizes.get)
    with pytest.raises(TrainingError, match="does not list its size"):
        check_base_model("x/unlisted", "adapter", public, parameters=sizes.get)
    assert check_base_model("BAAI/bge-small-en-v1.5", "full", public, parameters=sizes.get).kind == "hub"
    with pytest.raises(ModelError, match="local mode"):
        check_base_model(str(tmp_path), "adapter", public, parameters=sizes.get)
    # Locally there is no cap: the size is not even asked.
    local = Settings(home=tmp_path)
    assert check_base_model("BAAI/bge-large-en-v1.5", "full", local, parameters=pytest.fail).kind == "hub"
