"""A corpus whose encode would take long shows the baseline on a sample first, said to be one, then the whole
corpus' results; and once the corpus is embedded its Search index is built in the background."""

from __future__ import annotations

import json
import threading

from tests.ui.conftest import app, problems


def _beir(folder, n_passages: int = 6000, n_queries: int = 40):
    (folder / "qrels").mkdir(parents=True)
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda omicron sigma tau".split()
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as fh:
        for i in range(n_passages):
            text = " ".join(words[(i * k) % len(words)] for k in range(1, 9)) + f" item {i}"
            fh.write(json.dumps({"_id": f"p{i}", "title": f"t{i}", "text": text}) + "\n")
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as fh:
        for q in range(n_queries):
            fh.write(json.dumps({"_id": f"q{q}", "text": f"which item {q * 7}"}) + "\n")
    for split, qids in (("train", range(0, n_queries, 2)), ("test", range(1, n_queries, 2))):
        rows = ["query-id\tcorpus-id\tscore"] + [f"q{q}\tp{q * 7}\t1" for q in qids]
        (folder / "qrels" / f"{split}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


def test_a_long_encode_shows_a_sample_first_then_the_whole_corpus(tmp_path, monkeypatch):
    import streamlit as st

    from explorer.store.vectors import collection_name
    from explorer.ui import state
    from explorer.workspace import DatasetChoice, open_workspace

    st.cache_resource.clear()
    monkeypatch.setenv("EXPLORER_SAMPLE_FIRST_SECONDS", "0")  # any encode counts as long
    open_workspace().set_dataset_choice(DatasetChoice(spec=str(_beir(tmp_path / "big")), name="big"))
    calls, infos = [], []
    real_result, real_info = state.baseline_result, st.info

    def recorded(dataset, encoder, split="test", progress=None, index=True):
        calls.append((len(dataset.corpus), index))
        return real_result(dataset, encoder, split, progress, index)

    monkeypatch.setattr(state, "baseline_result", recorded)
    monkeypatch.setattr(st, "info", lambda body, *a, **k: (infos.append(body), real_info(body, *a, **k))[1])
    at = app(default_timeout=180)
    at.run()
    at.switch_page("pages/metrics.py").run()
    assert problems(at) == []
    assert calls[:2] == [(5000, False), (6000, True)]  # the sample (never indexed), then the whole corpus
    assert any("A first look, on a sample** of 5,000 of the 6,000 passages" in i for i in infos)
    assert "20 test queries; intervals: 95% bootstrap over queries." in [c.value for c in at.caption]
    assert not [i for i in at.info if "on a sample" in i.value]  # the whole corpus' results replaced the sample's

    # The corpus is embedded: its Search index is built in the background, and the Search page finds it.
    for thread in [t for t in threading.enumerate() if t.name.startswith("index-")]:
        thread.join(timeout=60)
    ws = open_workspace()
    store = state._store(str(ws.settings.store_dir), ws.settings)
    assert store.list_collections() == [collection_name(state.current_dataset(ws), state.base_encoder())]  # not the sample's
    calls.clear()
    at.switch_page("pages/metrics.py").run()
    assert calls == [] or all(size == 6000 for size, _ in calls)  # no sample once the whole result is known

    # While an index is being built, a query is answered at once, exactly, and the page says so.
    from explorer import pipeline
    from explorer.store.vectors import VectorStore

    monkeypatch.setattr(pipeline, "indexing", lambda dataset, encoder, store: (3000, 6000))
    monkeypatch.setattr(VectorStore, "search", lambda *a, **k: (_ for _ in ()).throw(AssertionError("waited on the index")))
    at.switch_page("pages/search.py").run()
    at.text_input(key="search_query").input("which item 21").run()
    assert problems(at) == []
    assert any("being built in the background (3,000 of 6,000 passages)" in c.value for c in at.caption)
    expected = pipeline.search(state.current_dataset(ws), state.base_encoder(), "which item 21", 10, exact=True)
    assert list(at.dataframe[0].value["id"]) == list(expected["pid"])  # the exact ranking, shown at once
