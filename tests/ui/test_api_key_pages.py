"""Reopening a run over an API model later: stored results need no key, a new query asks for one.

The key a visitor types lives in that browser session only: a second session (another AppTest in the same
server process) is asked again, and its requests never carry the first visitor's key.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from werkzeug import Request

from explorer import pipeline
from tests.encoders.openai_server import PATH, EmbeddingsHandler, error
from tests.ui.apptest_walk import shown_text
from tests.ui.conftest import app, problems

KEY = "sk-visitor-Zq81x"
OPERATOR = "sk-operator-P0w3r"


class KeyedHandler(EmbeddingsHandler):
    """The fake endpoint, answering only requests that carry one of ``keys`` (401 otherwise, as OpenAI does)."""

    def __init__(self, *keys: str, dim: int = 64) -> None:
        super().__init__(dim=dim)
        self.keys = {f"Bearer {k}" for k in keys}
        self.refused: list[dict] = []

    def __call__(self, request: Request):
        if request.headers.get("Authorization") not in self.keys:
            self.authorizations.append(request.headers.get("Authorization", ""))
            self.refused.append(json.loads(request.get_data()))
            return error(401, "Incorrect API key provided: sk-vis***81x.", "invalid_api_key")
        return super().__call__(request)


@pytest.fixture
def api_run(httpserver, tiny_csv, monkeypatch):
    """A finished adapter run over an OpenAI-compatible endpoint that needs the key, evaluated with that key;
    afterwards no key is anywhere (no environment variable, no encoder holding one in memory)."""
    from explorer.encoders import cache, registry
    from explorer.encoders.adapter import AdapterEncoder
    from explorer.evaluation.retrieval import evaluate_encoder
    from explorer.jobs.runs import RunStore
    from explorer.jobs.steps import evaluation_record
    from explorer.training.config import TrainConfig
    from explorer.workspace import DatasetChoice, open_workspace

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    handler = KeyedHandler(KEY, OPERATOR)
    httpserver.expect_request(PATH, method="POST").respond_with_handler(handler)
    spec = f"openai:m?base_url={httpserver.url_for('/v1')}"
    ws = open_workspace()
    choice = DatasetChoice(spec=str(tiny_csv), name="tiny")
    ws.set_dataset_choice(choice)
    dataset = pipeline.load_dataset(choice)
    base = registry.load_encoder(spec, api_key=KEY)
    weights = np.eye(64, dtype=np.float32) + 0.2 * np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
    run = RunStore(ws.settings.runs_dir).create(TrainConfig(method="adapter", base_model=spec), dataset,
                                                state="running")
    with run.artifact_writer("adapter") as folder:
        AdapterEncoder(base, weights).save(folder, base_spec=spec)
    tuned = registry.load_encoder(str(run.path), api_key=KEY)  # as the run's evaluation step loads it
    results = [evaluate_encoder(dataset, enc) for enc in (pipeline.load_encoder("minilm"), tuned)]
    run.write_evaluation(evaluation_record(dataset, *results, 0.0, None, run.path))
    run.set_status("succeeded")
    registry.clear_cache()  # nothing in this process holds the key any more
    cache.forget_memory()
    handler.requests.clear()
    handler.authorizations.clear()
    return ws, run.id, handler


def _search(at, query: str):
    at.text_input(key="search_query").input(query).run()
    return at


def test_reopening_an_api_run_asks_for_the_key_only_where_new_text_is_embedded(api_run):
    ws, run_id, handler = api_run
    at = app(default_timeout=120)
    at.run()
    at.switch_page("pages/metrics.py").run()  # built from the stored results: no key, no request
    assert problems(at) == []
    assert any("Δ" in d.value.columns for d in at.dataframe)
    assert not any(t.key == "results_api_key" for t in at.text_input)
    at.switch_page("pages/search.py").run()
    assert problems(at) == []
    field = at.text_input(key="results_api_key")
    assert field.proto.type == field.proto.PASSWORD
    assert any("needs a key" in i.value for i in at.info)
    assert not any(t.key == "search_query" for t in at.text_input), "nothing is searched before the key"
    assert handler.requests == [] and handler.authorizations == []
    field.input(KEY).run()
    _search(at, "coffee beans espresso")
    assert problems(at) == []
    assert any(m.value.startswith("**B") for m in at.markdown), "both rankings are drawn"
    assert handler.requests and set(handler.authorizations) == {f"Bearer {KEY}"}
    assert KEY not in shown_text(at), "the key is never drawn back into the page"
    assert any("using the API key you typed" in c.value for c in at.caption)


def test_two_sessions_never_share_a_key(api_run):
    ws, run_id, handler = api_run
    first = app(default_timeout=120)
    first.run()
    first.switch_page("pages/search.py").run()
    first.text_input(key="results_api_key").input(KEY).run()
    _search(first, "coffee beans espresso")
    assert problems(first) == [] and set(handler.authorizations) == {f"Bearer {KEY}"}
    seen = len(handler.authorizations)
    second = app(default_timeout=120)  # another visitor of the same server (and, locally, the same workspace)
    second.run()
    second.switch_page("pages/search.py").run()
    assert any(t.key == "results_api_key" for t in second.text_input), "the second session is asked for its key"
    assert handler.authorizations[seen:] == []
    second.checkbox(key="results_api_no_key").check().run()  # tries the endpoint without a key
    _search(second, "bread flour yeast")
    errors = [e.value for e in second.error]
    assert len(errors) == 1 and "rejected the API key" in errors[0] and "\n" not in errors[0], errors
    assert not second.exception
    assert handler.authorizations[seen:] and f"Bearer {KEY}" not in handler.authorizations[seen:]
    assert "sk-vis" not in errors[0], "the server's text (which echoes the key, masked) is not passed on"


def test_an_operator_key_pays_and_no_one_is_asked(api_run, monkeypatch):
    ws, run_id, handler = api_run
    monkeypatch.setenv("OPENAI_API_KEY", OPERATOR)
    at = app(default_timeout=120)
    at.run()
    at.switch_page("pages/search.py").run()
    assert not any(t.key == "results_api_key" for t in at.text_input)
    assert any("server's key pays" in c.value for c in at.caption)
    _search(at, "coffee beans espresso")
    assert problems(at) == []
    assert set(handler.authorizations) == {f"Bearer {OPERATOR}"}


def test_an_openai_run_without_a_key_asks_even_for_cached_vectors(workspace_with_run, monkeypatch):
    """OpenAI's own endpoint takes no request without a key, so every page that needs its vectors asks; there
    is no "needs no key" box."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    ws, run_id = workspace_with_run
    run = ws.runs.get(run_id)
    from explorer.core.storage import write_json_atomic

    write_json_atomic(run.path / "config.json", {**run.config, "base_model": "openai:text-embedding-3-small"})
    ws.runs.forget()
    at = app(default_timeout=120)
    at.run()
    at.switch_page("pages/latent.py").run()
    assert problems(at) == []
    assert any(t.key == "results_api_key" for t in at.text_input)
    assert not any(c.key == "results_api_no_key" for c in at.checkbox)
    at.switch_page("pages/inspect.py").run()  # stored results: nothing to ask
    assert problems(at) == [] and not any(t.key == "results_api_key" for t in at.text_input)


def test_the_api_run_shows_its_cost_in_the_sidebar_and_the_bakeoff(api_run, monkeypatch):
    ws, run_id, handler = api_run
    run = ws.runs.get(run_id)
    run.set_status("succeeded", cost_usd=0.01234)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)  # the bake-off of the run, computed by the library with the key
    dataset = pipeline.load_dataset(ws.dataset_choice())
    pipeline.run_bakeoff(ws, dataset, ["minilm", pipeline.run_spec(run_id)])
    monkeypatch.delenv("OPENAI_API_KEY")
    at = app(default_timeout=120)
    at.run()
    at.switch_page("pages/metrics.py").run()
    assert problems(at) == []
    assert any("API cost of this run: $0.0123" in c.value for c in at.sidebar.caption)
    at.multiselect(key="bakeoff_models").set_value(["minilm", pipeline.run_spec(run_id)]).run()
    assert problems(at) == []
    table = next(d.value for d in at.dataframe if "measure" in d.value.columns).set_index("measure")
    assert table.loc["API cost (corpus + queries)"].tolist() == ["local", "unknown price"]
    run.set_status("succeeded", cost_usd=None)
    at.run()
    assert any("API cost of this run: unknown price" in c.value for c in at.sidebar.caption)


def test_pages_built_from_cached_vectors_need_no_key(api_run):
    """Latent works from the vectors embedded when the run was made (the run's evaluation loaded its adapter,
    whose size probe is cached too): no key asked, no request sent."""
    ws, run_id, handler = api_run
    at = app(default_timeout=180)
    at.run()
    at.switch_page("pages/latent.py").run()
    assert problems(at) == []
    assert not any(t.key == "results_api_key" for t in at.text_input)
    assert any(c.proto.spec for c in at.get("plotly_chart"))
    assert handler.requests == [] and handler.authorizations == []
