"""Workspaces: where one visitor's dataset choice, excluded negatives and runs live.

Locally there is one shared workspace (the server's ``home``). In public mode every visitor gets a private
workspace id (the UI keeps it in the page URL), whose settings come from
:meth:`explorer.core.config.Settings.for_workspace`, so two visitors never see each other's uploads or runs.

A workspace folder holds ``current.json`` (the dataset choice, so a browser reload finds it again and the
selected run), ``excluded_negatives.json`` (negatives the user excluded during the audit) and the usual
``runs/``, ``uploads/`` ... folders of :class:`~explorer.core.config.Settings`. Files are written atomically
(temporary file + rename) so a reload in the middle of a write never reads half a file.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.core.config import Settings, get_settings
from explorer.core.errors import StorageError
from explorer.core.storage import read_json, write_json_atomic

if TYPE_CHECKING:  # pragma: no cover
    from explorer.jobs.runs import RunStore

CURRENT_FILE = "current.json"
EXCLUDED_FILE = "excluded_negatives.json"
NEGATIVES_FILE = "negatives.jsonl"
TOUCH_SECONDS = 60.0
"""A workspace used this recently is not marked used again (see :meth:`Workspace.touch`)."""


def server_settings(settings: Settings | None = None) -> Settings:
    """The settings workspaces are derived from: ``settings`` when given, else the server's.

    Server-wide by nature: they say where every workspace lives (``home/workspaces``) and the limits each
    inherits. A visitor's own paths are never these: :func:`open_workspace` derives them with
    :meth:`~explorer.core.config.Settings.for_workspace` in public mode, and refuses to open a public workspace
    without an id.
    """
    return settings if settings is not None else get_settings()


def new_workspace_id() -> str:
    """A fresh, unguessable workspace id (letters and digits only, valid for ``Settings.for_workspace``)."""
    return uuid.uuid4().hex[:16]


@dataclass
class DatasetChoice:
    """How to load the current dataset again (the arguments of ``load_dataset``).

    Attributes:
        spec: "demo", a file path, a BEIR folder or "hf:<name>".
        name: display name.
        columns: column mapping for tables (field -> column), or None.
        test_fraction: share of judged queries held out for testing.
        seed: split seed (and the sample's).
        sample: load a seeded sample within the server's passage and query caps when the data exceeds them
            (:func:`explorer.data.sampling.within_caps`); the whole dataset otherwise.
    """

    spec: str
    name: str = ""
    columns: dict[str, str] | None = None
    test_fraction: float = 0.3
    seed: int = 13
    sample: bool = False

    def key(self) -> str:
        """A stable string identifying this choice (a cache key for the UI)."""
        return json.dumps(asdict(self), sort_keys=True)


@dataclass
class Workspace:
    """One workspace: its id, its settings, and its small persisted state.

    Attributes:
        id: workspace id ("local" for the shared local one).
        settings: the settings whose ``home`` is this workspace's folder.
    """

    id: str
    settings: Settings
    _state: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def folder(self) -> Path:
        """This workspace's root folder."""
        return self.settings.home

    @property
    def runs(self) -> "RunStore":
        """The workspace's runs: the one :class:`~explorer.jobs.runs.RunStore` of this process for its runs
        folder, which lists the folder and reads each run once while nothing in them changes. Every page and
        pipeline function asks it rather than building a store of its own."""
        from explorer.jobs.runs import repository

        return repository(self.settings.runs_dir)

    # ------------------------------------------------------------------------------------ state
    def _load(self) -> dict[str, Any]:
        return read_json(self.folder / CURRENT_FILE, {})

    def _save(self, state: dict[str, Any]) -> None:
        state["updated"] = time.time()
        write_json_atomic(self.folder / CURRENT_FILE, state)

    def dataset_choice(self) -> DatasetChoice | None:
        """The persisted dataset choice, or None when the user has not picked one yet."""
        data = self._load().get("dataset")
        if not data or not data.get("spec"):
            return None
        known = {k: data[k] for k in ("spec", "name", "columns", "test_fraction", "seed", "sample") if k in data}
        return DatasetChoice(**known)

    def set_dataset_choice(self, choice: DatasetChoice | None) -> None:
        """Persist the dataset choice; a new dataset also clears the selected run and exclusions."""
        state = self._load()
        old = state.get("dataset")
        state["dataset"] = asdict(choice) if choice else None
        if old != state["dataset"]:
            # Negatives and exclusions belong to the old dataset: drop them so training never mixes datasets.
            state.pop("selected_run", None)
            state.pop("reference_run", None)
            self.set_excluded_negatives([])
            for path in self.folder.glob(NEGATIVES_FILE + "*"):
                path.unlink(missing_ok=True)
            self._prune_uploads(keep=choice.spec if choice else None)
        self._save(state)

    def _prune_uploads(self, keep: str | None) -> None:
        """Delete uploads other than the chosen dataset's file: a workspace keeps one upload, not all."""
        uploads = self.settings.uploads_dir
        if not uploads.is_dir():
            return
        keep_path = Path(keep).resolve() if keep else None
        for path in uploads.iterdir():
            if path.is_file() and path.resolve() != keep_path:
                path.unlink(missing_ok=True)

    def selected_run(self) -> str | None:
        """The run id the user picked as "the tuned model", or None (pages then use the newest)."""
        return self._load().get("selected_run")

    def set_selected_run(self, run_id: str | None) -> None:
        """Persist the selected run id."""
        state = self._load()
        state["selected_run"] = run_id
        self._save(state)

    def reference_run(self) -> str | None:
        """What the selected run is compared against: a run id, or None for the baseline encoder."""
        return self._load().get("reference_run")

    def set_reference_run(self, run_id: str | None) -> None:
        """Persist the reference side of the comparison (None: the baseline encoder)."""
        state = self._load()
        state["reference_run"] = run_id
        self._save(state)

    @property
    def negatives_path(self) -> Path:
        """Where the audited negatives of the current dataset are saved (the next training run reads them)."""
        return self.folder / NEGATIVES_FILE

    def excluded_negatives(self) -> list[str]:
        """Negative ids excluded in the audit (``"<qid>|<pos_id>|<neg_id>"`` keys, or plain negative ids)."""
        return list(read_json(self.folder / EXCLUDED_FILE, []))

    def set_excluded_negatives(self, ids: list[str]) -> None:
        """Persist the excluded negatives; the next training run leaves them out."""
        write_json_atomic(self.folder / EXCLUDED_FILE, sorted(set(map(str, ids))))

    def touch(self) -> None:
        """Mark the workspace as used now (public-mode clean-up keeps recently used workspaces).

        Written at most once a minute (:data:`TOUCH_SECONDS`): a page opens its workspace several times per
        render, and a clean-up counting in hours loses nothing by it.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        if time.time() - self.folder.stat().st_mtime > TOUCH_SECONDS:
            os.utime(self.folder, None)


def open_workspace(workspace_id: str | None = None, settings: Settings | None = None) -> Workspace:
    """The workspace to use.

    Args:
        workspace_id: the visitor's id in public mode; ignored (one shared workspace) when not public.
        settings: the server's settings the workspace is derived from (default: :func:`server_settings`).

    Returns:
        A :class:`Workspace` whose folder exists.

    Raises:
        ValueError: public mode without an id, or an id with characters other than letters, digits, dashes.
    """
    base = server_settings(settings)
    if not base.public:
        ws = Workspace(id="local", settings=base)
    else:
        if not workspace_id:
            raise ValueError("Public mode needs a workspace id; create one with new_workspace_id().")
        ws = Workspace(id=workspace_id, settings=base.for_workspace(workspace_id))
    try:
        ws.touch()
    except OSError as exc:
        raise StorageError(f"Cannot create the workspace folder {ws.folder}: {exc.strerror or exc}.") from exc
    return ws


def _runs_dir(folder: Path, settings: Settings) -> Path:
    """The runs folder of the workspace in ``folder`` (laid out like the server's ``settings``)."""
    return folder / settings.runs_dir.relative_to(settings.home)


def _has_active_run(folder: Path, settings: Settings) -> bool:
    """Whether a workspace folder holds a queued or running run whose owner is alive (orphans don't count)."""
    from explorer.jobs.runs import RunStore

    try:  # a store of its own: house-keeping must not fill the pages' shared ones
        return any(run.state in ("queued", "running") for run in RunStore(_runs_dir(folder, settings)).list())
    except OSError:
        return True  # unreadable: keep it rather than delete a job's files under it


def recover_runs(settings: Settings | None = None) -> list[str]:
    """Mark interrupted every run whose owning process is gone, in the server's runs folder and in every
    workspace's: the recovery step a server runs once when it starts (reading a run never writes, so a run
    whose server was killed says "running" on disk until this step, though every read shows it interrupted).

    Args:
        settings: the server's settings (default: :func:`server_settings`).

    Returns:
        The ids of the runs marked.
    """
    from explorer.jobs.runs import recover_orphans

    base = server_settings(settings)
    root = base.home / "workspaces"
    folders = [base.runs_dir]
    if root.is_dir():
        folders += [_runs_dir(folder, base) for folder in sorted(root.iterdir()) if folder.is_dir()]
    marked = []
    for folder in folders:
        if folder.is_dir():
            marked += recover_orphans(folder)
    return marked


def cleanup_workspaces(max_age_hours: float | None = None, settings: Settings | None = None, *,
                       active_owners: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Delete private workspaces unused for longer than ``max_age_hours`` (public mode housekeeping).

    A workspace is kept, whatever its age, while it has a queued or running job: named in ``active_owners``
    (the job manager's, which knows queued jobs before their run folder exists) or found as an active run
    in its runs folder. "Used" is the newest modification time of the folder, its files and its runs'
    status files (a running job's heartbeat counts), so a recent visit or a job's progress keeps it.
    Projections unused for as long are removed too, from the kept workspaces' projection caches and from
    the server's own projection folder.

    Args:
        max_age_hours: age limit (default ``settings.workspace_ttl_hours``).
        settings: the server's settings (default: :func:`server_settings`).
        active_owners: workspace ids with a queued or running job.

    Returns:
        The ids of the removed workspaces.
    """
    base = server_settings(settings)
    hours = base.workspace_ttl_hours if max_age_hours is None else max_age_hours
    if hours < 0:
        raise ValueError(f"max_age_hours must be >= 0, got {hours}")
    root = base.home / "workspaces"
    cutoff = time.time() - hours * 3600
    _prune_projection_cache(base.projection_cache_dir, cutoff)
    if not root.is_dir():
        return []
    removed = []
    for folder in root.iterdir():
        if not folder.is_dir() or folder.name in active_owners:
            continue
        try:
            paths = [folder, *folder.glob("*"), *folder.glob("runs/*/status.json")]
            newest = max(p.stat().st_mtime for p in paths)
        except OSError:
            continue  # changing under us: in use
        if newest < cutoff and not _has_active_run(folder, base):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
        else:
            _prune_projection_cache(folder / base.projection_cache_dir.relative_to(base.home), cutoff)
    return sorted(removed)


def _prune_projection_cache(folder: Path, cutoff: float) -> None:
    """Remove projection-cache files in ``folder`` not used since ``cutoff`` (explorer.latent.projection touches on
    read). The folder keeps its modification time: pruning is not a visit, so it must not postpone the
    workspace's own clean-up."""
    try:
        before = folder.stat()
    except OSError:
        return
    for path in folder.glob("*.npz"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
        except OSError:
            continue
    try:
        os.utime(folder, ns=(before.st_atime_ns, before.st_mtime_ns))
    except OSError:
        pass
