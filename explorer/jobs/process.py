"""Training in a child process: the server's job thread supervises, a separate Python process computes.

Why: a job body run in a thread of the Streamlit server shares the GIL and the two CPUs with every page the
visitors open; page reruns slow the training down and the training makes every page switch slow. In a child
process started with a lower scheduling priority (``nice``), the operating system gives the server the CPU
first, the GIL is not shared, and the memory a training step allocates goes back to the system when the
process ends.

The protocol is the run folder itself, so nothing new has to be trusted or kept in sync:

- the parent pickles ``(dataset, config, negatives)`` to the child's stdin (the only input);
- the child runs :func:`explorer.jobs.execute.execute_run` on ``<runs>/<run id>``; its events land in
  ``metrics.jsonl`` and its outcome in ``status.json``, as for any run;
- the parent tails ``metrics.jsonl`` and forwards new events to the job manager (the live panel), relays a
  cancellation or the time limit by writing a stop file beside the run folder (the child's stop flag reads it),
  and, once the child has exited, turns the run's final state into the job's outcome;
- a child that dies without writing its outcome (killed, out of memory) leaves a run the parent marks failed
  with the exit code.

``python -m explorer.jobs.process`` is the child's entry point.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.core.errors import TrainingError
from explorer.training.events import ProgressEvent, Reporter, StopFlag, TrainingStopped, check_loss

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset
    from explorer.data.negatives import NegativeSet
    from explorer.training.config import TrainConfig
    from explorer.jobs.runs import Run, RunStore

NICE = 10
"""How much lower the child's scheduling priority is than the server's (pages first, training with the rest)."""
AUTOGROUP = Path("/proc/self/autogroup")
"""Linux's scheduling group of this process: its name and ``nice`` ("/autogroup-7 nice 0"), writable."""
PR_SET_PDEATHSIG = 1
"""``prctl`` option: the signal this process gets when its parent thread exits (linux/prctl.h)."""
POLL_SECONDS = 0.5
"""How often the parent reads new events and checks the stop flag."""
STOP_GRACE_SECONDS = 120.0
"""How long a child may take to stop after being asked (it stops at its next step) before it is killed."""


def stop_path(root: Path, run_id: str) -> Path:
    """Where the parent asks the child to stop: ``{"reason": "cancel" | "error", "message": ...}``.

    Beside the run folder, not in it: the child creates the folder itself, and a stop asked before it did
    must not make the folder exist early."""
    return root / f".{run_id}.stop"


def log_path(root: Path, run_id: str) -> Path:
    """The child's output (stderr), kept beside the run folder until the run succeeds."""
    return root / f".{run_id}.log"
EXIT_CANCELLED = 3
"""The child's exit status after a stop on request (0: succeeded, 1: failed)."""


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


def process_body(store: "RunStore", run_id: str, dataset: "Dataset", config: "TrainConfig",
                 negatives: "NegativeSet | None" = None) -> Any:
    """A job body (``fn(report, should_stop) -> Run``) that trains ``run_id`` in a child process."""
    payload = pickle.dumps({"root": str(store.root), "run_id": run_id, "dataset": dataset, "config": config,
                            "negatives": negatives, "parent": os.getpid()}, protocol=pickle.HIGHEST_PROTOCOL)

    def body(report: Reporter, should_stop: StopFlag) -> "Run":
        return supervise(store, run_id, payload, report, should_stop)

    return body


def supervise(store: "RunStore", run_id: str, payload: bytes, report: Reporter, should_stop: StopFlag) -> "Run":
    """Start the child, forward its events, relay stop requests, and return (or raise) the run's outcome."""
    folder = store.root / run_id
    log = log_path(store.root, run_id)
    store.root.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        child = subprocess.Popen([sys.executable, "-m", "explorer.jobs.process"], stdin=subprocess.PIPE,
                                 stdout=out, stderr=subprocess.STDOUT, close_fds=True, env=_child_env())
    try:
        child.stdin.write(payload)
        child.stdin.close()
    except OSError:  # the child died before reading its input: its exit code and log tell why
        pass
    tail = EventTail(folder / "metrics.jsonl")
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
                    _ask_to_stop(store.root, run_id, "cancel", "Cancelled by the user.")
                    asked_at = time.monotonic()
            except Exception as exc:  # noqa: BLE001 - the time limit raises: the run fails with its message
                failure = exc
            if failure is not None and asked_at is None:
                _ask_to_stop(store.root, run_id, "error", str(failure))
                asked_at = time.monotonic()
        elif time.monotonic() - asked_at > STOP_GRACE_SECONDS:
            child.kill()
        time.sleep(POLL_SECONDS)
    stop_path(store.root, run_id).unlink(missing_ok=True)
    return _outcome(store, run_id, child.returncode, log, failure)


def _child_env() -> dict[str, str]:
    """The server's environment, with this package importable wherever the server was started from."""
    import explorer

    source = str(Path(explorer.__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": source + (os.pathsep + path if path else "")}


def _ask_to_stop(root: Path, run_id: str, reason: str, message: str) -> None:
    from explorer.core.storage import write_json_atomic

    write_json_atomic(stop_path(root, run_id), {"reason": reason, "message": message})


def _outcome(store: "RunStore", run_id: str, code: int, log: Path, failure: BaseException | None) -> "Run":
    """The finished run, or the exception the job ends with (cancelled, failed, or a child that died)."""
    from explorer.core.errors import StorageError

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


# ------------------------------------------------------------------------------------------ the child
def _stop_flag(path: Path, parent: int) -> StopFlag:
    """The child's ``should_stop``: the parent's stop file (cancel: True; error: raise it), or a dead parent."""

    def should_stop() -> bool:
        if os.getppid() != parent:
            return True  # the server is gone: nobody will read the result
        if not path.exists():
            return False
        try:
            request = json.loads(path.read_text())
        except (OSError, ValueError):
            return True
        if request.get("reason") == "error":
            raise TrainingError(str(request.get("message") or "Stopped by the server."))
        return True

    return should_stop


def _report(event: ProgressEvent) -> None:
    """The child's reporter: the events are already in metrics.jsonl; only the loss guard remains."""
    check_loss(event.loss, event.step)


def die_with_parent() -> None:
    """Ask Linux to end this process (SIGTERM) when the server thread that started it ends, however it ends.

    Without it, a child outlives a stopped or crashed server until its next stop check, and some phases (the
    baseline encoding of a large corpus) have none for minutes: CPU taken from whatever runs next on a two-core
    host. Elsewhere, or if ``prctl`` is unavailable, the per-step parent check is all there is. The server's
    job thread waits for the child until it exits, so the thread ends only with the server or the job.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # a libc without prctl
        pass


def lower_priority() -> None:
    """Give this process the CPU only after everything else on the machine: ``nice`` and, on Linux, a
    scheduling group of its own at the same ``nice``.

    ``nice`` alone is not enough where the kernel groups processes by session (``sched_autogroup``, on by
    default on most Linux distributions): the CPU is first shared equally between sessions, and a process's
    ``nice`` only counts against the processes of its own session. The child is in the server's session, so
    against a browser on the same machine (a stakeholder demo on a laptop) the server and its training got
    half the CPU together, whatever the child's ``nice``: measured, a training child took 0.3-0.7 s of CPU
    during each 1-1.5 s page switch of four browsers on two cores. In a session of its own (``setsid``; the
    child has no terminal, and :func:`die_with_parent` still ties its life to the server's) whose group is
    set to ``nice`` :data:`NICE` (``/proc/self/autogroup``), it yields to the server and to every other
    session. Where any of this is not allowed or not there, the process keeps what it got; it leaves the
    server's session only once it knows it may set its group's ``nice`` (a group of its own at the default
    ``nice`` would compete harder than it did in the server's).
    """
    try:
        os.nice(NICE)
    except OSError:  # not allowed here: run at the same priority
        pass
    if not AUTOGROUP.exists() or not may_set_group_nice():  # not Linux, no autogroups, or not allowed
        return
    try:
        os.setsid()
    except OSError:  # already leads a session or group: stay in it
        return
    _set_group_nice(str(NICE))


def may_set_group_nice() -> bool:
    """Whether this process may set its scheduling group's ``nice``: it writes the group its own value, which
    changes nothing (some sandboxes show ``/proc/self/autogroup`` but refuse writing it)."""
    try:
        current = AUTOGROUP.read_text().split()[-1]
    except (OSError, IndexError):
        return False
    return _set_group_nice(current)


def _set_group_nice(value: str) -> bool:
    """Write ``value`` as the ``nice`` of this process's scheduling group; False where not allowed."""
    for _ in range(10):  # the kernel refuses a second change within 100 ms machine-wide (EAGAIN)
        try:
            AUTOGROUP.write_text(value)
            return True
        except BlockingIOError:
            time.sleep(0.1)
        except OSError:  # not allowed (a container's /proc read-only, a security module)
            return False
    return False


def main() -> int:
    """The child: tie its life to the server's, lower its priority, read the job from stdin, run it; the
    exit status tells the outcome."""
    die_with_parent()
    lower_priority()  # first, so that even the imports below leave the CPU to the server and its visitors
    from explorer.jobs.execute import execute_run
    from explorer.jobs.runs import RunStore

    job = pickle.load(sys.stdin.buffer)
    root = Path(job["root"])
    try:
        execute_run(job["dataset"], job["config"], run_store=RunStore(root), run_folder=root / job["run_id"],
                    report=_report, should_stop=_stop_flag(stop_path(root, job["run_id"]), job["parent"]),
                    negatives=job["negatives"])
    except TrainingStopped:
        return EXIT_CANCELLED
    except Exception as exc:  # noqa: BLE001 - recorded in status.json by execute_run; the log keeps the type
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
