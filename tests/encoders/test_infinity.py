"""Through a real OpenAI-compatible server (infinity-emb serving the bundled model's folder, see
tests/encoders/infinity.py), the API encoder scores the demo as the local model does, and a second evaluation
is served from the cache without a request."""

from __future__ import annotations

import httpx2
import pytest

from tests.encoders import infinity

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def infinity_url(tmp_path_factory):
    """The base URL of an infinity-emb server on 127.0.0.1 serving the bundled all-MiniLM-L6-v2 folder."""
    from explorer.encoders.sentence import bundled_model_path

    command = infinity.require()
    log = tmp_path_factory.mktemp("infinity") / "server.log"
    process, url = infinity.start(command, bundled_model_path(), log)
    try:
        infinity.wait_until_up(process, url, log)
        yield url
    finally:
        infinity.stop(process)


def test_the_demo_scores_through_the_endpoint_as_with_the_local_model_and_is_then_cached(infinity_url, tmp_path,
                                                                                     monkeypatch):
    from explorer import pipeline
    from explorer.data.demo_embeddings import seed_demo_embeddings
    from explorer.encoders.openai import OpenAIEncoder
    from explorer.encoders.sentence import SentenceTransformerEncoder
    from explorer.workspace import DatasetChoice

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # a local server needs none
    dataset = pipeline.load_dataset(DatasetChoice(spec="demo"))
    minilm = SentenceTransformerEncoder("minilm", cache_dir=tmp_path / "local-cache")
    seed_demo_embeddings(minilm)  # the shipped vectors of this very model, checked by fingerprint: saves a pass
    local = pipeline.evaluate(dataset, minilm)
    sent: list[str] = []
    client = httpx2.Client(event_hooks={"request": [lambda request: sent.append(str(request.url))]})
    api = OpenAIEncoder(infinity.SERVED_NAME, base_url=infinity_url, http_client=client, cache_dir=tmp_path / "cache")
    remote = pipeline.evaluate(dataset, api)
    assert sent and all(url == f"{infinity_url}/embeddings" for url in sent)
    print(f"ndcg@10 local {local.metrics['ndcg@10']:.5f}, through infinity {remote.metrics['ndcg@10']:.5f}, "
          f"{len(sent)} requests")
    assert abs(remote.metrics["ndcg@10"] - local.metrics["ndcg@10"]) <= 0.002, (remote.metrics, local.metrics)
    assert api.dim == 384

    requests = len(sent)
    again = OpenAIEncoder(infinity.SERVED_NAME, base_url=infinity_url, http_client=client, cache_dir=tmp_path / "cache")
    second = pipeline.evaluate(dataset, again)
    assert len(sent) == requests  # every vector came from the cache
    assert second.metrics["ndcg@10"] == pytest.approx(remote.metrics["ndcg@10"], abs=1e-9)
