"""What the server's supervisor (:mod:`explorer.jobs.supervisor`) and a training child (:mod:`explorer.jobs.child`)
agree on; nothing else passes between them.

- The job: a :class:`JobMessage`, pickled to the child's stdin (the only input; never through a file, so what
  a job carries, such as a visitor's key later, is never written to disk by the hand-over).
- Progress and outcome: the run folder itself. The child's events land in ``<run>/metrics.jsonl`` and its
  outcome in ``<run>/status.json``, as for any run; its exit status is :data:`EXIT_SUCCEEDED`,
  :data:`EXIT_FAILED` or :data:`EXIT_CANCELLED`.
- A stop request: a small JSON file beside the run folder (:func:`stop_path`), written by the parent.
- The child's output: a log file beside the run folder (:func:`log_path`), kept until the run succeeds.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset
    from explorer.data.negatives import NegativeSet
    from explorer.training.config import TrainConfig

CHILD_MODULE = "explorer.jobs.child"
"""What the parent runs (``python -m``) to start a child."""
EXIT_SUCCEEDED = 0
EXIT_FAILED = 1
EXIT_CANCELLED = 3
"""The child's exit status after a stop on request."""


@dataclass(frozen=True)
class JobMessage:
    """The job a child runs: train ``run_id`` under ``root`` on ``dataset`` with ``config`` (``negatives``: the
    audited negatives to train with, or None), for the server process ``parent`` (the child stops when it is
    gone). ``api_key``: the key of an API base model (a visitor's, or the operator's), or None; it exists
    only in this message and the child's memory, and is left out of the message's ``repr``."""

    root: str
    run_id: str
    dataset: "Dataset"
    config: "TrainConfig"
    negatives: "NegativeSet | None"
    parent: int
    api_key: str | None = field(default=None, repr=False)

    def encode(self) -> bytes:
        """The message as the parent writes it to the child's stdin."""
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def read(stream: IO[bytes]) -> "JobMessage":
        """The message the parent wrote to ``stream`` (the child's stdin)."""
        message = pickle.load(stream)
        if not isinstance(message, JobMessage):
            raise TypeError(f"expected a JobMessage on stdin, got {type(message).__name__}")
        return message


def stop_path(root: Path, run_id: str) -> Path:
    """Where the parent asks the child to stop: ``{"reason": "cancel" | "error", "message": ...}``.

    Beside the run folder, not in it: the child creates the folder itself, and a stop asked before it did
    must not make the folder exist early."""
    return root / f".{run_id}.stop"


def log_path(root: Path, run_id: str) -> Path:
    """The child's output (stderr), kept beside the run folder until the run succeeds."""
    return root / f".{run_id}.log"


def ask_to_stop(root: Path, run_id: str, reason: str, message: str) -> None:
    """Write the parent's stop request (``reason`` "cancel": the user's; "error": the job fails with ``message``)."""
    from explorer.core.storage import write_json_atomic

    write_json_atomic(stop_path(root, run_id), {"reason": reason, "message": message})


def stop_request(path: Path) -> dict[str, Any] | None:
    """The stop request at ``path``: None when there is none, ``{"reason": "cancel"}`` when it is unreadable."""
    if not path.exists():
        return None
    try:
        request = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"reason": "cancel"}
    return request if isinstance(request, dict) else {"reason": "cancel"}
