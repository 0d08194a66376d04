"""The model spec grammar: what each spec is, its display name, and one-line refusals."""

from __future__ import annotations

import json

import pytest

from explorer.core.config import get_settings
from explorer.core.errors import ModelError
from explorer.encoders.spec import GRAMMAR, parse_spec


@pytest.mark.parametrize(("text", "kind", "inner", "display"), [
    ("minilm", "bundled", None, "MiniLM (bundled)"),
    ("default", "bundled", None, "MiniLM (bundled)"),
    ("static", "static", "minilm", "static (MiniLM (bundled), model2vec)"),
    ("bm25", "bm25", None, "BM25"),
    ("BM25", "bm25", None, "BM25"),
    ("hybrid", "hybrid", "minilm", "BM25 + MiniLM (bundled) (hybrid)"),
    ("hybrid:static", "hybrid", "static", "BM25 + static (MiniLM (bundled), model2vec) (hybrid)"),
    ("hybrid:fake", "hybrid", "fake", "BM25 + hashing encoder (64 dims) (hybrid)"),
    ("onnx-int8:minilm", "onnx-int8", "minilm", "MiniLM (bundled), int8 ONNX"),
    ("fake:32", "fake", None, "hashing encoder (32 dims)"),
    ("openai:text-embedding-3-small", "openai", None, "OpenAI text-embedding-3-small"),
])
def test_specs_parse_with_readable_names(text, kind, inner, display):
    spec = parse_spec(text)
    assert (spec.kind, spec.inner.text if spec.inner else None, spec.display) == (kind, inner, display)
    assert spec.has_vectors == (kind not in ("bm25", "hybrid"))


@pytest.mark.parametrize(("text", "words"), [
    ("", "No model given"),
    ("onnx-int8", "needs the model to compress"),
    ("hybrid:bm25", "takes a dense model"),
    ("static:static", "takes a dense model"),
    ("static:fake", "needs a local transformer"),
    ("hybrid:", "names no model after the colon"),
    ("not a model!", "not a model spec"),
    ("./no/such/folder", "does not exist"),
    ("run:nope", "no training run"),
])
def test_bad_specs_get_one_line_saying_what_to_do(text, words):
    with pytest.raises(ModelError) as info:
        parse_spec(text)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_a_hub_id_offline_says_so_and_online_is_accepted(monkeypatch):
    with pytest.raises(ModelError, match="offline") as info:
        parse_spec("BAAI/bge-small-en-v1.5")  # the test suite runs with HF_HUB_OFFLINE=1
    assert "folder" in str(info.value)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE")
    spec = parse_spec("BAAI/bge-small-en-v1.5")
    assert (spec.kind, spec.display) == ("hub", "bge-small-en-v1.5")


def test_a_folder_is_local_mode_only(tmp_path, monkeypatch):
    folder = tmp_path / "my-model"
    folder.mkdir()
    assert parse_spec(str(folder)).kind == "folder"
    assert parse_spec(str(folder)).display == "my-model"
    monkeypatch.setenv("EXPLORER_PUBLIC", "1")
    for settings in (get_settings(), None):
        with pytest.raises(ModelError, match="only be used in local mode"):
            parse_spec(str(folder), settings=settings)


def test_a_finished_run_is_found_by_id_and_wrappable(tmp_path):
    settings = get_settings()
    run = settings.runs_dir / "20261207-010203-000-abc123"
    (run / "model").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"base_model": "minilm"}))
    for text in (run.name, f"run:{run.name}"):
        spec = parse_spec(text, settings=settings)
        assert spec.kind == "run" and run.name in spec.display
    wrapped = parse_spec(f"onnx-int8:run:{run.name}", settings=settings)
    assert wrapped.inner.kind == "run" and wrapped.display.endswith("int8 ONNX")


def test_slugs_are_folder_names_and_tell_specs_apart():
    slugs = {parse_spec(t).slug for t in ("minilm", "bm25", "hybrid", "hybrid:static", "static", "fake", "fake:32")}
    assert len(slugs) == 7
    assert all(s.replace("-", "").isalnum() and s == s.lower() for s in slugs)
    assert parse_spec("bm25").slug == "bm25" and parse_spec("minilm").slug == "minilm"


def test_the_grammar_names_every_kind():
    for word in ("minilm", "static", "bm25", "hybrid", "onnx-int8", "run:", "hub id"):
        assert word in GRAMMAR
