"""Watching a folder in tests: how often it is listed, and whether anything under it was written."""

from __future__ import annotations

import os
from pathlib import Path


def age(root: Path, seconds: float = 3600) -> None:
    """Date ``root`` and everything in it ``seconds`` back (as if written long before this visit)."""
    old = os.path.getmtime(root) - seconds
    for path in [root, *root.rglob("*")]:
        os.utime(path, (old, old))


def count_listings(monkeypatch, root: Path) -> list[str]:
    """Record each listing of ``root`` (os.scandir, os.listdir, Path.iterdir) from now on; returns the record."""
    calls: list[str] = []
    real_scandir, real_listdir, real_iterdir = os.scandir, os.listdir, Path.iterdir

    def scandir(path=".", *args):
        calls.extend(["scandir"] if _names(path, root) else [])
        return real_scandir(path, *args)

    def listdir(path=".", *args):
        calls.extend(["listdir"] if _names(path, root) else [])
        return real_listdir(path, *args)

    def iterdir(self):
        calls.extend(["iterdir"] if self == root else [])
        return real_iterdir(self)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(os, "listdir", listdir)
    monkeypatch.setattr(Path, "iterdir", iterdir)
    return calls


def count_reads(monkeypatch, root: Path) -> dict[str, int]:
    """Count each file under ``root`` read with Path.read_text / read_bytes from now on (path -> reads)."""
    reads: dict[str, int] = {}
    real_text, real_bytes = Path.read_text, Path.read_bytes

    def note(path: Path) -> None:
        if path.is_relative_to(root):
            reads[str(path.relative_to(root))] = reads.get(str(path.relative_to(root)), 0) + 1

    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: note(self) or real_text(self, *a, **k))
    monkeypatch.setattr(Path, "read_bytes", lambda self: note(self) or real_bytes(self))
    return reads


def _names(path: object, root: Path) -> bool:
    """Whether ``path`` (a path, or an open folder's descriptor, which names nothing) is ``root``."""
    return isinstance(path, (str, os.PathLike)) and Path(path) == root


def files(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under ``root`` (itself included) -> (modification time ns, size, inode): equal snapshots
    mean nothing was written, created, replaced or removed."""
    out = {}
    for path in [root, *root.rglob("*")]:
        info = path.stat()
        out[str(path.relative_to(root))] = (info.st_mtime_ns, info.st_size, info.st_ino)
    return out
