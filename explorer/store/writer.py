"""Writes one collection of the on-disk vector store from a process of its own, started fresh for it.

Why a process: chroma's HNSW files carry bytes of memory that chroma allocated and never filled (``length.bin``
holds a slot per unit of capacity, not per vector). Written from the app's server, those bytes can be anything
the server's heap held before, an API key a visitor typed included. The writer is started with ``exec`` (not
forked from the server), with an environment stripped of everything but what Python needs
(:func:`explorer.core.children.clean_env`), and it is handed only the folder, the collection's name,
configuration and metadata, the ids and the vectors. A secret never enters its memory, so none can reach its
files. Reads (queries) stay in the server: they write nothing.

The parent side is :func:`write_collection`; ``python -m explorer.store.writer JOB`` is the child. The job is
a folder holding ``job.json``, ``ids.json`` and ``vectors.npy``; the child prints one JSON line per batch added
(``{"done": n}``), then ``{"ok": true}``, or ``{"error": "..."}`` and exits 1.

Hand-written: chromadb offers no way to write a collection from another process than the client's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from explorer.core.children import clean_env
from explorer.core.errors import StorageError


def write_collection(folder: Path, name: str, ids: Sequence[str], vectors: np.ndarray, *, configuration: dict[str, Any],
                     metadata: dict[str, Any], step: int, report: Callable[[int], None] | None = None) -> None:
    """Create collection ``name`` in the store at ``folder`` from a fresh process, add ``vectors`` under ``ids``
    ``step`` at a time (``report`` hears the count added after each batch), then mark it ``complete``.

    The collection must not exist. The child runs at the calling thread's priority (Linux passes a thread's
    nice value to the processes it starts).

    Raises:
        StorageError: the writer failed (its message), or stopped without saying why.
    """
    work = Path(tempfile.mkdtemp(prefix=".writer-", dir=folder))
    try:
        np.save(work / "vectors.npy", np.ascontiguousarray(vectors, dtype=np.float32))
        (work / "ids.json").write_text(json.dumps(list(ids)))
        (work / "job.json").write_text(json.dumps({"folder": str(folder), "name": name, "configuration": configuration,
                                                    "metadata": metadata, "step": int(step)}))
        with tempfile.TemporaryFile(mode="w+") as errors:  # a file, not a pipe: chroma's logs never block it
            child = subprocess.Popen([sys.executable, "-m", "explorer.store.writer", str(work)], env=clean_env(),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors, text=True)
            said: dict[str, Any] = {}
            try:
                assert child.stdout is not None
                for line in child.stdout:
                    try:
                        said = json.loads(line)
                    except ValueError:
                        continue
                    if "done" in said and report is not None:
                        report(int(said["done"]))
            except BaseException:  # a progress callback that stops the work stops the writer too
                child.kill()
                child.wait()
                raise
            code = child.wait()
            errors.seek(0)
            err = errors.read()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if code == 0 and said.get("ok"):
        return
    why = said.get("error") or (err.strip().splitlines() or [f"it stopped with exit status {code}"])[-1]
    raise StorageError(f"Could not write the search index into {folder}: {why}")


def _main(work: Path) -> int:
    job = json.loads((work / "job.json").read_text())
    ids = json.loads((work / "ids.json").read_text())
    vectors = np.load(work / "vectors.npy", mmap_mode="r")
    try:
        from explorer.store import sqlite as _sqlite

        _sqlite.ensure_modern_sqlite()
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        client = chromadb.PersistentClient(path=job["folder"], settings=ChromaSettings(anonymized_telemetry=False))
        meta = job["metadata"]
        collection = client.create_collection(job["name"], configuration=job["configuration"],
                                              metadata={**meta, "complete": False}, embedding_function=None)
        step = max(1, int(job["step"]))
        for start in range(0, len(ids), step):
            collection.add(ids=ids[start:start + step], embeddings=np.asarray(vectors[start:start + step]))
            print(json.dumps({"done": min(start + step, len(ids))}), flush=True)
        # Marked complete last: a writer killed above leaves complete=False, and the next ensure_index rebuilds.
        collection.modify(metadata={**meta, "complete": True})
    except Exception as exc:  # noqa: BLE001 - said to the parent, which raises StorageError
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 1
    print(json.dumps({"ok": True}), flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a child by write_collection
    sys.exit(_main(Path(sys.argv[1])))
