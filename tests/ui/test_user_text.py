"""User text (dataset names, queries, passages) is shown as typed: never a link, an image or other markup.

Every page is drawn (AppTest) over a dataset whose name, queries and passages carry markdown and HTML
payloads. Every string an element renders as markdown must parse (CommonMark, as Streamlit's renderer
does) without a link, an image or raw HTML, and without a GFM autolink literal; plain-text sinks (``st.text``,
select options, dataframes) may hold the text as is; plotly text must have its HTML escaped.
"""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from explorer.ui.text import plain
from tests.ui.apptest_walk import elements
from tests.ui.conftest import app, make_finished_run, problems

EVIL_NAME = "[x](http://evil) ![i](http://evil/p.png)"
PAYLOAD = ("[q](http://evil/q) ![img](http://evil/i.png) <a href='http://evil/a'>a</a> <img src=x onerror=1> "
           "**bold** :red[c] $x^2$ www.evil.com mail@evil.com")
MARKER = "evil"
MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])
# Fields drawn as plain text by Streamlit (or checked on their own, like plotly's JSON).
PLAIN_FIELDS = {"text.body", "code.code_text", "selectbox.options", "multiselect.options", "text_input.value",
                "text_input.default", "plotly_chart.spec", "plotly_chart.figure.spec"}
INTERPRETED = {"link_open", "image", "html_inline", "html_block", "autolink"}


def interpretations(body: str) -> list[str]:
    """What markdown (CommonMark plus GFM autolink literals, LaTeX and Streamlit directives) makes of ``body``."""
    found = []
    for token in MD.parse(body):
        if token.type in INTERPRETED:
            found.append(token.type)
        found += [c.type for c in token.children or [] if c.type in INTERPRETED]
    found += [f"autolink literal {m}" for m in re.findall(r"https?://|www\.|\w@\w", body)]
    found += [f"directive {m}" for m in re.findall(r"(?<!\\)(?:\$|:\w+\[)", body)]
    return found


def _strings(message, path: str = ""):
    """(field path, string) of every string field of a protobuf message, recursively."""
    for field, value in message.ListFields():
        name = f"{path}.{field.name}" if path else field.name
        repeated = not isinstance(value, (str, bytes)) and not hasattr(value, "ListFields") and hasattr(value, "__len__")
        values = list(value) if repeated else [value]
        for item in values:
            if isinstance(item, str):
                yield name, item
            elif hasattr(item, "ListFields"):
                yield from _strings(item, name)


def check_page(at, drawn: list[str] | None = None) -> list[str]:
    """Every markdown-rendered string holding user text, with what markdown would make of it.

    Args:
        at: the AppTest after a run.
        drawn: receives the names of the fields that held user text (to check the payload was drawn at all).
    """
    bad = []
    for node in [*elements(at), *_blocks(at)]:
        proto = getattr(node, "proto", None)
        if proto is None or not hasattr(proto, "ListFields"):
            continue
        for field, value in _strings(proto, str(getattr(node, "type", type(proto).__name__)).lower()):
            if MARKER not in value:
                continue
            name = field
            if drawn is not None:
                drawn.append(name)
            if name in PLAIN_FIELDS:
                if name.startswith("plotly_chart"):
                    bad += [f"{name}: raw HTML {tag!r} in plotly text" for tag in re.findall(r"<(?:a|img)\b", value)]
                continue
            bad += [f"{name}: {kind} in {value[:120]!r}" for kind in interpretations(value)]
    return bad


def _blocks(at):
    stack = [at._tree]
    while stack:
        node = stack.pop()
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            yield node
            stack.extend(children.values())


def _hostile_dataset(path, tiny_csv):
    frame = pd.read_csv(tiny_csv)
    frame["query"] = frame["query"] + " " + PAYLOAD
    frame["passage"] = PAYLOAD + " " + frame["passage"]
    frame.to_csv(path, index=False)
    return path


PAGES = ["pages/home.py", "pages/data.py", "pages/train.py", "pages/metrics.py", "pages/inspect.py",
         "pages/latent.py", "pages/similarity.py", "pages/search.py"]


def test_every_page_shows_a_hostile_dataset_as_text(tmp_path, tiny_csv):
    from explorer import pipeline
    from explorer.workspace import DatasetChoice, open_workspace

    ws = open_workspace()
    choice = DatasetChoice(spec=str(_hostile_dataset(tmp_path / "hostile.csv", tiny_csv)), name=EVIL_NAME)
    ws.set_dataset_choice(choice)
    make_finished_run(ws, pipeline.load_dataset(choice))
    at = app(default_timeout=120)
    at.run()
    drawn: list[str] = []
    for page in PAGES:
        at.switch_page(page).run()
        if page == "pages/search.py":
            at.text_input(key="search_query").input("what about " + PAYLOAD).run()
        assert problems(at) == [], page
        assert check_page(at, drawn) == [], page
    # The payload really was drawn (else the test proves nothing): as markdown, as text and in the charts.
    assert {"markdown.body", "subheader.body", "caption.body", "metric.body", "plotly_chart.spec", "selectbox.options"} <= set(drawn), \
        sorted(set(drawn))


def test_an_uploaded_file_name_with_markdown_is_shown_as_text(monkeypatch, tmp_path, tiny_csv):
    monkeypatch.setenv("EXPLORER_PUBLIC", "1")
    name = "[x](javascript:alert(1)) ![i](data:evil) evil"
    at = app()
    at.run()
    at.switch_page("pages/data.py").run()
    at.radio(key="data_source").set_value("Upload a file").run()
    at.file_uploader(key="upload").upload(name + ".csv", tiny_csv.read_bytes(), "text/csv").run()
    at.button(key="load_upload").click().run()
    assert problems(at) == []
    assert check_page(at) == []
    assert any(plain(name) in h.value for h in at.subheader)  # the heading shows the name, escaped
    at.switch_page("pages/home.py").run()
    assert check_page(at) == []


@pytest.mark.parametrize("typed", [EVIL_NAME, PAYLOAD, "1. one", "- item", "# title", "> quote", "a | b", "=x",
                                   "```code```", "<script>x</script>", "\\[not\\] escaped"])
def test_plain_renders_exactly_the_text(typed):
    assert interpretations(plain(typed)) == []
    rendered = MD.render(plain(typed))
    assert html.unescape(re.sub(r"</?p>\n?", "", rendered)).strip() == typed


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=60))
def test_plain_round_trips_any_ascii_text(typed):
    rendered = MD.render(plain(typed))
    assert re.sub(r"</?p>\n?", "", rendered).count("<") == 0  # nothing but text (and its entities)
    assert html.unescape(re.sub(r"</?p>\n?", "", rendered)).strip() == typed.strip()
