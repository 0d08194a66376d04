"""Training runs as folders on disk, written so that a crash never leaves a run that looks finished.

Layout of ``<runs_dir>/<run-id>/``::

    config.json       parameters, dataset (name, source, fingerprint), base model, library versions, seed
    status.json       state (queued|running|succeeded|failed|cancelled|interrupted), times, error, owner, heartbeat
    metrics.jsonl     one ProgressEvent per line
    model/ | adapter/ the trained model (full fine-tune) or adapter (written as ``*.tmp/`` then renamed)
    evaluation.json   baseline vs tuned test metrics and their paired comparison

Every JSON file is written to a temporary file in the same folder, fsynced and renamed over the old one, and
``status.json`` says "succeeded" only after everything else is in place. A run whose status says running or
queued but whose owning process is gone (or whose heartbeat stopped) is listed as "interrupted" (and the
status is written back). The owner is named by pid *and* process start time (plus a per-process token and
the boot id), so a new server that happens to get the killed one's pid never passes for it; an unreadable folder is listed as failed with the reason, never crashes the listing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from explorer.core.errors import StorageError
from explorer.jobs.liveness import OWN_START, PROCESS_TOKEN, START_TOLERANCE_SECONDS, boot_id, pid_alive, process_started
from explorer.core.storage import write_json_atomic

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset
    from explorer.training.config import TrainConfig
    from explorer.training.events import ProgressEvent

STATES = ("queued", "running", "succeeded", "failed", "cancelled", "interrupted")
ACTIVE_STATES = ("queued", "running")
HEARTBEAT_STALE_SECONDS = 120.0
"""A running run whose heartbeat is older than this, owned by another live process, is taken as dead
(the pid was reused, or the process hangs). Heartbeats are written every few seconds while a run works."""

_STATUS_LOCK = threading.Lock()
"""Serializes status.json writes of this process (the heartbeat thread writes alongside the job's thread)."""

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
        """The trained model's folder: ``model/`` for full fine-tunes, ``adapter/`` for adapters."""
        return self.adapter_dir if self.method == "adapter" else self.model_dir

    def reload(self) -> "Run":
        """Read config.json and status.json again."""
        return RunStore.read(self.path)

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

    @contextmanager
    def artifact_writer(self, kind: str | None = None) -> Iterator[Path]:
        """Yield ``<kind>.tmp/`` to write a model or adapter into; renamed to ``<kind>/`` only on success."""
        kind = kind or ("adapter" if self.method == "adapter" else "model")
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
        """evaluation.json, or None when missing or unreadable."""
        try:
            return json.loads((self.path / "evaluation.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None


class RunStore:
    """The runs of one workspace.

    Args:
        root: the folder holding run folders (a workspace's ``settings.runs_dir``).
        stale_seconds: heartbeat age after which a running run of another live process counts as interrupted.
    """

    def __init__(self, root: str | Path, stale_seconds: float = HEARTBEAT_STALE_SECONDS) -> None:
        self.root = Path(root)
        self.stale_seconds = stale_seconds

    @staticmethod
    def new_id(seed: str = "") -> str:
        """``YYYYmmdd-HHMMSS-mmm-<hash6>``: sorts by creation time; the hash keeps same-millisecond ids apart."""
        now = time.time()
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now)) + f"-{int(now * 1000) % 1000:03d}"
        digest = hashlib.sha1(f"{seed}{uuid.uuid4().hex}".encode()).hexdigest()[:6]
        return f"{stamp}-{digest}"

    def create(self, config: "TrainConfig", dataset: "Dataset", *, folder: str | Path | None = None,
               base_model: dict[str, Any] | None = None, state: str = "queued") -> Run:
        """Make a run folder with config.json, status.json (``state``) and an empty metrics.jsonl.

        Args:
            config: the (resolved) parameters.
            dataset: the dataset trained on (name, source, fingerprint are recorded).
            folder: the run folder itself (the CLI's ``--out``); default ``<root>/<new id>``.
            base_model: extra facts about the base model (e.g. its fingerprint and path).
        Raises:
            StorageError: the folder exists and is not empty, or cannot be written.
        """
        path = Path(folder) if folder is not None else self.root / self.new_id(dataset.fingerprint())
        if path.exists() and any(path.iterdir()):
            raise StorageError(f"Run folder {path} already exists and is not empty; choose another --out or delete it.")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"Cannot create run folder {path}: {exc.strerror or exc}.") from exc
        params = config.to_dict()
        payload = {
            **params,
            "run_id": path.name,
            "base_model": config.base_model,
            "base_model_info": dict(base_model or {}),
            "dataset": dataset.record(),
            "versions": library_versions(),
            "created": time.time(),
        }
        write_json_atomic(path / "config.json", payload)
        (path / "metrics.jsonl").touch()
        run = Run(path=path, config=payload)
        run.set_status(state, created=payload["created"])
        return run

    # --------------------------------------------------------------------------------------- reading
    @staticmethod
    def read(path: str | Path) -> Run:
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
        return Run(path=path, config=config, status=status)

    def is_orphaned(self, run: Run) -> bool:
        """Whether an active (queued/running) run has lost its owning process."""
        if run.state not in ACTIVE_STATES:
            return False
        status = run.status
        if status.get("process") == PROCESS_TOKEN:
            return False  # this process owns it and is, evidently, alive
        if status.get("boot_id") and status.get("boot_id") != boot_id():
            return True  # written before a reboot
        pid = status.get("pid")
        if pid == os.getpid():
            return True  # our own pid, but another process's token: a predecessor that had this pid died
        if not pid_alive(pid):
            return True
        recorded = status.get("pid_started")
        if recorded is not None:
            started = process_started(pid)
            if started is None or abs(started - float(recorded)) > START_TOLERANCE_SECONDS:
                return True  # the pid now belongs to a process that started after the run's owner
        heartbeat = float(status.get("heartbeat") or 0)
        return run.state == "running" and time.time() - heartbeat > self.stale_seconds

    def get(self, run_id: str) -> Run:
        """The run ``run_id`` (orphaned runs come back as interrupted). Raises StorageError if absent."""
        path = self._path(run_id)
        if not path.is_dir():
            raise StorageError(f"No run {run_id!r} in {self.root}; list the runs to see which exist.")
        return self._checked(self.read(path))

    def _checked(self, run: Run) -> Run:
        if self.is_orphaned(run):
            message = "The process running this job stopped (server restart or crash) before it finished."
            try:
                run.set_status("interrupted", error=message, finished=time.time())
            except StorageError:
                run.status = {**run.status, "state": "interrupted", "error": message}
        return run

    def list(self) -> list[Run]:
        """All runs, newest first (ids sort by creation time)."""
        if not self.root.is_dir():
            return []
        out = []
        for path in sorted((p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")), reverse=True):
            try:
                out.append(self._checked(self.read(path)))
            except Exception as exc:  # noqa: BLE001 - one broken folder must not hide the others
                out.append(Run(path=path, status={"state": "failed", "error": f"Run folder {path.name} is unreadable: {exc}"}))
        return out

    def delete(self, run_id: str) -> None:
        """Remove a run folder. Raises StorageError if it is absent or cannot be removed."""
        path = self._path(run_id)
        if not path.is_dir():
            raise StorageError(f"No run {run_id!r} in {self.root}.")
        try:
            shutil.rmtree(path)
        except OSError as exc:
            raise StorageError(f"Cannot delete run {run_id}: {exc.strerror or exc}.") from exc

    def _path(self, run_id: str) -> Path:
        if not run_id or "/" in run_id or "\\" in run_id or run_id in {".", ".."}:
            raise StorageError(f"{run_id!r} is not a run id.")
        return self.root / run_id
