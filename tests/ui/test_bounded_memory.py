"""The server's caches are bounded, so memory after 20 visitors is no higher than after 2.

Twenty public-mode visitors each load a dataset, get a fine-tuned run (an adapter over the fake encoder,
written as a real run), load its encoder, embed the corpus with it and project before/after. The budgets are
shrunk so that two visitors fill every cache; after twenty, each cache holds no more bytes than after two.
(A real-server measurement of the process belongs to the load benchmark.)
"""

from __future__ import annotations

import pytest

from explorer import pipeline
from explorer.core.config import get_settings
from explorer.workspace import DatasetChoice, new_workspace_id, open_workspace
from tests.ui.conftest import make_finished_run, write_tiny_csv


@pytest.fixture
def public(monkeypatch, tmp_path):
    monkeypatch.setenv("EXPLORER_PUBLIC", "1")
    monkeypatch.setenv("EXPLORER_HOME", str(tmp_path / "home"))


def _visit(i: int, tmp_path) -> None:
    """One visitor: own upload, a fine-tuned run, its encoder, embeddings and projection."""
    from explorer.ui import state

    ws = open_workspace(new_workspace_id(), get_settings())
    upload = pipeline.save_upload("pairs.csv", write_tiny_csv(tmp_path / f"v{i}.csv", seed=i).read_bytes(), ws.settings)
    ws.set_dataset_choice(DatasetChoice(spec=str(upload), name="pairs"))
    dataset = state.current_dataset(ws)
    run_id = make_finished_run(ws, dataset, seed=i)
    base, tuned = state.base_encoder(), state.run_encoder(run_id, ws)
    tuned.encode(dataset.passage_texts(), "passage")
    pipeline.projection(dataset, base, tuned, max_passages=50)


def _sizes() -> dict[str, int]:
    from explorer.latent import projection
    from explorer.encoders import cache
    from explorer.ui import state

    return {"datasets": state._datasets().total_bytes, "encoders": state._encoders().total_bytes,
            "embeddings": cache._MEMORY.total_bytes, "recent encodes": cache._RECENT.total_bytes,
            "projections": projection._MEMORY.total_bytes}


def test_memory_after_20_visitors_is_no_higher_than_after_2(public, tmp_path):
    from explorer.latent import projection
    from explorer.encoders import cache
    from explorer.ui import state

    caches = {"datasets": state._datasets(), "encoders": state._encoders(), "embeddings": cache._MEMORY,
              "recent encodes": cache._RECENT, "projections": projection._MEMORY}
    saved = {name: c.max_bytes for name, c in caches.items()}
    for c in caches.values():
        c.clear()
    try:
        _visit(0, tmp_path)
        one = _sizes()
        for name, c in caches.items():  # less than two visitors' entries: two visitors fill every cache
            c.max_bytes = int(1.5 * max(one[name], 1))
        budgets = {name: c.max_bytes for name, c in caches.items()}
        _visit(1, tmp_path)
        after_2 = _sizes()
        for i in range(2, 20):
            _visit(i, tmp_path)
        after_20 = _sizes()
    finally:
        for name, c in caches.items():
            c.max_bytes = saved[name]
    for name in caches:
        assert after_20[name] <= max(budgets[name], after_2[name]), (name, budgets, after_2, after_20)
        assert after_20[name] <= 1.2 * after_2[name], f"{name} grew with visitors: {after_2[name]} -> {after_20[name]}"


def test_removed_workspaces_release_their_cached_objects(public, tmp_path):
    from explorer.ui import state

    ws = open_workspace(new_workspace_id(), get_settings())
    upload = pipeline.save_upload("pairs.csv", write_tiny_csv(tmp_path / "x.csv").read_bytes(), ws.settings)
    ws.set_dataset_choice(DatasetChoice(spec=str(upload), name="pairs"))
    state.current_dataset(ws)
    store = state._store(str(ws.settings.store_dir), ws.settings)
    closed = []
    store.close = lambda: closed.append(True)
    state.forget_workspaces([str(ws.folder)])
    assert not [k for k in state._datasets().keys() if str(ws.folder) in str(k)]
    assert closed == [True] and str(ws.settings.store_dir) not in state._stores()
