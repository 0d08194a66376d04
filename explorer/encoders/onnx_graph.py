"""The module traced to ONNX: a transformer called with positional tensors, returning its token embeddings.

``torch.onnx.export`` passes inputs positionally; Hugging Face models take them by name. Kept in a module of its
own because it subclasses ``torch.nn.Module`` and so imports torch: :mod:`explorer.encoders.export` imports it
only when it exports.
"""

from __future__ import annotations

from typing import Any

import torch


class PositionalTransformer(torch.nn.Module):
    """``transformer(**dict(zip(names, args))).last_hidden_state``, for tracing."""

    def __init__(self, transformer: Any, names: list[str]) -> None:
        super().__init__()
        self.inner = transformer
        self.names = list(names)

    def forward(self, *args: Any) -> Any:
        return self.inner(**dict(zip(self.names, args)), return_dict=True).last_hidden_state
