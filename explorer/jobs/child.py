"""A training child: the process that runs one job for the server (``python -m explorer.jobs.child``).

Why a child: a job run in a thread of the Streamlit server shares the GIL and the two CPUs with every page the
visitors open; page reruns slow the training down and the training makes every page switch slow. In a child
process started with a lower scheduling priority (``nice``), the operating system gives the server the CPU
first, the GIL is not shared, and the memory a training step allocates goes back to the system when the
process ends. The child ties its life to the server's (:func:`die_with_parent`), lowers its priority
(:func:`lower_priority`), reads its :class:`~explorer.jobs.protocol.JobMessage` from stdin and runs the engine
(:func:`explorer.jobs.execute.execute_run`) on the run folder; :mod:`explorer.jobs.protocol` says what else
passes between it and its supervisor.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from explorer.core.errors import TrainingError
from explorer.jobs.protocol import EXIT_CANCELLED, EXIT_FAILED, EXIT_SUCCEEDED, JobMessage, stop_path, stop_request
from explorer.training.events import ProgressEvent, TrainingStopped, check_loss

NICE = 10
"""How much lower the child's scheduling priority is than the server's (pages first, training with the rest)."""
AUTOGROUP = Path("/proc/self/autogroup")
"""Linux's scheduling group of this process: its name and ``nice`` ("/autogroup-7 nice 0"), writable."""
PR_SET_PDEATHSIG = 1
"""``prctl`` option: the signal this process gets when its parent thread exits (linux/prctl.h)."""
GROUP_NICE_TRIES = 10
"""Writes of the group's ``nice`` tried, 0.1 s apart: the kernel refuses a second change within 100 ms
machine-wide (EAGAIN)."""


class StopFile:
    """The child's ``should_stop`` over the stop file at ``path``, for the server process ``parent``: the parent's stop request (cancel: True; error: raise its message), or a
    dead parent (True: nobody will read the result)."""

    def __init__(self, path: Path, parent: int) -> None:
        self.path, self.parent = path, parent

    def __call__(self) -> bool:
        if os.getppid() != self.parent:
            return True
        request = stop_request(self.path)
        if request is None:
            return False
        if request.get("reason") == "error":
            raise TrainingError(str(request.get("message") or "Stopped by the server."))
        return True


def report(event: ProgressEvent) -> None:
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
    ``nice`` only counts against the processes of its own session (docs/reliability.md has the measurement).
    In a session of its own (``setsid``; the child has no terminal, and :func:`die_with_parent` still ties its
    life to the server's) whose group is set to ``nice`` :data:`NICE` (``/proc/self/autogroup``), it yields to
    the server and to every other session. Where any of this is not allowed or not there, the process keeps
    what it got; it leaves the server's session only once it knows it may set its group's ``nice`` (a group of
    its own at the default ``nice`` would compete harder than it did in the server's).
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
    """Write ``value`` as the ``nice`` of this process's scheduling group, retrying a rate-limited write
    (:data:`GROUP_NICE_TRIES`); False where not allowed (a container's /proc read-only, a security module)."""
    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_fixed

    retrying = Retrying(retry=retry_if_exception_type(BlockingIOError), stop=stop_after_attempt(GROUP_NICE_TRIES),
                        wait=wait_fixed(0.1), sleep=time.sleep, reraise=True)
    try:
        retrying(AUTOGROUP.write_text, value)
    except OSError:  # refused, or still rate-limited after every try
        return False
    return True


def main() -> int:
    """The child: tie its life to the server's, lower its priority, read the job from stdin, run it; the
    exit status tells the outcome."""
    die_with_parent()
    lower_priority()  # first, so that even the imports below leave the CPU to the server and its visitors
    from explorer.jobs.execute import execute_run
    from explorer.jobs.runs import RunStore

    job = JobMessage.read(sys.stdin.buffer)
    if job.api_key:  # this process's memory only: every encoder the run loads (the base, the tuned) finds it
        os.environ["OPENAI_API_KEY"] = job.api_key
    root = Path(job.root)
    try:
        execute_run(job.dataset, job.config, run_store=RunStore(root), run_folder=root / job.run_id, report=report,
                    should_stop=StopFile(stop_path(root, job.run_id), job.parent), negatives=job.negatives)
    except TrainingStopped:
        return EXIT_CANCELLED
    except Exception as exc:  # noqa: BLE001 - recorded in status.json by execute_run; the log keeps the type
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_SUCCEEDED


if __name__ == "__main__":
    sys.exit(main())
