"""Generalization: both compared models on a second dataset, stored with the run and shown on the Metrics page."""

from __future__ import annotations

import json

import pytest

from explorer import pipeline
from explorer.core.errors import DataError
from explorer.workspace import DatasetChoice
from tests.ui.conftest import app, problems


def test_check_is_stored_with_the_run_and_replaced_on_rerun(workspace_with_run):
    ws, run_id = workspace_with_run
    base = pipeline.load_encoder("minilm")
    tuned = pipeline.load_encoder(str(pipeline.run_folder(ws, run_id)))
    demo = DatasetChoice(spec="demo", name="Demo (bundled)")
    in_domain = pipeline.load_dataset(ws.dataset_choice(), ws.settings)
    before = json.loads((pipeline.run_folder(ws, run_id) / "evaluation.json").read_text())
    entry = pipeline.check_generalization(ws, run_id, demo, base, tuned, ids=("baseline", run_id),
                                          names=("baseline", "adapter"), in_domain=in_domain)
    demo_ds = pipeline.load_dataset(demo, ws.settings)
    assert entry["queries"] == len(demo_ds.query_ids()) and entry["a"] == "baseline" and entry["b"] == run_id
    ndcg = entry["comparison"]["metrics"]["ndcg@10"]
    assert ndcg["ci_delta"][0] <= ndcg["delta"] <= ndcg["ci_delta"][1]
    assert entry["comparison"]["a"] == "baseline" and entry["comparison"]["b"] == "adapter"
    pipeline.check_generalization(ws, run_id, demo, base, tuned, ids=("baseline", run_id), in_domain=in_domain)
    stored = json.loads((pipeline.run_folder(ws, run_id) / "evaluation.json").read_text())
    assert len(stored["generalization"]) == 1
    assert {k: v for k, v in stored.items() if k != "generalization"} == before  # the rest is kept
    assert pipeline.run_results(ws, run_id) is not None  # the stored results still named and readable
    assert pipeline.stored_checks(ws, run_id)[0]["comparison"]["metrics"]["ndcg@10"] == ndcg
    from explorer.jobs.modelcard import _generalization_rows

    assert len(_generalization_rows(stored)) == 1 and "Demo" in _generalization_rows(stored)[0]


def test_the_in_domain_dataset_and_an_unreachable_hub_are_refused_clearly(workspace_with_run):
    ws, run_id = workspace_with_run
    base = pipeline.load_encoder("minilm")
    in_domain = pipeline.load_dataset(ws.dataset_choice(), ws.settings)
    with pytest.raises(DataError, match="pick another"):
        pipeline.check_generalization(ws, run_id, ws.dataset_choice(), base, base, in_domain=in_domain)
    with pytest.raises(DataError, match="hub|Hugging Face"):
        pipeline.check_generalization(ws, run_id, DatasetChoice(spec="hf:nobody/nothing-here", name="x"), base, base)
    assert pipeline.stored_checks(ws, run_id) == []


def test_metrics_page_runs_and_shows_the_check(workspace_with_run):
    ws, run_id = workspace_with_run
    at = app(default_timeout=240)
    at.run()
    at.switch_page("pages/metrics.py").run()
    assert problems(at) == []
    assert any("Generalization" in h.value for h in at.subheader)
    at.radio(key="gen_source").set_value("demo").run()
    at.button(key="gen_run").click().run()
    assert problems(at) == []
    table = next(d.value for d in at.dataframe if "dataset" in d.value.columns)
    assert len(table) == 2 and "in-domain" in table["dataset"].iat[0] and table["dataset"].iat[1] == "Demo (bundled)"
    assert "baseline" in table.columns and "Δ 95% CI" in table.columns
    assert len(pipeline.stored_checks(ws, run_id)) == 1
    # The in-domain dataset (by its path) gives a message, not a traceback.
    at.radio(key="gen_source").set_value("path").run()
    at.text_input(key="gen_path").input(ws.dataset_choice().spec).run()
    at.button(key="gen_run").click().run()
    assert not at.exception and any("pick another" in e.value for e in at.error)
