"""The API encoder over real HTTP against a local server (pytest-httpserver): retries and waits, and every
failure a user can meet as a one-line message that echoes neither the key nor the server's text."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest

from explorer.cli import main
from explorer.core.errors import ModelError
from explorer.encoders.openai import OpenAIEncoder
from explorer.encoders.tokens import TokenCounter
from tests.encoders.openai_server import PATH, error, serve, vector_of

KEY = "sk-proj-HTTPTEST0123456789abcdefWXYZ"
MASKED = "sk-proj-********************************WXYZ"  # as OpenAI's 401 text echoes a key


def make(httpserver, **kwargs) -> OpenAIEncoder:
    enc = OpenAIEncoder(kwargs.pop("model", "text-embedding-3-small"), kwargs.pop("api_key", KEY),
                        base_url=httpserver.url_for("/v1"), cache_dir=kwargs.pop("cache_dir", None), **kwargs)
    enc.tokens = TokenCounter(enc.model, use_tiktoken=False)
    return enc


def one_line_without_secrets(message: str) -> None:
    assert "\n" not in message
    no_secrets(message)


def no_secrets(text: str) -> None:
    assert "Traceback" not in text
    for secret in (KEY, MASKED, KEY[-4:], "HTTPTEST", "Incorrect API key"):
        assert secret not in text


def test_a_429_with_retry_after_then_a_500_then_vectors_waits_as_told_and_says_so(httpserver):
    handler = serve(httpserver, error(429, "Rate limit reached", "rate_limit_exceeded", {"Retry-After": "1"}),
                    error(500, "The server had an error"))
    enc = make(httpserver)
    slept: list[float] = []
    enc._sleep = lambda s: (slept.append(s), time.sleep(s))
    reports: list[tuple[str, int, int]] = []
    started = time.monotonic()
    out = enc.encode(["alpha", "beta"], progress=lambda *r: reports.append(r))
    assert len(handler.requests) == 3 and time.monotonic() - started >= 1.0
    assert slept[0] == 1.0 and 0 <= slept[1] <= 30
    waits = [stage for stage, _, _ in reports if stage.startswith("waiting")]
    assert waits[0] == "waiting 1 s: rate limited by the server (HTTP 429) (attempt 1 of 7)"
    assert waits[1].startswith("waiting ") and "the server answered HTTP 500 (attempt 2 of 7)" in waits[1]
    assert reports[-1] == ("embedding", 2, 2)
    np.testing.assert_allclose(out, [vector_of("alpha"), vector_of("beta")], atol=1e-6)
    assert handler.authorizations == [f"Bearer {KEY}"] * 3


def test_retry_after_ms_is_preferred_and_a_wait_too_long_fails_at_once(httpserver):
    handler = serve(httpserver, error(429, "slow down", None, {"retry-after-ms": "250", "Retry-After": "9"}),
                    error(429, "come back tomorrow", None, {"Retry-After": "86400"}))
    enc = make(httpserver)
    slept: list[float] = []
    enc._sleep = slept.append
    with pytest.raises(ModelError, match=r"localhost asks to wait 86400 s before the next request \(HTTP 429, invalid_request_error\); run again"):
        enc.encode(["x"])
    assert slept == [0.25] and len(handler.requests) == 2


@pytest.mark.parametrize("response, expected", [
    (error(401, f"Incorrect API key provided: {MASKED}. You can find your API key at ...", "invalid_api_key"),
     r"localhost rejected the API key \(HTTP 401, invalid_api_key\); check the key \(the API key field in the app, "
     r"OPENAI_API_KEY on the command line\)"),
    (error(404, "The model `text-embedding-9` does not exist or you do not have access to it.", "model_not_found"),
     r"has no embeddings model 'text-embedding-3-small' \(HTTP 404, model_not_found\); check the model name"),
    (error(429, "You exceeded your current quota, please check your plan and billing details.", "insufficient_quota"),
     r"no quota left \(HTTP 429, insufficient_quota\); add credit in its billing settings"),
    (error(403, f"Project key {KEY} may not access model", "model_access_denied"),
     r"may not use 'text-embedding-3-small'"),
    (error(400, f"Invalid input for key {KEY}: this model does not support dimensions"),
     r"refused the request \(HTTP 400, invalid_request_error\); check that 'text-embedding-3-small' is an embeddings model"),
])
def test_errors_the_user_can_fix_are_one_line_are_not_retried_and_echo_nothing(httpserver, response, expected):
    handler = serve(httpserver, response)
    with pytest.raises(ModelError, match=expected) as caught:
        make(httpserver).encode(["hello"])
    assert len(handler.requests) == 1
    one_line_without_secrets(str(caught.value))
    assert caught.value.__cause__ is None and caught.value.__suppress_context__  # no server text in the chain


def test_an_unreachable_url_says_which_and_how_to_fix_it():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    enc = OpenAIEncoder("m", KEY, base_url=f"http://127.0.0.1:{port}/v1", cache_dir=None)
    enc._sleep = lambda s: None
    with pytest.raises(ModelError, match=rf"Cannot connect to http://127\.0\.0\.1:{port}/v1 \(tried 3 times\); "
                                         r"check the base URL \(--base-url or OPENAI_BASE_URL\)") as caught:
        enc.encode(["hello"])
    one_line_without_secrets(str(caught.value))


def test_the_wrong_number_of_vectors_is_refused(httpserver):
    handler = serve(httpserver)
    handler.count = 1
    with pytest.raises(ModelError, match=r"/v1/embeddings returned 1 vectors for 3 texts; it is not a working"):
        make(httpserver).encode(["a", "b", "c"])


def test_vectors_of_the_wrong_size_are_refused(httpserver):
    handler = serve(httpserver, dim=4)
    handler.honour_dimensions = False
    with pytest.raises(ModelError, match=r"returned vectors of size 4, not the 8 asked for; .* may not support --dimensions"):
        make(httpserver, dimensions=8).encode(["a"])
    enc = make(httpserver, batch_size=1)
    enc.encode(["a"])
    handler.dim = 6  # the model behind the endpoint changed between two requests
    with pytest.raises(ModelError, match=r"returned vectors of size 6 where earlier ones had 4; the model behind"):
        enc.encode(["b"])


def test_a_body_that_is_not_embeddings_is_refused(httpserver):
    httpserver.expect_request(PATH, method="POST").respond_with_json({"result": "ok"})
    with pytest.raises(ModelError, match=r"not an embeddings response; check that the base URL is an OpenAI-compatible"):
        make(httpserver).encode(["a"])


def test_the_cli_prints_one_line_with_the_fix_and_never_the_key(httpserver, monkeypatch, capsys, tmp_path):
    serve(httpserver, error(401, f"Incorrect API key provided: {MASKED}.", "invalid_api_key"))
    monkeypatch.setenv("EXPLORER_HOME", str(tmp_path))
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    code = main(["evaluate", "--data", "demo", "--model", "openai:text-embedding-3-small",
                 "--base-url", httpserver.url_for("/v1")])
    err = capsys.readouterr().err
    assert code != 0
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "rejected the API key (HTTP 401, invalid_api_key)" in lines[0]
    no_secrets(err)


def test_a_compatible_endpoint_needs_no_key_but_openai_does(httpserver, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    handler = serve(httpserver)
    make(httpserver, api_key=None).encode(["a"])
    assert handler.authorizations == ["Bearer no-key"]
    with pytest.raises(ModelError, match="No OpenAI API key .* type it in the API key field .* or set OPENAI_API_KEY"):
        OpenAIEncoder("text-embedding-3-small", base_url="https://api.openai.com/v1")


def test_openai_base_url_is_the_default_endpoint_and_the_cli_records_it(httpserver, monkeypatch):
    from explorer.encoders.openai import model_spec

    monkeypatch.setenv("OPENAI_BASE_URL", httpserver.url_for("/v1"))
    handler = serve(httpserver)
    enc = OpenAIEncoder("m", KEY, cache_dir=None)
    enc.tokens = TokenCounter("m", use_tiktoken=False)
    enc.encode(["a"])
    assert len(handler.requests) == 1
    assert model_spec("openai:m", None, 64) == f"openai:m?base_url={httpserver.url_for('/v1')}&dimensions=64"
    with pytest.raises(ModelError, match="--base-url and --dimensions apply only to an API model"):
        model_spec("minilm", None, 64)
