"""The Train and Metrics pages say which checkpoint a run kept; when no checkpoint beat the base model, that the
base model is kept, what to try next, and the control that keeps the last checkpoint anyway."""

from __future__ import annotations

import json

from explorer.training.selection import SelectionResult
from explorer.ui.jobs import dev_caption
from explorer.ui.training import KEEP_LAST_LABEL
from tests.ui.conftest import app, problems


def _no_gain(ws, run_id) -> str:
    selection = SelectionResult(dev_queries=45, curve=[{"step": 0, "epoch": 0.0, "value": 0.5},
                                                      {"step": 10, "epoch": 1.0, "value": 0.4}], chosen_step=0)
    path = ws.settings.runs_dir / run_id / "evaluation.json"
    evaluation = json.loads(path.read_text())
    path.write_text(json.dumps({**evaluation, "selection": selection.to_dict()}))
    return selection.summary()


def test_pages_say_the_base_model_is_kept(workspace_with_run):
    ws, run_id = workspace_with_run
    line = _no_gain(ws, run_id)
    assert line.startswith("On 45 held-out training queries") and line.endswith("the base model is kept.")
    at = app(default_timeout=180)
    at.run()
    for path in ("pages/metrics.py", "pages/train.py"):
        at.switch_page(path).run()
        assert problems(at) == [], path
        shown = " ".join(w.value.replace("\\", "") for w in at.warning)
        assert line in shown and KEEP_LAST_LABEL in shown and "To try next" in shown, path
    assert any(t.label == KEEP_LAST_LABEL for t in at.toggle)  # the control the notice names exists


def test_live_numbers_are_labelled_dev():
    assert "dev (45 held-out training queries" in dev_caption([{"step": 0, "dev_ndcg@10": 0.5, "dev_queries": 45}])
    assert "noisy" in dev_caption([{"step": 0, "dev_ndcg@10": 0.5, "dev_queries": 12}])
    assert "noisy" not in dev_caption([{"step": 0, "dev_ndcg@10": 0.5, "dev_queries": 45}])
