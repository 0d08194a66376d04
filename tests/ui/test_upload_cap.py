"""The upload cap a visitor meets is the settings' one, in Streamlit's uploader and endpoint and in the loader;
a public visitor over a cap is told what they can do, never a server setting."""

from __future__ import annotations

import pytest
from streamlit import config

from explorer.core.errors import DataError
from tests.ui.conftest import app, problems


@pytest.fixture
def restore_streamlit_cap():
    before = config.get_option("server.maxUploadSize")
    yield
    config.set_option("server.maxUploadSize", before)


def _uploader_cap(at) -> int:
    at.switch_page("pages/data.py").run()
    at.radio(key="data_source").set_value("Upload a file").run()
    uploader = next(e for e in at.get("file_uploader") if e.proto.id.endswith("upload") or "upload" in e.proto.id)
    return int(uploader.proto.max_upload_size_mb)


@pytest.mark.parametrize(("public", "cap"), [(False, 200), (True, 25)])
def test_streamlit_enforces_the_settings_cap(explorer_home, monkeypatch, restore_streamlit_cap, public, cap):
    if public:
        monkeypatch.setenv("EXPLORER_PUBLIC", "1")
    monkeypatch.delenv("EXPLORER_MAX_UPLOAD_MB", raising=False)
    at = app(default_timeout=60)
    at.run()
    assert not at.exception
    assert config.get_option("server.maxUploadSize") == cap  # what the upload endpoint refuses above
    if not public:  # a public visitor needs a workspace link first; the uploader reads the same settings
        assert _uploader_cap(at) == cap


def test_a_local_30_mb_upload_loads(explorer_home):
    from explorer import pipeline
    from explorer.workspace import DatasetChoice, open_workspace

    settings = open_workspace().settings
    rows = ["query,passage"] + [f"question {i} about topic {i % 997},passage {i} " + "filler words " * 45
                                for i in range(55_000)]
    data = ("\n".join(rows) + "\n").encode()
    assert 30 * 2**20 < len(data) < 40 * 2**20
    path = pipeline.save_upload("big.csv", data, settings)
    ds = pipeline.load_dataset(DatasetChoice(spec=str(path), name="big"), settings)
    assert len(ds.corpus) == 55_000


def test_a_public_visitor_over_a_cap_is_told_what_to_do_not_a_setting(explorer_home, monkeypatch):
    from explorer.core.config import get_settings
    from explorer.data.limits import Limits

    monkeypatch.setenv("EXPLORER_PUBLIC", "1")
    public = Limits.from_settings(get_settings())
    messages = []
    for check in (lambda: public.check_passages(public.max_passages + 1, "corpus.jsonl", "line 9"),
                  lambda: public.check_queries(public.max_queries + 1, "queries.jsonl"),
                  lambda: public.check_text("x" * (public.max_text_chars + 1), "pairs.csv", "row 3")):
        with pytest.raises(DataError) as caught:
            check()
        messages.append(str(caught.value))
    assert all("EXPLORER_" not in m for m in messages), messages
    assert "a smaller file (a sample of the corpus)" in messages[0] and "shorten it." in messages[2]
    local = Limits()
    with pytest.raises(DataError, match="raise the limit with EXPLORER_MAX_PASSAGES"):
        local.check_passages(local.max_passages + 1, "corpus.jsonl")


def _pairs_csv(queries: int, per_query: int) -> bytes:
    rows = ["query,passage,label"] + [f"question {q} about topic {q},passage {q}-{j} on topic {q} and more,1"
                                      for q in range(queries) for j in range(per_query)]
    return ("\n".join(rows) + "\n").encode()


def test_a_public_visitor_over_the_passage_cap_is_offered_a_sample_and_gets_it(explorer_home, monkeypatch):
    monkeypatch.setenv("EXPLORER_PUBLIC", "1")
    monkeypatch.setenv("EXPLORER_MAX_PASSAGES", "40")
    at = app()
    at.run()
    at.switch_page("pages/data.py").run()
    at.radio(key="data_source").set_value("Upload a file").run()
    at.file_uploader(key="upload").upload("catalogue.csv", _pairs_csv(30, 2), "text/csv").run()
    at.button(key="load_upload").click().run()
    assert not at.exception
    refusal = " ".join(e.value for e in at.error)
    assert "more than 40 passages" in refusal and "EXPLORER_" not in refusal, refusal
    offer = at.button(key="load_sample")
    assert "Load a sample instead" in offer.label
    offer.click().run()
    assert problems(at) == [], problems(at)
    shown = " ".join(str(e.value) for e in [*at.subheader, *at.markdown, *at.caption]).replace("\\", "")
    assert "Statistics: catalogue (sample)" in shown and "Dataset: catalogue (sample)" in shown.replace("*", "")
    # 10 queries drawn with their 20 passages (half the cap), 20 other passages at random: 40 in all.
    assert "passages left out to fit this server (a seeded sample): 20" in shown, shown
    assert "queries left out to fit this server (a seeded sample): 20" in shown, shown
