"""Encoders over a model a full fine-tune holds in memory: while it trains, and once it is saved.

A fine-tune that trains only the top layers keeps the frozen bottom's outputs per text
(:class:`~explorer.training.lower_cache.LowerLayerCache`); the encoders here embed through it, so a held-out
evaluation during training and the tuned evaluation afterwards run only the layers above it. Imported by the
trainer and the job engine only (never by a page), so loading it costs nothing the home page pays for.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np

from explorer.encoders.base import Encoder, Kind
from explorer.encoders.sentence import SentenceTransformerEncoder


class BottomCachedEncoder(SentenceTransformerEncoder):
    """A model in memory whose batches run through a frozen-bottom cache (its :attr:`bottom`, an object with an
    ``attached()`` context: texts it does not hold are computed in full)."""

    bottom: Any = None

    def embed_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        with self.bottom.attached():
            return super().embed_batch(texts, kind)


class SavedThroughBottom(Encoder):
    """The identity of ``saved`` (fingerprint and cache, so later pages reuse its vectors) with the embedding of
    ``trained``: the same weights held in memory, run through the frozen bottom's stored outputs."""

    def __init__(self, saved: Encoder, trained: Encoder) -> None:
        super().__init__(saved.cache_dir)
        self.name, self.batch_size = saved.name, saved.batch_size
        self.saved, self.trained = saved, trained

    @property
    def fingerprint(self) -> str:
        return self.saved.fingerprint

    def kind_fingerprint(self, kind: Kind) -> str:
        return self.saved.kind_fingerprint(kind)

    def embed_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        return self.trained.embed_batch(texts, kind)


def wrap_model(model: Any, name: str, cached: bool = False, *, scratch: str | Path | None = None,
               bottom: Any = None) -> Encoder:
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
    cls = SentenceTransformerEncoder if bottom is None else BottomCachedEncoder
    if cached:
        encoder = cls.from_model(model, name=name)
    else:
        encoder = cls.from_model(model, name=name, fingerprint=f"live-{uuid.uuid4().hex}", cache_dir=scratch)
    if bottom is not None:
        encoder.bottom = bottom
    return encoder


def saved_through_bottom(saved: Encoder, trained: Any) -> Encoder:
    """The encoder to evaluate a finished full fine-tune with.

    ``saved`` is the encoder of the saved model folder, and ``trained`` is what the trainer returned
    (:func:`explorer.training.full.train_full`). When ``trained`` still holds the frozen bottom's stored
    outputs, the result has ``saved``'s identity but embeds with the model in memory through that bottom: the
    vectors are the same and take half the work. Otherwise the result is ``saved`` itself.
    """
    if getattr(trained, "bottom", None) is None:
        return saved
    return SavedThroughBottom(saved, trained)
