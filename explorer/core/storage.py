"""Files the library writes and reads back: atomic writes, tolerant JSON reads, and a file cache.

A writer fills a uniquely named temporary file next to the target (so concurrent writers never share one),
flushes it to disk, then renames it over the target with :func:`os.replace`, which is atomic on POSIX: a
reader sees the old file or the new one, never half of one, and a full disk leaves the old file intact.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from explorer.core.errors import StorageError


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on error it is removed.

    Raises:
        StorageError: the folder cannot be created or written (disk full, read-only), naming the file (in
            public mode the UI shows it relative to the visitor's workspace, :mod:`explorer.core.messages`).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        if tmp.is_file():
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise StorageError(f"Cannot write {path}: {exc.strerror or exc}. "
                           "Check that the folder is writable and the disk is not full.") from exc
    finally:
        if tmp.exists():
            tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented, key-sorted JSON to ``path`` atomically."""
    write_bytes_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=str).encode("utf-8"))


def read_tagged_config(folder: str | Path, name: str, fmt: str, what: str) -> dict[str, Any]:
    """The JSON config ``name`` of a saved artifact folder, checked to carry ``"format": fmt``.

    Raises:
        ModelError: the file is missing, unreadable, or another kind of file (one line naming ``what``, e.g.
            "adapter").
    """
    from explorer.core.errors import ModelError

    path = Path(folder) / name
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(f"{folder} holds no {what}: {name} is missing.") from exc
    except (OSError, ValueError) as exc:
        raise ModelError(f"Cannot read {path}: {exc}.") from exc
    if not isinstance(config, dict) or config.get("format") != fmt:
        raise ModelError(f"{path} is no {what} config (no \"format\": \"{fmt}\").")
    return config


def read_json(path: str | Path, default: Any = None) -> Any:
    """The JSON value in ``path``, or ``default`` when the file is missing, unreadable or not JSON.

    For files the library can do without (a model folder's optional configs, a workspace's small state): a
    damaged one must not lock anyone out, so it reads as absent. Files whose damage must be reported (a run's
    ``config.json``) are parsed by their owners, who name the problem.
    """
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


T = TypeVar("T")


def stored_or_computed(path: str | Path | None, compute: Callable[[], T], *, load: Callable[[Path], T | None],
                       save: Callable[[T, Path], None], touch: bool = False) -> T:
    """A value kept in a file: loaded from ``path`` when it is there and usable, else computed and stored.

    Hand-written rather than ``joblib.Memory`` because the callers key their files themselves (a projection by
    its input's hash, a neighbourhood change by its models' fingerprints, in the run or workspace folder
    the value belongs to) and clean-up works on those names.

    Args:
        path: the file (None: computed, not stored).
        compute: makes the value.
        load: reads the file; returns None, or raises OSError, ValueError or KeyError, when the file is damaged
            or holds something else (it is then recomputed and overwritten, never trusted).
        save: writes the value to a path (atomically, e.g. through :func:`atomic_path`); a StorageError (a
            read-only folder, a full disk) only costs a recomputation next time.
        touch: refresh the file's modification time when it is used (clean-ups remove files unused for long).
    """
    if path is not None and Path(path).is_file():
        try:
            value = load(Path(path))
            if value is not None:
                if touch:
                    os.utime(path)
                return value
        except (OSError, ValueError, KeyError):
            pass
    value = compute()
    if path is not None:
        try:
            save(value, Path(path))
        except StorageError:
            pass
    return value
