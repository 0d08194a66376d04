"""ONNX export of a tiny randomly initialised sentence-transformer (seconds, no MiniLM)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx", reason="ONNX export needs the 'onnx' package (requirements-dev.txt)")
pytest.importorskip("onnxruntime", reason="ONNX export needs onnxruntime")

from explorer.jobs.packaging import package
from explorer.core.errors import ModelError  # noqa: E402
from explorer.encoders.export import INT8_FILE, ONNX_FILE, OnnxEmbedder, export_model  # noqa: E402
from tests.training.conftest import build_tiny_model  # noqa: E402

# The last text is longer than the tiny model's 64 positions: the ONNX side must truncate exactly as torch does.
TEXTS = ["what about coffee espresso", "rain clouds storm and more wet", "a", "python code snake script language",
         " ".join(["coffee espresso beans roast brew"] * 20)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny"))


def _torch_vectors(folder: Path) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device="cpu").encode(TEXTS)  # the tiny model has no Normalize module


def test_onnx_export_matches_torch(tiny: Path, tmp_path: Path) -> None:
    path = export_model(tiny, tmp_path / "onnx", kind="onnx")
    assert path == tmp_path / "onnx" / ONNX_FILE and path.is_file()
    assert not (tmp_path / "onnx" / "model.safetensors").exists()  # the ONNX graph replaces the torch weights
    assert json.loads((tmp_path / "onnx" / "export.json").read_text())["kind"] == "onnx"
    got = OnnxEmbedder(tmp_path / "onnx").encode(TEXTS, batch_size=3)
    np.testing.assert_allclose(got, _torch_vectors(tiny), atol=1e-5)


def test_int8_export_is_smaller_and_close(tiny: Path, tmp_path: Path) -> None:
    fp32 = export_model(tiny, tmp_path / "fp32", kind="onnx")
    int8 = export_model(tiny, tmp_path / "int8", kind="onnx-int8")
    assert int8 == tmp_path / "int8" / INT8_FILE
    assert int8.stat().st_size < fp32.stat().st_size
    got = OnnxEmbedder(tmp_path / "int8").encode(TEXTS)
    want = _torch_vectors(tiny)
    cosine = (got * want).sum(axis=1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    assert np.all(cosine > 0.9), cosine  # quantized, so close but not equal


def test_bad_inputs(tmp_path: Path, tiny: Path) -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        export_model(tiny, tmp_path / "x", kind="tflite")  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="not a saved sentence-transformers model"):
        export_model(tmp_path, tmp_path / "y")


def test_run_download_as_onnx_is_exported_once_and_zipped(tiny: Path, tmp_path: Path) -> None:
    """The Train page's ONNX download: a full fine-tune's model exported into the run folder, then zipped."""
    import shutil
    import zipfile

    from explorer.training.config import TrainConfig
    from explorer.jobs.runs import RunStore
    from tests.training.conftest import tiny_dataset

    store = RunStore(tmp_path / "runs")
    run = store.create(TrainConfig(), tiny_dataset())
    shutil.copytree(tiny, run.model_dir)
    path = package(store.get(run.id), "onnx-int8")
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    assert "export-onnx-int8/" + INT8_FILE in names and "config.json" in names
    assert not any(n.endswith("model.safetensors") for n in names)
    stamp = (run.path / "export-onnx-int8" / INT8_FILE).stat().st_mtime_ns
    assert package(store.get(run.id), "onnx-int8") == path  # second request: no second export
    assert (run.path / "export-onnx-int8" / INT8_FILE).stat().st_mtime_ns == stamp
    assert not list(run.path.glob(".export-*"))  # no temporary folder left behind

    adapter = store.create(TrainConfig(method="adapter"), tiny_dataset())
    adapter.adapter_dir.mkdir(parents=True)
    with pytest.raises(ModelError, match="adapter, which has no transformer"):
        package(store.get(adapter.id), "onnx")
