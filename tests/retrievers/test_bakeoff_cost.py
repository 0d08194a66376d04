"""The bake-off's cost column: what embedding the corpus and queries costs through an API model (tokens times
the dated price list), "local" for models that run here, "unknown price" for a compatible server's own model."""

from __future__ import annotations

import json

import pytest

from explorer.cli import main
from explorer.encoders.prices import PRICES_AS_OF, PRICES_PER_MILLION_TOKENS, estimate_cost
from explorer.retrievers.bakeoff import compare_models, cost_text, embedding_cost


def test_an_openai_model_costs_its_tokens_at_the_list_price(words_dataset):
    from explorer.encoders.openai import OpenAIEncoder
    from explorer.retrievers.base import DenseRetriever
    from explorer.retrievers.hybrid import HybridRetriever

    encoder = OpenAIEncoder("text-embedding-3-small", api_key="sk-test", cache_dir=None)  # counted offline: no request
    cost = embedding_cost(DenseRetriever(encoder), words_dataset, "test")
    queries = [words_dataset.queries[q] for q in words_dataset.qrels_for("test")]
    expected = estimate_cost([*words_dataset.passage_texts(), *queries], "text-embedding-3-small")
    assert cost["tokens"] == expected.tokens > 0 and cost["texts"] == len(words_dataset.corpus) + len(queries)
    assert cost["usd"] == pytest.approx(expected.tokens * PRICES_PER_MILLION_TOKENS["text-embedding-3-small"] / 1e6)
    assert cost["as_of"] == PRICES_AS_OF and cost["local"] is False
    assert cost_text(cost).endswith(f"${cost['usd']:,.4f}")
    assert embedding_cost(HybridRetriever(DenseRetriever(encoder)), words_dataset)["usd"] == cost["usd"]


def test_cells_read_local_a_price_unknown_price_or_not_recorded():
    assert cost_text({"local": True, "usd": 0.0}) == "local"
    assert cost_text({"local": False, "usd": None, "tokens": 12}) == "unknown price"
    assert cost_text({"local": False, "usd": 0.01234, "exact": True}) == "$0.0123"
    assert cost_text({"local": False, "usd": 0.01234, "exact": False}) == "about $0.0123"
    assert cost_text(None) == "—"


def test_the_bakeoff_rows_carry_the_cost_and_store_it(words_dataset, httpserver, tmp_path, monkeypatch):
    from tests.encoders.openai_server import serve

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    serve(httpserver, dim=8)
    api = f"openai:served-model?base_url={httpserver.url_for('/v1')}"
    bake = compare_models(words_dataset, ["fake", "bm25", api], models_dir=tmp_path / "models")
    rows = {row.spec: row for row in bake.rows}
    assert rows["fake"].api_cost == rows["bm25"].api_cost == {"local": True, "usd": 0.0}
    assert rows[api].api_cost["usd"] is None and rows[api].api_cost["tokens"] > 0
    assert cost_text(rows[api].api_cost) == "unknown price"
    assert json.loads(json.dumps(bake.to_dict()))["models"][2]["api_cost"]["tokens"] == rows[api].api_cost["tokens"]
    stored = json.loads((tmp_path / "models").glob("*/*/evaluation.json").__next__().read_text())
    assert "api_cost" in stored["costs"]


def test_compare_models_json_and_table_have_the_cost(words_beir, httpserver, capsys, monkeypatch):
    from tests.encoders.openai_server import serve

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    serve(httpserver, dim=8)
    api = f"openai:served-model?base_url={httpserver.url_for('/v1')}"
    assert main(["compare-models", "--data", words_beir, "--models", f"fake,{api}", "--json"]) == 0
    rows = {row["spec"]: row for row in json.loads(capsys.readouterr().out)["models"]}
    assert rows["fake"]["api_cost"] == {"local": True, "usd": 0.0}
    assert rows[api]["api_cost"]["usd"] is None and rows[api]["api_cost"]["model"] == "served-model"
    assert main(["compare-models", "--data", words_beir, "--models", f"fake,{api}"]) == 0
    out = capsys.readouterr().out
    assert "API cost" in out.splitlines()[0] and "local" in out and "unknown price" in out


def test_the_visitors_key_pays_for_an_api_model_in_the_bakeoff(words_dataset, httpserver, tmp_path, monkeypatch):
    """The app passes the session's key; it reaches the endpoint and nothing stored holds it."""
    from tests.encoders.openai_server import serve
    from tests.encoders.test_api_key_leaks import KEY, files_with_leaks

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    handler = serve(httpserver, dim=8)
    api = f"openai:served-model?base_url={httpserver.url_for('/v1')}"
    compare_models(words_dataset, ["bm25", f"hybrid:{api}"], models_dir=tmp_path / "models", api_key=KEY)
    assert handler.requests and set(handler.authorizations) == {f"Bearer {KEY}"}
    assert files_with_leaks(tmp_path) == {}
