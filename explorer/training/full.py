"""Full fine-tuning of a sentence-transformers model with ``SentenceTransformerTrainer``.

The trainer, losses, batch sampler and learning-rate schedule all come from sentence-transformers and
transformers; this module only turns a :class:`~explorer.data.model.Dataset` (plus optional mined negatives)
into training columns, picks the loss by name, and bridges the trainer's callbacks to our
:class:`~explorer.training.events.ProgressEvent` reporter and stop flag. It always trains a *fresh copy*
loaded from the base model's folder, never a model object someone else holds.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from explorer.data.sampling import random_negatives as sample_negatives
from explorer.data.sampling import sample_passages, sample_queries
from explorer.core.errors import ModelError, TrainingError
from explorer.training.buckets import length_bucketed
from explorer.training.config import IN_BATCH_LOSSES, TrainConfig
from explorer.training.events import (
    ProgressEvent, Reporter, StopFlag, TrainingStopped, check_loss, never_stop, no_report,
)

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset
    from explorer.data.negatives import NegativeSet
    from explorer.encoders.base import Encoder


FIRST_EVAL_SECONDS = 30.0
"""With the auto cadence, the first held-out evaluation comes this far into training (then at least as often)."""
EVAL_COST_SHARE = 10.0
"""With the auto cadence, the time between two evaluations is at least this many times one evaluation's cost."""


# ------------------------------------------------------------------------------------------ training data
def training_columns(
    dataset: "Dataset", config: TrainConfig, negatives: "NegativeSet | None" = None
) -> dict[str, list[Any]]:
    """The training table, as columns for ``datasets.Dataset.from_dict``.

    In-batch losses (mnrl, cached_mnrl) get ``anchor``, ``positive`` and, when ``negatives`` is given,
    ``negative_1..k`` (k = ``config.num_hard_negatives``): one row per (train query, passage with grade >=
    the positive grade). A pair with fewer than k included negatives is topped up with random non-relevant
    passages (seeded), so no pair is dropped. Pair losses (contrastive, online_contrastive) get
    ``sentence1``, ``sentence2``, ``label``: 1 for positives, 0 for the given negatives, judged grade-0
    passages, and (when there are no negatives at all) one random non-relevant passage per positive.
    """
    grade = config.positive_grade(dataset)
    rng = random.Random(config.seed)
    pids = dataset.passage_ids()
    pairs = [(q, p) for q in dataset.query_ids("train") for p in sorted(dataset.positives(q, grade))]
    if not pairs:
        raise TrainingError(f"Dataset {dataset.name!r} has no train-split judgement with grade >= {grade}.")
    by_pair: dict[tuple[str, str], list[str]] = {}
    for query, positive, negative in (negatives.triplets() if negatives is not None else []):
        found = by_pair.setdefault((query, positive), [])
        if negative not in found:
            found.append(negative)

    def text(pid: str) -> str:
        return dataset.corpus[pid].full_text

    def random_negatives(qid: str, n: int, taken: list[str]) -> list[str]:
        # Distinct by text: a negative must differ from the pair's positive and its other negatives.
        drawn = sample_negatives(rng, pids, n, exclude=set(dataset.positives(qid, 1)), key=text, taken=taken)
        return [text(pid) for pid in drawn]

    if config.loss in IN_BATCH_LOSSES:
        cols: dict[str, list[Any]] = {"anchor": [], "positive": []}
        k = config.num_hard_negatives if negatives is not None else 0
        for i in range(k):
            cols[f"negative_{i + 1}"] = []
        for qid, pid in pairs:
            query, positive = dataset.queries[qid], dataset.corpus[pid].full_text
            negs = by_pair.get((query, positive), [])[:k]
            negs += random_negatives(qid, k - len(negs), negs + [positive])
            if len(negs) < k:  # a corpus too small to find k distinct non-relevant passages
                continue
            cols["anchor"].append(query)
            cols["positive"].append(positive)
            for i, neg in enumerate(negs):
                cols[f"negative_{i + 1}"].append(neg)
        return cols

    cols = {"sentence1": [], "sentence2": [], "label": []}
    for qid, pid in pairs:
        query, positive = dataset.queries[qid], dataset.corpus[pid].full_text
        cols["sentence1"].append(query)
        cols["sentence2"].append(positive)
        cols["label"].append(1.0)
        negs = by_pair.get((query, positive), [])[: config.num_hard_negatives]
        if negatives is None:
            negs = random_negatives(qid, 1, [positive])
        for neg in negs:
            cols["sentence1"].append(query)
            cols["sentence2"].append(neg)
            cols["label"].append(0.0)
    for qid in dataset.query_ids("train"):
        for pid, g in sorted(dataset.qrels[qid].items()):
            if g == 0:  # judged irrelevant: a labelled negative the data gives for free
                cols["sentence1"].append(dataset.queries[qid])
                cols["sentence2"].append(dataset.corpus[pid].full_text)
                cols["label"].append(0.0)
    return cols


def build_loss(model: Any, config: TrainConfig) -> Any:
    """The sentence-transformers loss named by ``config.loss`` (wrapped in MatryoshkaLoss if dims are set)."""
    from sentence_transformers.sentence_transformer import losses

    if config.loss == "mnrl":
        loss = losses.MultipleNegativesRankingLoss(model)
    elif config.loss == "cached_mnrl":
        loss = losses.CachedMultipleNegativesRankingLoss(model, mini_batch_size=config.mini_batch_size)
    elif config.loss == "contrastive":
        loss = losses.ContrastiveLoss(model)
    elif config.loss == "online_contrastive":
        loss = losses.OnlineContrastiveLoss(model)
    else:  # validate() rejects unknown names first; this guards direct callers
        raise TrainingError(f"Unknown loss {config.loss!r}.")
    if config.matryoshka_dims:
        dim = (getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension)()
        too_big = [d for d in config.matryoshka_dims if dim is not None and d > dim]
        if too_big:
            raise TrainingError(f"matryoshka_dims {too_big} exceed the model's embedding size {dim}; use smaller dims.")
        loss = losses.MatryoshkaLoss(model, loss, matryoshka_dims=sorted(config.matryoshka_dims, reverse=True))
    return loss


# ------------------------------------------------------------------------------------------ encoders
def base_model_path(spec: str) -> str:
    """Folder of the sentence-transformers model a spec names (the copy to fine-tune is loaded from it).

    Raises:
        TrainingError: the spec is not a sentence-transformers model (e.g. an API model or the fake encoder).
    """
    from explorer.encoders.registry import load_encoder

    encoder = load_encoder(spec)
    path = getattr(encoder, "model_path", None)
    if path is None:
        raise TrainingError(
            f"{spec!r} is not a sentence-transformers model, so its weights cannot be fine-tuned; "
            "use method 'adapter' (trains on its frozen embeddings) or pick a sentence-transformers model."
        )
    return str(path)


def wrap_model(model: Any, name: str, cached: bool = False, *, scratch: str | Path | None = None,
               bottom: Any = None) -> "Encoder":
    """An :class:`~explorer.encoders.base.Encoder` over a model in memory.

    Args:
        model: the SentenceTransformer.
        name: shown in messages.
        cached: the final weights: cached in the embedding cache by a hash of the weights. Otherwise (while
            training, the weights keep changing) a one-off fingerprint, with vectors kept only in ``scratch``
            (a folder the caller deletes), or nowhere.
        bottom: a :class:`~explorer.training.lower_cache.LowerLayerCache` of the model's frozen bottom: every
            batch then runs only the layers above it (texts it does not hold are computed in full).
    """
    import uuid

    from explorer.encoders.sentence import SentenceTransformerEncoder

    cls = SentenceTransformerEncoder if bottom is None else _bottom_cached_class()
    if cached:
        encoder = cls.from_model(model, name=name)
    else:
        encoder = cls.from_model(model, name=name, fingerprint=f"live-{uuid.uuid4().hex}", cache_dir=scratch)
    if bottom is not None:
        encoder.bottom = bottom
    return encoder


def _bottom_cached_class() -> type:
    """An encoder class whose batches run through a frozen-bottom cache (defined on first use: lazy imports)."""
    from explorer.encoders.sentence import SentenceTransformerEncoder

    class BottomCachedEncoder(SentenceTransformerEncoder):
        bottom: Any = None

        def embed_batch(self, texts: list[str], kind: Any) -> Any:
            with self.bottom.attached():
                return super().embed_batch(texts, kind)

    return BottomCachedEncoder


def saved_through_bottom(saved: "Encoder", trained: Any) -> "Encoder":
    """The encoder to evaluate a finished full fine-tune with.

    ``saved`` is the encoder of the saved model folder, and ``trained`` is what :func:`train_full` returned.
    When ``trained`` still holds the frozen bottom's stored outputs, the result has ``saved``'s identity
    (fingerprint and cache, so later pages reuse the vectors), but it embeds with the model in memory, which
    has the same weights, through that bottom: the vectors are the same and take half the work. Otherwise the
    result is ``saved`` itself.
    """
    if getattr(trained, "bottom", None) is None:
        return saved
    from explorer.encoders.base import Encoder

    class SavedThroughBottom(Encoder):
        def __init__(self) -> None:
            super().__init__(saved.cache_dir)
            self.name, self.batch_size = saved.name, saved.batch_size

        @property
        def fingerprint(self) -> str:
            return saved.fingerprint

        def kind_fingerprint(self, kind: Any) -> str:
            return saved.kind_fingerprint(kind)

        def embed_batch(self, texts: list[str], kind: Any) -> Any:
            return trained.embed_batch(texts, kind)

    return SavedThroughBottom()


def _eval_subset(dataset: "Dataset", max_queries: int, max_passages: int, seed: int) -> "Dataset":
    """A held-out sample small enough to evaluate during training: test queries (at most ``max_queries``),
    every passage judged for them, and random other passages up to ``max_passages`` (the whole corpus if
    smaller), in corpus order."""
    rng = random.Random(seed)
    qids = sample_queries(dataset.query_ids("test"), max_queries, rng)
    keep = set(sample_passages(dataset, qids, max_passages, rng, min_grade=0, keep_all_judged=True))
    corpus_ids = [p for p in dataset.passage_ids() if p in keep]
    return replace(
        dataset,
        queries={q: dataset.queries[q] for q in qids},
        corpus={p: dataset.corpus[p] for p in corpus_ids},
        qrels={q: {p: g for p, g in dataset.qrels[q].items() if p in keep} for q in qids},
        split={q: "test" for q in qids},
        hard_negative_candidates={},
    )


# ------------------------------------------------------------------------------------------ the trainer bridge
Snapshot = Callable[[int, "Encoder", dict], None]
"""``snapshot(step, encoder, held_out_metrics)``: called at each held-out evaluation with the model as it is."""


def _make_callback(report: Reporter, should_stop: StopFlag, model: Any, eval_data: "Dataset | None", config: TrainConfig,
                   snapshot: Snapshot | None = None) -> Any:
    from transformers import TrainerCallback

    class ProgressBridge(TrainerCallback):
        """Relays step, loss, lr, ETA and sampled evaluations to ``report``; obeys ``should_stop``."""

        def __init__(self) -> None:
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
            report(ProgressEvent("training", 0, state.max_steps, epoch=0.0, message="training started"))

        def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kwargs: Any) -> None:
            logs = logs or {}
            if "loss" not in logs:
                return
            loss = check_loss(logs["loss"], state.global_step)
            self.loss = loss
            if state.is_world_process_zero:
                report(ProgressEvent(
                    "training", state.global_step, state.max_steps, epoch=state.epoch, loss=loss,
                    lr=logs.get("learning_rate"), eta_seconds=self._eta(state),
                ))
            self._check_stop(control)  # logging follows on_step_end: look again so a stop lands this step

        def _check_stop(self, control: Any) -> bool:
            if self.stopped or should_stop():
                self.stopped = True
                control.should_training_stop = True
                control.should_epoch_stop = True
            return self.stopped

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self._check_stop(control) or state.global_step >= state.max_steps:
                return  # the last step is followed by the run's full evaluation
            every = config.eval_every_steps
            if every and state.global_step % every == 0:
                self._evaluate(state)
            elif every is None and self._eval_due(state):
                self._evaluate(state)

        def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            # Auto cadence: also at the end of every epoch but the last (the run's full evaluation follows that).
            if self.stopped or config.eval_every_steps is not None or state.global_step >= state.max_steps:
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
            if eval_data is None or not state.is_world_process_zero:
                return
            from explorer.evaluation.retrieval import evaluate_encoder

            began = time.monotonic()
            with tempfile.TemporaryDirectory(prefix="explorer-heldout-") as scratch:
                # The snapshot's texts are mostly held-out texts: the scratch cache embeds each once per evaluation.
                encoder = wrap_model(model, "training", scratch=scratch)
                result = evaluate_encoder(eval_data, encoder, split="test", k=100)
                if snapshot is not None:  # where a fixed sample of test points sits now (the Latent page plays them)
                    snapshot(state.global_step, encoder, dict(result.metrics))
            model.train()  # encode() switched to eval mode; dropout must be back on for the next steps
            self.last_eval = time.monotonic()
            self.eval_seconds = self.last_eval - began
            report(ProgressEvent(
                "training", state.global_step, state.max_steps, epoch=state.epoch, loss=self.loss,
                eta_seconds=self._eta(state), metrics=dict(result.metrics),
                message=f"held-out sample: {len(eval_data.queries)} queries, {len(eval_data.corpus)} passages",
            ))

    return ProgressBridge()


def _frozen_bottom(model: Any, config: TrainConfig, columns: dict[str, list[Any]], eval_data: "Dataset | None",
                   report: Reporter) -> Any:
    """The context training runs in: with ``config.train_layers`` set, everything below the top layers is frozen
    and its outputs computed once per text (:mod:`explorer.training.lower_cache`; the context yields the cache);
    otherwise nothing changes (it yields None)."""
    import contextlib

    from explorer.training.lower_cache import cached_lower_layers, transformer_parts

    parts = transformer_parts(model)
    if not config.train_layers or parts is None or config.train_layers >= len(parts[2]):
        if config.train_layers and parts is None:
            report(ProgressEvent("training", 0, 0, message="this model's layers cannot be frozen: training all of them"))
        return contextlib.nullcontext()
    texts = [t for name, col in columns.items() if name != "label" for t in col if isinstance(t, str)]
    if eval_data is not None:
        texts += list(eval_data.queries.values()) + [p.full_text for p in eval_data.corpus.values()]
    frozen = len(parts[2]) - config.train_layers
    report(ProgressEvent("training", 0, 0, message=f"computing the {frozen} frozen lower layers once for "
                                                    f"{len(set(texts)):,} texts"))
    return cached_lower_layers(model, frozen, texts)


def training_arguments(config: TrainConfig, output_dir: str, device: str) -> Any:
    """``SentenceTransformerTrainingArguments`` for a run: no hub, no reporting, no checkpoints."""
    from sentence_transformers import SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers

    from explorer.encoders.hardware import use_bf16
    from explorer.training import distributed

    sampler = BatchSamplers.NO_DUPLICATES if config.loss in IN_BATCH_LOSSES else BatchSamplers.BATCH_SAMPLER
    return SentenceTransformerTrainingArguments(
        output_dir=output_dir,
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        warmup_steps=config.warmup_ratio,  # a float in [0, 1) is a ratio of the total steps
        weight_decay=config.weight_decay,
        seed=config.seed,
        data_seed=config.seed,
        batch_sampler=sampler,
        bf16=bool(use_bf16(device)),
        use_cpu=device == "cpu",
        ddp_backend=("nccl" if device == "cuda" else "gloo") if distributed.is_distributed() else None,
        report_to="none",
        push_to_hub=False,
        save_strategy="no",
        eval_strategy="no",
        logging_strategy="steps",
        logging_steps=1,
        logging_nan_inf_filter=False,  # a NaN must surface, not be averaged away
        disable_tqdm=True,
        dataloader_drop_last=False,
    )


def train_full(
    dataset: "Dataset",
    config: TrainConfig,
    *,
    callback: Reporter | None = None,
    should_stop: StopFlag | None = None,
    negatives: "NegativeSet | None" = None,
    out_dir: str | Path | None = None,
    snapshot: Snapshot | None = None,
) -> "Encoder":
    """Fine-tune a fresh copy of ``config.base_model`` on the dataset's train split.

    Args:
        dataset: training pairs come from its train split, the sampled evaluation from its test split.
        config: a resolved or unresolved :class:`TrainConfig` (auto fields are resolved here).
        callback: receives a ProgressEvent per optimizer step (loss, lr, ETA) and per sampled evaluation.
        should_stop: polled after every step; when it turns true training stops and TrainingStopped is raised.
        snapshot: called at each held-out evaluation with the model being trained, wrapped as an encoder
            (see :mod:`explorer.latent.snapshots`); not called for runs without held-out evaluations.
        negatives: hard (or weak) negatives; rows marked excluded are left out.
        out_dir: if given, the trained model is saved there (sentence-transformers folder layout).

    Returns:
        An encoder over the trained model (not cached on disk; load the saved folder for a cached one).

    Raises:
        TrainingError: bad parameters, a non-trainable base model, or a loss that became NaN.
        TrainingStopped: ``should_stop()`` turned true.
    """
    from explorer.encoders.hardware import pick_device

    report = callback or no_report
    stop = should_stop or never_stop
    # A run's config was resolved once by the pipeline; a direct call (a notebook, a benchmark) resolves here.
    config = (config if config.is_resolved else config.resolve(dataset)).validate(dataset)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import datasets as hf_datasets
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
    from transformers import PrinterCallback

    device = pick_device()  # the machine's device (EXPLORER_DEVICE, else CUDA when present, else CPU)
    path = base_model_path(config.base_model)
    try:
        model = SentenceTransformer(path, device=device)
    except (OSError, ValueError) as exc:
        raise ModelError(f"Cannot load the base model from {path}: {exc}") from exc
    if config.max_seq_length:
        model.max_seq_length = config.max_seq_length
    columns = training_columns(dataset, config, negatives)
    n_rows = len(next(iter(columns.values())))
    if config.loss in IN_BATCH_LOSSES and n_rows < 2:
        raise TrainingError(f"Only {n_rows} training pair; in-batch losses need at least 2.")
    train_data = hf_datasets.Dataset.from_dict(columns)
    eval_data = None
    if config.eval_every_steps != 0 and dataset.query_ids("test"):
        eval_data = _eval_subset(dataset, config.eval_max_queries, config.eval_max_passages, config.seed)
    bridge = _make_callback(report, stop, model, eval_data, config, snapshot)
    if stop():
        raise TrainingStopped("stopped before training started")
    tmp = tempfile.mkdtemp(prefix="explorer-trainer-")
    try:
        with _frozen_bottom(model, config, columns, eval_data, report) as bottom, length_bucketed(model):
            args = training_arguments(replace(config, batch_size=min(config.batch_size, max(2, n_rows))), tmp, device)
            card = getattr(model, "model_card_data", None)
            if card is not None:
                # The model card would look the base model up online and sample "widget examples" with the global
                # random module (slow, and it moves every other user's random state): skip both.
                card.local_files_only = True
                card.set_widget_examples = lambda dataset: None
            trainer = SentenceTransformerTrainer(
                model=model, args=args, train_dataset=train_data, loss=build_loss(model, config), callbacks=[bridge],
            )
            trainer.remove_callback(PrinterCallback)  # prints every log dict to stdout; our bridge reports instead
            trainer.train()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if bridge.stopped:
        raise TrainingStopped("training stopped on request")
    model.eval()
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        model.save(str(out_dir))
    # Evaluating the result reuses the frozen bottom's stored outputs (full precision: the saved model's vectors).
    return wrap_model(model, name=f"{config.base_model} (fine-tuned)", cached=True, bottom=bottom)
