"""Every downloaded model carries a model card whose numbers are the run's own evaluation.json."""

from __future__ import annotations

import re
import time
import zipfile

import numpy as np
import pytest
import yaml

from explorer.jobs.packaging import package
from explorer.encoders.fake import FakeEncoder
from explorer.evaluation.compare import compare_results
from explorer.evaluation.retrieval import evaluate_encoder
from explorer.training.config import TrainConfig
from explorer.jobs.runs import RunStore
from tests.training.conftest import build_tiny_model, tiny_dataset


def _evaluation(dataset) -> dict:
    base = evaluate_encoder(dataset, FakeEncoder(dim=16, seed=1), split="test", k=100)
    tuned = evaluate_encoder(dataset, FakeEncoder(dim=64, seed=2), split="test", k=100)
    comparison = compare_results(dataset, base, tuned, split="test", name_a="baseline", name_b="tuned")
    return {"split": "test", "baseline": base.to_dict(), "tuned": tuned.to_dict(), "comparison": comparison.to_dict(),
            "training_seconds": 12.5}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny"))


def _run(tmp_path, tiny_model, method="full"):
    import shutil

    dataset = tiny_dataset()
    store = RunStore(tmp_path / "runs")
    run = store.create(TrainConfig(method=method, epochs=2), dataset)
    run.set_status("running")
    with run.artifact_writer("model" if method == "full" else "adapter") as folder:
        if method == "full":
            shutil.copytree(tiny_model, folder, dirs_exist_ok=True)
            (folder / "README.md").write_text("sentence-transformers' own card")
        else:
            (folder / "adapter.safetensors").write_bytes(b"w")
    evaluation = _evaluation(dataset)
    run.write_evaluation(evaluation)
    run.set_status("succeeded", finished=time.time())
    return store, run, evaluation


def _card(zip_path, folder: str) -> str:
    with zipfile.ZipFile(zip_path) as zf:
        names = zf.namelist()
        assert names.count(f"{folder}/README.md") == 1
        return zf.read(f"{folder}/README.md").decode()


def test_card_numbers_equal_the_runs_evaluation(tmp_path, tiny_model):
    store, run, evaluation = _run(tmp_path, tiny_model)
    card = _card(package(store.get(run.id)), "model")
    assert "sentence-transformers' own card" not in card
    front = yaml.safe_load(card.split("---")[1])
    assert front["library_name"] == "sentence-transformers"
    assert front["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    reported = {m["name"]: m["value"] for m in front["model-index"][0]["results"][0]["metrics"]}
    assert reported["ndcg@10"] == evaluation["tuned"]["ndcg@10"]
    for metric, c in evaluation["comparison"]["metrics"].items():
        row = next(line for line in card.splitlines() if line.startswith(f"| {metric} |"))
        numbers = [float(x) for x in re.findall(r"[-+]?\d+\.\d+", row)]
        assert numbers[0] == pytest.approx(c["mean_a"], abs=5e-4)
        assert numbers[1:3] == pytest.approx(c["ci_a"], abs=5e-4)
        assert numbers[3] == pytest.approx(c["mean_b"], abs=5e-4)
        assert numbers[4:6] == pytest.approx(c["ci_b"], abs=5e-4)
        assert numbers[6] == pytest.approx(c["delta"], abs=5e-4)
        assert numbers[7:9] == pytest.approx(c["ci_delta"], abs=5e-4)
    assert "| epochs | 2 |" in card and tiny_dataset().summary() in card
    assert "SentenceTransformer(\"model\")" in card


def test_onnx_download_has_a_card_whose_code_runs(tmp_path, tiny_model):
    pytest.importorskip("onnxruntime")
    from explorer.encoders.export import OnnxEmbedder

    store, run, _ = _run(tmp_path, tiny_model)
    path = package(store.get(run.id), "onnx")
    card = _card(path, "export-onnx")
    with zipfile.ZipFile(path) as zf:
        zf.extractall(tmp_path / "unzipped")
    code = re.search(r"```python\n(.*?)```", card, re.S).group(1).replace('"export-onnx', f'"{tmp_path}/unzipped/export-onnx')
    scope: dict = {}
    exec(code, scope)  # the card's own instructions, as a user would paste them
    expected = OnnxEmbedder(tmp_path / "unzipped" / "export-onnx").encode(["a query"])
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(scope["vectors"], expected, atol=1e-5)


def test_adapter_download_has_a_card_too(tmp_path, tiny_model):
    store, run, _ = _run(tmp_path, tiny_model, method="adapter")
    card = _card(package(store.get(run.id)), "adapter")
    assert "linear adapter" in card and "load_encoder(\"adapter\")" in card


def test_card_without_evaluation_says_so():
    from explorer.jobs.modelcard import model_card

    card = model_card({"method": "full", "base_model": "minilm", "dataset": {"name": "x"}}, None)
    assert "no evaluation results" in card
