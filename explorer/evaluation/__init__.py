"""Evaluation: retrieval metrics (ranx), significance and confidence, rank-biased overlap, pair
classification, and the per-query comparison of two encoders.

Modules:
    retrieval: :func:`search_exact`, :func:`evaluate_run`, :func:`evaluate_encoder`,
        :func:`evaluate_retriever`, :class:`RetrievalResult`.
    significance: :func:`paired_test`, :func:`bootstrap_ci`, :func:`paired_bootstrap_ci`, :func:`holm`.
    overlap: :func:`rbo`, :func:`mean_rbo`.
    pairs: :func:`pair_similarities`, :func:`classify_pairs`, :class:`PairClassification`.
    compare: :func:`compare_encoders`, :class:`Comparison`.
    stored: :func:`save_results`, :func:`load_results`, :class:`StoredResults` (results kept with a run).

Names are re-exported lazily, so ``import explorer.evaluation`` costs nothing until one is used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DEFAULT_METRICS": "retrieval",
    "RetrievalResult": "retrieval",
    "search_exact": "retrieval",
    "evaluate_run": "retrieval",
    "evaluate_encoder": "retrieval",
    "evaluate_retriever": "retrieval",
    "holm": "significance",
    "paired_test": "significance",
    "bootstrap_ci": "significance",
    "paired_bootstrap_ci": "significance",
    "rbo": "overlap",
    "mean_rbo": "overlap",
    "rbo_per_query": "overlap",
    "pair_similarities": "pairs",
    "classify_pairs": "pairs",
    "PairClassification": "pairs",
    "compare_encoders": "compare",
    "compare_results": "compare",
    "Comparison": "compare",
    "StoredResults": "stored",
    "save_results": "stored",
    "load_results": "stored",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"explorer.evaluation.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'explorer.evaluation' has no attribute {name!r}")
