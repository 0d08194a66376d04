"""Hub models through a local server shaped like the Hugging Face hub (``HF_ENDPOINT`` points at it): the
download's size before anything is fetched, only the files sentence-transformers needs, progress in megabytes,
a finished download reused without a request, one line for an unknown, gated or unreachable model, and the real
bundled MiniLM served as a hub model loading from its download with trust_remote_code off."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import numpy as np
import pytest

from explorer.core.errors import ModelError
from explorer.encoders import hub
from tests.encoders.fake_hub import FakeHub

MB = 1024 * 1024
NEEDED = {"config.json": b'{"model_type": "bert"}', "modules.json": b"[]", "tokenizer.json": b"{}",
          "vocab.txt": b"a\nb\n", "model.safetensors": b"w" * (3 * MB + 5), "1_Pooling/config.json": b"{}"}
LEFT_BEHIND = {"pytorch_model.bin": b"p" * MB, "onnx/model.onnx": b"o" * MB, "modeling_custom.py": b"import os",
               "README.md": b"# card", "tf_model.h5": b"t" * 100}


@pytest.fixture
def fake_hub(httpserver, monkeypatch):
    served = FakeHub(repos={"tests-owner/tiny": {**NEEDED, **LEFT_BEHIND}}, gated={"tests-owner/gated"})
    httpserver.expect_request(re.compile(".*")).respond_with_handler(served)
    monkeypatch.setenv("HF_ENDPOINT", httpserver.url_for("/").rstrip("/"))
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    return served


def test_the_plan_counts_only_the_files_sentence_transformers_needs(fake_hub):
    plan = hub.plan("tests-owner/tiny")
    assert set(plan.files) == set(NEEDED), "one copy of the weights (safetensors), no ONNX, pickle, code or card"
    assert plan.bytes == sum(len(b) for b in NEEDED.values())
    assert plan.size_text == "3 MB"
    assert fake_hub.downloads() == [], "asking the size downloads nothing"


def test_the_download_fetches_those_files_once_with_progress_in_megabytes(fake_hub, tmp_path):
    heard = []
    folder = hub.download("tests-owner/tiny", tmp_path, progress=lambda *report: heard.append(report))
    assert sorted(fake_hub.downloads()) == sorted(NEEDED)
    assert all((folder / name).read_bytes() == body for name, body in NEEDED.items())
    assert not (folder / "modeling_custom.py").exists() and not (folder / "onnx").exists()
    assert {stage for stage, _, _ in heard} == {hub.STAGE}
    assert heard[-1] == (hub.STAGE, 4, 4), "3 MB and a few bytes: 4 megabytes in all, all done"
    done = [d for _, d, _ in heard]
    # 0 at once, then as the megabytes move (how many steps depends on the chunks' sizes), each once.
    assert done[0] == 0 and done == sorted(done) and len(set(done)) == len(done) >= 2, "reported as MB move, once each"
    asked = len(fake_hub.requests)
    assert hub.download("tests-owner/tiny", tmp_path) == folder
    assert len(fake_hub.requests) == asked, "a finished download is used without asking the hub again"


def test_an_interrupted_download_is_not_taken_for_a_finished_one(fake_hub, tmp_path):
    folder = hub.download("tests-owner/tiny", tmp_path)
    (folder / "model.safetensors").unlink()
    assert hub.downloaded("tests-owner/tiny", tmp_path) is None
    assert (hub.download("tests-owner/tiny", tmp_path) / "model.safetensors").stat().st_size == 3 * MB + 5


def _one_line(exc_info) -> str:
    message = str(exc_info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_unknown_gated_unreachable_and_offline_are_one_line_each(fake_hub, tmp_path, monkeypatch):
    with pytest.raises(ModelError) as unknown:
        hub.download("tests-owner/nothing-here", tmp_path)
    assert "has no public model 'tests-owner/nothing-here'" in _one_line(unknown)
    with pytest.raises(ModelError) as gated:
        hub.plan("tests-owner/gated")
    assert "gated" in _one_line(gated) and "HF_TOKEN" in _one_line(gated)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(ModelError) as unreachable:
        hub.download("tests-owner/tiny", tmp_path)
    assert "could not be reached" in _one_line(unreachable) and "pick minilm" in _one_line(unreachable)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError) as offline:
        hub.plan("tests-owner/tiny")
    assert "offline" in _one_line(offline) and "give its folder" in _one_line(offline)
    assert not list(tmp_path.rglob("*.safetensors"))


def test_the_registry_downloads_a_hub_model_only_when_asked_to_watch(fake_hub, tmp_path):
    from explorer.encoders.sentence import SentenceTransformerEncoder

    lazy = SentenceTransformerEncoder("tests-owner/tiny", cache_dir=tmp_path)
    assert lazy.name == "tests-owner/tiny" and fake_hub.requests == [], "building one fetches nothing"
    heard = []
    assert lazy.download(progress=lambda *r: heard.append(r)) == tmp_path / "hub" / "tests-owner--tiny"
    assert heard and heard[-1][1] == heard[-1][2]


@pytest.mark.model
def test_a_hub_model_loads_from_its_download_with_remote_code_off(httpserver, monkeypatch, tmp_path):
    """The bundled MiniLM served as a hub model (with an ONNX copy, a pickle and custom code beside it): only the
    needed files come down, it loads from the download with trust_remote_code=False, and embeds like the
    bundled model."""
    import sentence_transformers

    from explorer.encoders.registry import load_encoder
    from explorer.encoders.sentence import bundled_model_path

    root = Path(bundled_model_path())
    files = {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    served = FakeHub(repos={"tests-owner/minilm-copy": {**files, "onnx/model.onnx": b"x" * 1000,
                                                        "pytorch_model.bin": b"y" * 1000, "custom.py": b"raise"}})
    httpserver.expect_request(re.compile(".*")).respond_with_handler(served)
    monkeypatch.setenv("HF_ENDPOINT", httpserver.url_for("/").rstrip("/"))
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    monkeypatch.setenv("EXPLORER_HOME", str(tmp_path))
    loads = []
    real = sentence_transformers.SentenceTransformer

    def spy(*args, **kwargs):
        loads.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", spy)
    heard = []
    encoder = load_encoder("tests-owner/minilm-copy", progress=lambda *r: heard.append(r))
    assert heard[-1] == (hub.STAGE, 88, 88), "MiniLM's 87 MB of weights, its tokenizer and configuration: 88 MB begun"
    assert not {"onnx/model.onnx", "pytorch_model.bin", "custom.py", "README.md"} & set(served.downloads())
    texts = ["a query about vaccines", "a passage on protein folding"]
    vectors = encoder.encode(texts, "passage", use_cache=False)
    assert loads and all(kw["trust_remote_code"] is False and kw["local_files_only"] for kw in loads)
    bundled = load_encoder("minilm").encode(texts, "passage", use_cache=False)
    np.testing.assert_allclose(vectors, bundled, atol=1e-5)


def test_a_run_on_a_hub_model_downloads_it_first_where_the_run_will_look(fake_hub, tmp_path, monkeypatch):
    from explorer.core.config import get_settings
    from explorer.encoders.registry import load_encoder
    from explorer.pipeline.base_model import fetch_base_model

    monkeypatch.setenv("EXPLORER_HOME", str(tmp_path))
    heard = []
    fetch_base_model("bm25", get_settings(), progress=lambda *r: heard.append(r))
    assert heard == [] and fake_hub.requests == [], "nothing to download for other models"
    fetch_base_model("tests-owner/tiny", get_settings(), progress=lambda *r: heard.append(r))
    assert heard[-1] == (hub.STAGE, 4, 4)
    asked = len(fake_hub.requests)
    assert load_encoder("tests-owner/tiny").download() == hub.downloaded("tests-owner/tiny", get_settings().cache_dir / "hub")
    assert len(fake_hub.requests) == asked, "the run's process finds the download on disk"
