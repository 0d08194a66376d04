"""The one loss check every trainer calls."""

from __future__ import annotations

import math

import pytest

from explorer.core.errors import TrainingError
from explorer.training.events import check_loss


def test_a_finite_loss_comes_back_as_a_float():
    assert check_loss(0.25, 3) == 0.25 and isinstance(check_loss(1, 3), float)


@pytest.mark.parametrize("loss", [math.nan, math.inf, -math.inf])
def test_a_diverged_loss_names_its_step_and_the_remedy(loss):
    with pytest.raises(TrainingError, match=r"^loss became NaN at step 7; lower the learning rate and try again\.$"):
        check_loss(loss, 7)


def test_one_event_shape_from_the_step_to_the_log_and_back():
    """What a step reports is what the log stores and the page reads: every field survives a line of
    metrics.jsonl, a non-finite number becomes null, and a line written before a field existed still loads."""
    import json

    from explorer.training.events import ProgressEvent

    event = ProgressEvent("baseline", 3, 10, message="waiting for the API", wait_seconds=2.5,
                          wait_reason="rate limited", cost=0.0123, metrics={"ndcg@10": 0.5}, plan={"baseline": 4.0})
    assert ProgressEvent.from_dict(json.loads(json.dumps(event.to_dict()))) == event
    assert ProgressEvent("training", 1, 2, cost=math.inf).to_dict()["cost"] is None
    old = ProgressEvent.from_dict({"phase": "training", "step": 2, "total_steps": 4, "loss": 1.5, "retired": 1})
    assert (old.phase, old.step, old.fraction, old.loss) == ("training", 2, 0.5, 1.5)
    assert (old.wait_seconds, old.wait_reason, old.cost) == (None, "", None)


def test_a_library_steps_progress_becomes_events_of_the_jobs_phase():
    from explorer.training.events import progress_events, progress_note

    seen = []
    progress = progress_events(seen.append, "mining")
    progress("passages", 32, 100)
    progress("passages", 100, 100)
    assert [(e.phase, e.step, e.total_steps, e.message) for e in seen] == [("mining", 32, 100, ""), ("mining", 100, 100, "")]
    seen.clear()
    note = progress_note(seen.append, "training", "embedding training texts")
    note("embedding", 5, 9)
    note("embedding", 9, 9)
    assert [(e.step, e.total_steps, e.message) for e in seen] == [(0, 0, ""), (0, 0, "embedding training texts: 9/9")]
