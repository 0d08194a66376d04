"""The runs of a workspace: its runs folder listed, each run read once while nothing changes.

A run folder and its files: :mod:`explorer.jobs.run_folder`. A run whose status says running or queued but
whose owning process is gone (or whose heartbeat stopped) is listed as "interrupted"; an unreadable folder is
listed as failed with the reason, never crashes the listing.

Reads never write. Listing or getting a run only shows an orphan as interrupted; :func:`recover_orphans`
writes it (the server runs it once when it starts, :func:`explorer.workspace.recover_runs`) and
:func:`~explorer.jobs.run_folder.mark_interrupted` is what a supervisor calls when it sees its child die.

A :class:`RunStore` keeps what it read: the folder listing and each run's files are read again only when the
runs folder or that run's folder changed (their modification times, and those of status.json and
evaluation.json; every file of a run is written by a rename, which changes the folder's time).
:func:`repository` hands out one store per runs folder, so every page and pipeline function of a process
shares its reads (``Workspace.runs``).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import stat
import threading
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.core.errors import ExplorerError, StorageError
from explorer.core.storage import write_json_atomic
from explorer.jobs.liveness import PROCESS_TOKEN, START_TOLERANCE_SECONDS, boot_id, pid_alive, process_started
from explorer.jobs.run_folder import (  # noqa: F401 - Run, its states and its writers are known by this module's name too
    ACTIVE_STATES,
    HEARTBEAT_STALE_SECONDS,
    INTERRUPTED_MESSAGE,
    NAME_FILE,
    STATES,
    Run,
    library_versions,
    mark_interrupted,
    read_run,
)

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset
    from explorer.training.config import TrainConfig


RACY_SECONDS = 1.0
"""A folder modified this close to the moment it was read may change again within the same timestamp tick,
unseen: what was read from it is read again on the next access (the "racy" rule of git's index). One second
covers the coarsest timestamps of common file systems except FAT's two."""

MAX_NAME_CHARS = 80
"""The longest name a user may give a run (it is shown in selectors, titles and table headers)."""

STAMPED = ("status.json", "evaluation.json")
"""Files of a run whose own modification time is checked too (not only the folder's), so an edit in place
(not by a rename) is seen as well."""


@dataclass
class _Read:
    """What a store read, and the modification times (ns) of what it read when it read it."""

    value: Any
    stamp: tuple[int, ...]
    taken: int

    def fresh(self, stamp: tuple[int, ...] | None) -> bool:
        """Whether the value still holds for things now stamped ``stamp`` (see :data:`RACY_SECONDS`)."""
        return stamp == self.stamp and max(stamp) < self.taken - int(RACY_SECONDS * 1e9)


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return -1


def _stamp(folder: Path, files: tuple[str, ...] = ()) -> tuple[int, ...] | None:
    """Modification times of ``folder`` and of ``files`` in it (-1: missing); None when there is no folder."""
    try:
        info = folder.stat()
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode):
        return None
    return (info.st_mtime_ns, *(_mtime(folder / name) for name in files))


class RunStore:
    """The runs of one workspace, each folder listed and each run read once while nothing changes.

    Thread-safe. A run returned may be shared with other callers of the same store: treat it as read-only
    except through its writing methods.

    Args:
        root: the folder holding run folders (a workspace's ``settings.runs_dir``).
        stale_seconds: heartbeat age after which a running run of another live process counts as interrupted.
    """

    def __init__(self, root: str | Path, stale_seconds: float = HEARTBEAT_STALE_SECONDS) -> None:
        self.root = Path(root)
        self.stale_seconds = stale_seconds
        self._lock = threading.RLock()
        self._listing: _Read | None = None
        self._runs: dict[str, _Read] = {}

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
        with self._lock:
            self._listing = None
        return run

    read = staticmethod(read_run)
    """The run in ``path``; unreadable files give a run in state "failed" saying which file is broken."""

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
        """The run ``run_id`` (an orphaned run comes back as interrupted). Raises StorageError if absent."""
        path = self._path(run_id)
        with self._lock:
            run = self._cached(path)
        if run is None:
            raise StorageError(f"No run {run_id!r} in {self.root}; list the runs to see which exist.")
        return self._checked(run)

    def list(self) -> list[Run]:
        """All runs, newest first (ids sort by creation time); orphaned runs come back as interrupted."""
        with self._lock:
            names = self._names()
            runs = [run for run in map(self._cached, (self.root / name for name in names)) if run is not None]
        return [self._checked(run) for run in runs]

    def orphans(self) -> list[Run]:
        """The active runs whose owning process is gone, as their files say (still "queued" or "running")."""
        with self._lock:
            runs = [run for run in map(self._cached, (self.root / n for n in self._names())) if run is not None]
        return [run for run in runs if self.is_orphaned(run)]

    def forget(self) -> None:
        """Drop everything read (the next access reads the folder again)."""
        with self._lock:
            self._listing = None
            self._runs.clear()

    def _names(self) -> list[str]:
        """The run folders' names, newest first: the listing read before while the runs folder is unchanged."""
        stamp = _stamp(self.root)
        if stamp is None:
            self.forget()
            return []
        if self._listing is None or not self._listing.fresh(stamp):
            taken = time.time_ns()
            try:
                names = sorted((e.name for e in os.scandir(self.root) if e.is_dir() and not e.name.startswith(".")),
                               reverse=True)
            except OSError:
                names = []
            self._listing = _Read(names, stamp, taken)
            kept = set(names)
            self._runs = {name: read for name, read in self._runs.items() if name in kept}
        return list(self._listing.value)

    def _cached(self, path: Path) -> Run | None:
        """The run in ``path``, read again only when its folder changed; None when there is no such folder."""
        stamp = _stamp(path, STAMPED)
        if stamp is None:
            self._runs.pop(path.name, None)
            return None
        known = self._runs.get(path.name)
        if known is None or not known.fresh(stamp):
            taken = time.time_ns()
            try:
                run = self.read(path)
            except Exception as exc:  # noqa: BLE001 - one broken folder must not hide the others
                run = Run(path=path, status={"state": "failed", "error": f"Run folder {path.name} is unreadable: {exc}"})
            known = self._runs[path.name] = _Read(run, stamp, taken)
        return known.value

    def _checked(self, run: Run) -> Run:
        """``run``, or (an orphan) a copy whose state says interrupted; nothing is written."""
        if not self.is_orphaned(run):
            return run
        return replace(run, status={**run.status, "state": "interrupted", "error": INTERRUPTED_MESSAGE})

    def delete(self, run_id: str) -> None:
        """Remove a run folder. Raises StorageError if it is absent or cannot be removed."""
        path = self._path(run_id)
        if not path.is_dir():
            raise StorageError(f"No run {run_id!r} in {self.root}.")
        try:
            shutil.rmtree(path)
        except OSError as exc:
            raise StorageError(f"Cannot delete run {run_id}: {exc.strerror or exc}.") from exc
        finally:
            self.forget()

    def rename(self, run_id: str, name: str) -> str:
        """Give a run a name of the user's (``name.json``, written atomically); an empty name removes it, so the
        run is named by what it is again. The name is user text, stored as given (line breaks and other
        control characters become single spaces) and never used as a path.

        Returns:
            The name stored ("" when it was removed).
        Raises:
            ExplorerError: the name is longer than :data:`MAX_NAME_CHARS`.
            StorageError: no such run, or its folder cannot be written.
        """
        cleaned = clean_name(name)
        path = self._path(run_id)
        if not path.is_dir():
            raise StorageError(f"No run {run_id!r} in {self.root}; list the runs to see which exist.")
        try:
            if cleaned:
                write_json_atomic(path / NAME_FILE, {"name": cleaned})
            else:
                (path / NAME_FILE).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"Cannot rename run {run_id}: {exc.strerror or exc}.") from exc
        with self._lock:
            self._runs.pop(path.name, None)
        return cleaned

    def _path(self, run_id: str) -> Path:
        if not run_id or "/" in run_id or "\\" in run_id or run_id in {".", ".."}:
            raise StorageError(f"{run_id!r} is not a run id.")
        return self.root / run_id


def clean_name(name: str) -> str:
    """A run name as stored: runs of whitespace and control characters become one space, ends trimmed.

    Raises:
        ExplorerError: longer than :data:`MAX_NAME_CHARS` once cleaned (one line that says how long it is).
    """
    cleaned = " ".join("".join(" " if ord(c) < 32 or 127 <= ord(c) < 160 else c for c in str(name)).split())
    if len(cleaned) > MAX_NAME_CHARS:
        raise ExplorerError(f"A run name has at most {MAX_NAME_CHARS} characters; this one has {len(cleaned)}: "
                            "shorten it.")
    return cleaned


@functools.lru_cache(maxsize=64)
def _repository(root: str) -> RunStore:
    return RunStore(root)


def repository(root: str | Path) -> RunStore:
    """The one :class:`RunStore` of this process for the runs folder ``root`` (the most recent 64 folders are
    kept), so everything that reads a workspace's runs shares what was read."""
    return _repository(str(Path(root).absolute()))


def recover_orphans(root: str | Path) -> list[str]:
    """Mark interrupted every run in ``root`` still "queued" or "running" although its owner is gone (the one
    recovery step a server runs when it starts; reads only show such runs as interrupted).

    Returns:
        The ids of the runs marked (a run whose status cannot be written is left as it is).
    """
    marked = []
    for run in repository(root).orphans():  # the shared store: what recovery lists, the first page reuses
        try:
            mark_interrupted(run)
        except StorageError:
            continue
        marked.append(run.id)
    return marked
