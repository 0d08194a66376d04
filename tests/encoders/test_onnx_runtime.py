"""The onnxruntime path of the sentence-transformers encoder: same vectors as torch fp32, exported once under
the home, chosen only where it may run, and torch whenever it cannot."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx", reason="the ONNX path needs the 'onnx' package")
pytest.importorskip("onnxruntime", reason="the ONNX path needs onnxruntime")

from explorer.encoders import onnx_runtime, sentence  # noqa: E402
from explorer.encoders.sentence import SentenceTransformerEncoder, bundled_model_path  # noqa: E402
from explorer.core.errors import ModelError  # noqa: E402

# The last text is longer than the tiny model's 64 positions: truncation must match torch's.
TEXTS = ["the cat sat on the mat", "  stock prices fell sharply  ", "a", "kitten " * 80]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-dimensional BERT with MiniLM's tokenizer, saved as a sentence-transformers folder."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("tiny-onnx")
    tokenizer = AutoTokenizer.from_pretrained(bundled_model_path())
    tokenizer.save_pretrained(root / "hf")
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64)
    BertModel(config).save_pretrained(root / "hf")
    model = SentenceTransformer(str(root / "hf"), device="cpu", local_files_only=True)
    model.max_seq_length = 64
    model.save(str(root / "st"))
    return root / "st"


def _torch(folder: Path, tmp_path: Path) -> np.ndarray:
    return SentenceTransformerEncoder(str(folder), cache_dir=tmp_path / "torch-cache", bf16=False, backend="torch").encode(TEXTS)


def test_onnx_gives_torch_fp32_vectors_and_shares_their_fingerprint(tiny, tmp_path):
    enc = SentenceTransformerEncoder(str(tiny), cache_dir=tmp_path / "cache", bf16=False, backend="onnx")
    out = enc.encode(TEXTS)
    assert enc.runtime == "onnx" and enc._model is None  # torch's model was never loaded by this encoder
    reference = _torch(tiny, tmp_path)
    np.testing.assert_allclose(out, reference, atol=1e-5)
    assert enc.fingerprint == SentenceTransformerEncoder(str(tiny), bf16=False, backend="torch").fingerprint
    exports = [p for p in (tmp_path / "cache" / "onnx").iterdir()]
    assert len(exports) == 1 and (exports[0] / "export.json").is_file()  # under the cache root, no temp left
    assert enc.encode(TEXTS[:2], "query").shape == (2, 32)


def test_the_export_is_made_once_and_reused(tiny, tmp_path, monkeypatch):
    first = SentenceTransformerEncoder(str(tiny), cache_dir=tmp_path, bf16=False, backend="onnx")
    assert first.prepare_onnx()

    def no_second_export(*args, **kwargs):
        raise AssertionError("exported twice")

    monkeypatch.setattr(onnx_runtime, "_build_apart", no_second_export)
    again = SentenceTransformerEncoder(str(tiny), cache_dir=tmp_path, bf16=False)  # auto: uses what exists
    again.encode(TEXTS[:2], use_cache=False)
    assert again.runtime == "onnx"


def test_auto_exports_only_for_an_encode_big_enough_to_repay_it(tiny, tmp_path, monkeypatch):
    small = SentenceTransformerEncoder(str(tiny), cache_dir=tmp_path, bf16=False)
    small.encode(TEXTS)
    assert small.runtime == "torch" and not (tmp_path / "onnx").exists()
    monkeypatch.setattr(sentence, "ONNX_EXPORT_MIN_CHARS", 50)
    big = SentenceTransformerEncoder(str(tiny), cache_dir=tmp_path, bf16=False)
    big.encode(TEXTS, use_cache=False)
    assert big.runtime == "onnx"


def test_a_fully_cached_encode_loads_no_runtime(tiny, tmp_path):
    SentenceTransformerEncoder(str(tiny), cache_dir=tmp_path, bf16=False, backend="onnx").encode(TEXTS)
    cached = SentenceTransformerEncoder(str(tiny), cache_dir=tmp_path, bf16=False, backend="onnx")
    cached.encode(TEXTS)
    assert cached.runtime == "torch" and cached._model is None  # nothing loaded at all


def test_falls_back_to_torch_when_onnxruntime_is_missing(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_runtime, "runtime_available", lambda: False)
    enc = SentenceTransformerEncoder(str(tiny), cache_dir=None, bf16=False, backend="onnx")
    np.testing.assert_allclose(enc.encode(TEXTS), _torch(tiny, tmp_path), atol=1e-6)
    assert enc.runtime == "torch"


def test_a_failed_export_leaves_torch_and_is_not_retried(tiny, tmp_path, monkeypatch, caplog):
    calls = []

    def broken(folder, out):
        calls.append(folder)
        Path(out).mkdir(parents=True)
        raise RuntimeError("exporter exploded")

    monkeypatch.setattr(onnx_runtime, "_build_apart", broken)
    enc = SentenceTransformerEncoder(str(tiny), cache_dir=tmp_path, bf16=False, backend="onnx")
    with caplog.at_level(logging.WARNING):
        out = enc.encode(TEXTS, use_cache=False)
        enc.encode(TEXTS[:1], use_cache=False)
    np.testing.assert_allclose(out, _torch(tiny, tmp_path), atol=1e-6)
    assert enc.runtime == "torch" and len(calls) == 1
    assert "stays on torch" in caplog.text and "exporter exploded" in caplog.text
    assert not [p for p in (tmp_path / "onnx").iterdir()]  # the half-made export was removed


def test_bf16_in_memory_and_torch_backend_stay_on_torch(tiny, tmp_path):
    from sentence_transformers import SentenceTransformer

    assert not SentenceTransformerEncoder(str(tiny), cache_dir=tmp_path, bf16=True, backend="onnx").prepare_onnx()
    assert not SentenceTransformerEncoder(str(tiny), cache_dir=tmp_path, bf16=False, backend="torch").prepare_onnx()
    model = SentenceTransformer(str(tiny), device="cpu", local_files_only=True)
    live = SentenceTransformerEncoder.from_model(model, fingerprint="x", bf16=False, cache_dir=None)
    assert not live.prepare_onnx()  # its weights may still be changing
    with pytest.raises(ValueError, match="backend"):
        SentenceTransformerEncoder(str(tiny), backend="tensorrt")


def test_pipelines_it_cannot_run_are_refused_from_their_config(tiny, tmp_path):
    import shutil

    assert onnx_runtime.supported_folder(tiny)
    prompted = tmp_path / "prompted"
    shutil.copytree(tiny, prompted)
    config = json.loads((prompted / "config_sentence_transformers.json").read_text())
    config["prompts"] = {"query": "query: ", "document": ""}
    (prompted / "config_sentence_transformers.json").write_text(json.dumps(config))
    assert not onnx_runtime.supported_folder(prompted)
    assert not SentenceTransformerEncoder(str(prompted), cache_dir=tmp_path, bf16=False, backend="onnx").prepare_onnx()
    max_pooled = tmp_path / "max"
    shutil.copytree(tiny, max_pooled)
    pooling = next(max_pooled.glob("*Pooling/config.json"))
    cfg = json.loads(pooling.read_text())
    cfg.update({"pooling_mode": "max", "pooling_mode_mean_tokens": False, "pooling_mode_max_tokens": True})
    pooling.write_text(json.dumps(cfg))
    assert not onnx_runtime.supported_folder(max_pooled)


@pytest.mark.model
def test_bundled_minilm_on_onnx_matches_torch_fp32(tmp_path):
    texts = ["What causes the common cold?", "Aspirin reduces the risk of heart attack in older adults. " * 30,
             "Vitamin D deficiency is associated with bone fractures.", "x"]
    enc = SentenceTransformerEncoder("minilm", cache_dir=tmp_path, bf16=False, backend="onnx")
    out = enc.encode(texts)
    assert enc.runtime == "onnx"
    meta = json.loads((enc._onnx.folder / "export.json").read_text())
    assert meta["file"] == onnx_runtime.FUSED_FILE  # attention and layer norms fused, not the plain graph
    reference = SentenceTransformerEncoder("minilm", cache_dir=None, bf16=False, backend="torch").encode(texts)
    assert (out * reference).sum(axis=1).min() >= 0.999999
    assert np.abs(out - reference).max() < 1e-5


def test_the_export_runs_in_a_process_of_its_own(tiny, tmp_path, monkeypatch):
    """Tracing the model for the export costs hundreds of MB the server would keep: it happens in a child."""
    def not_here(*args, **kwargs):
        raise AssertionError("exported in the server's process")

    monkeypatch.setattr(onnx_runtime, "_build", not_here)
    enc = SentenceTransformerEncoder(str(tiny), cache_dir=tmp_path, bf16=False, backend="onnx")
    assert enc.prepare_onnx() and enc.runtime == "onnx"
    np.testing.assert_allclose(enc.encode(TEXTS, use_cache=False), _torch(tiny, tmp_path), atol=1e-5)


def test_a_failed_export_in_the_child_says_why(tmp_path):
    with pytest.raises(ModelError, match="no-such-model is not a saved sentence-transformers model"):
        onnx_runtime.ensure_export(tmp_path / "no-such-model", tmp_path / "onnx")
    assert not list((tmp_path / "onnx").glob(".tmp-*"))


def test_the_export_and_the_fusion_run_in_processes_of_their_own(tiny, tmp_path, monkeypatch):
    """In one child the traced model and the fusion's copy of the graph stacked up (1.48 GB for MiniLM); one child
    a stage keeps the larger of the two (0.92 GB). The reference vectors passed between them do not stay."""
    stages, run = [], onnx_runtime.subprocess.run

    def spy(cmd, *args, **kwargs):
        stages.append(cmd[-1])
        return run(cmd, *args, **kwargs)

    monkeypatch.setattr(onnx_runtime.subprocess, "run", spy)
    target = onnx_runtime.ensure_export(tiny, tmp_path / "onnx")
    assert stages == list(onnx_runtime.BUILD_STAGES) == ["export", "fuse"]
    assert (target / "export.json").is_file() and not (target / onnx_runtime.REFERENCE_FILE).exists()


def test_torchs_copy_of_the_model_is_let_go_once_onnxruntime_takes_over(tiny, tmp_path):
    """A small encode before the export loads the model on torch; after the switch every batch runs on
    onnxruntime, so torch's copy goes (and comes back if asked for)."""
    enc = SentenceTransformerEncoder(str(tiny), cache_dir=tmp_path, bf16=False, backend="onnx")
    enc.model  # loaded, as a small encode before the export would
    assert enc._model is not None and enc.prepare_onnx() and enc.runtime == "onnx"
    assert enc._model is None
    np.testing.assert_allclose(enc.encode(TEXTS, use_cache=False), _torch(tiny, tmp_path), atol=1e-5)
    assert enc.model is not None  # loaded again on demand
