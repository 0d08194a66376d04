"""The OpenAI encoder against a fake server (httpx2.MockTransport, the openai client's HTTP library): never the
network. Real HTTP (a local server) is in test_openai_http.py."""

from __future__ import annotations

import json
import warnings

import httpx2 as httpx
import numpy as np
import pytest

from explorer.encoders.openai import OpenAIEncoder, OverlongInputWarning
from explorer.encoders.tokens import TokenCounter
from explorer.core.errors import ModelError


def vector_of(text: str) -> list[float]:
    """The fake server's embedding: deterministic, distinct per text, unit length."""
    rng = np.random.default_rng(abs(hash(text)) % (2**32))
    v = rng.normal(size=8)
    return (v / np.linalg.norm(v)).tolist()


class FakeServer:
    """Answers /embeddings; ``script`` lists responses to give first (status, headers, body) or exceptions."""

    def __init__(self, script=(), reverse=False):
        self.script, self.reverse = list(script), reverse
        self.requests: list[dict] = []
        self.headers: list[httpx.Headers] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        payload = json.loads(request.content)
        self.requests.append(payload)
        self.headers.append(request.headers)
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, Exception):
                raise step
            status, headers, body = step
            return httpx.Response(status, headers=headers, json=body)
        data = [{"object": "embedding", "index": i, "embedding": vector_of(t)} for i, t in enumerate(payload["input"])]
        return httpx.Response(200, json={"data": data[::-1] if self.reverse else data, "model": payload["model"]})


def make(server, sleeps=None, **kwargs):
    client = httpx.Client(transport=httpx.MockTransport(server))
    enc = OpenAIEncoder(api_key="sk-test", http_client=client, cache_dir=kwargs.pop("cache_dir", None), **kwargs)
    enc.tokens = TokenCounter(enc.model, use_tiktoken=False)  # the same counts whether or not tiktoken is installed
    enc._sleep = (sleeps.append if sleeps is not None else lambda s: None)
    return enc


def test_requests_are_batched_and_rows_follow_the_input_order():
    server = FakeServer(reverse=True)
    enc = make(server, batch_size=2, dimensions=8)
    texts = ["one", "two", "three", "four", "five"]
    out = enc.encode(texts)
    assert [len(r["input"]) for r in server.requests] == [2, 2, 1]
    assert all(r["model"] == "text-embedding-3-small" and r["dimensions"] == 8 for r in server.requests)
    assert server.headers[0]["authorization"] == "Bearer sk-test"
    np.testing.assert_allclose(out, np.array([vector_of(t) for t in texts]), atol=1e-6)


def test_cached_texts_are_not_sent_again(tmp_path):
    server = FakeServer()
    enc = make(server, cache_dir=tmp_path)
    enc.encode(["alpha", "beta"])
    enc.encode(["beta", "alpha", "gamma"])
    assert [r["input"] for r in server.requests] == [["alpha", "beta"], ["gamma"]]


def test_a_429_is_retried_after_the_servers_retry_after():
    sleeps: list[float] = []
    server = FakeServer([(429, {"retry-after": "2"}, {"error": {"message": "Rate limit reached"}})])
    out = make(server, sleeps).encode(["hello"])
    assert len(server.requests) == 2 and sleeps == [2.0]
    np.testing.assert_allclose(out[0], vector_of("hello"), atol=1e-6)


def test_server_errors_and_timeouts_back_off_then_give_up_with_a_clear_error():
    sleeps: list[float] = []
    server = FakeServer([httpx.ReadTimeout("slow")] + [(503, {}, {"error": {"message": "overloaded"}})] * 3)
    with pytest.raises(ModelError, match=r"still answered HTTP 503 after 3 attempts; try again later") as caught:
        make(server, sleeps, max_retries=2).encode(["hello"])
    assert "overloaded" not in str(caught.value)
    assert len(server.requests) == 3
    assert len(sleeps) == 2 and all(0 <= s <= 30 for s in sleeps)


def test_a_rejected_key_is_not_retried():
    server = FakeServer([(401, {}, {"error": {"message": "Incorrect API key provided: sk-te**est", "code": "invalid_api_key"}})])
    with pytest.raises(ModelError, match=r"rejected the API key \(HTTP 401, invalid_api_key\); check the key \(the API key field in the app, OPENAI_API_KEY on the command line\)") as caught:
        make(server).encode(["hello"])
    assert "Incorrect" not in str(caught.value) and "sk-te" not in str(caught.value)
    assert len(server.requests) == 1


def test_an_exhausted_quota_is_not_retried():
    server = FakeServer([(429, {}, {"error": {"message": "You exceeded your quota", "code": "insufficient_quota"}})])
    with pytest.raises(ModelError, match="quota"):
        make(server).encode(["hello"])
    assert len(server.requests) == 1


def test_missing_key_says_how_to_set_it(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ModelError, match="OPENAI_API_KEY"):
        OpenAIEncoder()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    assert OpenAIEncoder()._api_key == "sk-env"


def test_overlong_texts_are_truncated_counted_and_warned():
    server = FakeServer()
    enc = make(server, max_tokens=10)  # estimate: 3 ASCII characters per token -> 30 characters
    long = "x" * 100
    with pytest.warns(OverlongInputWarning, match=r"1 of 2 texts were longer than 10 tokens and were truncated"):
        out = enc.encode([long, "short"])
    assert server.requests[0]["input"] == ["x" * 30, "short"]
    assert enc.truncated_count == 1 and enc.chunked_count == 0
    np.testing.assert_allclose(out[0], vector_of("x" * 30), atol=1e-6)


def test_chunk_mode_averages_the_pieces_weighted_by_length():
    server = FakeServer()
    enc = make(server, max_tokens=10, overflow="chunk")
    text = "a" * 30 + "b" * 30 + "c" * 15  # pieces of 10, 10 and 5 tokens
    with pytest.warns(OverlongInputWarning, match="1 of 1 texts were longer than 10 tokens and were split into chunks"):
        out = enc.encode([text])
    assert server.requests[0]["input"] == ["a" * 30, "b" * 30, "c" * 15]
    mean = (10 * np.array(vector_of("a" * 30)) + 10 * np.array(vector_of("b" * 30)) + 5 * np.array(vector_of("c" * 15))) / 25
    np.testing.assert_allclose(out[0], mean / np.linalg.norm(mean), atol=1e-6)
    assert enc.chunked_count == 1


def test_error_mode_refuses_overlong_texts_and_short_texts_do_not_warn():
    enc = make(FakeServer(), max_tokens=10, overflow="error")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        enc.encode(["fits"])
    with pytest.raises(ModelError, match="longer than text-embedding-3-small's limit of 10"):
        enc.encode(["y" * 100])


def test_requests_stay_within_the_token_budget():
    server = FakeServer()
    make(server, max_request_tokens=10).encode(["a" * 15, "b" * 15, "c" * 15])  # 5 tokens each
    assert [len(r["input"]) for r in server.requests] == [2, 1]


def test_fingerprint_changes_with_what_changes_the_vectors():
    a = make(FakeServer())
    assert a.fingerprint == make(FakeServer()).fingerprint
    other_key = OpenAIEncoder(api_key="sk-another", cache_dir=None)
    assert other_key.fingerprint == a.fingerprint and "sk-" not in a.fingerprint  # the cache is keyed without the key
    assert a.fingerprint != make(FakeServer(), dimensions=256).fingerprint
    assert a.fingerprint != make(FakeServer(), overflow="chunk").fingerprint
    assert make(FakeServer(), model="text-embedding-3-large").fingerprint.startswith("openai-text-embedding-3-large-")


def test_the_token_estimate_errs_high_and_splits_exactly():
    counter = TokenCounter(use_tiktoken=False)
    assert counter.count("abcdef") == 2
    assert counter.count("héllo wörld") == 5  # 9 ASCII characters (3 tokens) + 2 accented ones
    assert counter.count("日本語") == 3
    text = "word " * 40 + "日本語テキスト" * 3
    pieces = counter.split(text, 7)
    assert "".join(p for p, _ in pieces) == text
    assert all(0 < n <= 7 and counter.count(p) <= 7 for p, n in pieces)


def test_invalid_parameters_are_value_errors():
    with pytest.raises(ValueError, match="overflow"):
        OpenAIEncoder(api_key="k", overflow="drop")
    with pytest.raises(ValueError, match="dimensions"):
        OpenAIEncoder(api_key="k", dimensions=0)


def test_an_api_model_spec_round_trips_and_refuses_what_it_does_not_know():
    from explorer.encoders.openai import ApiModel

    api = ApiModel("nomic-embed-text:latest", "http://127.0.0.1:11434/v1", 256)
    assert api.spec == "openai:nomic-embed-text:latest?base_url=http://127.0.0.1:11434/v1&dimensions=256"
    assert ApiModel.parse(api.spec) == api
    assert ApiModel.parse("openai:text-embedding-3-small") == ApiModel("text-embedding-3-small")
    with pytest.raises(ModelError, match="Unknown option 'key'"):
        ApiModel.parse("openai:m?key=sk-x")
    with pytest.raises(ModelError, match="dimensions must be a whole number of at least 1"):
        ApiModel.parse("openai:m?dimensions=zero")
    with pytest.raises(ModelError, match="needs a model name"):
        ApiModel.parse("openai:?dimensions=3")


def test_a_tiktoken_that_cannot_load_its_tables_leaves_the_offline_estimate(monkeypatch):
    import sys
    import threading
    import types

    from explorer.encoders import tokens

    stuck = threading.Event()
    fake = types.SimpleNamespace(encoding_for_model=lambda m: stuck.wait(30), get_encoding=lambda n: None)
    monkeypatch.setitem(sys.modules, "tiktoken", fake)  # a download that hangs (a network that drops packets)
    monkeypatch.setattr(tokens, "TIKTOKEN_LOAD_SECONDS", 0.2)
    counter = TokenCounter("text-embedding-3-small")
    stuck.set()
    assert not counter.exact and counter.count("abcdef") == 2
    failing = types.SimpleNamespace(encoding_for_model=lambda m: (_ for _ in ()).throw(OSError("offline")))
    monkeypatch.setitem(sys.modules, "tiktoken", failing)
    assert not TokenCounter("text-embedding-3-small").exact
