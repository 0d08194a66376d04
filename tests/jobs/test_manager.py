"""JobManager with real threads: FIFO order, queue positions, cancellation, failures, NaN, immutable snapshots."""

from __future__ import annotations

import dataclasses
import math
import threading
import time

import pytest

from explorer.core.errors import DataError
from explorer.training.events import ProgressEvent, TrainingStopped
from explorer.jobs.manager import JobManager


def _gate_body(gate: threading.Event, log: list[str], name: str):
    def body(report, should_stop):
        log.append(f"start {name}")
        assert gate.wait(5), "test gate never opened"
        log.append(f"end {name}")
        return name
    return body


def _wait_status(manager: JobManager, job_id: str, status: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while manager.snapshot(job_id).status != status:
        assert time.monotonic() < deadline, f"{job_id} never became {status}: {manager.snapshot(job_id)}"
        time.sleep(0.01)


def test_fifo_with_one_slot_and_queue_positions():
    manager = JobManager(max_concurrent=1)
    gate, log = threading.Event(), []
    ids = [manager.submit(_gate_body(gate, log, n), name=n) for n in ("a", "b", "c")]
    _wait_status(manager, ids[0], "running")
    snaps = [manager.snapshot(i) for i in ids]
    assert [s.status for s in snaps] == ["running", "queued", "queued"]
    assert [s.queue_position for s in snaps] == [None, 1, 2]
    gate.set()
    for job_id in ids:
        assert manager.wait(job_id, timeout=5).status == "succeeded"
    assert log == ["start a", "end a", "start b", "end b", "start c", "end c"]
    assert [manager.snapshot(i).result for i in ids] == ["a", "b", "c"]
    manager.shutdown()


def test_two_slots_run_together():
    manager = JobManager(max_concurrent=2)
    gate, log = threading.Event(), []
    a, b = (manager.submit(_gate_body(gate, log, n), name=n) for n in ("a", "b"))
    _wait_status(manager, a, "running")
    _wait_status(manager, b, "running")
    gate.set()
    assert manager.wait(b, timeout=5).status == "succeeded"
    manager.shutdown()


def test_cancel_queued_removes_it_and_moves_the_queue_up():
    manager = JobManager(max_concurrent=1)
    gate, log = threading.Event(), []
    a, b, c = (manager.submit(_gate_body(gate, log, n), name=n) for n in ("a", "b", "c"))
    _wait_status(manager, a, "running")
    assert manager.cancel(b) is True
    assert manager.snapshot(b).status == "cancelled"
    assert manager.snapshot(c).queue_position == 1
    gate.set()
    assert manager.wait(c, timeout=5).status == "succeeded"
    assert "start b" not in log
    assert manager.cancel(b) is False  # already final
    manager.shutdown()


def test_cancel_mid_epoch():
    manager = JobManager(max_concurrent=1)
    steps = []

    def body(report, should_stop):
        for step in range(10_000):
            if should_stop():
                raise TrainingStopped(f"stopped at step {step}")
            steps.append(step)
            report(ProgressEvent("training", step, 10_000, epoch=step / 100, loss=1.0))
            time.sleep(0.002)
        return "finished"

    job = manager.submit(body, name="loop")
    while len(steps) < 5:
        time.sleep(0.005)
    assert manager.cancel(job)
    snap = manager.wait(job, timeout=5)
    assert snap.status == "cancelled" and snap.stop_requested
    assert 5 <= len(steps) < 10_000 and snap.result is None
    assert snap.latest is not None and snap.latest.phase == "training"
    manager.shutdown()


def test_failure_messages():
    manager = JobManager(max_concurrent=2)

    def user_error(report, should_stop):
        raise DataError("Passage 'p1' has an empty text; fill it in.")

    def bug(report, should_stop):
        raise ValueError("shapes (3,) and (4,) differ")

    a = manager.submit(user_error, name="a")
    b = manager.submit(bug, name="b")
    assert manager.wait(a, timeout=5).error == "Passage 'p1' has an empty text; fill it in."
    snap = manager.wait(b, timeout=5)
    assert snap.status == "failed" and snap.error == "ValueError: shapes (3,) and (4,) differ"
    manager.shutdown()


def test_nan_loss_fails_the_job():
    manager = JobManager(max_concurrent=1)
    after = []

    def body(report, should_stop):
        report(ProgressEvent("training", 1, 10, loss=0.9))
        report(ProgressEvent("training", 2, 10, loss=math.nan))
        after.append("kept going")

    snap = manager.wait(manager.submit(body, name="nan"), timeout=5)
    assert snap.status == "failed"
    assert "loss became NaN at step 2" in snap.error
    assert after == []
    assert [e.step for e in snap.history] == [1]
    manager.shutdown()


def test_snapshots_are_immutable_copies():
    manager = JobManager(max_concurrent=1)
    gate = threading.Event()

    def body(report, should_stop):
        report(ProgressEvent("training", 1, 3, loss=1.0))
        gate.wait(5)
        report(ProgressEvent("training", 2, 3, loss=0.5))
        return {"ok": True}

    job = manager.submit(body, name="x", owner="ws1", run_id="run-1")
    deadline = time.monotonic() + 5
    while not manager.snapshot(job).history:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    early = manager.snapshot(job)
    with pytest.raises(dataclasses.FrozenInstanceError):
        early.status = "failed"  # type: ignore[misc]
    gate.set()
    late = manager.wait(job, timeout=5)
    assert [e.step for e in early.history] == [1] and early.status == "running"
    assert [e.step for e in late.history] == [1, 2] and late.latest.loss == 0.5
    assert late.run_id == "run-1" and late.owner == "ws1"
    assert [s.id for s in manager.snapshots(owner="ws1")] == [job]
    assert manager.snapshots(owner="other") == []
    manager.shutdown()


def test_shutdown_cancels_queue_and_stops_running():
    manager = JobManager(max_concurrent=1)

    def loop(report, should_stop):
        while not should_stop():
            time.sleep(0.005)
        raise TrainingStopped()

    a = manager.submit(loop, name="a")
    b = manager.submit(loop, name="b")
    _wait_status(manager, a, "running")
    manager.shutdown(wait=True, timeout=5)
    assert manager.snapshot(a).status == "cancelled"
    assert manager.snapshot(b).status == "cancelled"
    with pytest.raises(RuntimeError, match="shut down"):
        manager.submit(loop, name="c")


def test_unknown_job_and_bad_slots():
    manager = JobManager(max_concurrent=1)
    with pytest.raises(KeyError, match="No job 'nope'"):
        manager.snapshot("nope")
    with pytest.raises(ValueError, match="max_concurrent must be at least 1"):
        JobManager(max_concurrent=0)


def test_the_servers_job_manager_takes_its_slots_from_the_settings(monkeypatch):
    from explorer.core.config import get_settings
    from explorer.pipeline.training import make_job_manager

    monkeypatch.setenv("EXPLORER_MAX_JOBS", "3")
    assert make_job_manager(get_settings()).max_concurrent == 3
    assert JobManager().max_concurrent == 1


# ------------------------------------------------------------------------------------ limits per visitor
def test_one_queued_or_running_job_per_workspace():
    """Item 7: a visitor cannot fill the shared queue; other visitors still can queue."""
    from explorer.jobs.manager import JobLimitError

    gate = threading.Event()
    manager = JobManager(max_concurrent=1, max_per_owner=1)
    first = manager.submit(_gate_body(gate, [], "a"), name="a", owner="ws1")
    with pytest.raises(JobLimitError, match="already have one training job queued or running"):
        manager.submit(_gate_body(gate, [], "b"), name="b", owner="ws1")
    other = manager.submit(_gate_body(gate, [], "c"), name="c", owner="ws2")  # queued behind ws1's
    assert manager.snapshot(other).queue_position == 1
    gate.set()
    manager.wait(first, 5)
    manager.wait(other, 5)
    again = manager.submit(_gate_body(gate, [], "d"), name="d", owner="ws1")  # finished jobs do not count
    assert manager.wait(again, 5).status == "succeeded"


def test_a_job_past_the_time_limit_fails_with_the_limit_in_its_message():
    """Item 7: the job's stop flag raises once the limit passed; the job fails (it was not cancelled)."""
    def body(report, should_stop):
        while not should_stop():
            time.sleep(0.01)
        return "never"

    manager = JobManager(max_concurrent=1, time_limit=0.2)
    snap = manager.wait(manager.submit(body, name="slow", owner="ws"), 10)
    assert snap.status == "failed" and "limit of" in snap.error and "minutes per job" in snap.error


def test_public_settings_bound_jobs_per_workspace_and_time(monkeypatch, tmp_path):
    from explorer.pipeline.training import make_job_manager
    from explorer.core.config import get_settings

    monkeypatch.setenv("EXPLORER_HOME", str(tmp_path))
    monkeypatch.setenv("EXPLORER_PUBLIC", "1")
    manager = make_job_manager(get_settings())
    assert manager.max_per_owner == 1 and manager.time_limit == 30 * 60
    monkeypatch.setenv("EXPLORER_PUBLIC", "0")
    local = make_job_manager(get_settings())
    assert local.max_per_owner == 0 and local.time_limit == 0


def test_finished_jobs_release_their_dataset_and_are_bounded(monkeypatch):
    """Item 6: the job body (which holds the dataset) is dropped when the job ends; old jobs are forgotten."""
    import gc
    import weakref

    from explorer.jobs.manager import FINISHED_LIMIT

    class Data:  # stands in for a Dataset the body closes over
        pass

    manager = JobManager(max_concurrent=1)
    data = Data()
    ref = weakref.ref(data)

    def make_body(held):
        return lambda report, should_stop: len([held])

    job = manager.submit(make_body(data), name="one", owner="ws")
    del data
    assert manager.wait(job, 5).status == "succeeded"
    gc.collect()
    assert ref() is None, "a finished job still holds its dataset"
    monkeypatch.setattr("explorer.jobs.manager.release_memory", lambda: None)  # a gc pass per job is slow
    ids = [manager.submit(make_body(None), name=f"j{i}", owner="ws") for i in range(FINISHED_LIMIT + 10)]
    assert manager.wait(ids[-1], 120).done  # each job ends with a gc pass: slow on a loaded machine
    assert len(manager.snapshots()) <= FINISHED_LIMIT
    assert manager.snapshot(ids[-1]).status == "succeeded"
