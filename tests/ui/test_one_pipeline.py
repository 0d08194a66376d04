"""The CLI and the app are two faces over one pipeline: the same training parameters give the same config.json."""

from __future__ import annotations

import json

import pytest

from explorer import pipeline
from explorer.cli import main
from explorer.workspace import DatasetChoice, open_workspace
from tests.ui.conftest import app, problems

VOLATILE = ("run_id", "created")
"""What differs between any two runs: the folder's name and the moment it was made."""


def _comparable(config: dict) -> dict:
    out = {k: v for k, v in config.items() if k not in VOLATILE}
    out["dataset"] = {k: v for k, v in out["dataset"].items() if k != "name"}  # a display name, chosen by the user
    return out


@pytest.mark.parametrize("method", ["adapter", "full"])
def test_the_train_page_and_the_cli_record_the_same_config(tiny_csv, tmp_path, method):
    """The Train page with its defaults, and ``python -m explorer train`` with its defaults, on the same file.

    With the fake encoder the full fine-tune fails at its start ("not a sentence-transformers model"), after
    the run folder recorded its config: what is compared here is the resolution of the parameters, which
    happens once, in ``pipeline.training_config``, for both faces.
    """
    from explorer.ui import state

    ws = open_workspace()
    ws.set_dataset_choice(DatasetChoice(spec=str(tiny_csv), name="tiny"))
    at = app(default_timeout=120)
    at.run()
    at.switch_page("pages/train.py").run()
    at.radio(key="train_method").set_value(method)
    at.button(key="FormSubmitter:train_form-Start training").click().run()
    assert problems(at) == []
    manager = state.job_manager()
    snap = manager.wait(manager.snapshots(owner=ws.id)[-1].id, timeout=240)  # the job this click submitted
    assert snap.status == ("succeeded" if method == "adapter" else "failed"), snap.error
    from_app = json.loads((pipeline.run_folder(ws, snap.run_id) / "config.json").read_text())

    out = tmp_path / "cli-run"
    code = main(["train", "--data", str(tiny_csv), "--method", method, "--out", str(out)])
    assert code == (0 if method == "adapter" else 2)
    from_cli = json.loads((out / "config.json").read_text())

    assert _comparable(from_app) == _comparable(from_cli)
    assert from_app["dataset"]["fingerprint"] == from_cli["dataset"]["fingerprint"]
    if method == "full":  # the "auto" fields were filled in, once, the same way
        assert from_cli["epochs"] and from_cli["train_layers"] is not None and from_cli["learning_rate"]
