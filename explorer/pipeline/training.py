"""Pipeline step 4: training jobs and their runs, as plain views the UI can draw.

A job is submitted to the job manager (:mod:`explorer.jobs.manager`, one per server); its run folder lands
in the workspace's ``runs_dir`` (:class:`explorer.jobs.runs.RunStore`), so a browser reload or a server
restart lists finished runs again. :class:`JobView` and :class:`RunInfo` are small snapshots the pages draw; a
job's progress reaches the page as the job reported it (:class:`~explorer.training.events.ProgressEvent`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.core.config import Settings
from explorer.core.errors import StorageError
from explorer.evaluation.retrieval import RetrievalResult
from explorer.workspace import Workspace

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset
    from explorer.data.negatives import NegativeSet
    from explorer.training.config import TrainConfig
    from explorer.training.events import ProgressEvent

ADAPTER_LEARNING_RATE = 1e-3
"""Learning rate of an adapter when the user leaves it on auto: a linear map trains well with larger steps."""


@dataclass
class RunInfo:
    """A run as the runs table shows it."""

    id: str
    status: str
    method: str
    created: str
    metrics_before: dict[str, float] = field(default_factory=dict)
    metrics_after: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    base_model: str = ""
    cost_usd: float | None = None


@dataclass
class JobView:
    """A snapshot of one job for the live panel.

    Attributes:
        id, run_id, status: identity and state ("queued", "running", "succeeded", "failed", "cancelled").
        method: "full" or "adapter", from the run's configuration ("" when the job has none).
        latest: the latest progress event, as the job reported it (None before the first).
        losses: (step, loss) pairs so far; evals: ``{"step": s, metric: value, ...}`` rows.
        eta_total: seconds left in the whole job (plan of its first event, refined by the measured step rate).
        plan: planned seconds per phase (empty when the job did not announce one).
        queue_position: 1-based place in the queue while queued (None otherwise).
        error: the failure message, if any.
    """

    id: str
    run_id: str
    method: str
    status: str
    latest: "ProgressEvent | None" = None
    losses: list[tuple[int, float]] = field(default_factory=list)
    evals: list[dict[str, float]] = field(default_factory=list)
    queue_position: int | None = None
    error: str | None = None
    eta_total: float | None = None
    plan: dict[str, float] = field(default_factory=dict)

    @property
    def phase(self) -> str:
        """The job's stage now ("starting" before its first event)."""
        return self.latest.phase if self.latest is not None else "starting"

    @property
    def fraction(self) -> float:
        """How far the current stage is, in [0, 1]."""
        return self.latest.fraction if self.latest is not None else 0.0


# ------------------------------------------------------------------------------------------ runs
def _store(ws: Workspace) -> Any:
    return ws.runs


def _metrics(evaluation: dict[str, Any] | None, side: str) -> dict[str, float]:
    """Metric means of one side ("baseline" or "tuned") of a run's evaluation.json.

    Each side is a :meth:`RetrievalResult.to_dict` (flat metric keys plus ``n_queries``); a side that is
    missing (a run that failed before its evaluation) gives no metrics.
    """
    block = (evaluation or {}).get(side)
    return RetrievalResult.from_dict(block).metrics if isinstance(block, dict) else {}


def list_runs(ws: Workspace) -> list[RunInfo]:
    """The workspace's runs, newest first (cheap: reads a few small JSON files per run)."""
    out = []
    for run in _store(ws).list():
        created = run.status.get("created") or run.config.get("created")
        stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(float(created))) if created else ""
        evaluation = run.evaluation()
        out.append(RunInfo(id=run.id, status=run.state, method=run.method, created=stamp, error=run.error,
                           metrics_before=_metrics(evaluation, "baseline"), metrics_after=_metrics(evaluation, "tuned"),
                           base_model=str(run.config.get("base_model") or ""), cost_usd=run.status.get("cost_usd")))
    return out


def tuned_run_id(ws: Workspace) -> str | None:
    """The run pages compare with: the workspace's selected run if it succeeded, else the newest succeeded."""
    done = [r.id for r in list_runs(ws) if r.status == "succeeded"]
    selected = ws.selected_run()
    if selected in done:
        return selected
    return done[0] if done else None


def run_selection(ws: Workspace, run_id: str | None) -> dict[str, Any] | None:
    """A run's checkpoint choice on its dev split (evaluation.json's "selection"); None when it has none."""
    if not run_id:
        return None
    try:
        return (_store(ws).get(run_id).evaluation() or {}).get("selection")
    except Exception:  # noqa: BLE001 - a run that vanished or cannot be read has no choice to show
        return None


def run_folder(ws: Workspace, run_id: str) -> Path:
    """A run's folder (what ``load_encoder`` takes to load its fine-tuned model or adapter)."""
    return _store(ws).get(run_id).path


def run_zip(ws: Workspace, run_id: str, kind: str = "model") -> bytes:
    """The run's model or adapter (plus config.json) zipped, for download; ``kind`` "onnx" or "onnx-int8"
    zips an ONNX export of a full fine-tune instead (made on first request, ~20 s, then kept)."""
    from explorer.jobs.packaging import package

    path = package(_store(ws).get(run_id), kind)
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise StorageError(f"Cannot read {path}: {exc.strerror or exc}.") from exc


# ------------------------------------------------------------------------------------------ jobs
def make_job_manager(settings: Settings) -> Any:
    """The server's job manager (one per process; the UI keeps it in ``st.cache_resource``).

    It applies the settings' slots, jobs per workspace and time limit per job (public mode: 1 and 30 min).
    """
    from explorer.jobs.manager import JobManager

    return JobManager(max_concurrent=settings.max_concurrent_jobs, max_per_owner=settings.max_jobs_per_workspace,
                      time_limit=settings.job_time_limit_minutes * 60)


def demo_config(method: str = "full") -> dict[str, Any]:
    """Training parameters of the one-click demo: exactly the defaults ``python -m explorer train --data demo``
    uses (:func:`training_config` fills in the rest), so the demo shows what the CLI reproduces."""
    if method not in ("full", "adapter"):
        raise ValueError(f"method must be 'full' or 'adapter', got {method!r}")
    return {"method": method}


def training_config(dataset: "Dataset", params: "dict[str, Any] | TrainConfig", settings: Settings) -> "TrainConfig":
    """The configuration a run records and runs with: ``params`` validated and resolved, once, for this dataset
    under these settings (epoch cap, low-memory losses, public-mode bounds). The CLI and the app both call it,
    so the same parameters give the same ``config.json`` whichever face started the run.

    Args:
        dataset: the dataset to train on ("auto" fields depend on it).
        params: the parameters set (a dict of :class:`~explorer.training.config.TrainConfig` fields, ``None``
            meaning "auto"), or a TrainConfig.
        settings: the workspace's settings.

    Raises:
        TrainingError: an unknown or invalid parameter, more epochs than the settings allow, a base model the
            method cannot train (:func:`~explorer.pipeline.base_model.check_base_model`), or unusable data.
    """
    from explorer.training.config import TrainConfig

    config = params if isinstance(params, TrainConfig) else TrainConfig.from_dict(
        {k: v for k, v in params.items() if v is not None})
    if config.method == "adapter" and config.learning_rate is None:
        config = replace(config, learning_rate=ADAPTER_LEARNING_RATE)
    from explorer.pipeline.base_model import check_base_model

    check_base_model(config.base_model, config.method, settings)
    return config.validate(dataset).resolve(dataset, max_epochs=settings.max_epochs, low_memory=settings.low_memory,
                                            public=settings.public)


def train(settings: Settings, dataset: "Dataset", config: "TrainConfig", *, folder: str | Path | None = None,
          negatives: "NegativeSet | None" = None, report: Any = None, should_stop: Any = None) -> Any:
    """Run one training job here, in the foreground (the CLI): baseline, mining, training, evaluation.

    Args:
        settings: whose ``runs_dir`` receives the run folder (unless ``folder`` names it).
        dataset: train split for training, test split for the before/after evaluation.
        config: from :func:`training_config`.
        folder: the run folder to create instead of ``<runs_dir>/<new id>``.
        negatives: negatives to train with instead of mining them.
        report, should_stop: progress callback and stop flag (see :mod:`explorer.training.events`).

    Returns:
        The finished :class:`~explorer.jobs.runs.Run`.
    """
    from explorer.jobs.execute import execute_run
    from explorer.jobs.runs import RunStore

    return execute_run(dataset, config, run_store=RunStore(settings.runs_dir), run_folder=folder, report=report,
                       should_stop=should_stop, negatives=negatives)


def start_training(manager: Any, ws: Workspace, dataset: "Dataset", params: dict[str, Any], *,
                   api_key: str | None = None) -> str:
    """Resolve the parameters for the workspace's loaded dataset (:func:`training_config`) and submit a background
    training job (in a child process, see :mod:`explorer.jobs.supervisor`); returns the job id.

    The dataset is the one the page already holds (loaded once per upload), not read again. The workspace's
    audited negatives (if any) are passed on, so excluded negatives stay out of training. ``api_key`` (an API
    base model's key, from the visitor's browser session) reaches the job only through its child's stdin.

    Raises:
        TrainingError: invalid parameters (e.g. more epochs than this server allows) or unusable data.
    """
    from explorer.pipeline.data import saved_negatives
    from explorer.jobs.runs import RunStore
    from explorer.jobs.supervisor import submit_run

    settings = ws.settings
    config = training_config(dataset, params, settings)
    # The audited negatives (exclusions applied) replace the job's own mining; none when switched off.
    negatives = saved_negatives(ws) if config.use_hard_negatives else None
    name = f"{config.method} fine-tune of {config.base_model} on {dataset.name}"
    return submit_run(manager, dataset, config, run_store=RunStore(settings.runs_dir), negatives=negatives,
                      owner=ws.id, name=name, api_key=api_key)


def _view(snap: Any) -> JobView:
    """A :class:`JobView` of a :class:`~explorer.jobs.manager.JobSnapshot`."""
    event = snap.latest
    history = snap.history
    losses = [(e.step, float(e.loss)) for e in history if e.phase == "training" and e.loss is not None]
    # Held-out metrics logged during training (the final tuned evaluation is the Metrics page's business).
    shown = ("ndcg@10", "mrr@10", "recall@10")
    evals = [{"step": e.step, **{k: v for k, v in e.metrics.items()
                                 if k == "dev_queries" or any(k.endswith(m) for m in shown)}}
             for e in history if e.metrics and e.phase == "training"]
    plan = next((dict(e.plan) for e in history if e.plan), {})
    eta_total = None
    if plan and event is not None and snap.status == "running":
        from explorer.training.eta import remaining_seconds

        started = next((e.time for e in history if e.phase == event.phase), event.time)
        measured = event.eta_seconds if event.phase == "training" and event.step > 0 else None
        eta_total = remaining_seconds(plan, event.phase, started, measured)
    return JobView(
        id=snap.id, run_id=snap.run_id or snap.id, method=getattr(snap.config, "method", ""), status=snap.status,
        latest=event, losses=losses, evals=evals, queue_position=snap.queue_position, error=snap.error,
        eta_total=eta_total, plan=plan,
    )


def job_view(manager: Any, job_id: str) -> JobView | None:
    """A snapshot of a job, or None when the manager does not know it (e.g. after a server restart)."""
    try:
        return _view(manager.snapshot(job_id))
    except KeyError:
        return None


def workspace_jobs(manager: Any, ws: Workspace) -> list[JobView]:
    """Snapshots of the jobs this workspace submitted (newest first)."""
    return [_view(s) for s in reversed(manager.snapshots(owner=ws.id))]


def cancel_job(manager: Any, job_id: str) -> None:
    """Ask a job to stop at its next step (queued jobs never start)."""
    manager.cancel(job_id)
