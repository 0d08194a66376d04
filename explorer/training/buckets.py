"""Length buckets inside a training batch: each text runs the transformer padded to its neighbours' length only.

A training batch of the sentence-transformers trainer is padded to its longest text: on the demo a column of
32 passages of 62 tokens on average is padded to about 83, so a quarter of every step's matrix products works
on padding. :func:`length_bucketed` makes the transformer module of a SentenceTransformer split each batch it
receives into a few buckets of similar length (sorted by length, equal counts), run each bucket padded only to
its own longest text, and put the token embeddings back together in the batch's order and shape. Padded
positions are masked in attention and in pooling, so the embeddings, the loss and the gradients are those of
the unsplit batch up to floating-point summation order; only the work on padding goes.

Hand-written: sentence-transformers has no such option, and transformers' padding-free collator
(``DataCollatorWithFlattening``) needs flash-attention kernels that BERT-like models do not use on a CPU.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

MIN_BUCKET_ROWS = 8
"""Fewest texts per bucket: smaller matrix products lose more to overhead than padding costs."""

MAX_BUCKETS = 4

_SPLIT_KEYS = ("input_ids", "attention_mask", "token_type_ids")


def _buckets(lengths: Any) -> list[Any]:
    """Row indices of each bucket, longest texts first (equal counts, at least MIN_BUCKET_ROWS each)."""
    import torch

    n = int(lengths.shape[0])
    count = max(1, min(MAX_BUCKETS, n // MIN_BUCKET_ROWS))
    order = torch.argsort(lengths, descending=True, stable=True)
    return [chunk for chunk in torch.tensor_split(order, count) if chunk.numel()]


class BucketedForward:
    """A sentence-transformers Transformer module's ``forward(features)``, run by length buckets.

    Falls back to the plain call when the batch is too small to split, when it carries inputs other than token
    ids, attention mask and token types, or when the module returns more than token embeddings.
    """

    def __init__(self, forward: Any) -> None:
        self.forward = forward

    def __call__(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        import torch

        forward = self.forward
        ids, mask = features.get("input_ids"), features.get("attention_mask")
        if (kwargs or ids is None or mask is None or ids.dim() != 2
                or any(torch.is_tensor(v) and k not in _SPLIT_KEYS for k, v in features.items())):
            return forward(features, **kwargs)
        lengths = mask.sum(dim=1)
        buckets = _buckets(lengths)
        if len(buckets) < 2:
            return forward(features, **kwargs)
        width = int(ids.shape[1])
        parts = []
        for rows in buckets:
            longest = int(lengths[rows].max())
            sub = {k: (v[rows, :longest] if k in _SPLIT_KEYS and torch.is_tensor(v) else v) for k, v in features.items()}
            given = set(sub)
            out = forward(sub)
            if set(out) - given != {"token_embeddings"}:
                return forward(features, **kwargs)
            parts.append(torch.nn.functional.pad(out["token_embeddings"], (0, 0, 0, width - longest)))
        order = torch.cat(buckets)
        inverse = torch.empty_like(order)
        inverse[order] = torch.arange(order.numel(), device=order.device)
        result = dict(features)
        result["token_embeddings"] = torch.cat(parts)[inverse]
        return result


@contextlib.contextmanager
def length_bucketed(model: Any) -> Iterator[None]:
    """Inside the context, ``model``'s first module (its transformer) runs every batch by length buckets.

    Args:
        model: a SentenceTransformer; models without a ``forward``-bearing first module are left as they are.
    """
    first = model[0] if len(model) else None
    if first is None or not hasattr(first, "forward"):
        yield
        return
    own = vars(first).get("forward")  # an instance-level forward already set by someone else
    first.forward = BucketedForward(first.forward)
    try:
        yield
    finally:
        if own is None:
            del first.forward
        else:
            first.forward = own
