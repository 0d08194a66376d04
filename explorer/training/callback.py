"""The bridge between the transformers trainer and a job: its steps become :class:`ProgressEvent` reports, a stop
request ends training at the next step, and dev evaluations (held-out training queries, the whole corpus; see
:mod:`explorer.training.selection`) run at a cadence that keeps them a tenth of the job, keep the best point
and stop training early when dev stops improving.

Imports transformers (the callback base class), so only :func:`explorer.training.full.train_full` imports it,
when a model trains.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback

from explorer.training.config import TrainConfig
from explorer.training.events import ProgressEvent, Reporter, StopFlag, check_loss

if TYPE_CHECKING:  # pragma: no cover
    from explorer.encoders.base import Encoder
    from explorer.training.selection import BestPoint, DevScorer

FIRST_EVAL_SECONDS = 30.0
"""With the auto cadence, the first dev evaluation comes this far into training (then at least as often)."""
EVAL_COST_SHARE = 10.0
"""With the auto cadence, the time between two evaluations is at least this many times one evaluation's cost."""

Snapshot = Callable[[int, "Encoder", dict], None]
"""``snapshot(step, encoder, dev_metrics)``: called at each dev evaluation with the model as it is."""


def restore(state: list[tuple[Any, Any]]) -> None:
    """Put back the weights :meth:`ProgressBridge.trained_state` copied (keep-best; step 0: the base model's)."""
    import torch

    with torch.no_grad():
        for param, saved in state:
            param.copy_(saved)


class ProgressBridge(TrainerCallback):
    """Relays step, loss, lr, ETA and dev evaluations to ``report``; obeys ``should_stop``; keeps the best point.

    Args:
        report: receives a ProgressEvent per logged step and per dev evaluation.
        should_stop: polled after every step; when it turns true, training stops and :attr:`stopped` is set.
        model: the SentenceTransformer being trained (the dev evaluation embeds with it).
        dev: the dev queries' scorer (None: no evaluations during training, the last point is kept).
        best: keep-best and early stopping over the dev evaluations (with ``dev``).
        config: the run's configuration (``eval_every_steps``: every N steps, None: the auto cadence, 0: never).
        snapshot: called at each dev evaluation (see :data:`Snapshot`).
        dev_base: the base model's dev score, when the caller has it (else it is measured as training starts).
    """

    def __init__(self, report: Reporter, should_stop: StopFlag, model: Any, dev: "DevScorer | None",
                 config: TrainConfig, snapshot: Snapshot | None = None, best: "BestPoint | None" = None,
                 dev_base: float | None = None) -> None:
        self.report, self.should_stop, self.model = report, should_stop, model
        self.dev, self.best, self.dev_base = dev, best, dev_base
        self.config, self.snapshot = config, snapshot
        self.started = time.monotonic()
        self.stopped = False
        self.loss: float | None = None
        self.last_eval: float | None = None
        self.eval_seconds = 0.0

    def _eta(self, state: Any) -> float | None:
        if state.global_step <= 0 or not state.max_steps:
            return None
        spent = time.monotonic() - self.started
        return spent / state.global_step * max(0, state.max_steps - state.global_step)

    def trained_state(self) -> list[tuple[Any, Any]]:
        """A copy of the weights that train, paired with the parameters themselves (what :func:`restore` puts
        back). Kept by object, not by name: a frozen bottom renames the layers while it is attached."""
        return [(p, p.detach().clone()) for p in self.model.parameters() if p.requires_grad]

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.started = time.monotonic()
        self.report(ProgressEvent("training", 0, state.max_steps, epoch=0.0, message="training started"))
        if self.dev is not None and self.best is not None and state.is_world_process_zero:
            if self.dev_base is None:
                self._evaluate(state, control)  # the base model, as step 0
            else:
                self.best.observe(0, 0.0, self.dev_base, self.trained_state)
                self._report_dev(state, self.dev_base, "base model")
            self.started = time.monotonic()

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kwargs: Any) -> None:
        logs = logs or {}
        if "loss" not in logs:
            return
        loss = check_loss(logs["loss"], state.global_step)
        self.loss = loss
        if state.is_world_process_zero:
            self.report(ProgressEvent(
                "training", state.global_step, state.max_steps, epoch=state.epoch, loss=loss,
                lr=logs.get("learning_rate"), eta_seconds=self._eta(state),
            ))
        self._check_stop(control)  # logging follows on_step_end: look again so a stop lands this step

    def _check_stop(self, control: Any) -> bool:
        if self.stopped or self.should_stop():
            self.stopped = True
            control.should_training_stop = True
            control.should_epoch_stop = True
        return self.stopped

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._check_stop(control):
            return
        if state.global_step >= state.max_steps:  # the last point is a candidate like any other
            self._evaluate(state, control)
            return
        every = self.config.eval_every_steps
        if every and state.global_step % every == 0:
            self._evaluate(state, control)
        elif every is None and self._eval_due(state):
            self._evaluate(state, control)

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # Auto cadence: also at the end of every epoch but the last (evaluated by on_step_end).
        if self.stopped or self.config.eval_every_steps is not None or state.global_step >= state.max_steps:
            return
        if self.last_eval is None or time.monotonic() - self.last_eval > 1.0:  # not twice for one step
            self._evaluate(state, control)

    def _eval_due(self, state: Any) -> bool:
        """Auto cadence: a first evaluation :data:`FIRST_EVAL_SECONDS` into training (so the live chart has a
        point within the first minute), then whenever the time since the last one is at least
        :data:`EVAL_COST_SHARE` times what evaluating costs, so evaluation stays a tenth of the job; but not
        when the steps left take less than :data:`FIRST_EVAL_SECONDS` (the last step is evaluated anyway)."""
        now = time.monotonic()
        if self.last_eval is None:
            return now - self.started >= FIRST_EVAL_SECONDS
        if now - self.last_eval < max(FIRST_EVAL_SECONDS, self.eval_seconds * EVAL_COST_SHARE):
            return False
        left = self._eta(state)
        return left is None or left >= FIRST_EVAL_SECONDS

    def _evaluate(self, state: Any, control: Any) -> None:
        """Score the model on dev (the whole corpus), record the point, stop early when dev stopped improving."""
        if self.dev is None or self.best is None or not state.is_world_process_zero:
            return
        from explorer.encoders.trained import wrap_model

        began = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="explorer-dev-") as scratch:
            encoder = wrap_model(self.model, "training", scratch=scratch)
            value = self.dev.score_encoder(encoder)
            if self.snapshot is not None and state.global_step > 0:  # where a fixed sample of test points sits now
                self.snapshot(state.global_step, encoder, {f"dev_{self.dev.metric}": value})
        self.model.train()  # encode() switched to eval mode; dropout must be back on for the next steps
        self.last_eval = time.monotonic()
        self.eval_seconds = self.last_eval - began
        if self.best.observe(state.global_step, state.epoch or 0.0, value, self.trained_state):
            control.should_training_stop = True
            control.should_epoch_stop = True
        self._report_dev(state, value, "base model" if state.global_step == 0 else None)

    def _report_dev(self, state: Any, value: float, label: str | None) -> None:
        n, metric = len(self.dev.dev_ids), self.dev.metric
        note = f"dev ({n} held-out training queries; {metric} selects)" + (f": {label}" if label else "")
        if self.best.result.stopped_early:
            note += f"; no gain in {self.best.patience} evaluations, stopping early"
        self.report(ProgressEvent("training", state.global_step, state.max_steps, epoch=state.epoch or 0.0,
                                  loss=self.loss, eta_seconds=self._eta(state),
                                  metrics={f"dev_{metric}": value, "dev_queries": n}, message=note))
