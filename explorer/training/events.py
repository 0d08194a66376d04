"""Progress events a training job reports, and the exception that ends a job on request.

Every long step (baseline evaluation, negative mining, training, evaluation, saving) reports through a plain
callback taking a :class:`ProgressEvent` (its losses checked by :func:`check_loss`); the job manager keeps the latest one for the UI to poll and the run
store appends each one to ``metrics.jsonl``. Nothing here imports a heavy library.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Literal

from explorer.core.errors import TrainingError

Phase = Literal["baseline", "mining", "training", "evaluating", "saving"]
PHASES: tuple[str, ...] = ("baseline", "mining", "training", "evaluating", "saving")


class TrainingStopped(Exception):
    """Raised inside a job body when its ``should_stop()`` flag turned true (the user cancelled)."""


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report of a training job.

    Attributes:
        phase: which step of the job is running ("baseline", "mining", "training", "evaluating", "saving").
        step: optimizer steps (or items) done in this phase.
        total_steps: steps this phase will take (0 when unknown).
        epoch: fractional epoch during training, else None.
        loss: the latest training loss, if any.
        lr: the current learning rate, if any.
        eta_seconds: estimated seconds left in this phase, if known.
        metrics: evaluation metrics (e.g. ``{"ndcg@10": 0.71}``) logged with this event.
        message: a short human-readable line.
        time: Unix time the event was created.
        plan: planned seconds per phase (the first event of a run; see :mod:`explorer.training.eta`).
    """

    phase: str
    step: int = 0
    total_steps: int = 0
    epoch: float | None = None
    loss: float | None = None
    lr: float | None = None
    eta_seconds: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    message: str = ""
    time: float = field(default_factory=time.time)
    plan: dict[str, float] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        """Progress of the phase in [0, 1] (0 when the total is unknown)."""
        if self.total_steps <= 0:
            return 0.0
        return max(0.0, min(1.0, self.step / self.total_steps))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (NaN/inf become None so the line stays valid JSON)."""
        data = asdict(self)
        for key in ("loss", "lr", "eta_seconds", "epoch"):
            value = data[key]
            if isinstance(value, float) and not math.isfinite(value):
                data[key] = None
        data["metrics"] = {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in self.metrics.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ProgressEvent":
        """Rebuild an event from :meth:`to_dict` output (unknown keys are ignored)."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        known.setdefault("phase", "training")
        known["metrics"] = dict(known.get("metrics") or {})
        known["plan"] = dict(known.get("plan") or {})
        return cls(**known)


def check_loss(loss: Any, step: int) -> float | None:
    """The loss as a float (None stays None), or :class:`TrainingError` when it is NaN or infinite (training diverged).

    Every trainer calls this on each loss it sees, so a diverged run ends with the same message whichever
    way it trained.

    Args:
        loss: the training loss (anything ``float()`` accepts, such as a 0-d tensor).
        step: the optimizer step it belongs to, named in the message.

    Raises:
        TrainingError: "loss became NaN at step N; lower the learning rate and try again."
    """
    if loss is None:
        return None
    value = float(loss)
    if not math.isfinite(value):
        raise TrainingError(f"loss became NaN at step {step}; lower the learning rate and try again.")
    return value


Reporter = Callable[[ProgressEvent], None]
StopFlag = Callable[[], bool]


def no_report(event: ProgressEvent) -> None:
    """A reporter that drops events (the default when a caller passes none)."""


def never_stop() -> bool:
    """A stop flag that never fires."""
    return False
