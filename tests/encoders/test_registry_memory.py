"""The registry's memory: the bundled model stays, other encoders are kept within a byte budget (smaller in
public mode), an encoder still in use somewhere is shared rather than loaded twice, and one no longer in use
and out of the budget is released (garbage-collected). Model folders here hold sparse weight files, so their
size is real to the budget without being written or loaded."""

from __future__ import annotations

import gc
import json
import weakref
from types import SimpleNamespace

import pytest

from explorer.core.memory import MB, PUBLIC_ENCODERS_BUDGET, encoder_bytes
from explorer.encoders import registry
from explorer.encoders.registry import load_encoder


def _model_folder(root, name: str, megabytes: int):
    folder = root / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with open(folder / "model.safetensors", "wb") as fh:  # sparse: the size without the bytes
        fh.truncate(megabytes * MB)
    return str(folder)


@pytest.fixture
def folders(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_HOME", str(tmp_path / "home"))
    return [_model_folder(tmp_path, f"m{i}", 80) for i in range(4)]


def _held_bytes() -> int:
    return sum(encoder_bytes(e) for e in registry.held())


def test_public_mode_keeps_about_one_model_besides_the_base_and_releases_the_rest(folders, monkeypatch):
    monkeypatch.setenv("EXPLORER_PUBLIC", "1")
    first = weakref.ref(load_encoder(folders[0]))
    in_use = load_encoder(folders[1])
    for folder in folders[2:]:
        load_encoder(folder)
    gc.collect()
    assert _held_bytes() <= PUBLIC_ENCODERS_BUDGET, "80 MB models: one at a time besides the base"
    assert first() is None, "a model nobody uses any more, out of the budget, is released"
    assert load_encoder(folders[1]) is in_use, "a model still in use is shared, never loaded a second time"


def test_the_bundled_model_stays_whatever_comes_after_it(folders, monkeypatch):
    monkeypatch.setenv("EXPLORER_PUBLIC", "1")
    base = weakref.ref(load_encoder("minilm"))
    for folder in folders:
        load_encoder(folder)
    gc.collect()
    assert base() is not None and load_encoder("minilm") is base()


def test_locally_the_budget_keeps_more(folders, monkeypatch):
    monkeypatch.setenv("EXPLORER_PUBLIC", "0")
    kept = [weakref.ref(load_encoder(folder)) for folder in folders]
    gc.collect()
    assert all(ref() is not None for ref in kept), "four 80 MB models fit the local budget"


def test_static_and_onnx_models_are_sized_by_their_files(tmp_path):
    on_disk = SimpleNamespace(folder=tmp_path)  # what StaticEncoder and OnnxInt8Encoder expose: a folder, no torch model
    with open(tmp_path / "model.safetensors", "wb") as fh:
        fh.truncate(31 * MB)
    (tmp_path / "model.onnx").write_bytes(b"x" * 1000)
    assert encoder_bytes(on_disk) == 31 * MB + 1000


def test_an_eviction_hands_the_freed_memory_back(folders, monkeypatch):
    monkeypatch.setenv("EXPLORER_PUBLIC", "1")
    calls = []
    monkeypatch.setattr(registry, "release_memory", lambda: calls.append(1))
    load_encoder("minilm")
    load_encoder(folders[0])
    assert calls == [], "the base model and one 80 MB model fit: nothing released"
    load_encoder(folders[1])
    assert calls == [1], "the next model pushes the first out, and its memory is handed back"


def test_a_run_finishing_does_not_load_its_model_a_second_time(tmp_path):
    run = tmp_path / "run-1"
    (run / "model").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"base_model": "minilm"}))
    (run / "status.json").write_text(json.dumps({"state": "running"}))
    (run / "model" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    first = load_encoder(str(run))
    (run / "status.json").write_text(json.dumps({"state": "succeeded", "finished": True}))
    (run / "evaluation.json").write_text("{}")
    assert load_encoder(str(run)) is first, "status and results written at the end are not the model"
    (run / "model" / "model.safetensors").write_bytes(b"new weights")
    assert load_encoder(str(run)) is not first, "a rewritten model is loaded again"
