"""The new-passages split on the Metrics page, in the stored evaluation and in the model card."""

from __future__ import annotations

from explorer.jobs.modelcard import model_card
from tests.ui.conftest import app, problems


def test_metrics_page_shows_the_split_next_to_the_overall_change(workspace_with_run):
    ws, run_id = workspace_with_run
    at = app(default_timeout=240)
    at.run()
    at.switch_page("pages/metrics.py").run()
    assert problems(at) == []
    table = next(d.value for d in at.dataframe if "test queries" in d.value.columns)
    assert list(table["test queries"]) == ["all test queries", "new passages", "seen passages"]
    assert "Δ 95% CI" in table.columns and "p-value" in table.columns
    # Every query of the tiny table has passages of its own: all test queries are new, none seen.
    assert table["queries"].iat[0] == table["queries"].iat[1] > 0 and table["queries"].iat[2] == 0
    overall = next(d.value for d in at.dataframe if "Δ" in d.value.columns and "test queries" not in d.value.columns)
    ndcg = overall[overall.iloc[:, 0].astype(str).str.lower().str.contains("ndcg@10")]
    assert abs(float(ndcg["Δ"].iat[0]) - float(table["Δ"].iat[0])) < 1e-9  # the "all" row is the overall change
    assert any("No test query shares a relevant passage" in c.value for c in at.caption)


def test_the_run_stores_the_split_and_the_card_carries_it(workspace_with_run):
    ws, run_id = workspace_with_run
    run = ws.runs.get(run_id)
    novelty = run.evaluation()["novelty"]
    assert novelty["metric"] == "ndcg@10" and [p["part"] for p in novelty["parts"]] == ["all", "new", "seen"]
    card = model_card(run.config, run.evaluation(), kind="adapter", folder="adapter")
    assert "Split by novelty" in card and "new passages (" in card and "seen passages: no queries" in card
    from explorer.commands.train import format_report

    report = format_report(run.evaluation(), str(run.path))
    assert "NDCG@10 by novelty: new passages (" in report.splitlines()[-2]
