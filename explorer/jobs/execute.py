"""The training job body shared by the app's background job and the CLI: one synchronous function.

:func:`execute_run` creates (or takes) a run folder, marks it running (with a heartbeat), evaluates the base
encoder on the test split, mines hard negatives with it (optional), trains (full fine-tune or adapter), saves
the model, evaluates the tuned encoder, compares the two, writes ``evaluation.json`` and only then marks the
run succeeded. Every ProgressEvent goes to ``metrics.jsonl`` and to the caller's ``report``. It is tested
without threads; :func:`submit_run` hands it to a :class:`~explorer.jobs.manager.JobManager`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.data.demo import DEMO_NAME
from explorer.data.demo_embeddings import seed_demo_embeddings
from explorer.core.errors import StorageError, TrainingError
from explorer.core.progress import Progress
from explorer.training import distributed
from explorer.training.config import TrainConfig
from explorer.training.events import ProgressEvent, Reporter, StopFlag, TrainingStopped, never_stop, no_report
from explorer.jobs.manager import error_message
from explorer.jobs.runs import Run, RunStore

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset
    from explorer.data.negatives import NegativeSet
    from explorer.encoders.base import Encoder
    from explorer.jobs.manager import JobManager

HEARTBEAT_SECONDS = 10.0
PROGRESS_INTERVAL = 0.5
"""Progress-only events (no metrics, no loss) of one phase are logged at most this often."""


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


class _Emitter:
    """Logs events to the run's metrics.jsonl and forwards them to the caller (throttling bare progress)."""

    def __init__(self, run: Run, report: Reporter) -> None:
        self.run, self.report = run, report
        self._last: dict[str, float] = {}

    def __call__(self, event: ProgressEvent) -> None:
        plain = not event.metrics and event.loss is None and not event.message
        finished = event.total_steps > 0 and event.step >= event.total_steps
        if plain and not finished and time.monotonic() - self._last.get(event.phase, 0.0) < PROGRESS_INTERVAL:
            self.report(event)  # the live view still moves; the log stays small
            return
        self._last[event.phase] = time.monotonic()
        self.run.append_event(event)
        self.report(event)

    def stage(self, phase: str) -> Progress:
        """A :data:`~explorer.core.progress.Progress` callback emitting each report as an event of ``phase`` (step
        ``done`` of ``total``; the leaf's stage name is not kept)."""
        return lambda _stage, done, total: self(ProgressEvent(phase, int(done), int(total)))

    def note(self, phase: str, what: str) -> Progress:
        """A :data:`~explorer.core.progress.Progress` callback emitting stepless events of ``phase``: bare ones (the
        live view moves, the log is throttled) until the work is done, then one with ``"what: done/total"``."""
        return lambda _stage, done, total: self(
            ProgressEvent(phase, 0, 0, message=f"{what}: {done}/{total}" if done >= total else ""))


def _require_resolved(config: TrainConfig) -> None:
    """Refuse a config whose "auto" fields are still open: it is resolved once, by the caller
    (:func:`explorer.pipeline.training_config`, or :meth:`TrainConfig.resolve`), and recorded as it is."""
    if not config.is_resolved:
        raise TrainingError("This training configuration is not resolved yet; pass it through "
                            "explorer.pipeline.training_config (or TrainConfig.resolve) first.")


def _check(stop: StopFlag) -> None:
    if stop():
        raise TrainingStopped("stopped on request")


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
        dataset: train split for training, test split for the before/after evaluation.
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
    stop = should_stop or never_stop
    state = {"shared": False}  # under torchrun, ranks > 0 wait for rank 0's negatives (or its error)
    try:
        _require_resolved(config)
        if run is None and run_store is None and run_folder is None:
            raise TrainingError("execute_run needs a run store, a run or a run folder to write to.")
        store = run_store or RunStore(Path(run_folder).parent if run_folder is not None else run.path.parent)
        if run is None:
            run = store.create(config, dataset, folder=run_folder, state="running")
        return _execute(run, dataset, config, report or no_report, stop, negatives, base_encoder, state)
    except BaseException as exc:
        if distributed.is_distributed() and not state["shared"]:
            distributed.broadcast({"error": error_message(exc)})
        raise


def _execute(run: Run, dataset: "Dataset", config: TrainConfig, report: Reporter, stop: StopFlag,
             negatives: "NegativeSet | None", base_encoder: "Encoder | None", state: dict[str, bool]) -> Run:
    """The steps of :func:`execute_run` on an existing run folder, recording the outcome in status.json."""
    emit = _Emitter(run, report)
    try:
        run.set_status("running", started=time.time(), error=None)
        with _Heartbeat(run):
            base = base_encoder or _load_encoder(config.base_model)
            _record_base(run, base)
            if dataset.source == DEMO_NAME:
                seed_demo_embeddings(base)  # the shipped baseline vectors, if they are this encoder's
            _announce_plan(dataset, config, base, emit)
            baseline = _evaluate(dataset, base, emit, "baseline", "base model")
            frames = _Frames(run, dataset)
            frames(0, "baseline", base, baseline.metrics)
            _check(stop)
            if negatives is None and config.use_hard_negatives:
                negatives = _mine(dataset, base, config, emit)
            if distributed.is_distributed():
                distributed.broadcast({"negatives": negatives})
                state["shared"] = True
            _check(stop)
            started = time.monotonic()
            trained = _train(dataset, config, base, emit, stop, negatives, frames)
            seconds = time.monotonic() - started
            emit(ProgressEvent("saving", 0, 1, message=f"saving the {config.method} to {run.artifact_dir}"))
            _save(run, config, trained, negatives)
            emit(ProgressEvent("saving", 1, 1, message="saved"))
            tuned = _tuned_encoder(run, trained)
            tuned_result = _evaluate(dataset, tuned, emit, "evaluating", "tuned model")
            frames(frames.last_step + 1, "final", tuned, tuned_result.metrics)
            evaluation = _compare(dataset, baseline, tuned_result, seconds, negatives, run.path)
            run.write_evaluation(evaluation)
        summary = {m: {"baseline": baseline.metrics.get(m), "tuned": tuned_result.metrics.get(m)}
                   for m in ("ndcg@10", "mrr@10", "recall@100")}
        run.set_status("succeeded", finished=time.time(), training_seconds=round(seconds, 1), summary=summary)
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

    _require_resolved(config)
    payload = distributed.broadcast(None)
    if "error" in payload:
        return
    train_full(dataset, config, negatives=payload["negatives"])


def submit_run(
    manager: "JobManager",
    dataset: "Dataset",
    config: TrainConfig,
    *,
    run_store: RunStore,
    negatives: "NegativeSet | None" = None,
    owner: str | None = None,
    name: str | None = None,
    in_process: bool = False,
) -> str:
    """Queue :func:`execute_run` as a background job; returns the job id (its ``run_id`` names the folder,
    which appears when the job starts, so a job cancelled while queued leaves nothing behind).

    By default the job's thread supervises a child process that does the work at a lower priority
    (:mod:`explorer.jobs.process`), so pages stay quick while it trains; ``in_process=True`` runs
    :func:`execute_run` in the job's thread instead (for encoders that exist only in this process).
    """
    _require_resolved(config)
    store = run_store
    run_id = store.new_id(dataset.fingerprint())

    if in_process:
        def body(report: Reporter, should_stop: StopFlag) -> Run:
            return execute_run(dataset, config, run_store=store, run_folder=store.root / run_id, report=report,
                               should_stop=should_stop, negatives=negatives)
    else:
        from explorer.jobs.process import process_body

        body = process_body(store, run_id, dataset, config, negatives)

    label = name or f"{config.method} fine-tune of {config.base_model} on {dataset.name}"
    return manager.submit(body, name=label, run_id=run_id, owner=owner)


# ------------------------------------------------------------------------------------------ steps
def _load_encoder(spec: str) -> "Encoder":
    from explorer.encoders.registry import load_encoder

    return load_encoder(spec)


def _tuned_encoder(run: Run, trained: Any) -> "Encoder":
    """The saved model or adapter, as the evaluation and the pages see it; a full fine-tune that trained over a
    cached frozen bottom is evaluated through it (:func:`explorer.training.full.saved_through_bottom`)."""
    from explorer.training.full import saved_through_bottom

    return saved_through_bottom(_load_encoder(str(run.path)), trained)


def _record_base(run: Run, base: "Encoder") -> None:
    """Add the base model's fingerprint and path to config.json."""
    from explorer.core.storage import write_json_atomic

    info = {"name": getattr(base, "name", type(base).__name__), "fingerprint": base.fingerprint}
    if getattr(base, "model_path", None) is not None:
        info["path"] = str(base.model_path)
    run.config = {**run.config, "base_model_info": {**run.config.get("base_model_info", {}), **info}}
    write_json_atomic(run.path / "config.json", run.config)


def _announce_plan(dataset: "Dataset", config: TrainConfig, base: "Encoder", emit: _Emitter) -> None:
    """Emit the run's plan (seconds per phase, :mod:`explorer.training.eta`) as its first event, so a page can
    show an ETA for the whole job from the start. Only full fine-tunes of sentence-transformers models are
    planned (an adapter trains in seconds); a failing estimate never fails the run."""
    from explorer.training import eta

    model = getattr(base, "model", None) if config.method == "full" else None
    if model is None or not hasattr(model, "tokenizer"):
        return
    try:
        texts = [p.full_text for p in dataset.corpus.values()]
        queries = [dataset.queries[q] for q in dataset.query_ids("test")]
        uncached = _uncached(base, texts, "passage") + _uncached(base, queries, "query")
        auto = getattr(model[0], "auto_model", None)
        layers = int(getattr(getattr(auto, "config", None), "num_hidden_layers", 6) or 6)
        plan = eta.plan_full_run(dataset, config, speed=eta.measure_speed(model, texts), layers=layers,
                                 count_tokens=lambda batch: eta.token_counts(model, batch), uncached_baseline=uncached)
    except Exception:  # noqa: BLE001 - the estimate is a courtesy; the run must go on without it
        return
    total = sum(plan.values())
    emit(ProgressEvent("baseline", 0, 0, eta_seconds=None, plan={k: round(v, 1) for k, v in plan.items()},
                       message=f"planned: about {total / 60:.1f} min in all"))


def _uncached(encoder: "Encoder", texts: list[str], kind: str) -> int:
    """How many of ``texts`` the encoder's cache does not hold yet."""
    from explorer.encoders.cache import EmbeddingCache, text_key

    if encoder.cache_dir is None:
        return len(set(texts))
    keys = list({text_key(t) for t in texts})
    found = EmbeddingCache(Path(encoder.cache_dir) / encoder.kind_fingerprint(kind)).get_many(keys)
    return len(keys) - len(found)


def _evaluate(dataset: "Dataset", encoder: "Encoder", emit: _Emitter, phase: str, label: str) -> Any:
    from explorer.evaluation.retrieval import evaluate_encoder

    emit(ProgressEvent(phase, 0, 0, message=f"evaluating the {label} on {len(dataset.query_ids('test'))} test queries"))
    result = evaluate_encoder(dataset, encoder, split="test", progress=emit.stage(phase))
    emit(ProgressEvent(phase, 1, 1, metrics=dict(result.metrics), message=f"{label}: test metrics"))
    return result


def _mine(dataset: "Dataset", base: "Encoder", config: TrainConfig, emit: _Emitter) -> "NegativeSet | None":
    from explorer.data.negatives import mine_hard_negatives

    emit(ProgressEvent("mining", 0, 0, message="mining hard negatives with the base model"))
    negatives = mine_hard_negatives(
        dataset, base, split="train", num_negatives=config.num_hard_negatives,
        range_min=config.hard_negative_range_min, range_max=config.hard_negative_range_max,
        progress=emit.stage("mining"),
    )
    kept = len(negatives.triplets())
    emit(ProgressEvent("mining", 1, 1, message=f"{kept} hard negatives kept; skipped: {negatives.skipped}"))
    return negatives


def _train(dataset: "Dataset", config: TrainConfig, base: "Encoder", emit: _Emitter, stop: StopFlag,
           negatives: "NegativeSet | None", frames: "_Frames | None" = None) -> Any:
    if config.method == "adapter":
        return _train_adapter(dataset, config, base, emit, stop, negatives)
    from explorer.training.full import train_full

    def snapshot(step: int, encoder: "Encoder", metrics: dict) -> None:
        if frames is not None:
            frames(step, f"step {step}", encoder, metrics)

    return train_full(dataset, config, callback=emit, should_stop=stop, negatives=negatives, snapshot=snapshot)


class _Frames:
    """Writes the run's training snapshots (:mod:`explorer.latent.snapshots`): baseline, each held-out point, final.

    A snapshot is a picture for the Latent page, never part of the result: a failure to write one is
    logged in the run's events and training goes on.
    """

    def __init__(self, run: Run, dataset: "Dataset") -> None:
        from explorer.latent.snapshots import SnapshotStore, snapshot_points

        self.store = SnapshotStore(run.path)
        self.run = run
        qids, pids = snapshot_points(dataset)
        self.queries = [dataset.queries[q] for q in qids]
        self.passages = dataset.passage_texts(pids)
        self.last_step = 0
        self.ok = self._try(lambda: self.store.start(qids, pids))

    def _try(self, write: Callable[[], None]) -> bool:
        try:
            write()
            return True
        except (StorageError, OSError, ValueError) as exc:
            self.run.append_event(ProgressEvent("training", 0, 0, message=f"snapshot not saved: {exc}"))
            return False

    def __call__(self, step: int, label: str, encoder: "Encoder", metrics: dict) -> None:
        if not self.ok:
            return
        import numpy as np

        vectors = np.vstack([encoder.encode(self.queries, "query"), encoder.encode(self.passages, "passage")])
        self.last_step = max(self.last_step, int(step))
        shown = {k: float(v) for k, v in metrics.items() if k in ("ndcg@10", "mrr@10", "recall@10")}
        self._try(lambda: self.store.add(step, label, vectors, shown))


def adapter_config(config: TrainConfig) -> Any:
    """The adapter trainer's settings: ``config.adapter`` options, plus the shared fields that were set."""
    from explorer.training.adapter import AdapterConfig

    options: dict[str, Any] = {"seed": config.seed, "use_hard_negatives": config.use_hard_negatives}
    for name in ("epochs", "learning_rate", "batch_size"):
        if getattr(config, name) is not None:
            options[name] = getattr(config, name)
    options.update(config.adapter)
    try:
        return AdapterConfig(**options).validate()
    except TypeError as exc:  # an unknown key in config.adapter
        raise TrainingError(f"Unknown adapter option in {sorted(config.adapter)}: {exc}.") from None


def _train_adapter(dataset: "Dataset", config: TrainConfig, base: "Encoder", emit: _Emitter, stop: StopFlag,
                   negatives: "NegativeSet | None") -> Any:
    from explorer.training.adapter import train_adapter

    return train_adapter(dataset, base, adapter_config(config), callback=emit, should_stop=stop,
                         negatives=negatives, progress=emit.note("training", "embedding training texts"))


def _save(run: Run, config: TrainConfig, trained: Any, negatives: "NegativeSet | None") -> None:
    kind = "adapter" if config.method == "adapter" else "model"
    with run.artifact_writer(kind) as folder:
        if kind == "adapter":
            trained.save(folder)
        else:
            trained.model.save(str(folder))
    if negatives is not None:
        negatives.save(run.path / "negatives.jsonl")


def _compare(dataset: "Dataset", baseline: Any, tuned_result: Any, seconds: float,
             negatives: "NegativeSet | None", folder: Path | None = None) -> dict[str, Any]:
    """evaluation.json: both metric sets and their paired comparison (the results are reused, not recomputed).

    With ``folder`` (the run folder), both models' per-query scores and ranked lists are also written there
    (:data:`~explorer.evaluation.stored.RESULTS_FILE`), and evaluation.json's ``stored`` entry names that file,
    so the result pages rebuild both results and their comparison without loading either model.
    """
    from explorer.evaluation.compare import compare_results
    from explorer.evaluation.stored import RESULTS_FILE, StoredResults, save_results

    comparison = compare_results(dataset, baseline, tuned_result, split="test", name_a="baseline", name_b="tuned")
    evaluation: dict[str, Any] = {
        "split": "test",
        "baseline": baseline.to_dict(),
        "tuned": tuned_result.to_dict(),
        "comparison": comparison.to_dict(),
        "training_seconds": round(seconds, 1),
        "negatives": None if negatives is None else {"triplets": len(negatives.triplets()), "skipped": negatives.skipped},
    }
    if folder is not None:
        stored = StoredResults({"baseline": baseline, "tuned": tuned_result}, dataset.fingerprint(), "test")
        size = save_results(Path(folder) / RESULTS_FILE, stored)
        evaluation["stored"] = {"file": RESULTS_FILE, "models": ["baseline", "tuned"], "split": "test",
                                "dataset_fingerprint": stored.dataset_fingerprint, "k": stored.k, "bytes": size}
    return evaluation
