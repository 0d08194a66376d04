"""Renaming a run from the app: the sidebar's "Rename" control, the new name on every page, shown as typed."""

from __future__ import annotations

from explorer import pipeline
from explorer.jobs.runs import MAX_NAME_CHARS
from explorer.ui.text import plain
from tests.ui.apptest_walk import shown_text
from tests.ui.conftest import app, problems
from tests.ui.test_user_text import PAYLOAD, check_page


PLAIN_SINKS = ("dataframe.", "arrow_data_frame.", "popover.", "text_input.placeholder")
"""Fields drawn as plain text besides those of tests/ui/test_user_text.py (a data frame's column names and
configuration, a popover's own label)."""


def _markdown_problems(at, drawn: list[str]) -> list[str]:
    """check_page's findings, less the plain sinks above and "NDCG@10" read as an e-mail address."""
    return [p for p in check_page(at, drawn) if not p.startswith(PLAIN_SINKS) and "autolink literal G@1" not in p]


def _rename(at, run_id: str, name: str):
    at.sidebar.text_input(key=f"run_name_{run_id}").input(name).run()
    at.sidebar.button(key=f"run_name_save_{run_id}").click().run()
    return at


def test_a_run_renamed_on_the_train_page_is_named_so_on_the_metrics_page(workspace_with_run):
    ws, run_id = workspace_with_run
    at = app(default_timeout=120)
    at.run()
    at.switch_page("pages/train.py").run()
    _rename(at, run_id, "Adapter for the launch")
    assert problems(at) == []
    assert any("Adapter for the launch" in m.value for m in at.sidebar.markdown)
    at.switch_page("pages/metrics.py").run()
    assert problems(at) == []
    assert "Adapter for the launch" in at.selectbox(key="pair_b").options
    table = next(d.value for d in at.dataframe if "Δ" in d.value.columns)
    assert "Adapter for the launch" in table.columns  # the metrics table names the run by its new name
    bakeoff = [d.value for d in at.dataframe if "model" in d.value.columns]
    assert any("Adapter for the launch" in set(f["model"]) for f in bakeoff) or not bakeoff
    # Empty: back to the generated name, on the next page too.
    _rename(at, run_id, "")
    at.switch_page("pages/inspect.py").run()
    assert problems(at) == []
    assert pipeline.generated_name(ws, run_id) in at.selectbox(key="pair_b").options
    assert "Adapter for the launch" not in shown_text(at)


def test_the_name_field_keeps_a_name_within_the_cap(workspace_with_run):
    """The field itself stops at the cap (the library's one-line refusal of longer names: tests/pipeline)."""
    ws, run_id = workspace_with_run
    at = app(default_timeout=120)
    at.run()
    at.switch_page("pages/train.py").run()
    at.session_state[f"run_name_{run_id}"] = "x" * (MAX_NAME_CHARS + 5)  # as if pasted past the cap
    at.run()
    at.sidebar.button(key=f"run_name_save_{run_id}").click().run()
    assert problems(at) == []
    assert pipeline.run_name(ws, run_id) == "x" * MAX_NAME_CHARS


def test_a_markdown_looking_name_is_shown_literally_on_every_page(workspace_with_run):
    ws, run_id = workspace_with_run
    name = "**evil** [x](http://evil) <a href='http://evil/a'>a</a> :red[c]"
    assert len(name) <= MAX_NAME_CHARS
    at = app(default_timeout=180)
    at.run()
    _rename(at, run_id, name)
    assert pipeline.run_name(ws, run_id) == name
    assert any(plain(name) in m.value for m in at.sidebar.markdown)
    drawn: list[str] = []
    for page in ["pages/metrics.py", "pages/inspect.py", "pages/latent.py", "pages/similarity.py", "pages/search.py",
                 "pages/train.py"]:
        at.switch_page(page).run()
        if page == "pages/search.py":
            at.text_input(key="search_query").input("coffee " + PAYLOAD[:10]).run()
        assert problems(at) == [], page
        assert _markdown_problems(at, drawn) == [], page
    # The name really was drawn where markdown would have read it (else the test proves nothing), and in charts.
    assert {"markdown.body", "caption.body", "metric.help", "radio.help", "plotly_chart.spec"} <= set(drawn), sorted(set(drawn))


def test_a_download_is_named_after_the_run_file_safely():
    from explorer.ui.training import download_name

    assert download_name("20261207-1-abc", "minilm", "model", "Launch / v2!") == "Launch-v2-20261207-1-abc-minilm.zip"
    assert download_name("20261207-1-abc", "minilm", "onnx", "") == "20261207-1-abc-minilm-onnx.zip"
    assert download_name("20261207-1-abc", "minilm", "model", "../..") == "20261207-1-abc-minilm.zip"
