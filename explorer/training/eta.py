"""How long a run will take, before it starts: a plan of seconds per phase from a one-batch speed probe.

The cost model counts transformer work in token-layers (tokens of a text x layers it passes through):

- encoding (baseline, tuned evaluation): every text not yet in the cache, through all layers (the tuned
  evaluation runs texts the frozen bottom already holds through the trained layers only);
- computing the frozen lower layers once (:mod:`explorer.training.lower_cache`): every distinct training and
  held-out text through the frozen layers;
- training: every step's texts through the trained layers, times :data:`TRAIN_FACTOR` (forward + backward +
  optimizer), plus the held-out evaluations through the trained layers.

The seconds per token-layer come from timing one forward pass of a fixed batch of the dataset's own passages
(:func:`measure_speed`, well under a second), so the plan follows the CPU it runs on, its precision and its
load at the start. Once training runs, the trainer's measured step rate replaces the plan for that phase
(:func:`remaining_seconds`). :func:`announce_plan` reports the plan as a job's first event. Hand-written: no
library estimates a fine-tuning job's duration.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from explorer.training.config import TrainConfig
from explorer.training.events import PHASES, ProgressEvent, Reporter

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset
    from explorer.encoders.base import Encoder

TRAIN_FACTOR = 4.5
"""A training step costs about 4.5 forward passes of the trained layers: backward is twice a forward, and the
optimizer, the loss and the padding of each batch's texts add the rest (measured on the demo's default job,
AMD EPYC without bf16: with 3.0 the plan of the training phase was 92 s against 134 s spent)."""
FIXED_SECONDS = {"mining": 1.0, "saving": 2.0}
"""Phases that do little transformer work: the score matrix of mining, writing the model."""
PROBE_TEXTS = 16


def token_counts(model: Any, texts: Sequence[str]) -> list[int]:
    """Tokens per text as the model sees them (truncated at its max_seq_length)."""
    if not texts:
        return []
    tokenizer = model.tokenizer
    limit = int(model.max_seq_length or 512)
    encoded = tokenizer(list(texts), truncation=True, max_length=limit, add_special_tokens=True)
    return [len(ids) for ids in encoded["input_ids"]]


def measure_speed(model: Any, texts: Sequence[str]) -> float:
    """Seconds per token-layer of a forward pass, timed on up to :data:`PROBE_TEXTS` texts (best of two)."""
    import torch

    batch = list(texts)[:PROBE_TEXTS] or ["a short probe text"]
    layers = max(1, int(getattr(model[0].auto_model.config, "num_hidden_layers", 6))) if hasattr(model[0], "auto_model") else 6
    features = model.preprocess(batch) if hasattr(model, "preprocess") else model.tokenize(batch)
    work = int(features["input_ids"].numel()) * layers
    best = float("inf")
    was_training = model.training
    model.eval()
    try:
        for _ in range(2):
            start = time.perf_counter()
            with torch.inference_mode():
                model(dict(features))
            best = min(best, time.perf_counter() - start)
    finally:
        model.train(was_training)
    return best / max(1, work)


def plan_full_run(
    dataset: "Dataset",
    config: TrainConfig,
    *,
    speed: float,
    layers: int,
    count_tokens: Callable[[Sequence[str]], list[int]],
    uncached_baseline: int,
) -> dict[str, float]:
    """Planned seconds per phase of a full fine-tune (see the module docstring for the cost model).

    Args:
        dataset: the run's dataset; config: its resolved TrainConfig.
        speed: seconds per token-layer (:func:`measure_speed`).
        layers: transformer layers of the model.
        count_tokens: tokens per text as the model sees them (:func:`token_counts` bound to the model).
        uncached_baseline: how many of the baseline's texts (corpus and test queries) are not cached yet.
    """
    from explorer.data.sampling import eval_subset

    grade = config.positive_grade(dataset)
    pairs = [(q, p) for q in dataset.query_ids("train") for p in dataset.positives(q, grade) if p in dataset.corpus]
    queries = sorted({dataset.queries[q] for q, _ in pairs})
    positives = sorted({dataset.corpus[p].full_text for _, p in pairs})
    q_tokens, p_tokens = count_tokens(queries), count_tokens(positives)
    mean_q = sum(q_tokens) / max(1, len(q_tokens))
    mean_p = sum(p_tokens) / max(1, len(p_tokens))
    negatives = config.num_hard_negatives if config.use_hard_negatives else 0
    row_tokens = mean_q + mean_p * (1 + negatives)  # mined negatives are passages like the positives
    trained = min(layers, config.train_layers or layers)
    frozen = layers - trained
    epochs = int(config.epochs or 1)
    steps = -(-len(pairs) // max(1, int(config.batch_size or 32))) * epochs
    held_out: list[str] = []
    if config.eval_every_steps != 0 and dataset.query_ids("test"):
        sample = eval_subset(dataset, config.eval_max_queries, config.eval_max_passages, config.seed)
        held_out = list(sample.queries.values()) + [p.full_text for p in sample.corpus.values()]
    eval_work = float(sum(count_tokens(held_out)))
    # The frozen bottom runs once over every distinct training text (negatives included) and the held-out sample.
    distinct = sum(q_tokens) + mean_p * min(len(dataset.corpus), len(positives) * (1 + negatives))
    corpus = [p.full_text for p in dataset.corpus.values()] + [dataset.queries[q] for q in dataset.query_ids("test")]
    corpus_tokens = count_tokens(corpus)
    corpus_work = sum(corpus_tokens)
    # The tuned evaluation runs what the frozen bottom holds (training and held-out texts) through the top only.
    held = set(queries) | set(positives) | set(held_out)
    evaluating = corpus_work * trained + sum(n for t, n in zip(corpus, corpus_tokens) if t not in held) * frozen
    steps_seconds = len(pairs) * epochs * row_tokens * trained * TRAIN_FACTOR * speed
    eval_seconds = eval_work * trained * speed
    training = (frozen * (distinct + eval_work) * speed + steps_seconds
                + _planned_evaluations(config, steps, steps_seconds, eval_seconds) * eval_seconds)
    return {
        "baseline": corpus_work * layers * speed * uncached_baseline / max(1, len(corpus)),
        "mining": FIXED_SECONDS["mining"],
        "training": training,
        "saving": FIXED_SECONDS["saving"],
        "evaluating": evaluating * speed,
    }


def _planned_evaluations(config: TrainConfig, steps: int, steps_seconds: float, eval_seconds: float) -> int:
    """Held-out evaluations during training, by the rule of the trainer's callback (:mod:`explorer.training.callback`):
    every N steps, or with the auto cadence one after ``FIRST_EVAL_SECONDS`` and then at least
    ``EVAL_COST_SHARE`` evaluation-costs apart."""
    from explorer.training.callback import EVAL_COST_SHARE, FIRST_EVAL_SECONDS

    every = config.eval_every_steps
    if every == 0 or eval_seconds <= 0:
        return 0
    if every is None:
        return int(steps_seconds // max(FIRST_EVAL_SECONDS, EVAL_COST_SHARE * eval_seconds))
    return max(0, (steps - 1) // every)


def remaining_seconds(plan: dict[str, float], phase: str, phase_started: float, phase_eta: float | None,
                      now: float | None = None) -> float:
    """Seconds left in the whole run: this phase's measured ETA (or the plan minus time spent), plus later phases."""
    now = time.time() if now is None else now
    if phase not in PHASES:
        return sum(plan.values())
    index = PHASES.index(phase)
    current = phase_eta if phase_eta is not None else max(0.0, plan.get(phase, 0.0) - (now - phase_started))
    return current + sum(plan.get(p, 0.0) for p in PHASES[index + 1 :])


def announce_plan(dataset: "Dataset", config: TrainConfig, base: "Encoder", report: Reporter) -> None:
    """Report the run's plan (seconds per phase, :func:`plan_full_run`) as its first event, so a page can show
    an ETA for the whole job from the start. Only full fine-tunes of sentence-transformers models are planned
    (an adapter trains in seconds); a failing estimate never fails the run."""
    from explorer.encoders.cache import uncached_count

    model = getattr(base, "model", None) if config.method == "full" else None
    if model is None or not hasattr(model, "tokenizer"):
        return
    try:
        texts = [p.full_text for p in dataset.corpus.values()]
        queries = [dataset.queries[q] for q in dataset.query_ids("test")]
        uncached = uncached_count(base, texts, "passage") + uncached_count(base, queries, "query")
        auto = getattr(model[0], "auto_model", None)
        layers = int(getattr(getattr(auto, "config", None), "num_hidden_layers", 6) or 6)
        plan = plan_full_run(dataset, config, speed=measure_speed(model, texts), layers=layers,
                             count_tokens=lambda batch: token_counts(model, batch), uncached_baseline=uncached)
    except Exception:  # noqa: BLE001 - the estimate is a courtesy; the run must go on without it
        return
    total = sum(plan.values())
    report(ProgressEvent("baseline", 0, 0, eta_seconds=None, plan={k: round(v, 1) for k, v in plan.items()},
                         message=f"planned: about {total / 60:.1f} min in all"))
