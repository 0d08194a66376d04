"""Baseline embeddings of the bundled demo, shipped with it so the one-click demo starts without encoding.

``explorer/data/demo/embeddings.npz`` holds the vectors of every demo text (queries and passages) under the
default encoder, keyed like the embedding cache (SHA-1 of the text), and ``embeddings.json`` the encoder
fingerprint they were made with. :func:`seed_demo_embeddings` copies them into an encoder's cache folder *only*
when that encoder's fingerprint is exactly the recorded one (same weights, tokenizer, sequence length,
normalization and precision), so another model, or the same model under bf16 autocast, never reads them; and
since they are keyed by text, a changed demo text is simply embedded again.

Regenerate after changing the demo texts or the default encoder: ``python -m explorer.data.demo_embeddings``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from explorer.data.demo import DEMO_DIR, load_demo
from explorer.encoders.cache import text_key
from explorer.core.storage import write_bytes_atomic

if TYPE_CHECKING:  # pragma: no cover
    from explorer.encoders.base import Encoder

VECTORS = DEMO_DIR / "embeddings.npz"
META = DEMO_DIR / "embeddings.json"
SHARD_NAME = "demo-precomputed.npz"


def shipped_fingerprint() -> str | None:
    """The encoder fingerprint the shipped vectors were made with (None when none are shipped)."""
    try:
        return str(json.loads(META.read_text())["fingerprint"])
    except (OSError, ValueError, KeyError):
        return None


def seed_demo_embeddings(encoder: "Encoder") -> int:
    """Put the shipped demo vectors into ``encoder``'s cache if they were made by this very encoder.

    Returns:
        The number of vectors made available (0: another encoder, no cache, or nothing shipped).
    """
    if encoder.cache_dir is None or not VECTORS.is_file():
        return 0
    fingerprint = shipped_fingerprint()
    if fingerprint is None or fingerprint != encoder.kind_fingerprint("passage") \
            or fingerprint != encoder.kind_fingerprint("query"):
        return 0
    folder = Path(encoder.cache_dir) / fingerprint
    target = folder / SHARD_NAME
    if not target.is_file():
        write_bytes_atomic(target, VECTORS.read_bytes())  # a reader sees the whole shard or none
    with np.load(target, allow_pickle=False) as data:
        return int(len(data["keys"]))


def write_demo_embeddings(encoder: "Encoder") -> int:
    """Embed every demo text with ``encoder`` and write the shipped files; returns the number of texts."""
    dataset = load_demo()
    texts = sorted(set(dataset.queries.values()) | {p.full_text for p in dataset.corpus.values()})
    vectors = encoder.encode(texts, "passage")  # cached vectors are this very encoder's (same fingerprint)
    keys = np.array([text_key(t) for t in texts])
    with open(VECTORS, "wb") as fh:
        np.savez_compressed(fh, keys=keys, vectors=vectors.astype(np.float32))
    META.write_text(json.dumps({"fingerprint": encoder.kind_fingerprint("passage"), "encoder": encoder.name,
                                "texts": len(texts)}, indent=2) + "\n")
    return len(texts)


if __name__ == "__main__":  # pragma: no cover - a maintenance command
    os.environ.setdefault("EXPLORER_BF16", "0")  # the vectors must be the fp32 ones every CPU can reproduce
    from explorer.encoders.registry import load_encoder

    print(f"wrote {write_demo_embeddings(load_encoder('minilm'))} demo vectors to {VECTORS}")
