"""The live job panel redraws its loss chart at most every FIGURES_EVERY seconds, a held-out point at once."""

from __future__ import annotations

from types import SimpleNamespace

from explorer.ui import jobs


def _view(losses: int, evals: int, status: str = "running"):
    return SimpleNamespace(losses=[(i, 1.0 / (i + 1)) for i in range(losses)],
                           evals=[{"step": i, "ndcg@10": 0.5} for i in range(evals)], status=status)


def test_loss_points_wait_for_the_clock_eval_points_and_the_end_do_not(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(jobs, "st", SimpleNamespace(session_state={}))
    monkeypatch.setattr(jobs.time, "monotonic", lambda: clock[0])
    first = jobs._figures("j", _view(3, 0))
    assert first[0] is not None and first[1] is None
    clock[0] += 2
    assert jobs._figures("j", _view(4, 0)) is first  # a new loss point within the interval: same figures
    clock[0] += jobs.FIGURES_EVERY
    redrawn = jobs._figures("j", _view(5, 0))
    assert redrawn is not first and len(redrawn[0].data[0].x) == 5
    clock[0] += 1
    with_eval = jobs._figures("j", _view(6, 1))
    assert with_eval is not redrawn and with_eval[1] is not None  # a held-out point shows at once
    clock[0] += 1
    done = jobs._figures("j", _view(7, 1, status="succeeded"))
    assert done is not with_eval and len(done[0].data[0].x) == 7  # the end shows every point
