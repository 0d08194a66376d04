"""Cost before the first call: tokens counted offline times the dated price list."""

from __future__ import annotations

import pytest

from explorer.encoders.openai import OpenAIEncoder
from explorer.encoders.prices import PRICES_AS_OF, PRICES_SOURCE, estimate_cost
from explorer.encoders.tokens import TokenCounter
from tests.encoders.openai_server import serve

ESTIMATE = TokenCounter(use_tiktoken=False)  # 3 ASCII characters a token: the same counts with or without tiktoken


def test_tokens_times_the_listed_price_with_its_date_and_source():
    texts = ["a" * 30, "b" * 300, "a" * 30]  # 10 + 100 tokens; the duplicate is sent once
    small = estimate_cost(texts, "text-embedding-3-small", counter=ESTIMATE)
    assert (small.texts, small.tokens) == (2, 110)
    assert small.usd == pytest.approx(110 * 0.02 / 1e6)
    large = estimate_cost(texts, "text-embedding-3-large", counter=ESTIMATE)
    assert large.usd == pytest.approx(110 * 0.13 / 1e6)
    assert estimate_cost(texts, "text-embedding-ada-002", counter=ESTIMATE).usd == pytest.approx(110 * 0.10 / 1e6)
    line = small.describe()
    assert line.startswith("2 texts, about 110 tokens: about $0.0000") and PRICES_AS_OF in line and PRICES_SOURCE in line
    assert estimate_cost(texts, "text-embedding-3-small", counter=ESTIMATE, max_tokens=50).tokens == 60  # truncated


def test_a_model_without_a_listed_price_or_on_another_host_has_no_dollar_figure():
    assert estimate_cost(["x"], "nomic-embed-text", counter=ESTIMATE).usd is None
    other = estimate_cost(["x"], "text-embedding-3-small", base_url="http://127.0.0.1:7997/v1", counter=ESTIMATE)
    assert other.usd is None and other.tokens == 1 and "no listed price" in other.describe()


def test_the_encoder_estimates_only_what_is_not_cached_and_sends_nothing_to_estimate(httpserver, tmp_path):
    handler = serve(httpserver)
    enc = OpenAIEncoder("text-embedding-3-small", "sk-x", base_url=httpserver.url_for("/v1"), cache_dir=tmp_path)
    enc.tokens = ESTIMATE
    texts = ["a" * 30, "b" * 60]
    assert enc.estimate_cost(texts).tokens == 30 and handler.requests == []
    enc.encode(texts[:1])
    assert enc.estimate_cost(texts).tokens == 20 and enc.estimate_cost(texts).texts == 1
    assert enc.tokens_billed == 1  # the server's usage (one word), counted as the pass goes
    assert enc.spent_usd is None  # a local server's model has no listed price
    enc.base_url = "https://api.openai.com/v1"
    assert enc.spent_usd == pytest.approx(0.02 / 1e6)
