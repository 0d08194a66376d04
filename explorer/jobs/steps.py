"""The steps of a training run, one concept each, in the order the engine (:mod:`explorer.jobs.execute`) runs
them: :func:`load`, :func:`baseline`, :func:`snapshot_baseline`, :func:`mine`, :func:`train`, :func:`save`,
:func:`evaluate`, :func:`snapshot_final`, :func:`compare`.

Each step takes the run's :class:`RunState` (the loaded dataset, the resolved config, the encoders and results
the earlier steps left) and adds what it makes; none resolves a choice or reads an upload again. Progress goes
through :class:`EventLog`, the run's log of :class:`~explorer.training.events.ProgressEvent` records.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.training import distributed
from explorer.training.config import TrainConfig
from explorer.training.recipes import adapter_config, nudge_config
from explorer.training.events import (
    ProgressEvent, Reporter, StopFlag, TrainingStopped, progress_events, progress_note,
)

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset
    from explorer.data.negatives import NegativeSet
    from explorer.encoders.base import Encoder
    from explorer.evaluation.retrieval import RetrievalResult
    from explorer.jobs.runs import Run
    from explorer.latent.snapshots import SnapshotWriter
    from explorer.training.selection import SelectionResult

PROGRESS_INTERVAL = 0.5
"""Progress-only events (no metrics, no loss) of one phase are logged at most this often."""
SUMMARY_METRICS = ("ndcg@10", "mrr@10", "recall@100")
"""The metrics status.json keeps for both models (the runs table reads them without opening evaluation.json)."""
NUDGE_FACTS = ("variant", "gamma", "reached_passages", "moved_passages", "max_shift")
"""What evaluation.json records of a corpus-side (NUDGE) run."""


class EventLog:
    """Logs events to the run's metrics.jsonl and forwards them to the caller (throttling bare progress)."""

    def __init__(self, run: "Run", report: Reporter) -> None:
        self.run, self.report = run, report
        self._last: dict[str, float] = {}
        self.spent: Any = None
        """The base encoder once loaded: an API encoder's ``spent_usd`` fills each event's ``cost``."""

    def __call__(self, event: ProgressEvent) -> None:
        if event.cost is None and getattr(self.spent, "spent_usd", None) is not None:
            event = replace(event, cost=self.spent.spent_usd)
        plain = not event.metrics and event.loss is None and not event.message
        finished = event.total_steps > 0 and event.step >= event.total_steps
        if plain and not finished and time.monotonic() - self._last.get(event.phase, 0.0) < PROGRESS_INTERVAL:
            self.report(event)  # the live view still moves; the log stays small
            return
        self._last[event.phase] = time.monotonic()
        self.run.append_event(event)
        self.report(event)


@dataclass
class RunState:
    """What the steps of one run share: its inputs, and what each step leaves for the next ones."""

    run: "Run"
    dataset: "Dataset"
    config: TrainConfig
    emit: EventLog
    stop: StopFlag
    negatives: "NegativeSet | None" = None
    base: "Encoder | None" = None
    baseline: "RetrievalResult | None" = None
    frames: "SnapshotWriter | None" = None
    trained: Any = None
    seconds: float = 0.0
    tuned_encoder: "Encoder | None" = None
    tuned: "RetrievalResult | None" = None
    selection: "SelectionResult | None" = None
    shared: bool = False
    """Under torchrun: whether the other ranks got the negatives (else they must hear of the error)."""

    def check_stop(self) -> None:
        """Raise :class:`TrainingStopped` when the stop flag is up."""
        if self.stop():
            raise TrainingStopped("stopped on request")

    def summary(self) -> dict[str, dict[str, float | None]]:
        """Both models' headline metrics, for status.json."""
        return {m: {"baseline": self.baseline.metrics.get(m), "tuned": self.tuned.metrics.get(m)}
                for m in SUMMARY_METRICS}


def load_encoder(spec: str) -> "Encoder":
    """The encoder a spec or run folder names."""
    from explorer.encoders.registry import load_encoder as load

    return load(spec)


# ------------------------------------------------------------------------------------------ the steps
def load(s: RunState) -> None:
    """The base encoder (unless the caller gave one), recorded in config.json; the demo's shipped vectors; the
    run's plan as its first event."""
    from explorer.data.demo import DEMO_NAME
    from explorer.data.demo_embeddings import seed_demo_embeddings
    from explorer.training.eta import announce_plan

    s.base = s.base or load_encoder(s.config.base_model)
    s.emit.spent = s.base
    record_base(s.run, s.base)
    if s.dataset.source == DEMO_NAME:
        seed_demo_embeddings(s.base)  # the shipped baseline vectors, if they are this encoder's
    announce_plan(s.dataset, s.config, s.base, s.emit)


def baseline(s: RunState) -> None:
    """The base encoder on the test split."""
    s.baseline = _evaluate(s, s.base, "baseline", "base model")


def snapshot_baseline(s: RunState) -> None:
    """Start the run's training snapshots with the base encoder's frame."""
    from explorer.latent.snapshots import SnapshotWriter

    s.frames = SnapshotWriter(s.run.path, s.dataset, warn=lambda message: s.run.append_event(
        ProgressEvent("training", 0, 0, message=message)))
    s.frames.add(0, "baseline", s.base, s.baseline.metrics)


def mine(s: RunState) -> None:
    """Hard negatives mined with the base encoder (unless given, or switched off); under torchrun, shared with
    the other ranks."""
    s.check_stop()
    if s.negatives is None and s.config.use_hard_negatives:
        from explorer.data.negatives import mine_hard_negatives

        s.emit(ProgressEvent("mining", 0, 0, message="mining hard negatives with the base model"))
        s.negatives = mine_hard_negatives(
            s.dataset, s.base, split="train", num_negatives=s.config.num_hard_negatives,
            range_min=s.config.hard_negative_range_min, range_max=s.config.hard_negative_range_max,
            progress=progress_events(s.emit, "mining"),
        )
        kept = len(s.negatives.triplets())
        s.emit(ProgressEvent("mining", 1, 1, message=f"{kept} hard negatives kept; skipped: {s.negatives.skipped}"))
    if distributed.is_distributed():
        distributed.broadcast({"negatives": s.negatives})
        s.shared = True


def dev_ids(dataset: "Dataset", config: TrainConfig) -> list[str]:
    """The run's dev split: training queries held out to choose its point (the same on every rank)."""
    from explorer.training.selection import DEV_FRACTION, dev_split

    return dev_split(dataset.query_ids("train"), DEV_FRACTION, seed=config.seed)[1]


def train(s: RunState) -> None:
    """A full fine-tune (snapshots at its dev evaluations), an adapter or NUDGE (the corpus side), each keeping
    its best point on the run's dev split (the base model included); the training time and the choice are kept."""
    from explorer.training.selection import DevScorer, SelectionResult

    s.check_stop()
    started = time.monotonic()
    dev = dev_ids(s.dataset, s.config)
    if s.config.method == "adapter":
        from explorer.training.adapter import train_adapter

        s.trained = train_adapter(s.dataset, s.base, adapter_config(s.config), callback=s.emit, should_stop=s.stop,
                                  negatives=s.negatives, dev_ids=dev,
                                  progress=progress_note(s.emit, "training", "embedding training texts"))
        s.selection = SelectionResult.from_dict(s.trained.metadata["selection"])
    elif s.config.method == "nudge":
        from explorer.training.nudge import train_nudge

        s.trained = train_nudge(s.dataset, s.base, nudge_config(s.config), callback=s.emit, should_stop=s.stop,
                                dev_ids=dev, progress=progress_note(s.emit, "training", "embedding training texts"))
        s.selection = SelectionResult.from_dict(s.trained.metadata["selection"])
    else:
        from explorer.training.full import train_full

        # Step 0 is the base model: its corpus vectors are cached from the baseline, so this costs the dev queries.
        base = DevScorer(s.dataset, dev).score_encoder(s.base) if dev and s.config.eval_every_steps != 0 else None
        s.trained = train_full(s.dataset, s.config, callback=s.emit, should_stop=s.stop, negatives=s.negatives,
                               snapshot=s.frames.at_step if s.frames is not None else None, dev_ids=dev,
                               dev_base=base)
        s.selection = s.trained.selection
    s.seconds = time.monotonic() - started
    s.emit(ProgressEvent("training", 1, 1, message=s.selection.summary()))


def save(s: RunState) -> None:
    """The trained model (or adapter) into the run folder, atomically; the negatives beside it."""
    s.emit(ProgressEvent("saving", 0, 1, message=f"saving the {s.config.method} to {s.run.artifact_dir}"))
    kind = {"adapter": "adapter", "nudge": "nudge"}.get(s.config.method, "model")
    with s.run.artifact_writer(kind) as folder:
        if kind != "model":
            s.trained.save(folder)
        else:
            s.trained.model.save(str(folder))
    if s.negatives is not None:
        s.negatives.save(s.run.path / "negatives.jsonl")
    s.emit(ProgressEvent("saving", 1, 1, message="saved"))


def evaluate(s: RunState) -> None:
    """The saved model (or adapter) on the test split, as the pages will load it; a full fine-tune that trained
    over a cached frozen bottom is evaluated through it (:func:`explorer.encoders.trained.saved_through_bottom`)."""
    from explorer.encoders.trained import saved_through_bottom

    s.tuned_encoder = saved_through_bottom(load_encoder(str(s.run.path)), s.trained)
    s.tuned = _evaluate(s, s.tuned_encoder, "evaluating", "tuned model")


def snapshot_final(s: RunState) -> None:
    """The tuned encoder's frame, after the last one training took."""
    if s.frames is not None:
        s.frames.add(s.frames.last_step + 1, "final", s.tuned_encoder, s.tuned.metrics)


def compare(s: RunState) -> None:
    """evaluation.json and the stored results (:func:`evaluation_record`)."""
    record = evaluation_record(s.dataset, s.baseline, s.tuned, s.seconds, s.negatives, s.run.path)
    if s.selection is not None:
        record["selection"] = s.selection.to_dict()
    if s.config.method == "nudge":  # the bound kept and what it moved, for the card and the pages
        record["nudge"] = {k: s.trained.metadata.get(k) for k in NUDGE_FACTS}
    s.run.write_evaluation(record)


# ------------------------------------------------------------------------------------------ their parts
def record_base(run: "Run", base: "Encoder") -> None:
    """Add the base model's fingerprint and path to config.json."""
    from explorer.core.storage import write_json_atomic

    info = {"name": getattr(base, "name", type(base).__name__), "fingerprint": base.fingerprint}
    if getattr(base, "model_path", None) is not None:
        info["path"] = str(base.model_path)
    run.config = {**run.config, "base_model_info": {**run.config.get("base_model_info", {}), **info}}
    write_json_atomic(run.path / "config.json", run.config)


def _evaluate(s: RunState, encoder: "Encoder", phase: str, label: str) -> "RetrievalResult":
    from explorer.evaluation.retrieval import evaluate_encoder

    queries = len(s.dataset.query_ids("test"))
    s.emit(ProgressEvent(phase, 0, 0, message=f"evaluating the {label} on {queries} test queries"))
    result = evaluate_encoder(s.dataset, encoder, split="test", progress=progress_events(s.emit, phase))
    s.emit(ProgressEvent(phase, 1, 1, metrics=dict(result.metrics), message=f"{label}: test metrics"))
    return result


def evaluation_record(dataset: "Dataset", baseline: Any, tuned: Any, seconds: float,
                      negatives: "NegativeSet | None", folder: Path | None = None) -> dict[str, Any]:
    """evaluation.json: both metric sets and their paired comparison (the results are reused, not recomputed).

    With ``folder`` (the run folder), both models' per-query scores and ranked lists are also written there
    (:data:`~explorer.evaluation.stored.RESULTS_FILE`), and evaluation.json's ``stored`` entry names that file,
    so the result pages rebuild both results and their comparison without loading either model.
    """
    from explorer.evaluation.compare import compare_results
    from explorer.evaluation.novelty import novelty_record
    from explorer.evaluation.stored import RESULTS_FILE, StoredResults, save_results

    comparison = compare_results(dataset, baseline, tuned, split="test", name_a="baseline", name_b="tuned")
    evaluation: dict[str, Any] = {
        "split": "test",
        "baseline": baseline.to_dict(),
        "tuned": tuned.to_dict(),
        "comparison": comparison.to_dict(),
        "training_seconds": round(seconds, 1),
        "negatives": None if negatives is None else {"triplets": len(negatives.triplets()), "skipped": negatives.skipped},
    }
    evaluation["novelty"] = novelty_record(comparison, dataset)  # the change on test queries with unseen passages
    if folder is not None:
        stored = StoredResults({"baseline": baseline, "tuned": tuned}, dataset.fingerprint(), "test")
        size = save_results(Path(folder) / RESULTS_FILE, stored)
        evaluation["stored"] = {"file": RESULTS_FILE, "models": ["baseline", "tuned"], "split": "test",
                                "dataset_fingerprint": stored.dataset_fingerprint, "k": stored.k, "bytes": size}
    return evaluation
