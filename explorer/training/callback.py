"""The bridge between the transformers trainer and a job: its steps become :class:`ProgressEvent` reports, a stop
request ends training at the next step, and held-out evaluations run at a cadence that keeps them a tenth of
the job.

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
    from explorer.data.model import Dataset
    from explorer.encoders.base import Encoder

FIRST_EVAL_SECONDS = 30.0
"""With the auto cadence, the first held-out evaluation comes this far into training (then at least as often)."""
EVAL_COST_SHARE = 10.0
"""With the auto cadence, the time between two evaluations is at least this many times one evaluation's cost."""

Snapshot = Callable[[int, "Encoder", dict], None]
"""``snapshot(step, encoder, held_out_metrics)``: called at each held-out evaluation with the model as it is."""


class ProgressBridge(TrainerCallback):
    """Relays step, loss, lr, ETA and sampled evaluations to ``report``; obeys ``should_stop``.

    Args:
        report: receives a ProgressEvent per logged step and per held-out evaluation.
        should_stop: polled after every step; when it turns true, training stops and :attr:`stopped` is set.
        model: the SentenceTransformer being trained (the held-out evaluation embeds with it).
        eval_data: the held-out sample (None: no evaluations during training).
        config: the run's configuration (``eval_every_steps``: every N steps, None: the auto cadence, 0: never).
        snapshot: called at each held-out evaluation (see :data:`Snapshot`).
    """

    def __init__(self, report: Reporter, should_stop: StopFlag, model: Any, eval_data: "Dataset | None",
                 config: TrainConfig, snapshot: Snapshot | None = None) -> None:
        self.report, self.should_stop, self.model = report, should_stop, model
        self.eval_data, self.config, self.snapshot = eval_data, config, snapshot
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

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.started = time.monotonic()
        self.report(ProgressEvent("training", 0, state.max_steps, epoch=0.0, message="training started"))

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
        if self._check_stop(control) or state.global_step >= state.max_steps:
            return  # the last step is followed by the run's full evaluation
        every = self.config.eval_every_steps
        if every and state.global_step % every == 0:
            self._evaluate(state)
        elif every is None and self._eval_due(state):
            self._evaluate(state)

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # Auto cadence: also at the end of every epoch but the last (the run's full evaluation follows that).
        if self.stopped or self.config.eval_every_steps is not None or state.global_step >= state.max_steps:
            return
        if self.last_eval is None or time.monotonic() - self.last_eval > 1.0:  # not twice for one step
            self._evaluate(state)

    def _eval_due(self, state: Any) -> bool:
        """Auto cadence: a first evaluation :data:`FIRST_EVAL_SECONDS` into training (so the live chart has a
        point within the first minute), then whenever the time since the last one is at least
        :data:`EVAL_COST_SHARE` times what evaluating costs, so evaluation stays a tenth of the job; but not
        when the steps left take less than :data:`FIRST_EVAL_SECONDS` (the run's full evaluation follows)."""
        now = time.monotonic()
        if self.last_eval is None:
            return now - self.started >= FIRST_EVAL_SECONDS
        if now - self.last_eval < max(FIRST_EVAL_SECONDS, self.eval_seconds * EVAL_COST_SHARE):
            return False
        left = self._eta(state)
        return left is None or left >= FIRST_EVAL_SECONDS

    def _evaluate(self, state: Any) -> None:
        if self.eval_data is None or not state.is_world_process_zero:
            return
        from explorer.encoders.trained import wrap_model
        from explorer.evaluation.retrieval import evaluate_encoder

        began = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="explorer-heldout-") as scratch:
            # The snapshot's texts are mostly held-out texts: the scratch cache embeds each once per evaluation.
            encoder = wrap_model(self.model, "training", scratch=scratch)
            result = evaluate_encoder(self.eval_data, encoder, split="test", k=100)
            if self.snapshot is not None:  # where a fixed sample of test points sits now (the Latent page plays them)
                self.snapshot(state.global_step, encoder, dict(result.metrics))
        self.model.train()  # encode() switched to eval mode; dropout must be back on for the next steps
        self.last_eval = time.monotonic()
        self.eval_seconds = self.last_eval - began
        self.report(ProgressEvent(
            "training", state.global_step, state.max_steps, epoch=state.epoch, loss=self.loss,
            eta_seconds=self._eta(state), metrics=dict(result.metrics),
            message=f"held-out sample: {len(self.eval_data.queries)} queries, {len(self.eval_data.corpus)} passages",
        ))
