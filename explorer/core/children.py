"""Fresh child processes for work whose memory must stay apart from the server's.

Exporting a model to ONNX (:func:`explorer.encoders.onnx_runtime.ensure_export`) runs in a process of its
own, started with ``exec`` (not forked, so no page of the server's heap comes along, and no secret a visitor
typed): the export traces a second copy of the model, some 600 MB the server's allocator would otherwise keep.
:func:`clean_env` is its environment.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

ENV_KEPT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "VIRTUAL_ENV", "SYSTEMROOT", "HOME",
            "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "OMP_NUM_THREADS")
"""The only variables a child inherits: what Python and the libraries need, never a key or a token."""


def clean_env(environ: Mapping[str, str] | None = None, keep: Iterable[str] = ()) -> dict[str, str]:
    """A child's environment: :data:`ENV_KEPT` and ``keep`` from ``environ`` (the current one when None), and a
    ``PYTHONPATH`` that finds this package."""
    environ = os.environ if environ is None else environ
    env = {k: environ[k] for k in (*ENV_KEPT, *keep) if k in environ}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return env
