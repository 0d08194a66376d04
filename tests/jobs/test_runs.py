"""RunStore: folder layout, atomic writes, crash recovery (interrupted), corrupt files, restart, zip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile

import pytest

from explorer.jobs.packaging import package
from explorer.core.errors import StorageError
from explorer.training.config import TrainConfig
from explorer.training.events import ProgressEvent
from explorer.jobs.runs import Run, RunStore, process_started, recover_orphans


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _finished_run(store: RunStore, tiny_data) -> Run:
    run = store.create(TrainConfig(), tiny_data)
    run.set_status("running")
    with run.artifact_writer("model") as folder:
        (folder / "weights.bin").write_bytes(b"w" * 10)
    run.write_evaluation({"baseline": {"ndcg@10": 0.5}, "tuned": {"ndcg@10": 0.6}})
    run.set_status("succeeded", finished=time.time())
    return run


def _pretend_other_process(run: Run, **status) -> None:
    """Rewrite status.json as if a different (dead or alive) process owned the run."""
    data = json.loads((run.path / "status.json").read_text())
    data.update({"process": "another-process", **status})
    (run.path / "status.json").write_text(json.dumps(data))


def test_create_writes_config_status_metrics(tmp_path, tiny_data):
    store = RunStore(tmp_path / "runs")
    run = store.create(TrainConfig(epochs=2, seed=7), tiny_data)
    config = json.loads((run.path / "config.json").read_text())
    assert config["epochs"] == 2 and config["seed"] == 7 and config["base_model"] == "minilm"
    assert config["dataset"]["fingerprint"] == tiny_data.fingerprint()
    assert set(config["versions"]) >= {"explorer", "torch", "sentence-transformers", "transformers"}
    status = json.loads((run.path / "status.json").read_text())
    assert status["state"] == "queued" and status["pid"] == os.getpid()
    assert (run.path / "metrics.jsonl").read_text() == ""
    assert not [p for p in run.path.iterdir() if p.name.endswith(".tmp")]


def test_ids_sort_newest_first(tmp_path, tiny_data):
    store = RunStore(tmp_path / "runs")
    ids = []
    for _ in range(3):
        ids.append(store.create(TrainConfig(), tiny_data).id)
        time.sleep(0.002)
    assert [r.id for r in store.list()] == sorted(ids, reverse=True) == ids[::-1]


def test_events_append_and_read_back(tmp_path, tiny_data):
    run = RunStore(tmp_path).create(TrainConfig(), tiny_data)
    run.append_event(ProgressEvent("training", 1, 4, epoch=0.25, loss=1.5, lr=1e-5))
    run.append_event(ProgressEvent("evaluating", 1, 1, metrics={"ndcg@10": 0.7}))
    with open(run.path / "metrics.jsonl", "a") as fh:
        fh.write('{"phase": "training", "step": 3')  # a torn last line (killed mid-write)
    events = run.events()
    assert [(e.phase, e.step) for e in events] == [("training", 1), ("evaluating", 1)]
    assert events[0].loss == 1.5 and events[1].metrics == {"ndcg@10": 0.7}


def test_killed_between_writes_is_interrupted_not_succeeded(tmp_path, tiny_data):
    store = RunStore(tmp_path / "runs")
    done = _finished_run(store, tiny_data)
    crashed = store.create(TrainConfig(), tiny_data)
    crashed.set_status("running")
    (crashed.path / "model.tmp").mkdir()
    (crashed.path / "model.tmp" / "half.bin").write_bytes(b"x")
    _pretend_other_process(crashed, pid=_dead_pid())

    runs = {r.id: r for r in RunStore(tmp_path / "runs").list()}  # a new store: as after a restart
    assert runs[crashed.id].state == "interrupted"
    assert "stopped" in runs[crashed.id].error
    assert json.loads((crashed.path / "status.json").read_text())["state"] == "running"  # a read never writes
    assert recover_orphans(tmp_path / "runs") == [crashed.id]  # the server's recovery step writes it
    assert json.loads((crashed.path / "status.json").read_text())["state"] == "interrupted"
    assert recover_orphans(tmp_path / "runs") == []
    assert not (crashed.path / "model").exists()
    assert runs[done.id].state == "succeeded"
    assert (done.path / "model" / "weights.bin").read_bytes() == b"w" * 10
    assert runs[done.id].evaluation()["tuned"]["ndcg@10"] == 0.6


def test_stale_heartbeat_of_a_live_pid_is_interrupted(tmp_path, tiny_data):
    store = RunStore(tmp_path, stale_seconds=60)
    run = store.create(TrainConfig(), tiny_data)
    run.set_status("running")
    parent = {"pid": os.getppid(), "pid_started": process_started(os.getppid())}  # a live process, named fully
    _pretend_other_process(run, **parent, heartbeat=time.time() - 3600)
    assert store.get(run.id).state == "interrupted"
    fresh = store.create(TrainConfig(), tiny_data)
    fresh.set_status("running")
    _pretend_other_process(fresh, **parent, heartbeat=time.time())
    assert store.get(fresh.id).state == "running"


def test_own_active_runs_stay_active(tmp_path, tiny_data):
    store = RunStore(tmp_path, stale_seconds=0)
    run = store.create(TrainConfig(), tiny_data)
    assert store.get(run.id).state == "queued"


def test_corrupt_or_missing_files_show_as_failed(tmp_path, tiny_data):
    store = RunStore(tmp_path / "runs")
    good = _finished_run(store, tiny_data)
    corrupt = store.create(TrainConfig(), tiny_data)
    (corrupt.path / "status.json").write_text('{"state": "runn')
    missing = store.create(TrainConfig(), tiny_data)
    (missing.path / "config.json").unlink()
    (store.root / "not-a-run").mkdir()
    runs = {r.id: r for r in store.list()}
    assert runs[corrupt.id].state == "failed" and "status.json is unreadable" in runs[corrupt.id].error
    assert runs[missing.id].state == "failed" and "config.json is missing" in runs[missing.id].error
    assert runs["not-a-run"].state == "failed"
    assert runs[good.id].state == "succeeded"


def test_artifact_writer_leaves_nothing_on_error(tmp_path, tiny_data):
    run = RunStore(tmp_path).create(TrainConfig(), tiny_data)
    with pytest.raises(RuntimeError):
        with run.artifact_writer("model") as folder:
            (folder / "x").write_text("partial")
            raise RuntimeError("disk full")
    assert not (run.path / "model").exists() and not (run.path / "model.tmp").exists()


def test_delete_and_zip(tmp_path, tiny_data):
    store = RunStore(tmp_path / "runs")
    run = _finished_run(store, tiny_data)
    path = package(store.get(run.id))
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["config.json", "model/README.md", "model/weights.bin"]
    assert package(store.get(run.id)) == path
    empty = store.create(TrainConfig(method="adapter"), tiny_data)
    with pytest.raises(StorageError, match="has no adapter/ folder"):
        package(store.get(empty.id))
    store.delete(run.id)
    assert run.id not in [r.id for r in store.list()]
    with pytest.raises(StorageError, match="No run"):
        store.delete(run.id)
    with pytest.raises(StorageError, match="not a run id"):
        store.get("../etc")


def test_create_refuses_a_non_empty_folder(tmp_path, tiny_data):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(StorageError, match="already exists and is not empty"):
        RunStore(tmp_path / "runs").create(TrainConfig(), tiny_data, folder=tmp_path / "out")


def test_a_run_store_is_always_given_its_folder():
    with pytest.raises(TypeError):  # no fallback to the server's runs folder: a visitor's runs are their own
        RunStore()


def test_restarted_server_with_the_old_pid_sees_the_run_interrupted_at_once(tmp_path, tiny_data):
    """the killed server's pid is ours now; the fresh heartbeat must not keep it "running"."""
    store = RunStore(tmp_path, stale_seconds=3600)
    run = store.create(TrainConfig(), tiny_data)
    run.set_status("running")
    _pretend_other_process(run, pid=os.getpid(), heartbeat=time.time())
    assert store.get(run.id).state == "interrupted"


def test_a_reused_pid_of_another_process_is_told_apart_by_its_start_time(tmp_path, tiny_data):
    """The run's pid is alive but belongs to a process that started later than the run's owner."""
    store = RunStore(tmp_path, stale_seconds=3600)
    run = store.create(TrainConfig(), tiny_data)
    run.set_status("running")
    assert json.loads((run.path / "status.json").read_text())["pid_started"] > 0
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        from explorer.jobs.runs import process_started

        started = process_started(live.pid)
        _pretend_other_process(run, pid=live.pid, pid_started=started - 600, heartbeat=time.time())
        assert store.get(run.id).state == "interrupted"
        same = store.create(TrainConfig(), tiny_data)
        same.set_status("running")
        _pretend_other_process(same, pid=live.pid, pid_started=started, heartbeat=time.time())
        assert store.get(same.id).state == "running"  # the recorded owner is alive and working
    finally:
        live.kill()
        live.wait()
