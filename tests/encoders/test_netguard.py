"""No server-side request forgery in public mode: base URLs inside the server's network are refused, also when
DNS answers differently at check and at connect time, and through a redirect; locally they are normal."""

from __future__ import annotations

import httpx2
import pytest

from explorer.core.errors import ModelError
from explorer.encoders import netguard
from explorer.encoders.netguard import blocked_reason, check_base_url
from explorer.encoders.openai import OpenAIEncoder
from explorer.encoders.tokens import TokenCounter
from tests.encoders.openai_server import serve


@pytest.mark.parametrize("address, why", [
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"),
    ("10.1.2.3", "private"), ("172.16.0.9", "private"), ("192.168.1.1", "private"), ("fd12::1", "private"),
    ("100.64.0.1", "private"), ("169.254.169.254", "cloud-metadata"), ("fd00:ec2::254", "cloud-metadata"),
    ("169.254.1.1", "link-local"), ("fe80::1", "link-local"), ("0.0.0.0", "unspecified"),
    ("93.184.216.34", None), ("2606:4700::6810:84e5", None), ("8.8.8.8", None),
])
def test_addresses_are_classified(address, why):
    assert blocked_reason(address) == why


def fixed(*answers):
    """A resolver giving each answer in turn (the last one from then on)."""
    calls: list[str] = []

    def resolve(host, port):
        calls.append(host)
        return list(answers[min(len(calls), len(answers)) - 1])

    resolve.calls = calls
    return resolve


@pytest.mark.parametrize("url", ["http://127.0.0.1:7997/v1", "http://localhost/v1", "http://[::1]:80/v1",
                                 "http://169.254.169.254/latest", "http://10.0.0.5/v1", "http://metadata.internal/"])
def test_public_mode_refuses_internal_base_urls_and_local_mode_allows_them(url):
    resolver = fixed(["169.254.169.254"]) if "internal" in url else netguard.system_resolver
    with pytest.raises(ModelError, match=r"resolves to .*, a (loopback|private|cloud-metadata) address, which the hosted "
                                         r"app may not call; give a public https:// endpoint"):
        check_base_url(url, public=True, resolver=resolver)
    check_base_url(url, public=False, resolver=resolver)  # a local server is the normal case on one's own machine
    with pytest.raises(ModelError, match="hosted app may not call"):
        OpenAIEncoder("m", "sk-x", base_url=url, public=True, resolver=resolver, cache_dir=None)


def test_a_public_address_passes_and_urls_with_credentials_or_odd_schemes_never_do():
    check_base_url("https://api.example.com/v1", public=True, resolver=fixed(["93.184.216.34"]))
    with pytest.raises(ModelError, match="contains a user name or password; remove them"):
        check_base_url("https://user:sk-secret@api.example.com/v1", public=False)
    with pytest.raises(ModelError, match=r"must start with http:// or https://") as caught:
        check_base_url("file:///etc/passwd", public=False)
    assert "sk-" not in str(caught.value)


def test_dns_that_answers_public_at_check_time_and_loopback_at_connect_time_is_caught(httpserver):
    handler = serve(httpserver)
    resolver = fixed(["93.184.216.34"], ["127.0.0.1"])
    enc = OpenAIEncoder("m", "sk-x", base_url=f"http://rebind.example:{httpserver.port}/v1", public=True,
                        resolver=resolver, max_retries=2, cache_dir=None)  # the early check saw a public address
    enc.tokens = TokenCounter("m", use_tiktoken=False)
    enc._sleep = lambda s: None
    with pytest.raises(ModelError, match=r"rebind\.example resolves to 127\.0\.0\.1, a loopback address"):
        enc.encode(["hello"])
    assert handler.requests == [] and len(resolver.calls) == 2  # refused at once, never connected, not retried


def test_a_redirect_to_the_metadata_address_is_not_followed(httpserver, monkeypatch):
    # The test server stands for a public endpoint (127.0.0.1 counts as public here); it redirects to metadata.
    real = netguard.blocked_reason
    monkeypatch.setattr(netguard, "blocked_reason", lambda a: None if a == "127.0.0.1" else real(a))
    httpserver.expect_request("/v1/embeddings").respond_with_data(
        "", status=307, headers={"Location": "http://169.254.169.254/latest/meta-data/iam/security-credentials/"})
    resolver = lambda host, port: ["127.0.0.1"] if host == "api.example" else [host]  # noqa: E731
    base_url = f"http://api.example:{httpserver.port}/v1"
    enc = OpenAIEncoder("m", "sk-x", base_url=base_url, public=True, resolver=resolver, timeout=3, cache_dir=None)
    enc.tokens = TokenCounter("m", use_tiktoken=False)
    with pytest.raises(ModelError, match=r"answered with a redirect \(HTTP 307\), which is not followed"):
        enc.encode(["hello"])
    # A client that follows redirects is still stopped where it would connect to the metadata address.
    follows = httpx2.Client(transport=netguard.guarded_transport(resolver), follow_redirects=True, trust_env=False,
                            timeout=3)
    enc = OpenAIEncoder("m", "sk-x", base_url=base_url, public=True, resolver=resolver, http_client=follows,
                        cache_dir=None)
    enc.tokens = TokenCounter("m", use_tiktoken=False)
    with pytest.raises(ModelError, match=r"169\.254\.169\.254 resolves to 169\.254\.169\.254, a cloud-metadata address"):
        enc.encode(["hello"])
    assert len(httpserver.log) == 2  # the redirect was asked for twice, its target never reached


def test_local_mode_uses_no_guard_and_reaches_localhost(httpserver):
    handler = serve(httpserver)
    enc = OpenAIEncoder("m", "sk-x", base_url=httpserver.url_for("/v1"), cache_dir=None)
    enc.tokens = TokenCounter("m", use_tiktoken=False)
    enc.encode(["hello"])
    assert len(handler.requests) == 1


def test_the_registry_guards_api_models_in_public_mode(monkeypatch):
    from explorer.core.config import get_settings
    from explorer.encoders.registry import load_encoder

    spec = "openai:m?base_url=http://127.0.0.1:7997/v1"
    monkeypatch.setenv("EXPLORER_PUBLIC", "1")
    with pytest.raises(ModelError, match=r"127\.0\.0\.1 resolves to 127\.0\.0\.1, a loopback address"):
        load_encoder(spec, settings=get_settings(), api_key="sk-x")
    monkeypatch.setenv("EXPLORER_PUBLIC", "0")
    local = load_encoder(spec, settings=get_settings(), api_key="sk-x")
    assert (local.base_url, local.model, local.public) == ("http://127.0.0.1:7997/v1", "m", False)
