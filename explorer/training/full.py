"""Full fine-tuning of a sentence-transformers model with ``SentenceTransformerTrainer``.

The trainer, losses, batch sampler and learning-rate schedule all come from sentence-transformers and
transformers; this module only turns a :class:`~explorer.data.model.Dataset` (plus optional mined negatives)
into training columns, picks the loss class by name (:data:`LOSS_CLASSES`), and hands the trainer a callback
(:class:`~explorer.training.callback.ProgressBridge`) that reports to a job and obeys its stop flag. It always
trains a *fresh copy* loaded from the base model's folder, never a model object someone else holds.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.core.errors import ModelError, TrainingError
from explorer.data.sampling import random_negatives
from explorer.encoders.trained import wrap_model
from explorer.training.buckets import length_bucketed
from explorer.training.config import IN_BATCH_LOSSES, TrainConfig
from explorer.training.events import ProgressEvent, Reporter, StopFlag, TrainingStopped, never_stop, no_report

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset
    from explorer.data.negatives import NegativeSet
    from explorer.encoders.base import Encoder
    from explorer.training.callback import Snapshot

LOSS_CLASSES = {
    "mnrl": "MultipleNegativesRankingLoss",
    "cached_mnrl": "CachedMultipleNegativesRankingLoss",
    "contrastive": "ContrastiveLoss",
    "online_contrastive": "OnlineContrastiveLoss",
}
"""Each loss a config may name, and the ``sentence_transformers.losses`` class it stands for (named here, looked
up when a model trains: the library is not imported before)."""
LOSS_OPTIONS = {"cached_mnrl": ("mini_batch_size",)}
"""The config fields a loss class takes besides the model."""


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

    def draw(qid: str, n: int, taken: list[str]) -> list[str]:
        # Distinct by text: a negative must differ from the pair's positive and its other negatives.
        return [text(p) for p in random_negatives(rng, pids, n, exclude=set(dataset.positives(qid, 1)), key=text,
                                                  taken=taken)]

    if config.loss in IN_BATCH_LOSSES:
        cols: dict[str, list[Any]] = {"anchor": [], "positive": []}
        k = config.num_hard_negatives if negatives is not None else 0
        for i in range(k):
            cols[f"negative_{i + 1}"] = []
        for qid, pid in pairs:
            query, positive = dataset.queries[qid], dataset.corpus[pid].full_text
            negs = by_pair.get((query, positive), [])[:k]
            negs += draw(qid, k - len(negs), negs + [positive])
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
            negs = draw(qid, 1, [positive])
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

    if config.loss not in LOSS_CLASSES:  # validate() rejects unknown names first; this guards direct callers
        raise TrainingError(f"Unknown loss {config.loss!r}; use one of: {', '.join(LOSS_CLASSES)}.")
    options = {name: getattr(config, name) for name in LOSS_OPTIONS.get(config.loss, ())}
    loss = getattr(losses, LOSS_CLASSES[config.loss])(model, **options)
    if config.matryoshka_dims:
        dim = (getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension)()
        too_big = [d for d in config.matryoshka_dims if dim is not None and d > dim]
        if too_big:
            raise TrainingError(f"matryoshka_dims {too_big} exceed the model's embedding size {dim}; use smaller dims.")
        loss = losses.MatryoshkaLoss(model, loss, matryoshka_dims=sorted(config.matryoshka_dims, reverse=True))
    return loss


# ------------------------------------------------------------------------------------------ the base model
def base_model_path(spec: str) -> str:
    """Folder of the sentence-transformers model a spec names (the copy to fine-tune is loaded from it).

    Raises:
        TrainingError: the spec is not a sentence-transformers model (e.g. an API model or the fake encoder).
    """
    from explorer.encoders.registry import load_encoder
    from explorer.encoders.sentence import local_model_path

    encoder = load_encoder(spec)
    path = local_model_path(encoder)
    if path is None:
        raise TrainingError(
            f"{spec!r} is not a sentence-transformers model, so its weights cannot be fine-tuned; "
            "use method 'adapter' (trains on its frozen embeddings) or pick a sentence-transformers model."
        )
    return str(path)


def _frozen_bottom(model: Any, config: TrainConfig, columns: dict[str, list[Any]], dev: Any,
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
    if dev is not None:  # the dev queries and the whole corpus, embedded at every dev evaluation
        texts += dev.query_texts + dev.passage_texts
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
    snapshot: "Snapshot | None" = None,
    dev_ids: list[str] | None = None,
    dev_base: float | None = None,
) -> "Encoder":
    """Fine-tune a fresh copy of ``config.base_model`` on the dataset's train split, keeping its best dev point.

    Args:
        dataset: training pairs come from its train split less the dev queries; its test split is not read.
        config: a resolved or unresolved :class:`TrainConfig` (auto fields are resolved here).
        callback: receives a ProgressEvent per optimizer step (loss, lr, ETA) and per sampled evaluation.
        should_stop: polled after every step; when it turns true training stops and TrainingStopped is raised.
        snapshot: called at each dev evaluation with the model being trained, wrapped as an encoder
            (see :mod:`explorer.latent.snapshots`); not called for runs without dev evaluations.
        dev_ids: the dev split (training queries held out; :func:`~explorer.training.selection.dev_split`);
            with ``config.eval_every_steps != 0`` they are scored over the whole corpus at step 0 (the base
            model) and at each evaluation, the best point is kept (``config.keep="best"``, the base model
            included) and training stops early when dev stops improving. None or empty: no dev evaluation, the
            last point is kept.
        dev_base: the base model's dev score, when the caller measured it (else it is measured here).
        negatives: hard (or weak) negatives; rows marked excluded are left out.
        out_dir: if given, the trained model is saved there (sentence-transformers folder layout).

    Returns:
        An encoder over the trained model (not cached on disk; load the saved folder for a cached one); its
        ``selection`` attribute is the :class:`~explorer.training.selection.SelectionResult`.

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

    from explorer.training.callback import ProgressBridge, restore

    device = pick_device()  # the machine's device (EXPLORER_DEVICE, else CUDA when present, else CPU)
    path = base_model_path(config.base_model)
    try:
        model = SentenceTransformer(path, device=device)
    except (OSError, ValueError) as exc:
        raise ModelError(f"Cannot load the base model from {path}: {exc}") from exc
    base_length = model.max_seq_length
    if config.max_seq_length:
        model.max_seq_length = config.max_seq_length
    from explorer.training.selection import BestPoint, DevScorer, SelectionResult, without_dev

    dev_ids = list(dev_ids or []) if config.eval_every_steps != 0 else []
    columns = training_columns(without_dev(dataset, dev_ids) if dev_ids else dataset, config, negatives)
    n_rows = len(next(iter(columns.values())))
    if config.loss in IN_BATCH_LOSSES and n_rows < 2:
        raise TrainingError(f"Only {n_rows} training pair; in-batch losses need at least 2.")
    train_data = hf_datasets.Dataset.from_dict(columns)
    dev = DevScorer(dataset, dev_ids) if dev_ids else None
    from explorer.training import distributed

    # Under torchrun only rank 0 evaluates: an early stop there would leave the other ranks waiting.
    patience = 0 if distributed.is_distributed() else 3
    best = BestPoint(len(dev_ids), config.keep == "best", patience) if dev_ids else None
    bridge = ProgressBridge(report, stop, model, dev, config, snapshot, best, dev_base)
    if stop():
        raise TrainingStopped("stopped before training started")
    tmp = tempfile.mkdtemp(prefix="explorer-trainer-")
    try:
        with _frozen_bottom(model, config, columns, dev, report) as bottom, length_bucketed(model):
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
    selection = best.finish(trainer.state.global_step) if best is not None else SelectionResult()
    if best is not None and best.keep_best and best.best_state is not None:
        restore(best.best_state)  # the best point (step 0: the base model's weights)
        if selection.chosen_step == 0:
            model.max_seq_length = base_length  # the base model, exactly as it was
    model.eval()
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        model.save(str(out_dir))
    # Evaluating the result reuses the frozen bottom's stored outputs (full precision: the saved model's vectors).
    encoder = wrap_model(model, name=f"{config.base_model} (fine-tuned)", cached=True, bottom=bottom)
    encoder.selection = selection
    return encoder
