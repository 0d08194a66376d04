"""Runs over an API model: the key reaches the child in its job message only; the download of an adapter
over an API model holds a few lines that apply it to that API's vectors; the card names model and endpoint."""

from __future__ import annotations

import io
import pickle

import pytest

from explorer.encoders.fake import FakeEncoder
from explorer.jobs.modelcard import model_card
from explorer.jobs.packaging import API_SNIPPET_FILE, api_snippet
from tests.training.conftest import tiny_data  # noqa: F401 - fixture

SPEC = "openai:all-MiniLM-L6-v2?base_url=http://127.0.0.1:7997/v1&dimensions=256"


def test_the_key_travels_in_the_job_message_only(tmp_path, tiny_data, monkeypatch):
    from explorer.jobs.protocol import JobMessage
    from explorer.jobs.runs import RunStore
    from explorer.jobs.supervisor import _child_env, process_body
    from explorer.training.config import TrainConfig

    monkeypatch.setenv("OPENAI_API_KEY", "sk-server-key-should-not-reach-a-child")
    config = TrainConfig(method="adapter", base_model="openai:m?base_url=http://127.0.0.1:9/v1").resolve(tiny_data)
    body = process_body(RunStore(tmp_path), "r1", tiny_data, config, api_key="sk-visitor-KEY")
    message = JobMessage.read(io.BytesIO(body.message))
    assert message.api_key == "sk-visitor-KEY"
    assert "sk-visitor-KEY" not in repr(message)
    assert "OPENAI_API_KEY" not in _child_env(), "a child's key comes from its message, never the server's env"
    assert not list(tmp_path.rglob("*")), "encoding the job writes nothing"
    assert pickle.loads(body.message).config.base_model.startswith("openai:m")


def test_the_card_names_the_api_model_and_endpoint_and_no_hub_id():
    card = model_card({"base_model": SPEC, "method": "adapter", "dataset": {"name": "tiny"}}, None, kind="adapter",
                      folder="adapter")
    assert "all-MiniLM-L6-v2 (embeddings API at http://127.0.0.1:7997/v1)" in card
    assert "base_model:" not in card.split("---")[1], "an endpoint URL is not a hub id"
    hub = model_card({"base_model": "BAAI/bge-small-en-v1.5", "method": "full"}, None)
    assert "base_model: BAAI/bge-small-en-v1.5" in hub


def test_the_snippet_applies_the_adapter_to_the_api_vectors(tmp_path, httpserver):
    import numpy as np
    from safetensors.numpy import save_file
    from tests.encoders.openai_server import serve, vector_of

    assert api_snippet({"base_model": "minilm"}) is None
    serve(httpserver, dim=4)
    url = httpserver.url_for("/v1")
    code = api_snippet({"base_model": f"openai:m?base_url={url}", "method": "adapter"})
    assert "OPENAI_API_KEY" in code and url in code
    weights = np.diag([2.0, 1.0, 1.0, 1.0]).astype(np.float32)
    save_file({"weights": weights}, str(tmp_path / "adapter.safetensors"))
    (tmp_path / "adapter.json").write_text('{"query_only": true}')
    (tmp_path / API_SNIPPET_FILE).write_text(code)
    namespace: dict = {"__file__": str(tmp_path / API_SNIPPET_FILE), "__name__": "snippet"}
    exec(compile(code, API_SNIPPET_FILE, "exec"), namespace)
    base = np.array(vector_of("q", 4), dtype=np.float32)
    expected = base @ weights
    np.testing.assert_allclose(namespace["embed"](["q"])[0], expected / np.linalg.norm(expected), atol=1e-5)
    np.testing.assert_allclose(namespace["embed"](["q"], "passage")[0], base, atol=1e-5)


class PricedEncoder(FakeEncoder):
    """A fake encoder that bills like an API encoder: a tenth of a cent per embedding call."""

    calls = 0

    def embed_batch(self, texts, kind):
        self.calls += 1
        return super().embed_batch(texts, kind)

    @property
    def spent_usd(self) -> float:
        return self.calls * 0.001


def test_a_runs_events_carry_the_cost_so_far_and_the_run_keeps_the_total(tmp_path, tiny_data):  # noqa: F811
    from explorer.jobs.execute import execute_run
    from explorer.jobs.runs import RunStore
    from explorer.training.config import TrainConfig

    config = TrainConfig(method="adapter", base_model="fake", epochs=1).resolve(tiny_data)
    encoder = PricedEncoder()
    events = []
    run = execute_run(tiny_data, config, run_store=RunStore(tmp_path / "runs"), report=events.append,
                      base_encoder=encoder)
    costs = [e.cost for e in events]
    assert None not in costs and costs == sorted(costs) and costs[-1] > 0
    assert run.status["cost_usd"] == pytest.approx(encoder.spent_usd)
    assert '"cost"' in (run.path / "metrics.jsonl").read_text(), "the live panel reads the cost from the log"
