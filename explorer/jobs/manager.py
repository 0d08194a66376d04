"""A small job manager: a FIFO queue of job bodies run in background threads, at most N at a time.

A job body is a plain synchronous function ``fn(report, should_stop) -> result`` (the engine,
:func:`explorer.jobs.execute.execute_run`, run here or in a child by :mod:`explorer.jobs.supervisor`); it is
tested without threads, and this manager only adds the
threads, the queue, cancellation and thread-safe snapshots for pages to poll. Everything mutable sits behind
one lock; readers get frozen :class:`JobSnapshot` copies. Worker threads never touch Streamlit.
"""

from __future__ import annotations

import functools
import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from explorer.core.errors import ExplorerError, TrainingError
from explorer.core.memory import release_memory
from explorer.training.events import ProgressEvent, Reporter, StopFlag, TrainingStopped, check_loss

if TYPE_CHECKING:  # pragma: no cover
    from explorer.training.config import TrainConfig

JobBody = Callable[[Reporter, StopFlag], Any]
JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled")
HISTORY_LIMIT = 2000
"""Events kept per job (oldest dropped first); metrics.jsonl in the run folder keeps them all."""
FINISHED_LIMIT = 50
"""Finished jobs remembered (oldest forgotten first): their runs stay listed from disk, so a server that ran
thousands of jobs does not keep thousands of snapshots."""


class JobLimitError(TrainingError):
    """A workspace already has as many queued or running jobs as the server allows (public mode: one)."""


class JobTimeLimitError(TrainingError):
    """A job ran past the server's time limit per job; raised from its stop flag so the run is marked failed."""


@dataclass(frozen=True)
class JobSnapshot:
    """An immutable copy of a job's state at one moment.

    Attributes:
        id, name, owner, run_id: identity (owner: a workspace id in public mode; run_id: the run folder).
        config: the run's resolved configuration (its method, model, ...), when the submitter gave it.
        status: queued | running | succeeded | failed | cancelled.
        queue_position: 1 for the next job to start, None unless queued.
        latest: the last ProgressEvent reported, if any.
        history: the reported events (bounded, oldest first).
        error: the failure message (failed jobs).
        result: what the body returned (succeeded jobs).
        submitted, started, finished: Unix times.
        stop_requested: cancel() was called while it ran.
    """

    id: str
    name: str
    status: str
    owner: str | None = None
    run_id: str | None = None
    config: "TrainConfig | None" = None
    queue_position: int | None = None
    latest: ProgressEvent | None = None
    history: tuple[ProgressEvent, ...] = ()
    error: str | None = None
    result: Any = None
    submitted: float = 0.0
    started: float | None = None
    finished: float | None = None
    stop_requested: bool = False

    @property
    def done(self) -> bool:
        """Whether the job reached a final state."""
        return self.status in ("succeeded", "failed", "cancelled")


@dataclass
class _Job:
    id: str
    name: str
    fn: JobBody
    owner: str | None
    run_id: str | None
    config: "TrainConfig | None" = None
    status: str = "queued"
    stop: threading.Event = field(default_factory=threading.Event)
    history: deque = field(default_factory=lambda: deque(maxlen=HISTORY_LIMIT))
    error: str | None = None
    result: Any = None
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    thread: threading.Thread | None = None


def error_message(exc: BaseException) -> str:
    """What a failed job shows: an ExplorerError's message as written, else ``TypeName: message``."""
    if isinstance(exc, ExplorerError):
        return str(exc)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class JobManager:
    """Runs job bodies in daemon threads, first in first out, at most ``max_concurrent`` at once.

    A finished job drops its body (the closure that holds the job's dataset and negatives), and only the
    newest :data:`FINISHED_LIMIT` finished jobs are remembered, so a server that ran many jobs keeps only
    their small snapshots (the body's result, a :class:`~explorer.jobs.runs.Run`, is a path and two dicts).

    Args:
        max_concurrent: jobs running at the same time (the server's ``max_concurrent_jobs`` setting, passed by
            :func:`explorer.pipeline.make_job_manager`).
        max_per_owner: queued plus running jobs one owner (workspace) may have; None or 0: no limit. Public
            mode sets 1, so one visitor cannot fill the queue for everyone.
        time_limit: seconds a job may run (from its start, not its submission); None or 0: no limit. Past it,
            the job's stop flag raises :class:`JobTimeLimitError` and the job (and its run) fails with that
            message.
    """

    def __init__(self, max_concurrent: int = 1, *, max_per_owner: int | None = None,
                 time_limit: float | None = None) -> None:
        if max_concurrent < 1:
            raise ValueError(f"max_concurrent must be at least 1, got {max_concurrent}.")
        if max_per_owner is not None and max_per_owner < 0:
            raise ValueError(f"max_per_owner must be >= 0, got {max_per_owner}.")
        if time_limit is not None and time_limit < 0:
            raise ValueError(f"time_limit must be >= 0 seconds, got {time_limit}.")
        self.max_concurrent = int(max_concurrent)
        self.max_per_owner = int(max_per_owner or 0)
        self.time_limit = float(time_limit or 0.0)
        self._lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}
        self._queue: deque[str] = deque()
        self._ids = itertools.count(1)
        self._closed = False

    # --------------------------------------------------------------------------------------- commands
    def submit(self, fn: JobBody, *, name: str, run_id: str | None = None, owner: str | None = None,
               config: "TrainConfig | None" = None) -> str:
        """Queue a job body; it starts as soon as a slot is free. Returns the job id (``config``: the run's
        configuration, kept in the job's snapshots for the pages).

        Raises:
            JobLimitError: ``owner`` already has ``max_per_owner`` queued or running jobs.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError("This JobManager was shut down; create a new one.")
            if self.max_per_owner and owner is not None:
                active = sum(1 for j in self._jobs.values() if j.owner == owner and j.status in ("queued", "running"))
                if active >= self.max_per_owner:
                    one = "one training job" if self.max_per_owner == 1 else f"{self.max_per_owner} training jobs"
                    raise JobLimitError(
                        f"You already have {one} queued or running, the most this shared server allows per visitor; "
                        "wait for it to finish (or cancel it) before starting another."
                    )
            job_id = f"job-{next(self._ids)}-{int(time.time() * 1000) % 100000:05d}"
            self._jobs[job_id] = _Job(id=job_id, name=name, fn=fn, owner=owner, run_id=run_id, config=config)
            self._queue.append(job_id)
            self._start_ready()
        return job_id

    def cancel(self, job_id: str) -> bool:
        """Cancel a job: a queued one is removed at once, a running one is asked to stop (its body sees
        ``should_stop()`` turn true and raises TrainingStopped). Returns False if it had already finished."""
        with self._lock:
            job = self._get(job_id)
            if job.status == "queued":
                self._queue.remove(job_id)
                job.status, job.finished = "cancelled", time.time()
                return True
            if job.status == "running":
                job.stop.set()
                return True
            return False

    def shutdown(self, wait: bool = True, timeout: float | None = 10.0) -> None:
        """Cancel queued jobs, ask running ones to stop, and (optionally) wait for their threads."""
        with self._lock:
            self._closed = True
            while self._queue:
                job = self._jobs[self._queue.popleft()]
                job.status, job.finished = "cancelled", time.time()
            threads = []
            for job in self._jobs.values():
                if job.status == "running":
                    job.stop.set()
                    if job.thread is not None:
                        threads.append(job.thread)
        if wait:
            deadline = None if timeout is None else time.monotonic() + timeout
            for thread in threads:
                thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    # --------------------------------------------------------------------------------------- queries
    def snapshot(self, job_id: str) -> JobSnapshot:
        """A frozen copy of one job. Raises KeyError for an unknown id."""
        with self._lock:
            return self._snapshot(self._get(job_id))

    def snapshots(self, owner: str | None = None) -> list[JobSnapshot]:
        """Frozen copies of all jobs (of one owner if given), in submission order."""
        with self._lock:
            return [self._snapshot(j) for j in self._jobs.values() if owner is None or j.owner == owner]

    def wait(self, job_id: str, timeout: float | None = None) -> JobSnapshot:
        """Block until a job finished (or the timeout passed); returns its snapshot."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            snap = self.snapshot(job_id)
            if snap.done or (deadline is not None and time.monotonic() >= deadline):
                return snap
            time.sleep(0.02)

    # --------------------------------------------------------------------------------------- internals
    def _get(self, job_id: str) -> _Job:
        try:
            return self._jobs[job_id]
        except KeyError:
            raise KeyError(f"No job {job_id!r}.") from None

    def _snapshot(self, job: _Job) -> JobSnapshot:
        position = self._queue.index(job.id) + 1 if job.status == "queued" else None
        history = tuple(job.history)
        return JobSnapshot(
            id=job.id, name=job.name, status=job.status, owner=job.owner, run_id=job.run_id, config=job.config,
            queue_position=position, latest=history[-1] if history else None, history=history,
            error=job.error, result=job.result, submitted=job.submitted, started=job.started,
            finished=job.finished, stop_requested=job.stop.is_set(),
        )

    def _start_ready(self) -> None:
        """Start queued jobs while slots are free (call with the lock held)."""
        running = sum(1 for j in self._jobs.values() if j.status == "running")
        while self._queue and running < self.max_concurrent:
            job = self._jobs[self._queue.popleft()]
            job.status, job.started = "running", time.time()
            job.thread = threading.Thread(target=self._work, args=(job,), name=f"explorer-{job.id}", daemon=True)
            job.thread.start()
            running += 1

    def _report(self, job: _Job, event: ProgressEvent) -> None:
        """A job's reporter: keep the event for the snapshots."""
        check_loss(event.loss, event.step)  # a diverged loss ends the job even if the body would carry on
        with self._lock:
            job.history.append(event)

    def _should_stop(self, job: _Job, deadline: float | None) -> bool:
        """A job's stop flag: its cancel, or (raised) the time limit past ``deadline``."""
        if deadline is not None and time.monotonic() > deadline:
            # Raised rather than returned as True: the body then records a failure with this message,
            # not a cancellation "by the user".
            raise JobTimeLimitError(
                f"The job ran past this server's limit of {self.time_limit / 60:g} minutes per job and was "
                "stopped; train on a smaller dataset, fewer epochs or an adapter."
            )
        return job.stop.is_set()

    def _work(self, job: _Job) -> None:
        deadline = time.monotonic() + self.time_limit if self.time_limit else None
        report = functools.partial(self._report, job)
        should_stop = functools.partial(self._should_stop, job, deadline)
        status, error, result = "succeeded", None, None
        fn, job.fn = job.fn, None  # the body holds the dataset: only this frame keeps it from now on
        try:
            result = fn(report, should_stop)
        except TrainingStopped:
            status = "cancelled"
        except BaseException as exc:  # noqa: BLE001 - any failure is recorded; the thread must not die silently
            status, error = "failed", error_message(exc)
        del fn
        release_memory()
        with self._lock:
            job.status, job.error, job.result, job.finished = status, error, result, time.time()
            self._forget_finished()
            self._start_ready()

    def _forget_finished(self) -> None:
        """Drop the oldest finished jobs past :data:`FINISHED_LIMIT` (call with the lock held)."""
        finished = [j.id for j in self._jobs.values() if j.status in ("succeeded", "failed", "cancelled")]
        for job_id in finished[: max(0, len(finished) - FINISHED_LIMIT)]:
            del self._jobs[job_id]

