"""Hugging Face hub models: what a download will fetch and how big it is, and the download itself.

A hub id is fetched once into ``<cache root>/hub/<owner>--<name>/`` and loaded from there, never straight from
the hub, so that:

- only the files sentence-transformers needs come down (:func:`needed_files`): the configuration and
  tokenizer files, the numbered module folders (``1_Pooling/``, ``2_Dense/`` ...) and one copy of the weights,
  safetensors preferred over PyTorch pickles; ONNX, OpenVINO, TensorFlow and Flax copies and the repository's
  own Python code are left behind (``trust_remote_code`` stays off);
- the size is known before anything is fetched (:func:`plan`, one request with the files' metadata), and
  the download reports ``progress("downloading (MB)", done, total)`` (:mod:`explorer.core.progress`), which
  the pages' progress bar turns into megabytes, a rate and the time left;
- a finished download is used as it is, offline too: a marker file (:data:`MARKER`) written after the last
  file names the commit and the files, so a later load makes no request.

Every failure is one line (:class:`~explorer.core.errors.ModelError`) saying what to do: an unknown or private
id, a gated model, an offline server or an unreachable hub.

The download goes through ``huggingface_hub.snapshot_download`` (its retries, resumes and Xet transfers);
its byte counts are heard through a ``tqdm`` subclass (:class:`_ByteCounter`), the hook that function offers.
"""

from __future__ import annotations

import contextvars
import json
import math
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.std import tqdm

from explorer.core.errors import ModelError
from explorer.core.progress import Progress

MB = 1024 * 1024
STAGE = "downloading (MB)"
"""The progress stage of a download; ``done`` and ``total`` count megabytes."""
MARKER = ".explorer-download.json"
"""Written into the download folder once every file is there: ``{"repo_id", "sha", "files", "bytes"}``."""
_CONFIG_SUFFIXES = (".json", ".txt", ".model")
"""Configuration, tokenizer and vocabulary files (``.model``: sentencepiece)."""
_MODULE_FOLDER = re.compile(r"^\d+_[\w.-]+$")
_TIMEOUT = 15.0
_ALTERNATIVES = "or pick minilm, static, bm25 or hybrid"


@dataclass(frozen=True)
class DownloadPlan:
    """What downloading ``repo_id`` fetches: the commit, the files and their total size (None when the hub
    did not say)."""

    repo_id: str
    sha: str | None
    files: tuple[str, ...]
    bytes: int | None

    @property
    def size_text(self) -> str:
        """``"91 MB"`` (``"unknown size"`` when the hub did not list the sizes)."""
        if self.bytes is None:
            return "unknown size"
        return f"{self.bytes / MB:,.0f} MB" if self.bytes >= MB else f"{max(1, math.ceil(self.bytes / 1024))} kB"


def needed_files(names: Iterable[str]) -> list[str]:
    """The files of a repository that sentence-transformers needs (see the module docstring), sorted."""
    by_folder: dict[str, list[str]] = {}
    for name in names:
        folder, _, base = name.rpartition("/")
        if folder and (("/" in folder) or not _MODULE_FOLDER.match(folder)):
            continue  # onnx/, openvino/, nested folders: other runtimes' copies
        by_folder.setdefault(folder, []).append(base)
    chosen = []
    for folder, files in by_folder.items():
        keep = [f for f in files if f.endswith(_CONFIG_SUFFIXES)]
        safetensors = [f for f in files if f.endswith(".safetensors")]
        pickles = [f for f in files if re.fullmatch(r"pytorch_model(-\d+-of-\d+)?\.bin", f)]
        keep += safetensors or pickles
        chosen += [f"{folder}/{f}" if folder else f for f in keep]
    return sorted(chosen)


def endpoint() -> str | None:
    """The hub's address from ``HF_ENDPOINT`` at call time (None: huggingface_hub's default)."""
    return os.environ.get("HF_ENDPOINT", "").strip().rstrip("/") or None


def plan(repo_id: str, *, timeout: float = _TIMEOUT) -> DownloadPlan:
    """What :func:`download` would fetch for ``repo_id``, asked from the hub (one request, nothing downloaded).

    Raises:
        ModelError: offline, unreachable, unknown, private or gated (one line saying what to do).
    """
    from huggingface_hub import HfApi

    _refuse_offline(repo_id)
    try:
        info = HfApi(endpoint=endpoint()).model_info(repo_id, files_metadata=True, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - every failure to ask becomes one line
        raise ModelError(_hub_error(repo_id, exc)) from exc
    sizes = {s.rfilename: s.size for s in (info.siblings or [])}
    files = needed_files(sizes)
    if not any(f.endswith((".safetensors", ".bin")) for f in files):
        raise ModelError(f"{repo_id!r} on the Hugging Face hub has no PyTorch or safetensors weights to load; pick "
                         f"a sentence-transformers model (e.g. BAAI/bge-small-en-v1.5) {_ALTERNATIVES}.")
    known = [sizes[f] for f in files]
    total = None if any(s is None for s in known) else int(sum(known))
    return DownloadPlan(repo_id, info.sha, tuple(files), total)


def download_folder(repo_id: str, root: Path) -> Path:
    """Where ``repo_id`` is (or will be) downloaded under ``root``."""
    return Path(root) / repo_id.replace("/", "--")


def downloaded(repo_id: str, root: Path) -> Path | None:
    """The folder of a finished download of ``repo_id`` under ``root``, or None."""
    folder = download_folder(repo_id, root)
    record = _read_marker(folder / MARKER)
    if record is None or record.get("repo_id") != repo_id:
        return None
    files = record.get("files")
    if not isinstance(files, list) or not all(isinstance(f, str) and (folder / f).is_file() for f in files):
        return None
    return folder


def download(repo_id: str, root: Path, *, progress: Progress | None = None) -> Path:
    """The local folder of ``repo_id``, downloaded first unless a finished download is there.

    Args:
        repo_id: the hub id (``owner/name``).
        root: the folder downloads live in (``<embedding cache>/hub``).
        progress: hears ``(STAGE, megabytes done, megabytes in all)``.

    Raises:
        ModelError: offline, unreachable, unknown, private or gated, or the download failed (one line).
    """
    found = downloaded(repo_id, root)
    if found is not None:
        return found
    wanted = plan(repo_id)
    folder = download_folder(repo_id, root)
    from huggingface_hub import snapshot_download

    counter = _Counter(progress, wanted.bytes)
    counter.add(-1, 0)  # 0 of N at once: the bar shows the size before the first byte arrives
    token = _LISTENER.set(counter)
    try:
        snapshot_download(repo_id, revision=wanted.sha, allow_patterns=list(wanted.files), local_dir=str(folder),
                          endpoint=endpoint(), tqdm_class=_ByteCounter, etag_timeout=_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - a failed download is one line; a retry resumes it
        raise ModelError(_hub_error(repo_id, exc, downloading=True)) from exc
    finally:
        _LISTENER.reset(token)
    counter.finish()
    _write_marker(folder, wanted)
    return folder


# ------------------------------------------------------------------------------------------ byte counts
class _Counter:
    """Bytes received so far, reported as whole megabytes (only when the count of megabytes moved).

    snapshot_download feeds two byte bars with the same chunks (network transfer, bytes written); each bar's
    count is kept apart and the larger one is reported, so nothing is counted twice."""

    def __init__(self, progress: Progress | None, total: int | None) -> None:
        self.progress = progress
        self.total_mb = max(1, math.ceil((total or 0) / MB))
        self._bars: dict[int, int] = {}
        self._reported = -1
        self._lock = threading.Lock()

    def add(self, bar: int, n: int) -> None:
        with self._lock:
            self._bars[bar] = self._bars.get(bar, 0) + max(0, int(n))
            done = min(self.total_mb, max(self._bars.values()) // MB)
            if done == self._reported or self.progress is None:
                return
            self._reported = done
        self.progress(STAGE, done, self.total_mb)

    def finish(self) -> None:
        with self._lock:
            if self.progress is None or self._reported == self.total_mb:
                return
            self._reported = self.total_mb
        self.progress(STAGE, self.total_mb, self.total_mb)


_LISTENER: contextvars.ContextVar[_Counter | None] = contextvars.ContextVar("hub_download_listener", default=None)


class _ByteCounter(tqdm):
    """The ``tqdm_class`` snapshot_download draws its bars with: draws nothing; a byte bar (``unit="B"``) made
    while a download listens forwards each update to that download's :class:`_Counter`. Bars are made in the
    calling thread (where the listener is set) and updated from the download threads."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["disable"] = True
        kwargs.pop("name", None)
        self._counter = _LISTENER.get() if kwargs.get("unit") == "B" else None
        super().__init__(*args, **kwargs)

    def update(self, n: float | None = 1) -> bool | None:
        if self._counter is not None:
            self._counter.add(id(self), int(n or 0))
        return super().update(n)


# ------------------------------------------------------------------------------------------ helpers
def _refuse_offline(repo_id: str) -> None:
    from explorer.encoders.spec import hub_offline

    if hub_offline():
        raise ModelError(f"{repo_id!r} is not a local model folder and the Hugging Face hub could not be reached: "
                         "this server is offline (HF_HUB_OFFLINE); download the model where there is internet, "
                         f"give its folder, {_ALTERNATIVES}.")


def _hub_error(repo_id: str, exc: BaseException, downloading: bool = False) -> str:
    """One line for a failed hub request: what went wrong and what to do."""
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    if isinstance(exc, GatedRepoError):
        return (f"{repo_id!r} is a gated model on the Hugging Face hub: accept its terms on its hub page and set "
                f"HF_TOKEN on the server, {_ALTERNATIVES}.")
    if isinstance(exc, RepositoryNotFoundError):
        return (f"The Hugging Face hub has no public model {repo_id!r}; check the id (owner/name), give the folder "
                f"of a saved sentence-transformers model, {_ALTERNATIVES}.")
    cause = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
    if isinstance(exc, HfHubHTTPError):
        return f"The Hugging Face hub refused {repo_id!r} ({cause}); try again later, {_ALTERNATIVES}."
    what = "the download of" if downloading else "the size of"
    return (f"{repo_id!r} is not a local model folder and the Hugging Face hub could not be reached to check "
            f"{what} it ({cause}); check the connection and try again, give the folder of a saved model, "
            f"{_ALTERNATIVES}.")


def _read_marker(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _write_marker(folder: Path, wanted: DownloadPlan) -> None:
    from explorer.core.storage import write_json_atomic

    write_json_atomic(folder / MARKER, {"repo_id": wanted.repo_id, "sha": wanted.sha, "files": list(wanted.files),
                                        "bytes": wanted.bytes})
