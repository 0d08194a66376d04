"""Encoder specs: what each one loads, that loads are shared, and one-line errors for bad specs."""

from __future__ import annotations

import json
import sys
import types

import pytest

from explorer.core.config import get_settings
from explorer.encoders.fake import FakeEncoder
from explorer.encoders.openai import OpenAIEncoder
from explorer.encoders.registry import load_encoder
from explorer.encoders.sentence import SentenceTransformerEncoder, bundled_model_path
from explorer.core.errors import ModelError


def test_fake_specs():
    enc = load_encoder("fake")
    assert isinstance(enc, FakeEncoder) and enc.dim == 64
    assert enc.cache_dir == get_settings().cache_dir
    assert load_encoder("fake:32").dim == 32
    with pytest.raises(ModelError, match="whole number"):
        load_encoder("fake:big")


@pytest.mark.parametrize("alias", ["minilm", "MiniLM", "default", "sentence-transformers/all-MiniLM-L6-v2"])
def test_bundled_aliases_resolve_to_the_bundled_folder_without_loading_it(alias):
    enc = load_encoder(alias)
    assert isinstance(enc, SentenceTransformerEncoder)
    assert enc.model_path == bundled_model_path() and enc.is_local
    assert enc.name == "all-MiniLM-L6-v2"
    assert enc._model is None  # loading waits for the first encode


def test_encoder_override_turns_the_default_into_the_fake(monkeypatch):
    monkeypatch.setenv("EXPLORER_ENCODER", "fake")
    assert isinstance(load_encoder("minilm"), FakeEncoder)


def test_encoders_are_shared_per_spec_and_device():
    assert load_encoder("minilm") is load_encoder(" minilm ")
    assert load_encoder("minilm", device="cpu") is not load_encoder("minilm")


def test_openai_specs(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    enc = load_encoder("openai:text-embedding-3-large")
    assert isinstance(enc, OpenAIEncoder) and enc.model == "text-embedding-3-large"
    with pytest.raises(ModelError, match="needs a model name"):
        load_encoder("openai:")
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(ModelError, match="OPENAI_API_KEY"):
        load_encoder("openai:text-embedding-3-small")
    assert load_encoder("openai:text-embedding-3-small", api_key="sk-secret")._api_key == "sk-secret"


@pytest.mark.parametrize("spec, message", [
    ("", "No encoder given"),
    ("./no/such/folder", "does not exist"),
    ("not a model name!", "does not exist"),
    ("run:missing", "no training run 'missing'"),
])
def test_bad_specs_are_one_line_model_errors(spec, message):
    with pytest.raises(ModelError, match=message) as info:
        load_encoder(spec)
    assert "\n" not in str(info.value)


def test_a_folder_or_file_that_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelError, match="not a saved model"):
        load_encoder(str(tmp_path))
    with pytest.raises(ModelError, match="is a file"):
        load_encoder(str(tmp_path / "notes.txt"))


def test_a_local_model_folder_and_a_hub_id(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    enc = load_encoder(str(tmp_path))
    assert isinstance(enc, SentenceTransformerEncoder) and enc.model_path == str(tmp_path.resolve())
    hub = load_encoder("BAAI/bge-small-en-v1.5")
    assert not hub.is_local and hub.model_path == "BAAI/bge-small-en-v1.5"


def test_a_rewritten_model_folder_is_loaded_again(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    first = load_encoder(str(tmp_path))
    assert load_encoder(str(tmp_path)) is first
    (tmp_path / "model.safetensors").write_bytes(b"new weights")
    assert load_encoder(str(tmp_path)) is not first


def _run(folder, config, sub=None):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "status.json").write_text(json.dumps({"state": "done"}))
    if sub:
        (folder / sub).mkdir()
        (folder / sub / "config.json").write_text("{}")
    return folder


def test_a_fine_tune_run_loads_its_model_folder():
    run = _run(get_settings().runs_dir / "run-1", {"base_model": "minilm"}, "model")
    for spec in (str(run), "run:run-1", "run-1"):
        enc = load_encoder(spec)
        assert isinstance(enc, SentenceTransformerEncoder)
        assert enc.model_path == str((run / "model").resolve())


def test_an_adapter_run_loads_the_adapter_over_its_base(monkeypatch):
    calls = []

    class AdapterEncoder:
        @classmethod
        def load(cls, folder, base):
            calls.append((folder, base))
            return "adapter-encoder"

    monkeypatch.setitem(sys.modules, "explorer.encoders.adapter", types.SimpleNamespace(AdapterEncoder=AdapterEncoder))
    run = _run(get_settings().runs_dir / "run-2", {"base_model": "fake"}, "adapter")
    assert load_encoder("run:run-2") == "adapter-encoder"
    assert calls[0][0] == run / "adapter" and isinstance(calls[0][1], FakeEncoder)


def test_runs_without_a_model_or_base_say_what_is_wrong():
    _run(get_settings().runs_dir / "running", {"base_model": "minilm"})
    with pytest.raises(ModelError, match="no model/ or adapter/ yet"):
        load_encoder("run:running")
    _run(get_settings().runs_dir / "orphan", {}, "adapter")
    with pytest.raises(ModelError, match="names no 'base_model'"):
        load_encoder("run:orphan")
