"""The run plan: seconds per phase from a cost model, and the remaining time of a running job."""

from __future__ import annotations

import pytest

from explorer.training.config import TrainConfig
from explorer.training.eta import plan_full_run, remaining_seconds


def _tokens(texts):
    return [len(t.split()) + 2 for t in texts]


def _plan(data, **kwargs):
    config = TrainConfig(**{"epochs": 2, "eval_every_steps": 0, **kwargs}).resolve(data)
    return plan_full_run(data, config, speed=1e-4, layers=6, count_tokens=_tokens, uncached_baseline=0)


def test_plan_follows_the_work(tiny_data):
    full = _plan(tiny_data, train_layers=0)
    assert list(full) == ["baseline", "mining", "training", "saving", "evaluating"]
    assert full["baseline"] == 0  # everything cached
    assert full["training"] > 0 and full["evaluating"] > 0
    top = _plan(tiny_data, train_layers=2)
    assert top["training"] < full["training"] / 2  # 2 of 6 layers train: a third of the step work, plus the bottom once
    assert _plan(tiny_data, epochs=4, train_layers=0)["training"] == pytest.approx(2 * full["training"])
    config = TrainConfig(epochs=2, eval_every_steps=0, train_layers=0).resolve(tiny_data)
    cold = plan_full_run(tiny_data, config, speed=1e-4, layers=6, count_tokens=_tokens,
                         uncached_baseline=len(tiny_data.corpus) + len(tiny_data.query_ids("test")))
    assert cold["baseline"] == pytest.approx(cold["evaluating"])  # a cold baseline encodes what the tuned eval does


def test_remaining_time_uses_the_measured_rate_in_training():
    plan = {"baseline": 10.0, "mining": 1.0, "training": 100.0, "saving": 2.0, "evaluating": 20.0}
    assert remaining_seconds(plan, "baseline", phase_started=0.0, phase_eta=None, now=4.0) == 6 + 1 + 100 + 2 + 20
    assert remaining_seconds(plan, "training", phase_started=0.0, phase_eta=50.0, now=30.0) == 50 + 2 + 20
    assert remaining_seconds(plan, "evaluating", phase_started=0.0, phase_eta=None, now=30.0) == 0


def test_a_running_job_shows_its_plan_and_the_time_left_in_all():
    import threading
    import time

    from explorer.pipeline.training import job_view
    from explorer.training.events import ProgressEvent
    from explorer.jobs.manager import JobManager

    plan = {"baseline": 5.0, "mining": 1.0, "training": 100.0, "saving": 2.0, "evaluating": 20.0}
    gate = threading.Event()

    def body(report, should_stop):
        report(ProgressEvent("baseline", 0, 0, plan=plan, message="planned"))
        report(ProgressEvent("training", 2, 10, eta_seconds=40.0, loss=1.0))
        gate.wait(10)

    manager = JobManager(1)
    job = manager.submit(body, name="full fine-tune of minilm on tiny")
    try:
        deadline = time.monotonic() + 10
        while len(manager.snapshot(job).history) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        view = job_view(manager, job)
        assert view.plan == plan
        assert view.eta_total == pytest.approx(40 + 2 + 20)  # measured training ETA, then the planned phases
    finally:
        gate.set()
        manager.wait(job, timeout=10)
    assert job_view(manager, job).eta_total is None  # finished: nothing left


def test_a_jobs_method_comes_from_its_config_not_its_label():
    from explorer.jobs.manager import JobManager
    from explorer.pipeline.training import job_view
    from explorer.training.config import TrainConfig
    from explorer.training.events import ProgressEvent

    manager = JobManager(1)
    labelled = manager.submit(lambda report, stop: report(ProgressEvent("training", 1, 4)), name="full-ish adapter run",
                              config=TrainConfig(method="adapter"))
    bare = manager.submit(lambda report, stop: None, name="full fine-tune of minilm")
    manager.wait(labelled, timeout=10)
    manager.wait(bare, timeout=10)
    view = job_view(manager, labelled)
    assert view.method == "adapter" and view.latest == ProgressEvent("training", 1, 4, time=view.latest.time)
    assert (view.phase, view.fraction) == ("training", 0.25)
    assert job_view(manager, bare).method == "" and job_view(manager, bare).phase == "starting"
    manager.shutdown()
