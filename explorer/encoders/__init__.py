"""Encoders: the base class, the sentence-transformers and OpenAI encoders, adapters, and the fake.

Use :func:`explorer.encoders.registry.load_encoder` to turn a name ("minilm", a model id, a local path,
a run directory, "openai:<model>", "fake") into an encoder.
"""

from explorer.encoders.base import Encoder, normalize_rows

__all__ = ["Encoder", "normalize_rows"]
