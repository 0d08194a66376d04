"""The Metrics and Inspect pages of a finished run draw from its stored results: no model loaded, nothing encoded."""

from __future__ import annotations

import pytest

from explorer import pipeline
from explorer.evaluation.retrieval import DEFAULT_METRICS
from tests.ui.conftest import app, make_finished_run, problems


@pytest.fixture
def forbid_encoders(monkeypatch):
    """``forbid()`` makes loading a model or encoding a text fail from then on; it returns the calls made."""
    from explorer.encoders import adapter, base, registry
    from explorer.pipeline import data

    calls: list[str] = []

    def forbidden(what: str):
        def call(*_args, **_kwargs):
            calls.append(what)
            raise AssertionError(f"{what} was called although the results are stored")
        return call

    def forbid() -> list[str]:
        for owner, name in ((pipeline, "load_encoder"), (data, "load_encoder"), (registry, "load_encoder"),
                            (base.Encoder, "encode"), (adapter.AdapterEncoder, "encode")):
            monkeypatch.setattr(owner, name, forbidden(f"{getattr(owner, '__name__', owner)}.{name}"))
        return calls

    return forbid


def _metrics_table(at):
    """The comparison's metric table: one row per metric, a column per model."""
    return next(d.value for d in at.dataframe if "Δ" in d.value.columns).set_index("metric")


def _means(result) -> list[float]:
    return [result.metrics[m] for m in DEFAULT_METRICS]


def test_metrics_page_after_a_run_loads_no_model(workspace_with_run, forbid_encoders):
    ws, run_id = workspace_with_run
    calls = forbid_encoders()
    at = app(default_timeout=180)
    at.run()
    at.switch_page("pages/metrics.py").run()
    assert problems(at) == [] and calls == []
    stored = pipeline.run_results(ws, run_id).results
    table = _metrics_table(at)
    assert table["baseline"].tolist() == pytest.approx(_means(stored["baseline"]))
    assert table[pipeline.run_label(ws, run_id)].tolist() == pytest.approx(_means(stored["tuned"]))
    assert {m.label for m in at.metric} >= {"Fixed queries", "Broken queries", "Mean RBO@10"}


def test_inspect_page_shows_both_stored_rankings(workspace_with_run, forbid_encoders):
    ws, run_id = workspace_with_run
    calls = forbid_encoders()
    at = app(default_timeout=180)
    at.run()
    at.switch_page("pages/inspect.py").run()
    assert problems(at) == [] and calls == []
    qid, k = at.selectbox(key="inspect_query").value, at.slider(key="inspect_k").value
    stored = pipeline.run_results(ws, run_id).results
    rankings = [d.value for d in at.dataframe if "move" in d.value.columns]
    assert len(rankings) == 2
    for shown, model in zip(rankings, ("baseline", "tuned")):
        assert shown["id"].tolist() == list(stored[model].run[qid])[:k]
        assert shown["score"].tolist() == pytest.approx(list(stored[model].run[qid].values())[:k])


def test_two_runs_compare_from_their_stored_results(workspace_with_run, forbid_encoders):
    ws, run_a = workspace_with_run
    run_b = make_finished_run(ws, pipeline.load_dataset(ws.dataset_choice()), seed=2)
    pipeline.choose_pair(ws, run_a, run_b)
    calls = forbid_encoders()
    at = app(default_timeout=180)
    at.run()
    at.switch_page("pages/metrics.py").run()
    assert problems(at) == [] and calls == []
    table = _metrics_table(at)
    for run_id in (run_a, run_b):
        tuned = pipeline.run_results(ws, run_id).results["tuned"]
        assert table[pipeline.run_label(ws, run_id)].tolist() == pytest.approx(_means(tuned))


def test_an_older_run_folder_is_evaluated_with_its_encoders(tiny_csv):
    """A run without stored results still compares (both models evaluated), with the numbers a stored one has."""
    from explorer.workspace import DatasetChoice, open_workspace

    ws = open_workspace()
    ws.set_dataset_choice(DatasetChoice(spec=str(tiny_csv), name="tiny"))
    dataset = pipeline.load_dataset(ws.dataset_choice())
    old = make_finished_run(ws, dataset, stored=False)
    assert pipeline.run_results(ws, old) is None
    at = app(default_timeout=180)
    at.run()
    at.switch_page("pages/metrics.py").run()
    assert problems(at) == []
    computed = _metrics_table(at)
    label_old = pipeline.run_label(ws, old)  # named alone; beside a twin run the names add the id's end
    new = make_finished_run(ws, dataset)  # the same adapter (seed 1), its results stored
    pipeline.choose_pair(ws, pipeline.BASELINE, new)
    at = app(default_timeout=180)  # a new visitor: the last one's selectboxes still name the old run
    at.run()
    at.switch_page("pages/metrics.py").run()
    assert problems(at) == []
    stored = _metrics_table(at)
    for name_old, name_new in (("baseline", "baseline"),
                               (label_old, pipeline.run_label(ws, new))):
        assert stored[name_new].tolist() == pytest.approx(computed[name_old].tolist())
