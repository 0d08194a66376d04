"""One training run as a folder on disk, written so that a crash never leaves a run that looks finished.

Layout of ``<runs_dir>/<run-id>/``::

    config.json       parameters, dataset (name, source, fingerprint), base model, library versions, seed
    status.json       state (queued|running|succeeded|failed|cancelled|interrupted), times, error, owner, heartbeat
    metrics.jsonl     one ProgressEvent per line
    model/ | adapter/ | nudge/  the trained model (full fine-tune), adapter, or nudged passages (written as
                      ``*.tmp/`` then renamed)
    evaluation.json   baseline vs tuned test metrics and their paired comparison
    name.json         the name a user gave the run (optional; :meth:`explorer.jobs.runs.RunStore.rename`)

Every JSON file is written to a temporary file in the same folder, fsynced and renamed over the old one, and
``status.json`` says "succeeded" only after everything else is in place. The owner of an active run is named
in its status by pid *and* process start time (plus a per-process token and the boot), so a new server that
happens to get the killed one's pid never passes for it (:mod:`explorer.jobs.liveness`). The runs of a
workspace, listed and read: :mod:`explorer.jobs.runs`.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

ARTIFACTS = {"full": "model", "adapter": "adapter", "nudge": "nudge"}
"""The folder each method's trained artifact is saved in."""

from explorer.core.errors import StorageError
from explorer.core.storage import read_json, write_json_atomic
from explorer.jobs.liveness import OWN_START, PROCESS_TOKEN, boot_id

if TYPE_CHECKING:  # pragma: no cover
    from explorer.training.events import ProgressEvent

STATES = ("queued", "running", "succeeded", "failed", "cancelled", "interrupted")
ACTIVE_STATES = ("queued", "running")
HEARTBEAT_STALE_SECONDS = 120.0
"""A running run whose heartbeat is older than this, owned by another live process, is taken as dead
(the pid was reused, or the process hangs). Heartbeats are written every few seconds while a run works."""

_STATUS_LOCK = threading.Lock()
"""Serializes status.json writes of this process (the heartbeat thread writes alongside the job's thread)."""

NAME_FILE = "name.json"
"""The run's user-given name, ``{"name": "..."}``; absent: the run is named by what it is."""

INTERRUPTED_MESSAGE = "The process running this job stopped (server restart or crash) before it finished."

_UNREAD = object()


def library_versions() -> dict[str, str]:
    """Versions of the libraries that decide what a run produces."""
    from importlib import metadata

    import explorer

    out = {"explorer": explorer.__version__}
    for name in ("torch", "sentence-transformers", "transformers"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


@dataclass
class Run:
    """One run folder and what its files say (read once when the Run is built; call :meth:`reload`)."""

    path: Path
    config: dict[str, Any] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    """The name a user gave the run (:data:`NAME_FILE`); "" when it has none. User text: never a path."""
    _evaluation: Any = field(default=_UNREAD, init=False, repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def state(self) -> str:
        return str(self.status.get("state", "failed"))

    @property
    def error(self) -> str | None:
        return self.status.get("error")

    @property
    def method(self) -> str:
        return str(self.config.get("method") or self.config.get("train", {}).get("method", "full"))

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    @property
    def adapter_dir(self) -> Path:
        return self.path / "adapter"

    @property
    def artifact_dir(self) -> Path:
        """The trained model's folder: ``model/`` for full fine-tunes, ``adapter/`` for adapters, ``nudge/`` for
        the corpus-side recipe."""
        return self.path / ARTIFACTS.get(self.method, "model")

    def reload(self) -> "Run":
        """Read config.json and status.json again."""
        return read_run(self.path)

    # --------------------------------------------------------------------------------------- writes
    def set_status(self, state: str, **fields: Any) -> None:
        """Write status.json (atomically) with a new state and any extra fields (error, started ...)."""
        if state not in STATES:
            raise ValueError(f"Unknown run state {state!r}; one of {STATES}.")
        with _STATUS_LOCK:
            now = time.time()
            status = {**self.status, **fields, "state": state, "updated": now, "heartbeat": now}
            if state in ACTIVE_STATES:
                status.update(pid=os.getpid(), process=PROCESS_TOKEN, boot_id=boot_id(),
                              pid_started=OWN_START)
            write_json_atomic(self.path / "status.json", status)
            self.status = status

    def heartbeat(self) -> None:
        """Refresh the heartbeat of an active run (proves the owner still works on it)."""
        with _STATUS_LOCK:
            if self.state in ACTIVE_STATES:
                self.status = {**self.status, "heartbeat": time.time()}
                write_json_atomic(self.path / "status.json", self.status)

    def append_event(self, event: "ProgressEvent") -> None:
        """Add one line to metrics.jsonl (a line is written whole with a single write call)."""
        line = json.dumps(event.to_dict(), sort_keys=True) + "\n"
        try:
            with open(self.path / "metrics.jsonl", "a", encoding="utf-8") as fh:
                fh.write(line)
        except OSError as exc:
            raise StorageError(f"Cannot append to {self.path / 'metrics.jsonl'}: {exc.strerror or exc}.") from exc

    def write_evaluation(self, evaluation: dict[str, Any]) -> None:
        """Write evaluation.json atomically."""
        write_json_atomic(self.path / "evaluation.json", evaluation)
        self._evaluation = evaluation

    @contextmanager
    def artifact_writer(self, kind: str | None = None) -> Iterator[Path]:
        """Yield ``<kind>.tmp/`` to write a model or adapter into; renamed to ``<kind>/`` only on success."""
        kind = kind or ARTIFACTS.get(self.method, "model")
        final, tmp = self.path / kind, self.path / f"{kind}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            yield tmp
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)

    # --------------------------------------------------------------------------------------- reads
    def events(self) -> list["ProgressEvent"]:
        """The logged events (a torn or corrupt line is skipped)."""
        from explorer.training.events import ProgressEvent

        out = []
        try:
            lines = (self.path / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
        except OSError:
            return []
        for line in lines:
            try:
                out.append(ProgressEvent.from_dict(json.loads(line)))
            except (ValueError, TypeError):
                continue
        return out

    def evaluation(self) -> dict[str, Any] | None:
        """evaluation.json, or None when missing or unreadable (read once per Run; :meth:`reload` reads again)."""
        if self._evaluation is _UNREAD:
            self._evaluation = read_json(self.path / "evaluation.json")
        return self._evaluation


def read_run(path: str | Path) -> Run:
    """The run in ``path``; unreadable files give a run in state "failed" saying which file is broken."""
    path = Path(path)
    problems = []
    config: dict[str, Any] = {}
    status: dict[str, Any] = {}
    for name in ("config.json", "status.json"):
        try:
            data = json.loads((path / name).read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except FileNotFoundError:
            problems.append(f"{name} is missing")
            continue
        except (OSError, ValueError) as exc:
            problems.append(f"{name} is unreadable ({exc})")
            continue
        if name == "config.json":
            config = data
        else:
            status = data
    if problems:
        status = {**status, "state": "failed", "error": f"Run folder {path.name}: " + "; ".join(problems) + "."}
    elif status.get("state") not in STATES:
        status = {**status, "state": "failed", "error": f"status.json has unknown state {status.get('state')!r}."}
    named = read_json(path / NAME_FILE, {})
    name = named.get("name") if isinstance(named, dict) else None
    return Run(path=path, config=config, status=status, name=name if isinstance(name, str) else "")


def mark_interrupted(run: Run, message: str = INTERRUPTED_MESSAGE) -> Run:
    """Write "interrupted" (with ``message``) into a run's status: what a supervisor does when its job's
    process died without finishing it, and what :func:`explorer.jobs.runs.recover_orphans` does for orphans.

    Raises:
        StorageError: status.json cannot be written.
    """
    run.set_status("interrupted", error=message, finished=time.time())
    return run
