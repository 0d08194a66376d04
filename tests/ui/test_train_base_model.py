"""The Train page's base-model picker: what it refuses (public mode names the hub model's size and the cap; BM25
and hybrid cannot train), and a whole flow over an OpenAI-compatible endpoint with a recognizable key that
leaves the key in no file, log line or download."""

from __future__ import annotations

import logging

import pytest

from explorer import pipeline
from explorer.workspace import DatasetChoice, open_workspace
from tests.encoders.openai_server import serve
from tests.encoders.test_api_key_leaks import KEY, files_with_leaks, leaks
from tests.ui.conftest import app, problems


def _train_page(at, ws_id: str | None = None):
    at.run()
    ws = open_workspace(ws_id if ws_id is not None else at.query_params.get("ws"))
    return ws, at


def _errors(at) -> str:
    return " ".join(str(e.value) for e in at.error)


def test_public_mode_refuses_a_big_hub_model_with_its_size_and_the_cap(monkeypatch):
    from explorer.encoders.hub import DownloadPlan
    from explorer.ui.training import _hub_download, _hub_parameters

    monkeypatch.setenv("EXPLORER_PUBLIC", "1")
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    sizes = {"tests-owner/big-model": 335_000_000, "tests-owner/small-model": 33_000_000}
    monkeypatch.setattr("explorer.pipeline.base_model.hub_parameters", sizes.get)
    monkeypatch.setattr("explorer.pipeline.base_model.hub_download",
                        lambda repo_id: DownloadPlan(repo_id, "0" * 40, ("model.safetensors",), 133 * 2**20))
    _hub_parameters.clear()
    _hub_download.clear()
    at = app()
    at.run()
    ws_id = at.query_params["ws"]
    ws_id = ws_id[0] if isinstance(ws_id, list) else ws_id
    open_workspace(ws_id).set_dataset_choice(DatasetChoice(spec="demo"))
    at.switch_page("pages/train.py").run()
    picker = at.selectbox(key="train_base_kind")
    assert "folder" not in picker.options and "A model folder on this server" not in picker.options
    picker.set_value("hub").run()
    at.text_input(key="train_base_hub").input("tests-owner/big-model").run()
    assert "335 M parameters" in _errors(at) and "at most 150 M parameters" in _errors(at)
    at.text_input(key="train_base_hub").input("tests-owner/small-model").run()
    assert _errors(at) == ""
    assert any("a 133 MB download the first time" in str(c.value) for c in at.caption), "the size, before any download"
    at.selectbox(key="train_base_kind").set_value("bm25").run()
    assert "nothing to train" in _errors(at)
    at.button(key="FormSubmitter:train_form-Start training").click().run()
    assert "Pick a usable base model" in _errors(at)
    assert not pipeline.list_runs(open_workspace(ws_id)), "nothing started"


def test_public_mode_refuses_an_endpoint_inside_the_servers_network(monkeypatch):
    monkeypatch.setenv("EXPLORER_PUBLIC", "1")
    at = app()
    at.run()
    ws_id = at.query_params["ws"]
    ws_id = ws_id[0] if isinstance(ws_id, list) else ws_id
    open_workspace(ws_id).set_dataset_choice(DatasetChoice(spec="demo"))
    at.switch_page("pages/train.py").run()
    at.selectbox(key="train_base_kind").set_value("api").run()
    at.text_input(key="train_api_base_url").input("http://169.254.169.254/v1").run()
    assert "169.254.169.254" in _errors(at), "the metadata address is refused before anything is sent"
    assert not any("Before the first call" in str(i.value).replace("\\", "") for i in at.info)


def test_the_download_names_the_base_model():
    from explorer.ui.training import download_name

    assert download_name("r1", "openai:text-embedding-3-small?base_url=http://h/v1", "model") == \
        "r1-openai-text-embedding-3-small.zip"
    assert download_name("r1", "BAAI/bge-small-en-v1.5", "onnx-int8") == "r1-bge-small-en-v1.5-onnx-int8.zip"
    assert download_name("r1", "minilm", "model") == "r1-minilm.zip"


def _wait_for_jobs(timeout: float = 240) -> list:
    from explorer.ui import state

    manager = state.job_manager()
    return [manager.wait(s.id, timeout=timeout) for s in manager.snapshots()]


def test_an_api_model_flow_leaves_the_key_nowhere(httpserver, tiny_csv, tmp_path, caplog, capfd, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    caplog.set_level(logging.DEBUG)
    handler = serve(httpserver, dim=16)
    url = httpserver.url_for("/v1")
    ws = open_workspace()
    ws.set_dataset_choice(DatasetChoice(spec=str(tiny_csv), name="tiny"))
    at = app(default_timeout=120)
    at.run()
    at.switch_page("pages/train.py").run()
    at.selectbox(key="train_base_kind").set_value("api").run()
    at.text_input(key="train_api_base_url").input(url).run()
    at.text_input(key="train_api_key").input(KEY).run()
    assert problems(at) == []
    shown = " ".join(str(i.value) for i in at.info).replace("\\", "")
    assert "Before the first call:" in shown and "tokens" in shown, "the cost estimate comes before any request"
    assert handler.requests == [], "estimating sends nothing"
    at.radio(key="train_method").set_value("adapter")
    at.number_input(key="train_epochs").set_value(1)
    at.button(key="FormSubmitter:train_form-Start training").click().run()
    assert problems(at) == []
    finished = _wait_for_jobs()
    assert finished[-1].status == "succeeded", finished[-1].error
    assert handler.authorizations and set(handler.authorizations) == {f"Bearer {KEY}"}, "the visitor's key was used"
    run = pipeline.list_runs(ws)[0]
    assert run.base_model == f"openai:text-embedding-3-small?base_url={url}"
    at.run()
    assert problems(at) == []
    table = str(at.dataframe[0].value.to_dict())
    assert "OpenAI text-embedding-3-small" in table
    zipped = pipeline.run_zip(ws, run.id, "model")
    assert b"apply_adapter.py" in zipped
    assert files_with_leaks(tmp_path) == {}
    output = capfd.readouterr()
    for name, text in (("stdout", output.out), ("stderr", output.err), ("log", caplog.text)):
        assert leaks(text.encode()) == [], name


@pytest.mark.parametrize("kind", ["static", "api"])
def test_models_without_local_weights_train_the_adapter_only(kind, tiny_csv):
    ws = open_workspace()
    ws.set_dataset_choice(DatasetChoice(spec=str(tiny_csv), name="tiny"))
    at = app()
    at.run()
    at.switch_page("pages/train.py").run()
    at.selectbox(key="train_base_kind").set_value(kind).run()
    if kind == "api":
        at.text_input(key="train_api_base_url").input("http://127.0.0.1:9/v1").run()
    assert any("the adapter or corpus-side" in str(c.value) for c in at.caption)
    at.radio(key="train_method").set_value("full")
    at.button(key="FormSubmitter:train_form-Start training").click().run()
    assert "choose the Adapter method" in _errors(at)
    assert not pipeline.list_runs(ws)


def test_a_priced_run_above_the_threshold_waits_for_a_confirmation(monkeypatch, tiny_csv):
    monkeypatch.setattr("explorer.pipeline.base_model.COST_CONFIRM_USD", 0.0)
    ws = open_workspace()
    ws.set_dataset_choice(DatasetChoice(spec=str(tiny_csv), name="tiny"))
    at = app()
    at.run()
    at.switch_page("pages/train.py").run()
    at.selectbox(key="train_base_kind").set_value("api").run()
    at.text_input(key="train_api_key").input("sk-test-not-a-real-key").run()  # OpenAI's own endpoint: priced
    shown = " ".join(str(i.value) for i in at.info).replace("\\", "")
    assert "$0.02/M tokens" in shown and "price list of 2024-01-25" in shown and "platform.openai.com" in shown
    at.radio(key="train_method").set_value("adapter")
    at.button(key="FormSubmitter:train_form-Start training").click().run()
    assert "Confirm the API cost" in _errors(at)
    assert at.checkbox(key="train_cost_ok").label.startswith("I accept about")
    assert not pipeline.list_runs(ws), "nothing starts (and nothing is sent) before the confirmation"


@pytest.mark.parametrize("public", [False, True], ids=["local", "public"])
def test_the_data_and_train_pages_say_how_to_use_ones_own_model(monkeypatch, public):
    monkeypatch.setenv("EXPLORER_PUBLIC", "1" if public else "0")
    at = app()
    at.run()
    ws_id = at.query_params.get("ws")
    ws_id = ws_id[0] if isinstance(ws_id, list) else ws_id
    open_workspace(ws_id).set_dataset_choice(DatasetChoice(spec="demo"))
    for page in ("pages/data.py", "pages/train.py"):
        at.switch_page(page).run()
        assert problems(at) == [], page
        said = " ".join(str(m.value) for m in at.markdown)
        assert "**Offline**" in said and "**Online**" in said and "**An API model**" in said, page
        assert ("150 M parameters" in said) == public, page  # the public server's cap, named where it applies
        assert ("model folders work when you run the app yourself" in said) == public, page
        # Every control the note names exists on the Train page's picker.
        from explorer.ui.training import MODEL_CHOICES

        named = [label for label in MODEL_CHOICES.values() if f"**{label}**" in said]
        assert "OpenAI / compatible endpoint" in named and "A Hugging Face hub model" in named, page
