"""Training in a child process: events reach the job, stop requests reach the child, deaths are reported."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from explorer.training.config import TrainConfig
from explorer.jobs import child as process
from explorer.jobs.child import NICE
from explorer.jobs.manager import JobManager
from explorer.jobs.protocol import log_path, stop_path
from explorer.jobs.supervisor import EventTail, submit_run
from explorer.jobs.runs import RunStore

ROOT = Path(__file__).resolve().parents[2]
# patience 0: a run that stops early when dev stops improving would end before the limit on a fast machine
LONG = TrainConfig(method="adapter", base_model="fake", adapter={"epochs": 100_000, "patience": 0})


def _submit(tiny_data, tmp_path, config: TrainConfig, **manager_options) -> tuple[RunStore, JobManager, str]:
    """A job training ``config`` (resolved for the tiny data) in a child process: (store, manager, job id)."""
    store = RunStore(tmp_path / "runs")
    manager = JobManager(max_concurrent=1, **manager_options)
    return store, manager, submit_run(manager, tiny_data, config.resolve(tiny_data), run_store=store)


def _running_child(store: RunStore, snap_id: str, manager: JobManager, timeout: float = 60.0) -> psutil.Process:
    """The child process once its run folder says it is training (its pid is in status.json)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap = manager.snapshot(snap_id)
        status = store.root / snap.run_id / "status.json"
        if status.exists() and any(e.phase == "training" for e in snap.history):
            return psutil.Process(json.loads(status.read_text())["pid"])
        assert not snap.done, snap.error
        time.sleep(0.2)
    raise AssertionError("the child never started training")


def test_a_child_trains_at_lower_priority_and_reports_its_events(tiny_data, tmp_path):
    store, manager, job = _submit(tiny_data, tmp_path, LONG)
    child = _running_child(store, job, manager)
    assert child.pid != os.getpid()
    assert child.nice() >= os.getpriority(os.PRIO_PROCESS, 0) + NICE or child.nice() == 19
    group = Path(f"/proc/{child.pid}/autogroup")
    if group.exists() and process.may_set_group_nice():  # the child's own check, made here
        # Linux groups the CPU by session: the child has a session and a group of its own, niced
        assert os.getsid(child.pid) == child.pid != os.getsid(0)
        assert group.read_text().split()[-2:] == ["nice", str(NICE)]
    else:  # not Linux, or a sandbox that refuses the group's nice: the child stays in the server's session
        assert os.getsid(child.pid) == os.getsid(0)
    manager.cancel(job)
    snap = manager.wait(job, timeout=60)
    assert snap.status == "cancelled"
    assert store.get(snap.run_id).state == "cancelled"
    assert {e.phase for e in snap.history} >= {"baseline", "training"}  # forwarded from metrics.jsonl
    assert not stop_path(store.root, snap.run_id).exists()
    assert not child.is_running()
    manager.shutdown()


def test_the_time_limit_fails_the_run_with_its_message(tiny_data, tmp_path):
    store, manager, job = _submit(tiny_data, tmp_path, LONG, time_limit=8)
    snap = manager.wait(job, timeout=120)
    assert snap.status == "failed" and "limit" in snap.error
    run = store.get(snap.run_id)
    assert run.state == "failed" and "limit" in run.error
    manager.shutdown()


def test_a_killed_child_fails_the_job_and_the_run_with_the_reason(tiny_data, tmp_path):
    store, manager, job = _submit(tiny_data, tmp_path, LONG)
    child = _running_child(store, job, manager)
    os.kill(child.pid, signal.SIGKILL)
    snap = manager.wait(job, timeout=60)
    assert snap.status == "failed"
    assert "killed by signal 9" in snap.error and "out of memory" in snap.error
    run = store.get(snap.run_id)
    assert run.state == "failed" and "killed by signal 9" in run.error
    assert log_path(store.root, snap.run_id).exists()  # kept for the owner to read
    manager.shutdown()


def test_a_successful_child_leaves_only_the_run_folder(tiny_data, tmp_path):
    store, manager, job = _submit(tiny_data, tmp_path, TrainConfig(method="adapter", base_model="fake", adapter={"epochs": 2}))
    snap = manager.wait(job, timeout=120)
    assert snap.status == "succeeded", snap.error
    assert snap.result.state == "succeeded" and snap.result.evaluation()["tuned"]
    assert sorted(p.name for p in store.root.iterdir()) == [snap.run_id]
    manager.shutdown()


def test_a_failing_child_reports_the_runs_own_message(tiny_data, tmp_path):
    store, manager, job = _submit(tiny_data, tmp_path, TrainConfig(method="adapter", base_model="no-such-encoder-xyz"))
    snap = manager.wait(job, timeout=120)
    assert snap.status == "failed" and "no-such-encoder-xyz" in snap.error
    assert "signal" not in snap.error and "exited" not in snap.error  # the run's message, not the process's


def test_the_event_tail_reads_complete_lines_once(tmp_path):
    path = tmp_path / "metrics.jsonl"
    tail = EventTail(path)
    assert tail.read() == []
    path.write_text('{"phase": "training", "step": 1}\n{"phase": "training", "st')
    assert [e.step for e in tail.read()] == [1]
    with open(path, "a") as fh:
        fh.write('ep": 2}\nnot json\n{"phase": "evaluating", "step": 3}\n')
    assert [(e.phase, e.step) for e in tail.read()] == [("training", 2), ("evaluating", 3)]
    assert tail.read() == []


@pytest.mark.parametrize("reason", ["cancel", "error"])
def test_the_childs_stop_flag_reads_the_parents_request(tmp_path, reason):
    from explorer.core.errors import TrainingError
    from explorer.jobs.child import StopFile
    from explorer.jobs.protocol import ask_to_stop

    flag = StopFile(stop_path(tmp_path, "r1"), os.getppid())
    assert flag() is False
    ask_to_stop(tmp_path, "r1", reason, "The job ran past this server's limit.")
    if reason == "cancel":
        assert flag() is True
    else:
        with pytest.raises(TrainingError, match="limit"):
            flag()
    assert StopFile(stop_path(tmp_path, "r2"), os.getpid() + 10**6)() is True  # the parent is gone


def test_the_child_finds_the_package_from_any_working_directory(tiny_data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a server started elsewhere: ``streamlit run /path/to/app.py``
    store, manager, job = _submit(tiny_data, tmp_path, TrainConfig(method="adapter", base_model="fake", adapter={"epochs": 1}))
    snap = manager.wait(job, timeout=120)
    assert snap.status == "succeeded", snap.error
    manager.shutdown()


SERVER = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-m", "explorer.jobs.child"], stdin=int(sys.argv[1]),
                         pass_fds=(int(sys.argv[1]),))
print(child.pid, flush=True)
time.sleep(600)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(PR_SET_PDEATHSIG) is Linux's")
def test_a_child_does_not_outlive_its_server(tmp_path):
    # The child waits for its job on a pipe this test keeps open, so nothing but its parent's death can end it
    # (no stop check runs while it reads; the same holds in a long baseline encoding).
    read_end, write_end = os.pipe()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(read_end)], pass_fds=(read_end,),
                              stdout=subprocess.PIPE, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    os.close(read_end)
    try:
        child = psutil.Process(int(server.stdout.readline()))
        deadline = time.monotonic() + 30
        while child.nice() != NICE and time.monotonic() < deadline:  # lowered right after asking to die with it
            time.sleep(0.05)
        assert child.nice() == NICE
        server.kill()
        server.wait()
        child.wait(timeout=10)  # psutil.TimeoutExpired: the child outlived its server
    finally:
        os.close(write_end)
        server.kill()


class FakeGroup:
    """Stands in for ``/proc/self/autogroup``: its text, and whether writing it is allowed."""

    def __init__(self, allowed: bool) -> None:
        self.allowed, self.nice, self.writes = allowed, "0", []

    def exists(self) -> bool:
        return True

    def read_text(self) -> str:
        return f"/autogroup-7 nice {self.nice}"

    def write_text(self, value: str) -> None:
        if not self.allowed:
            raise PermissionError("read-only")
        self.writes.append(value)
        self.nice = value


@pytest.mark.parametrize("allowed", [True, False])
def test_the_child_leaves_the_servers_session_only_where_it_may_lower_its_group(monkeypatch, allowed):
    # A group of its own at the default nice would take more CPU from the server than sharing the server's.
    group, sessions = FakeGroup(allowed), []
    monkeypatch.setattr(process, "AUTOGROUP", group)
    monkeypatch.setattr(process.os, "nice", lambda inc: 0)  # the test process keeps its own priority
    monkeypatch.setattr(process.os, "setsid", lambda: sessions.append(1))
    process.lower_priority()
    assert sessions == ([1] if allowed else [])
    assert group.writes == (["0", str(NICE)] if allowed else [])


class RateLimitedGroup(FakeGroup):
    """A group whose first ``busy`` writes are refused as too soon after another change (EAGAIN)."""

    def __init__(self, busy: int) -> None:
        super().__init__(True)
        self.busy, self.tries = busy, 0

    def write_text(self, value: str) -> None:
        self.tries += 1
        if self.tries <= self.busy:
            raise BlockingIOError("too soon")
        super().write_text(value)


@pytest.mark.parametrize(("busy", "written"), [(2, True), (process.GROUP_NICE_TRIES, False)])
def test_a_rate_limited_group_write_is_tried_again_then_given_up(monkeypatch, busy, written):
    group = RateLimitedGroup(busy)
    monkeypatch.setattr(process, "AUTOGROUP", group)
    assert process._set_group_nice(str(NICE)) is written
    assert group.tries == min(busy + 1, process.GROUP_NICE_TRIES)
    assert group.writes == ([str(NICE)] if written else [])


def test_the_job_message_travels_whole_through_a_pipe(tiny_data):
    """The job goes to the child as bytes on its stdin, never through a file."""
    import io

    from explorer.jobs.protocol import JobMessage

    message = JobMessage(root="/r", run_id="x", dataset=tiny_data, config=LONG.resolve(tiny_data), negatives=None,
                         parent=7)
    back = JobMessage.read(io.BytesIO(message.encode()))
    assert back.dataset.fingerprint() == tiny_data.fingerprint() and back.config == message.config
    assert (back.root, back.run_id, back.parent) == ("/r", "x", 7)
