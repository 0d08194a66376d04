"""Frozen lower layers whose outputs are computed once per text and reused ("cached lower layers").

When the token embeddings and the lowest ``n`` transformer layers of a BERT-like encoder are frozen, their
output for a given text never changes during training. A training step then only needs the upper layers:
:func:`cached_lower_layers` swaps the model's embeddings module for a :class:`LowerLayerCache` that returns
the hidden states after layer ``n`` (computed once per distinct token sequence, in eval mode, and kept in
float32), and leaves only the upper layers in the encoder. The loss, the sentence-transformers trainer, the
pooling and the model's own attention masks are untouched, so the gradients of the trained layers are
those of plain freezing without dropout in the frozen part. On leaving the context the original modules are
put back, so the model saves and loads as a normal sentence-transformers folder.

The same cache serves the trained model's evaluation afterwards (:meth:`LowerLayerCache.attached`): the
frozen bottom's outputs are stored in full precision, so a text embedded through the cache gets the vector a
plain forward pass of the saved model gives (up to floating-point summation order), at half the cost.

Hand-written: neither sentence-transformers nor transformers offers reuse of frozen-layer activations. The
layer internals used are the embeddings module, the encoder's layer list and
``transformers.masking_utils.create_bidirectional_mask`` (the function the model itself builds its masks with).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from explorer.core.errors import TrainingError

CACHE_BUDGET_BYTES = 768 * 2**20
"""Most memory the cached hidden states (float32) may take; texts beyond it are computed again at each use."""

PRECOMPUTE_BATCH = 64
"""Texts per forward pass of the lower layers while filling the cache."""


def transformer_parts(model: Any) -> tuple[Any, Any, list[Any]] | None:
    """(BERT-like model, embeddings module, transformer layers) inside a SentenceTransformer, or None."""
    first = model[0] if len(model) else None
    auto = getattr(first, "auto_model", None)
    embeddings = getattr(auto, "embeddings", None)
    encoder = getattr(auto, "encoder", None)
    layers = getattr(encoder, "layer", None)
    if auto is None or embeddings is None or layers is None or len(layers) < 2:
        return None
    return auto, embeddings, list(layers)


class LowerLayerCache:
    """Stands in for a BERT model's embeddings module and returns the hidden states after its frozen lower layers.

    Args:
        embeddings: the model's (frozen) embeddings module.
        layers: the frozen lower transformer layers, bottom first.
        config: the transformer's config (for the attention mask).
        pad_token_id: the padding id (rows are keyed by their tokens up to the padding).
        budget_bytes: most memory the stored hidden states may take.

    Attributes:
        hits, misses: rows served from the cache / computed (a test checks the training texts hit).
    """

    def __init__(self, embeddings: Any, layers: Sequence[Any], config: Any, pad_token_id: int,
                 budget_bytes: int = CACHE_BUDGET_BYTES) -> None:
        import torch

        torch.nn.Module.__init__(self)
        self.inner = embeddings
        self.lower = torch.nn.ModuleList(layers)
        self.config, self.pad_token_id, self.budget_bytes = config, int(pad_token_id), int(budget_bytes)
        self.memo: dict[bytes, Any] = {}
        self.home: tuple[Any, list[Any]] | None = None  # (BERT-like model, all its layers) once installed
        self.stored_bytes = 0
        self.hits = self.misses = 0

    # ------------------------------------------------------------------------------------------ computing
    def _lengths(self, input_ids: Any) -> Any:
        # Padding only ever trails (right padding), and BERT never emits [PAD] inside a text.
        return (input_ids != self.pad_token_id).sum(dim=1)

    def compute(self, input_ids: Any) -> Any:
        """Hidden states after the lower layers for a padded batch of token ids (no gradient, eval mode)."""
        import torch
        from transformers.masking_utils import create_bidirectional_mask

        mask2d = (input_ids != self.pad_token_id).long()
        training = self.training
        self.eval()  # the cached output must not depend on which dropout mask was drawn when it was made
        try:
            with torch.no_grad():
                hidden = self.inner(input_ids=input_ids)
                mask = create_bidirectional_mask(config=self.config, inputs_embeds=hidden, attention_mask=mask2d)
                for layer in self.lower:
                    out = layer(hidden, mask)
                    hidden = out[0] if isinstance(out, tuple) else out
        finally:
            self.train(training)
        return hidden

    def _store(self, key: bytes, hidden: Any) -> None:
        size = hidden.numel() * hidden.element_size()
        if self.stored_bytes + size <= self.budget_bytes:
            self.memo[key] = hidden
            self.stored_bytes += size

    def precompute(self, batches: Iterator[Any]) -> int:
        """Fill the cache from padded batches of token ids; returns the number of rows stored."""
        before = len(self.memo)
        for input_ids in batches:
            lengths = self._lengths(input_ids).tolist()
            keys = [input_ids[i, :n].numpy().tobytes() for i, n in enumerate(lengths)]
            todo = [i for i, k in enumerate(keys) if k not in self.memo]
            if not todo:
                continue
            hidden = self.compute(input_ids[todo, : max(lengths[i] for i in todo)])
            for row, i in enumerate(todo):
                self._store(keys[i], hidden[row, : lengths[i]].clone())
            if self.stored_bytes >= self.budget_bytes:
                break
        return len(self.memo) - before

    # ------------------------------------------------------------------------------------------ the stand-in
    def forward(self, input_ids: Any = None, inputs_embeds: Any = None, **kwargs: Any) -> Any:
        """What the lower layers would output for ``input_ids`` (rows beyond the cache are computed now)."""
        import torch

        if input_ids is None:
            raise TrainingError("The cached-lower-layers model needs token ids, not input embeddings.")
        lengths = self._lengths(input_ids).tolist()
        keys = [input_ids[i, :n].cpu().numpy().tobytes() for i, n in enumerate(lengths)]
        missing = [i for i, k in enumerate(keys) if k not in self.memo]
        computed: dict[int, Any] = {}
        if missing:
            hidden = self.compute(input_ids[missing, : max(lengths[i] for i in missing)])
            computed = {i: hidden[row, : lengths[i]] for row, i in enumerate(missing)}
        self.misses += len(missing)
        self.hits += len(keys) - len(missing)
        out = torch.zeros(input_ids.shape[0], input_ids.shape[1], int(self.config.hidden_size), dtype=torch.float32,
                          device=input_ids.device)
        for i, key in enumerate(keys):
            row = computed[i] if i in computed else self.memo[key]
            out[i, : lengths[i]] = row.to(device=out.device, dtype=torch.float32)
        return out

    @contextlib.contextmanager
    def attached(self) -> Iterator["LowerLayerCache"]:
        """Inside the context the model runs its frozen bottom from this cache (only the upper layers compute);
        on leaving it the model has its own modules back. Re-entrant uses nest harmlessly."""
        import torch

        if self.home is None:
            raise TrainingError("This frozen-layer cache was never installed in a model.")
        auto, layers = self.home
        if auto.embeddings is self:
            yield self
            return
        embeddings, n = auto.embeddings, len(self.lower)
        auto.embeddings, auto.encoder.layer = self, torch.nn.ModuleList(layers[n:])
        try:
            yield self
        finally:
            auto.embeddings, auto.encoder.layer = embeddings, torch.nn.ModuleList(layers)


def _module_class() -> type:
    """:class:`LowerLayerCache` as a ``torch.nn.Module`` subclass (made on first use: torch is imported lazily)."""
    global _MODULE_CLASS
    if _MODULE_CLASS is None:
        import torch

        _MODULE_CLASS = type("LowerLayerCache", (LowerLayerCache, torch.nn.Module), {})
    return _MODULE_CLASS


_MODULE_CLASS: type | None = None


def _batches(model: Any, texts: Sequence[str], size: int = PRECOMPUTE_BATCH) -> Iterator[Any]:
    """Token-id batches of ``texts`` tokenized exactly as the model tokenizes them for training (longest first)."""
    ordered = sorted(set(texts), key=len, reverse=True)
    for start in range(0, len(ordered), size):
        batch = ordered[start : start + size]
        features = model.preprocess(batch) if hasattr(model, "preprocess") else model.tokenize(batch)
        yield features["input_ids"]


@contextlib.contextmanager
def cached_lower_layers(model: Any, n: int, texts: Sequence[str] = (),
                        budget_bytes: int = CACHE_BUDGET_BYTES) -> Iterator[LowerLayerCache]:
    """Freeze the embeddings and lowest ``n`` layers of ``model`` and serve their outputs from a cache.

    Args:
        model: a SentenceTransformer over a BERT-like transformer (modified in place while inside the context).
        n: frozen layers, at least 1 and fewer than the model has.
        texts: texts to run through the lower layers up front (the training and held-out texts).
        budget_bytes: most memory for the cached hidden states.

    Yields:
        The :class:`LowerLayerCache` (its ``hits``/``misses`` say how often it served a row).

    Raises:
        TrainingError: the model is not BERT-like or ``n`` leaves no layer to train.
    """
    parts = transformer_parts(model)
    if parts is None:
        raise TrainingError("Caching frozen layers needs a BERT-like transformer (embeddings + encoder layers); "
                            "set frozen_layers=0 to train every weight of this model.")
    auto, embeddings, layers = parts
    if not 1 <= n < len(layers):
        raise TrainingError(f"frozen_layers must be between 1 and {len(layers) - 1} for this model, got {n}.")
    for module in [embeddings, *layers[:n]]:
        for param in module.parameters():
            param.requires_grad_(False)
    pad = model.tokenizer.pad_token_id if getattr(model, "tokenizer", None) is not None else 0
    cache = _module_class()(embeddings, layers[:n], auto.config, pad if pad is not None else 0, budget_bytes)
    cache.precompute(_batches(model, list(texts)))
    cache.home = (auto, layers)
    with cache.attached():
        yield cache
