"""The one shape of a training job's progress, from the training loop to the page, and the exception that ends
a job on request.

Every step of a job (loading, baseline evaluation, negative mining, training, saving, evaluation) reports a
:class:`ProgressEvent` to a plain callback (a :data:`Reporter`; its losses checked by :func:`check_loss`).
The same object is what the run's log stores (one :meth:`ProgressEvent.to_dict` per line of ``metrics.jsonl``),
what the job manager keeps for the pages to poll, and what the live panel draws. A library step that reports
``progress(stage, done, total)`` (:mod:`explorer.core.progress`) is turned into events once, by
:func:`progress_events` or :func:`progress_note`. Nothing here imports a heavy library.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from explorer.core.errors import TrainingError
from explorer.core.progress import Progress

PHASES: tuple[str, ...] = ("baseline", "mining", "training", "saving", "evaluating")
"""A training job's stages, in the order it runs them."""


class TrainingStopped(Exception):
    """Raised inside a job body when its ``should_stop()`` flag turned true (the user cancelled)."""


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report of a training job: its stage, ``done`` of ``total``, a message, and what the stage
    measured.

    Attributes:
        phase: the job's stage ("baseline", "mining", "training", "evaluating", "saving").
        step: units done in this stage (optimizer steps while training, items elsewhere).
        total_steps: units this stage will take (0 when unknown).
        epoch: fractional epoch during training, else None.
        loss: the latest training loss, if any.
        lr: the current learning rate, if any.
        eta_seconds: estimated seconds left in this phase, if known.
        metrics: evaluation metrics (e.g. ``{"ndcg@10": 0.71}``) logged with this event.
        message: a short human-readable line.
        time: Unix time the event was created.
        plan: planned seconds per phase (the first event of a run; see :mod:`explorer.training.eta`).
        wait_seconds: while the stage waits before a retry (a rate-limited API), how long it waits; else None.
        wait_reason: why it waits (the service's message), shown beside the wait.
        cost: what the job has cost so far (US dollars of API calls), if it has a price; else None.
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
    wait_seconds: float | None = None
    wait_reason: str = ""
    cost: float | None = None

    @property
    def fraction(self) -> float:
        """Progress of the phase in [0, 1] (0 when the total is unknown)."""
        if self.total_steps <= 0:
            return 0.0
        return max(0.0, min(1.0, self.step / self.total_steps))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (NaN/inf become None so the line stays valid JSON)."""
        data = asdict(self)
        for key in ("loss", "lr", "eta_seconds", "epoch", "wait_seconds", "cost"):
            value = data[key]
            if isinstance(value, float) and not math.isfinite(value):
                data[key] = None
        data["metrics"] = {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in self.metrics.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ProgressEvent":
        """Rebuild an event from :meth:`to_dict` output (unknown keys are ignored; a line written before a field
        existed gets its default)."""
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


def progress_events(report: Reporter, phase: str) -> Progress:
    """A :data:`~explorer.core.progress.Progress` callback reporting each ``(stage, done, total)`` as an event of
    ``phase`` (``done`` of ``total``; the library step's own stage name is not kept)."""
    return lambda _stage, done, total: report(ProgressEvent(phase, int(done), int(total)))


def progress_note(report: Reporter, phase: str, what: str) -> Progress:
    """A :data:`~explorer.core.progress.Progress` callback reporting stepless events of ``phase``: bare ones (the
    live view moves) until the work is done, then one with the message ``"what: done/total"``."""
    return lambda _stage, done, total: report(
        ProgressEvent(phase, 0, 0, message=f"{what}: {done}/{total}" if done >= total else ""))


def no_report(event: ProgressEvent) -> None:
    """A reporter that drops events (the default when a caller passes none)."""


def never_stop() -> bool:
    """A stop flag that never fires."""
    return False
