"""Starting a training from the Train page (and the one-click demo) creates a run and lands on Metrics.

These use the real job manager and training engine with the fake encoder and the adapter method, so they
take tens of seconds (mostly the first evaluation compiling ranx's kernels), not minutes.
"""

from __future__ import annotations

from explorer import pipeline
from explorer.workspace import DatasetChoice, open_workspace
from tests.ui.conftest import app, problems


def _wait_for_jobs(timeout: float = 240) -> list:
    from explorer.ui import state

    manager = state.job_manager()
    return [manager.wait(s.id, timeout=timeout) for s in manager.snapshots()]


def test_starting_a_training_creates_a_run(tiny_csv):
    ws = open_workspace()
    ws.set_dataset_choice(DatasetChoice(spec=str(tiny_csv), name="tiny"))
    at = app(default_timeout=120)
    at.run()
    at.switch_page("pages/train.py").run()
    at.radio(key="train_method").set_value("adapter")
    at.button(key="FormSubmitter:train_form-Start training").click().run()
    assert problems(at) == []
    assert at.get("progress"), "the live panel shows a progress bar while the job runs"
    finished = _wait_for_jobs()
    assert [s.status for s in finished][-1] == "succeeded", finished[-1].error
    runs = pipeline.list_runs(ws)
    assert runs and runs[0].status == "succeeded" and runs[0].method == "adapter"
    at.run()
    assert problems(at) == []
    assert any(runs[0].id in str(df.value.to_dict()) for df in at.dataframe)


def test_one_click_demo_lands_on_metrics(monkeypatch, tiny_csv):
    # The flow is under test, not the bundled data: the tiny table keeps it quick.
    import explorer.ui.demo as demo

    monkeypatch.setattr(demo, "DEMO_CHOICE", DatasetChoice(spec=str(tiny_csv), name="demo"))
    at = app(default_timeout=240)
    at.run()
    at.radio(key="demo_method").set_value("adapter")
    at.button(key="run_demo").click().run()
    assert problems(at) == []
    assert open_workspace().dataset_choice().spec == str(tiny_csv)
    assert [m.value for m in at.metric if m.label == "Dataset"] == ["demo"], "the counters follow the demo's dataset"
    assert at.get("progress"), "each step shows progress"
    finished = _wait_for_jobs()
    assert finished[-1].status == "succeeded", finished[-1].error
    at.run()
    assert problems(at) == []
    assert at.title[0].value == "Metrics"
    assert {m.label for m in at.metric} >= {"Fixed queries", "Broken queries"}
