"""The engine: one training run as a list of steps (:mod:`explorer.jobs.steps`), the one function the CLI
(``python -m explorer train``, through :func:`explorer.pipeline.train`), the app's child process
(:mod:`explorer.jobs.child`) and the tests call.

:func:`execute_run` creates (or takes) a run folder, marks it running (with a heartbeat), runs :data:`STEPS`
(load the base encoder, evaluate it on the test split, snapshot, mine hard negatives, train, save, evaluate the
tuned model, snapshot, compare) and only then marks the run succeeded. Every ProgressEvent goes to
``metrics.jsonl`` and to the caller's ``report``. A stop request, a failure or Ctrl-C is recorded in
``status.json`` before it is raised.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.core.errors import TrainingError
from explorer.jobs import steps
from explorer.jobs.manager import error_message
from explorer.jobs.runs import Run, RunStore
from explorer.jobs.steps import EventLog, RunState
from explorer.training import distributed
from explorer.training.config import TrainConfig
from explorer.training.events import Reporter, StopFlag, TrainingStopped, never_stop, no_report

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset
    from explorer.data.negatives import NegativeSet
    from explorer.encoders.base import Encoder

HEARTBEAT_SECONDS = 10.0

Step = Callable[[RunState], None]
STEPS: tuple[Step, ...] = (
    steps.load, steps.baseline, steps.snapshot_baseline, steps.mine, steps.train, steps.save, steps.evaluate,
    steps.snapshot_final, steps.compare,
)
"""A run, in order."""


class _Heartbeat:
    """Refreshes a run's heartbeat from a daemon thread while the run works (so a crash is detectable)."""

    def __init__(self, run: Run, every: float = HEARTBEAT_SECONDS) -> None:
        self.run, self.every = run, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{run.id}", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.run.heartbeat()
            except Exception:  # noqa: BLE001 - a missed beat only risks a later "interrupted" label
                pass

    def __enter__(self) -> "_Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def require_resolved(config: TrainConfig) -> None:
    """Refuse a config whose "auto" fields are still open: it is resolved once, by the caller
    (:func:`explorer.pipeline.training_config`, or :meth:`TrainConfig.resolve`), and recorded as it is."""
    if not config.is_resolved:
        raise TrainingError("This training configuration is not resolved yet; pass it through "
                            "explorer.pipeline.training_config (or TrainConfig.resolve) first.")


def execute_run(
    dataset: "Dataset",
    config: TrainConfig,
    *,
    run_store: RunStore | None = None,
    run: Run | None = None,
    run_folder: str | Path | None = None,
    report: Reporter | None = None,
    should_stop: StopFlag | None = None,
    negatives: "NegativeSet | None" = None,
    base_encoder: "Encoder | None" = None,
) -> Run:
    """Train and evaluate one run, writing its folder; returns the finished run.

    Args:
        dataset: the loaded dataset: train split for training, test split for the before/after evaluation.
        config: the resolved parameters (see :func:`explorer.pipeline.training_config`), recorded in config.json.
        run_store: where to create the run (required unless ``run`` or ``run_folder`` is given).
        run: an existing (queued) run to fill instead of creating one.
        run_folder: the run folder to create (the CLI's ``--out``) instead of ``<runs>/<new id>``.
        report: receives every ProgressEvent.
        should_stop: polled between and during steps; True stops the run (status "cancelled").
        negatives: hard or weak negatives to train with; if None and ``config.use_hard_negatives``, they are
            mined with the base encoder.
        base_encoder: the baseline encoder (default: ``load_encoder(config.base_model)``).

    Raises:
        TrainingStopped: after marking the run cancelled.
        ExplorerError / any exception: after marking the run failed with the message.
    """
    state: RunState | None = None
    try:
        require_resolved(config)
        if run is None and run_store is None and run_folder is None:
            raise TrainingError("execute_run needs a run store, a run or a run folder to write to.")
        store = run_store or RunStore(Path(run_folder).parent if run_folder is not None else run.path.parent)
        if run is None:
            run = store.create(config, dataset, folder=run_folder, state="running")
        state = RunState(run, dataset, config, EventLog(run, report or no_report), should_stop or never_stop,
                         negatives=negatives, base=base_encoder)
        return _execute(state)
    except BaseException as exc:
        # Under torchrun, ranks > 0 wait for rank 0's negatives: if they never got them, they get the error.
        if distributed.is_distributed() and not (state is not None and state.shared):
            distributed.broadcast({"error": error_message(exc)})
        raise


def _execute(state: RunState) -> Run:
    """:data:`STEPS` on an existing run folder, recording the outcome in status.json."""
    run = state.run
    try:
        run.set_status("running", started=time.time(), error=None)
        with _Heartbeat(run):
            for step in STEPS:
                step(state)
        run.set_status("succeeded", finished=time.time(), training_seconds=round(state.seconds, 1),
                       summary=state.summary(), cost_usd=getattr(state.base, "spent_usd", None),
                       selection=state.selection.summary() if state.selection is not None else None)
        return run
    except TrainingStopped:
        run.set_status("cancelled", finished=time.time(), error="Cancelled by the user.")
        raise
    except KeyboardInterrupt:
        run.set_status("interrupted", finished=time.time(), error="Interrupted (Ctrl-C).")
        raise
    except BaseException as exc:
        run.set_status("failed", finished=time.time(), error=error_message(exc))
        raise


def execute_worker(dataset: "Dataset", config: TrainConfig) -> None:
    """What ranks > 0 do under torchrun: wait for rank 0's negatives, then train alongside it (no files)."""
    from explorer.training.full import train_full

    require_resolved(config)
    payload = distributed.broadcast(None)
    if "error" in payload:
        return
    train_full(dataset, config, negatives=payload["negatives"], dev_ids=steps.dev_ids(dataset, config))
