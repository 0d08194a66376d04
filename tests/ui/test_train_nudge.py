"""The corpus-side recipe from the Train page: offered next to the adapter, trained as a job, and its run read by
every result page with no special case."""

from __future__ import annotations

from explorer import pipeline
from explorer.workspace import DatasetChoice, open_workspace
from tests.ui.conftest import app, problems
from tests.ui.test_training_flow import _wait_for_jobs

RESULT_PAGES = ["pages/latent.py", "pages/metrics.py", "pages/inspect.py", "pages/search.py"]


def test_nudge_from_the_train_page_then_every_result_page(tiny_csv):
    ws = open_workspace()
    ws.set_dataset_choice(DatasetChoice(spec=str(tiny_csv), name="tiny"))
    at = app(default_timeout=180)
    at.run()
    at.switch_page("pages/train.py").run()
    assert at.radio(key="train_method").options == ["Full fine-tune", "Adapter", "Corpus-side (NUDGE)"]
    assert any("helps only passages training queries reach" in c.value for c in at.caption)
    at.radio(key="train_method").set_value("nudge")
    at.toggle(key="train_keep_last").set_value(True)  # the tiny data may not gain: ship the bound anyway
    at.button(key="FormSubmitter:train_form-Start training").click().run()
    assert problems(at) == []
    finished = _wait_for_jobs()
    assert finished[-1].status == "succeeded", finished[-1].error
    run = pipeline.list_runs(ws)[0]
    assert run.method == "nudge"
    assert (pipeline.run_folder(ws, run.id) / "nudge" / "nudge.json").is_file()
    at.run()
    assert problems(at) == []
    assert b"apply_nudge.py" in pipeline.run_zip(ws, run.id, "model")
    for path in RESULT_PAGES:
        at.switch_page(path).run()
        if path == "pages/search.py":
            at.text_input(key="search_query").input("coffee espresso").run()
        assert problems(at) == [], path
