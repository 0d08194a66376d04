"""The server's side of a training job: submit it, start its child process, follow it, and turn its end into the
job's outcome.

:func:`submit_run` queues a job on the :class:`~explorer.jobs.manager.JobManager`. Its body
(:func:`process_body`) runs in the manager's thread: it starts a child (:mod:`explorer.jobs.child`), writes the
job to the child's stdin, tails the run's ``metrics.jsonl`` and forwards new events to the manager (the live
panel), relays a cancellation or the time limit as a stop request, and, once the child has exited, turns the
run's final state into the job's outcome. A child that dies without writing its outcome (killed, out of memory)
leaves a run this side marks failed with the exit code. :mod:`explorer.jobs.protocol` is all the two sides
share.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from explorer.core.errors import StorageError, TrainingError
from explorer.jobs.protocol import CHILD_MODULE, JobMessage, ask_to_stop, log_path, stop_path
from explorer.training.events import ProgressEvent, Reporter, StopFlag, TrainingStopped

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset
    from explorer.data.negatives import NegativeSet
    from explorer.jobs.manager import JobManager
    from explorer.jobs.runs import Run, RunStore
    from explorer.training.config import TrainConfig

POLL_SECONDS = 0.5
"""How often the parent reads new events and checks the stop flag."""
STOP_GRACE_SECONDS = 120.0
"""How long a child may take to stop after being asked (it stops at its next step) before it is killed."""


def submit_run(
    manager: "JobManager",
    dataset: "Dataset",
    config: "TrainConfig",
    *,
    run_store: "RunStore",
    negatives: "NegativeSet | None" = None,
    owner: str | None = None,
    name: str | None = None,
    in_process: bool = False,
    api_key: str | None = None,
) -> str:
    """Queue a training job; returns the job id (its ``run_id`` names the folder, which appears when the job
    starts, so a job cancelled while queued leaves nothing behind).

    By default the job's thread supervises a child process that does the work at a lower priority, so pages
    stay quick while it trains; ``in_process=True`` runs the engine (:func:`explorer.jobs.execute.execute_run`)
    in the job's thread instead (for encoders that exist only in this process). ``api_key`` (an API base
    model's key) travels to the child inside the job message on its stdin, and nowhere else: the child's
    environment never carries the server's ``OPENAI_API_KEY`` (:func:`_child_env`).
    """
    from explorer.jobs.execute import require_resolved

    require_resolved(config)
    run_id = run_store.new_id(dataset.fingerprint())
    if in_process:
        if api_key:
            raise ValueError("an API key reaches a job only through its child process; drop in_process=True")
        body = InProcessBody(run_store, run_id, dataset, config, negatives)
    else:
        body = process_body(run_store, run_id, dataset, config, negatives, api_key=api_key)
    label = name or f"{config.method} fine-tune of {config.base_model} on {dataset.name}"
    return manager.submit(body, name=label, run_id=run_id, owner=owner, config=config)


class InProcessBody:
    """A job body (``fn(report, should_stop) -> Run``) that runs the engine in the job's own thread."""

    def __init__(self, store: "RunStore", run_id: str, dataset: "Dataset", config: "TrainConfig",
                 negatives: "NegativeSet | None") -> None:
        self.store, self.run_id, self.dataset, self.config, self.negatives = store, run_id, dataset, config, negatives

    def __call__(self, report: Reporter, should_stop: StopFlag) -> "Run":
        from explorer.jobs.execute import execute_run

        return execute_run(self.dataset, self.config, run_store=self.store, run_folder=self.store.root / self.run_id,
                           report=report, should_stop=should_stop, negatives=self.negatives)


class ChildBody:
    """A job body (``fn(report, should_stop) -> Run``) that trains one run in a child process (:func:`supervise`)."""

    def __init__(self, store: "RunStore", run_id: str, message: bytes) -> None:
        self.store, self.run_id, self.message = store, run_id, message

    def __call__(self, report: Reporter, should_stop: StopFlag) -> "Run":
        return supervise(self.store, self.run_id, self.message, report, should_stop)


def process_body(store: "RunStore", run_id: str, dataset: "Dataset", config: "TrainConfig",
                 negatives: "NegativeSet | None" = None, *, api_key: str | None = None) -> ChildBody:
    """A job body that trains ``run_id`` in a child process; the job is encoded now, once (in memory)."""
    message = JobMessage(root=str(store.root), run_id=run_id, dataset=dataset, config=config, negatives=negatives,
                         parent=os.getpid(), api_key=api_key)
    return ChildBody(store, run_id, message.encode())


class EventTail:
    """Reads the events appended to a run's ``metrics.jsonl`` since the last call (complete lines only)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""

    def read(self) -> list[ProgressEvent]:
        """The new events, oldest first (a line still being written waits for the next call)."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        events = []
        for line in lines:
            try:
                events.append(ProgressEvent.from_dict(json.loads(line)))
            except (ValueError, TypeError):
                continue  # a torn line (the writer was killed mid-write) is skipped, as Run.events() does
        return events


def supervise(store: "RunStore", run_id: str, message: bytes, report: Reporter, should_stop: StopFlag) -> "Run":
    """Start the child, forward its events, relay stop requests, and return (or raise) the run's outcome."""
    log = log_path(store.root, run_id)
    store.root.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        child = subprocess.Popen([sys.executable, "-m", CHILD_MODULE], stdin=subprocess.PIPE,
                                 stdout=out, stderr=subprocess.STDOUT, close_fds=True, env=_child_env())
    try:
        child.stdin.write(message)
        child.stdin.close()
    except OSError:  # the child died before reading its input: its exit code and log tell why
        pass
    tail = EventTail(store.root / run_id / "metrics.jsonl")
    asked_at: float | None = None
    failure: BaseException | None = None
    while True:
        exited = child.poll() is not None
        for event in tail.read():
            try:
                report(event)
            except Exception as exc:  # noqa: BLE001 - e.g. the manager's loss guard: stop the child with it
                failure = failure or exc
        if exited:
            break
        if asked_at is None:
            try:
                if should_stop():
                    ask_to_stop(store.root, run_id, "cancel", "Cancelled by the user.")
                    asked_at = time.monotonic()
            except Exception as exc:  # noqa: BLE001 - the time limit raises: the run fails with its message
                failure = exc
            if failure is not None and asked_at is None:
                ask_to_stop(store.root, run_id, "error", str(failure))
                asked_at = time.monotonic()
        elif time.monotonic() - asked_at > STOP_GRACE_SECONDS:
            child.kill()
        time.sleep(POLL_SECONDS)
    stop_path(store.root, run_id).unlink(missing_ok=True)
    return _outcome(store, run_id, child.returncode, log, failure)


CHILD_ENV_DROPPED = ("OPENAI_API_KEY",)
"""Variables a child never inherits: a job's key comes only in its message (the caller decides whose key pays)."""


def _child_env() -> dict[str, str]:
    """The server's environment, with this package importable wherever the server was started from, without
    :data:`CHILD_ENV_DROPPED`."""
    import explorer

    source = str(Path(explorer.__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH", "")
    env = {k: v for k, v in os.environ.items() if k not in CHILD_ENV_DROPPED}
    return {**env, "PYTHONPATH": source + (os.pathsep + path if path else "")}


def _outcome(store: "RunStore", run_id: str, code: int, log: Path, failure: BaseException | None) -> "Run":
    """The finished run, or the exception the job ends with (cancelled, failed, or a child that died)."""
    try:
        run = store.get(run_id)
    except StorageError:
        run = None
    state = run.state if run is not None else None
    if state == "succeeded" and failure is None:
        log.unlink(missing_ok=True)
        return run
    if state == "cancelled":
        raise TrainingStopped("stopped on request")
    if failure is not None:
        raise failure
    if state == "failed":
        raise TrainingError(run.error or "The training failed.")
    reason = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
    if code in (-9, 137):
        reason += " (usually: it ran out of memory)"
    message = f"The training process {reason} before finishing; the last lines of its log:\n{_log_tail(log)}"
    if run is not None:
        run.set_status("failed", finished=time.time(), error=message)
    raise TrainingError(message)


def _log_tail(path: Path, lines: int = 8) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) or "(empty)"
    except OSError:
        return "(no log)"

