"""Atomic file writes: the one way the library writes a file that a reader might open at any moment.

A writer fills a uniquely named temporary file next to the target (so concurrent writers never share one),
flushes it to disk, then renames it over the target with :func:`os.replace`, which is atomic on POSIX: a
reader sees the old file or the new one, never half of one, and a full disk leaves the old file intact.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
