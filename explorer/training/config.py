"""The parameters of a training run, their defaults by dataset size, and their validation.

A :class:`TrainConfig` is plain data: it is saved in a run's ``config.json`` and rebuilt with
:meth:`TrainConfig.from_dict`. Fields left at ``None`` ("auto") are filled in from the dataset by
:meth:`TrainConfig.resolve`, which is what a run records, so a run folder always says exactly what was used.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from explorer.core.errors import TrainingError
from explorer.training.grades import positive_grade  # noqa: F401  (re-exported: the rule every method uses)

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset

METHODS = ("full", "adapter", "nudge")
FROZEN_METHODS = ("adapter", "nudge")
"""Methods that train over a frozen model's embeddings (any dense model, API models included)."""
LOSSES = ("mnrl", "cached_mnrl", "contrastive", "online_contrastive")
IN_BATCH_LOSSES = ("mnrl", "cached_mnrl")
KEEP_CHOICES = ("best", "last")  # the point a run ships: best on dev (the base model included), or the last
PAIR_LOSSES = ("contrastive", "online_contrastive")
DEFAULT_BATCH_SIZE = 32
DEFAULT_LEARNING_RATE = 3e-5
DEFAULT_TRAIN_LAYERS = 3
"""Top transformer layers a full fine-tune trains by default (the rest is frozen and computed once per text;
see :mod:`explorer.training.lower_cache`). Measured on an AVX2 CPU without bf16 (docs/benchmarks.md): the demo
trains 1 epoch to NDCG@10 0.659 (every layer, 3 epochs: 0.668, three times the time); SciFact 1 epoch to 0.705
in a 15-minute job (every layer, 2 epochs: 0.697 in 40 minutes)."""
PARTIAL_LEARNING_RATE = 2e-4
"""Learning rate when only the top layers train: fewer weights move, and larger steps were measured to gain
more in one epoch (AVX2 CPU, fp32, top 3 layers, 1 epoch; demo from 0.599: 1e-4 -> NDCG@10 0.659, 2e-4 ->
0.664; SciFact from 0.648: 1e-4 -> 0.705, 2e-4 -> 0.708; earlier, top 2 layers on the demo: 3e-5 -> 0.627,
1e-4 -> 0.643)."""
LOW_MEMORY_MINI_BATCH = 8

# Public mode (a shared 2.7 GB host): the bounds :func:`bound_for_public` applies. Measured worst case within
# them (long passages cut at 256 tokens): see docs/benchmarks.md, memory section, and
# benchmarks/results/public_training.json.
PUBLIC_MAX_BATCH_SIZE = 64
"""In-batch losses run cached (GradCache) in public mode, so the batch costs little memory beyond its embeddings."""
PUBLIC_MAX_PAIR_BATCH_SIZE = 16
"""Pair losses (contrastive) have no cached form: their whole batch's activations are alive at once."""
PUBLIC_MAX_SEQ_LENGTH = 256
"""MiniLM's own limit; activations grow with the sequence length (attention quadratically)."""
PUBLIC_MAX_HARD_NEGATIVES = 3
"""Each hard negative adds one text per pair to every batch."""
PUBLIC_EVAL_MAX_PASSAGES = 500
PUBLIC_EVAL_MAX_QUERIES = 100

LONG_PASSAGE_WORDS = 150
"""Mean words per training passage above which a dataset counts as long-passage (see :func:`auto_epochs`)."""


def auto_epochs(n_pairs: int, mean_passage_words: float = 0.0, partial: bool = False) -> int:
    """Epochs by training-set size: small sets need more passes, large ones converge in one or two.

    By pairs: <=600: 4, <=3,000: 3, <=20,000: 2, else 1. Long passages (mean > ``LONG_PASSAGE_WORDS`` words,
    i.e. most are cut at MiniLM's 256 tokens) get one epoch fewer (at least 1): each step costs several times
    more there. Measured on a 2-core CPU with bf16 (see docs/benchmarks.md): the demo set (1,150 short pairs)
    gains +0.068 NDCG@10 in 3 epochs (3.3 min of training); SciFact (919 pairs of ~215-word abstracts) reaches
    0.702 in 2 epochs (9.4 min) and 0.724 in 3 (14.7 min, 17 min for the whole job).

    ``partial`` (only the top layers train, at :data:`PARTIAL_LEARNING_RATE`): two epochs fewer, at least one,
    because each pass moves the few trained weights further and the point of the recipe is a short job.
    """
    if n_pairs <= 600:
        epochs = 4
    elif n_pairs <= 3_000:
        epochs = 3
    elif n_pairs <= 20_000:
        epochs = 2
    else:
        epochs = 1
    if mean_passage_words > LONG_PASSAGE_WORDS:
        epochs -= 1
    if partial:
        epochs -= 2
    return max(1, epochs)


@dataclass
class TrainConfig:
    """What to train and how.

    Defaults (``None`` means "auto", resolved from the dataset by :meth:`resolve`):

    - ``method="full"``: fine-tune every weight of a sentence-transformers model (``"adapter"`` trains a
      small linear map on frozen embeddings, see :mod:`explorer.training.adapter`).
    - ``base_model="minilm"``: the bundled all-MiniLM-L6-v2 (any spec ``load_encoder`` accepts).
    - ``loss="mnrl"``: MultipleNegativesRankingLoss (in-batch negatives plus one mined hard negative per
      pair), with the no-duplicates batch sampler. ``"cached_mnrl"`` gives a large batch in bounded memory
      (``mini_batch_size`` texts at a time); ``"contrastive"`` / ``"online_contrastive"`` train on labelled
      pairs (positives 1, hard or weak negatives 0).
    - ``epochs``: auto by training pairs, see :func:`auto_epochs` (<=600: 4, <=3k: 3, <=20k: 2, else 1; one
      fewer for long passages, two fewer when only the top layers train, at least 1), capped by the server's
      ``max_epochs``.
    - ``batch_size``: auto = 32, the in-batch negatives of MNRL; larger helps retrieval but costs time.
    - ``train_layers``: auto = :data:`DEFAULT_TRAIN_LAYERS` top transformer layers train, the embeddings and
      layers below are frozen and computed once per text (several times faster per step on a CPU); 0 = every
      weight trains. Models whose layers cannot be found train every weight.
    - ``learning_rate``: auto = 2e-4 when only the top layers train, 3e-5 when every weight does; ``warmup_ratio=0.1`` (linear warmup then linear decay), ``weight_decay=0.01``.
    - ``max_seq_length``: auto = the model's own limit (256 tokens for MiniLM).
    - ``use_hard_negatives=True``, ``num_hard_negatives=1``: negatives mined with the *base* model
      between ranks ``hard_negative_range_min`` and ``hard_negative_range_max`` under a 5% relative margin
      (the false-negative guard of NV-Retriever); pairs without a surviving negative get a random one.
    - ``min_positive_grade``: auto = the second-lowest positive grade of the train judgements when there are
      two or more (graded sets train on their clearly relevant pairs), else 1; see :func:`positive_grade`.
      Both methods use it.
    - ``eval_every_steps`` (full fine-tune): None = score the dev split 30 s into training, then as often as keeps
      evaluation at about a tenth of the training time, at the end of every epoch and at the last step; 0 = never
      (no choice: the last point is kept); N = every N steps.
    - ``seed=42``; ``matryoshka_dims=()`` (e.g. ``(384, 256, 128, 64)`` wraps the loss in MatryoshkaLoss).
    - ``keep="best"``: the best point on the dev split, base model included (``"last"``: the last checkpoint).
    - ``adapter``: options passed through to the adapter trainer (ignored by full fine-tuning).
    - ``nudge``: options of ``method="nudge"``, the corpus-side recipe (:class:`explorer.training.nudge.NudgeConfig`).
    """

    method: str = "full"
    base_model: str = "minilm"
    loss: str = "mnrl"
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_seq_length: int | None = None
    seed: int = 42
    use_hard_negatives: bool = True
    num_hard_negatives: int = 1
    hard_negative_range_min: int = 0
    hard_negative_range_max: int = 30
    mini_batch_size: int = 16
    train_layers: int | None = None
    matryoshka_dims: tuple[int, ...] = ()
    eval_every_steps: int | None = None
    eval_max_queries: int = 100
    eval_max_passages: int = 500
    min_positive_grade: int | None = None
    keep: str = "best"
    adapter: dict[str, Any] = field(default_factory=dict)
    nudge: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------------------------------ checks
    def validate(self, dataset: "Dataset | None" = None) -> "TrainConfig":
        """Check the values (and, given a dataset, that the loss can train on it). Returns self.

        Raises:
            TrainingError: naming the bad field, its value and what would work.
        """
        if self.method not in METHODS:
            raise TrainingError(f"Unknown training method {self.method!r}; use one of: {', '.join(METHODS)}.")
        if self.loss not in LOSSES:
            raise TrainingError(f"Unknown loss {self.loss!r}; use one of: {', '.join(LOSSES)}.")
        if self.epochs is not None and (not isinstance(self.epochs, int) or self.epochs < 1):
            raise TrainingError(f"epochs must be a whole number >= 1, got {self.epochs!r}.")
        if self.batch_size is not None and (not isinstance(self.batch_size, int) or self.batch_size < 2):
            raise TrainingError(
                f"batch_size must be at least 2 (in-batch negatives need other pairs in the batch), got {self.batch_size!r}."
            )
        if self.learning_rate is not None and not 0 < self.learning_rate < 1:
            raise TrainingError(f"learning_rate must be > 0 and < 1 (typical: 1e-5 to 5e-5), got {self.learning_rate!r}.")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise TrainingError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio!r}.")
        if self.weight_decay < 0:
            raise TrainingError(f"weight_decay must be >= 0, got {self.weight_decay!r}.")
        if self.max_seq_length is not None and not 8 <= self.max_seq_length <= 8192:
            raise TrainingError(f"max_seq_length must be between 8 and 8192 tokens, got {self.max_seq_length!r}.")
        if self.num_hard_negatives < 1:
            raise TrainingError(f"num_hard_negatives must be >= 1, got {self.num_hard_negatives!r}.")
        if not 0 <= self.hard_negative_range_min < self.hard_negative_range_max:
            raise TrainingError(
                f"hard_negative_range_min ({self.hard_negative_range_min}) must be >= 0 and smaller than "
                f"hard_negative_range_max ({self.hard_negative_range_max})."
            )
        if self.num_hard_negatives > self.hard_negative_range_max - self.hard_negative_range_min:
            raise TrainingError(
                f"num_hard_negatives={self.num_hard_negatives} does not fit in the rank window "
                f"[{self.hard_negative_range_min}, {self.hard_negative_range_max}); widen the window."
            )
        if self.train_layers is not None and (not isinstance(self.train_layers, int) or self.train_layers < 0):
            raise TrainingError(f"train_layers must be a whole number >= 0 (0 trains every layer), got {self.train_layers!r}.")
        if self.mini_batch_size < 1:
            raise TrainingError(f"mini_batch_size must be >= 1, got {self.mini_batch_size!r}.")
        if any((not isinstance(d, int)) or d < 1 for d in self.matryoshka_dims):
            raise TrainingError(f"matryoshka_dims must be positive whole numbers, got {list(self.matryoshka_dims)!r}.")
        if self.eval_every_steps is not None and self.eval_every_steps < 0:
            raise TrainingError(f"eval_every_steps must be >= 0 (0 turns evaluation off), got {self.eval_every_steps!r}.")
        if self.min_positive_grade is not None and self.min_positive_grade < 1:
            raise TrainingError(f"min_positive_grade must be >= 1 (grade 0 means irrelevant), got {self.min_positive_grade!r}.")
        if self.keep not in KEEP_CHOICES:
            raise TrainingError(f"keep must be one of: {', '.join(KEEP_CHOICES)}; got {self.keep!r}.")
        if self.method == "nudge":
            from explorer.training.nudge import NudgeConfig

            NudgeConfig.from_options(self.nudge)
        if self.method != "full" and self.matryoshka_dims:
            raise TrainingError("matryoshka_dims only applies to full fine-tuning; clear it or use method 'full'.")
        if dataset is not None:
            self._validate_data(dataset)
        return self

    def _validate_data(self, dataset: "Dataset") -> None:
        grade = self.positive_grade(dataset)
        pairs = sum(len(dataset.positives(q, grade)) for q in dataset.query_ids("train"))
        if pairs == 0:
            raise TrainingError(
                f"Dataset {dataset.name!r} has no training pair: no train-split judgement with grade >= {grade}. "
                "Lower min_positive_grade or give the dataset a train split."
            )
        if self.loss in IN_BATCH_LOSSES and pairs < 2:
            raise TrainingError(
                f"Loss {self.loss!r} uses the other pairs of a batch as negatives, but {dataset.name!r} has only "
                f"{pairs} training pair; add judgements or use loss 'contrastive' with negatives."
            )
        if not dataset.query_ids("test"):
            raise TrainingError(
                f"Dataset {dataset.name!r} has no judged test query, so the tuned model cannot be evaluated; "
                "load it with a test split (test_fraction > 0)."
            )

    # ------------------------------------------------------------------------------------------ defaults
    def positive_grade(self, dataset: "Dataset") -> int:
        """The lowest grade that makes a training positive (``min_positive_grade`` or its auto value)."""
        return positive_grade(dataset, self.min_positive_grade)

    def resolve(self, dataset: "Dataset", max_epochs: int | None = None, low_memory: bool = False, *,
                public: bool = False) -> "TrainConfig":
        """A copy with every "auto" field filled in for this dataset (what the run records).

        For ``method="adapter"``, epochs, learning rate and batch size stay None unless set: the adapter
        trainer's own defaults (see :class:`explorer.training.adapter.AdapterConfig`) then apply.

        ``low_memory`` (``Settings.low_memory``, on in public mode) swaps ``mnrl`` for ``cached_mnrl`` with
        mini-batches of at most :data:`LOW_MEMORY_MINI_BATCH` texts: the same loss and gradients (GradCache,
        Gao et al. 2021), with the activations of a few texts alive at a time instead of the whole batch's.
        Measured on the demo (320 pairs, batch 32, bf16): peak RSS of training 2.8 GB -> 1.5 GB, 36% slower.

        ``public`` (``Settings.public``) then bounds the result with :func:`bound_for_public`.
        """
        if public:
            return bound_for_public(self._resolve(dataset, max_epochs, low_memory=True))
        return self._resolve(dataset, max_epochs, low_memory)

    def _resolve(self, dataset: "Dataset", max_epochs: int | None, low_memory: bool) -> "TrainConfig":
        grade = self.positive_grade(dataset)
        if max_epochs is not None and self.epochs is not None and self.epochs > max_epochs:
            raise TrainingError(f"epochs={self.epochs} exceeds this server's limit of {max_epochs}; choose fewer.")
        if self.method in FROZEN_METHODS:  # NUDGE moves positives only: no negatives to mine
            return replace(self, min_positive_grade=grade, use_hard_negatives=self.use_hard_negatives and self.method == "adapter")
        positives = [p for q in dataset.query_ids("train") for p in dataset.positives(q, grade)]
        words = [len(dataset.corpus[p].full_text.split()) for p in positives if p in dataset.corpus]
        mean_words = sum(words) / len(words) if words else 0.0
        train_layers = DEFAULT_TRAIN_LAYERS if self.train_layers is None else self.train_layers
        partial = train_layers > 0
        epochs = self.epochs if self.epochs is not None else auto_epochs(len(positives), mean_words, partial)
        if max_epochs is not None:
            epochs = min(epochs, max_epochs)
        loss, mini_batch = self.loss, self.mini_batch_size
        if low_memory and loss == "mnrl":
            loss, mini_batch = "cached_mnrl", min(mini_batch, LOW_MEMORY_MINI_BATCH)
        return replace(
            self, epochs=epochs, min_positive_grade=grade, loss=loss, mini_batch_size=mini_batch,
            batch_size=self.batch_size or DEFAULT_BATCH_SIZE, train_layers=train_layers,
            learning_rate=self.learning_rate or (PARTIAL_LEARNING_RATE if partial else DEFAULT_LEARNING_RATE),
        )

    @property
    def is_resolved(self) -> bool:
        """Whether the "auto" fields a trainer needs are filled in (as :meth:`resolve` does); a run starts only
        from a resolved config, so its config.json records what ran."""
        if self.min_positive_grade is None:
            return False
        return self.method in FROZEN_METHODS or None not in (self.epochs, self.batch_size, self.train_layers,
                                                         self.learning_rate)

    # ------------------------------------------------------------------------------------------ (de)serialise
    def to_dict(self) -> dict[str, Any]:
        """JSON-able parameters."""
        data = asdict(self)
        data["matryoshka_dims"] = list(self.matryoshka_dims)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        """Rebuild from :meth:`to_dict` output; unknown keys raise TrainingError naming them."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise TrainingError(f"Unknown training parameter(s): {', '.join(unknown)}; known: {', '.join(sorted(names))}.")
        values = dict(data)
        if "matryoshka_dims" in values:
            values["matryoshka_dims"] = tuple(int(d) for d in values["matryoshka_dims"] or ())
        for name in ("adapter", "nudge"):
            if name in values:
                values[name] = dict(values[name] or {})
        return cls(**values)


def bound_for_public(config: TrainConfig) -> TrainConfig:
    """``config`` with only bounded-memory settings, for a public server where visitors share 2.7 GB.

    Every in-batch loss runs in its cached form (``mnrl`` becomes ``cached_mnrl``, GradCache: the same loss and
    gradients) in mini-batches of at most :data:`LOW_MEMORY_MINI_BATCH` texts; the batch is capped at
    :data:`PUBLIC_MAX_BATCH_SIZE` (pair losses, which have no cached form, at :data:`PUBLIC_MAX_PAIR_BATCH_SIZE`);
    sequences at :data:`PUBLIC_MAX_SEQ_LENGTH` tokens; hard negatives per pair at
    :data:`PUBLIC_MAX_HARD_NEGATIVES`; the evaluation sample during training at its defaults. Values already
    within the bounds are kept, and "auto" fields become their bounded value, so the run's config.json records
    what was used. Adapter runs train a small map on frozen embeddings and are only bounded in their sample.

    Raises:
        TrainingError: a full fine-tune of neither the bundled MiniLM nor a hub model (capped in size by
            :func:`explorer.pipeline.base_model.check_base_model`); an adapter may train over any model.
    """
    from explorer.core.config import BUNDLED_MODEL_ALIASES
    from explorer.core.errors import ModelError
    from explorer.encoders.spec import parse_spec

    base = str(config.base_model)
    try:
        hub = parse_spec(base).kind == "hub"
    except (ModelError, RuntimeError):  # not a spec this server takes: refused below like any other
        hub = False
    if config.method == "full" and base not in BUNDLED_MODEL_ALIASES and not hub:
        raise TrainingError(f"This public server fine-tunes only the bundled all-MiniLM-L6-v2 or a small hub model "
                            f"(base model {base!r} was asked for): others may not fit in its shared memory. Train "
                            "an adapter over it, or run the app locally.")
    bounded = replace(config, eval_max_passages=min(config.eval_max_passages, PUBLIC_EVAL_MAX_PASSAGES),
                      eval_max_queries=min(config.eval_max_queries, PUBLIC_EVAL_MAX_QUERIES))
    if config.method in FROZEN_METHODS:
        return bounded
    loss = "cached_mnrl" if config.loss == "mnrl" else config.loss
    batch_cap = PUBLIC_MAX_BATCH_SIZE if loss in IN_BATCH_LOSSES else PUBLIC_MAX_PAIR_BATCH_SIZE
    return replace(
        bounded, loss=loss,
        mini_batch_size=min(config.mini_batch_size, LOW_MEMORY_MINI_BATCH),
        batch_size=min(config.batch_size or DEFAULT_BATCH_SIZE, batch_cap),
        max_seq_length=min(config.max_seq_length or PUBLIC_MAX_SEQ_LENGTH, PUBLIC_MAX_SEQ_LENGTH),
        num_hard_negatives=min(config.num_hard_negatives, PUBLIC_MAX_HARD_NEGATIVES),
    )

