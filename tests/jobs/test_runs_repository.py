"""The runs repository reads each thing once while nothing changes, sees every change, and never writes on a read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from explorer.jobs.runs import RunStore, recover_orphans, repository
from explorer.training.config import TrainConfig
from tests.fsprobe import age, count_listings, files

def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def two_runs(tmp_path, tiny_data):
    store = RunStore(tmp_path / "runs")
    runs = [store.create(TrainConfig(), tiny_data) for _ in range(2)]
    for run in runs:
        run.write_evaluation({"tuned": {"ndcg@10": 0.5}})
        run.set_status("succeeded")
    age(store.root)
    return store.root, [r.id for r in runs]


def test_unchanged_runs_are_listed_and_read_once(two_runs, monkeypatch):
    root, ids = two_runs
    store = RunStore(root)
    calls = count_listings(monkeypatch, root)
    reads: list[str] = []
    real_read = RunStore.read
    monkeypatch.setattr(RunStore, "read", staticmethod(lambda path: reads.append(Path(path).name) or real_read(path)))
    for _ in range(3):
        assert sorted(r.id for r in store.list()) == sorted(ids)
        assert store.get(ids[0]).evaluation() == {"tuned": {"ndcg@10": 0.5}}
    assert calls == ["scandir"] and sorted(reads) == sorted(ids)


def test_a_run_made_by_another_process_is_seen(two_runs, tiny_data):
    root, ids = two_runs
    store = RunStore(root)
    assert len(store.list()) == 2
    other = RunStore(root).create(TrainConfig(), tiny_data)  # another store: as another process writes
    assert [r.id for r in store.list()][0] == other.id


def test_a_status_written_elsewhere_is_seen(two_runs):
    root, ids = two_runs
    store = RunStore(root)
    assert store.get(ids[0]).state == "succeeded"
    RunStore(root).get(ids[0]).set_status("failed", error="boom")  # atomic: a rename in the run folder
    assert store.get(ids[0]).state == "failed"
    path = root / ids[1] / "status.json"  # edited in place, no rename: the file's own time tells
    path.write_text(json.dumps({**json.loads(path.read_text()), "state": "cancelled"}))
    assert {r.id: r.state for r in store.list()}[ids[1]] == "cancelled"


def test_a_change_within_one_timestamp_tick_is_not_missed(two_runs):
    """Read while the folder's time is "now": a write in the same tick keeps that time, yet is seen."""
    root, ids = two_runs
    status = root / ids[0] / "status.json"
    now = time.time_ns()
    for path in (root / ids[0], status):
        os.utime(path, ns=(now, now))
    store = RunStore(root)
    assert store.get(ids[0]).state == "succeeded"
    status.write_text(json.dumps({**json.loads(status.read_text()), "state": "failed"}))
    for path in (root / ids[0], status):
        os.utime(path, ns=(now, now))  # the same timestamp as when it was read
    assert store.get(ids[0]).state == "failed"


def test_a_deleted_run_is_gone(two_runs):
    root, ids = two_runs
    store = RunStore(root)
    assert len(store.list()) == 2
    RunStore(root).delete(ids[0])
    assert [r.id for r in store.list()] == [ids[1]]


def test_reads_of_an_orphan_write_nothing_and_recovery_marks_it(two_runs, tiny_data):
    root, ids = two_runs
    orphan = RunStore(root).create(TrainConfig(), tiny_data)
    orphan.set_status("running")
    status = json.loads((orphan.path / "status.json").read_text())
    (orphan.path / "status.json").write_text(json.dumps({**status, "process": "gone", "pid": _dead_pid()}))
    age(root)
    before = files(root)
    store = repository(root)
    assert store.get(orphan.id).state == "interrupted"
    assert {r.id: r.state for r in store.list()}[orphan.id] == "interrupted"
    assert files(root) == before
    assert recover_orphans(root) == [orphan.id]
    assert json.loads((orphan.path / "status.json").read_text())["state"] == "interrupted"
    assert store.get(orphan.id).state == "interrupted" and store.orphans() == []


def test_one_repository_per_runs_folder(tmp_path):
    assert repository(tmp_path / "runs") is repository(str(tmp_path / "runs"))
    assert repository(tmp_path / "runs") is not repository(tmp_path / "other")
    assert repository(tmp_path / "missing").list() == []
