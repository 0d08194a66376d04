"""Retrieval results on disk: the per-query scores and ranked lists of several models in one compact file.

A finished run keeps what its evaluation computed (``results.npz`` next to ``evaluation.json``), so the result
pages can rebuild each model's :class:`~explorer.evaluation.retrieval.RetrievalResult`, and the comparison of
any two, without loading an encoder or embedding a single text.

Layout of the file (a NumPy ``.npz``, compressed, read without pickle):

- ``meta``: UTF-8 JSON (as a uint8 array): format version, the dataset fingerprint and split the results
  were computed on, and per model its metric means, ``n_queries``, ``seconds`` and metric names.
- ``query_ids``, ``passage_ids``: the ids the index arrays point into (one shared list each).
- per model ``<name>.per_query``: (n_metrics, n_queries) float64, NaN where a query has no score.
- per model ``<name>.run_rows``: the ``query_ids`` rows that have a ranked list (in the result's order).
- per model ``<name>.top`` / ``<name>.scores``: (len(run_rows), k) int32 passage indices and float32 cosine
  similarities, best first; short lists are padded with -1 / NaN.

Scores are float32 because the search computes them in float32 (:mod:`explorer.core.topk`): the
round trip is exact, so a rebuilt result equals the computed one. For 360 test queries, k = 100 and two
models the file weighs a few hundred kilobytes, a tenth of the same lists in JSON, and loads in milliseconds.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from explorer.evaluation.retrieval import RetrievalResult
from explorer.core.storage import write_bytes_atomic

RESULTS_FILE = "results.npz"
"""File name of the stored results inside a run folder."""

FORMAT = 1
"""Version of the layout above; a file of another version is not read (the caller recomputes)."""


@dataclass
class StoredResults:
    """Results of several models on one dataset split, as read from (or written to) a results file.

    Attributes:
        results: model name (e.g. "baseline", "tuned") -> its retrieval result.
        dataset_fingerprint: fingerprint of the dataset (texts, judgements, split) they were computed on.
        split: the split evaluated ("test").
    """

    results: dict[str, RetrievalResult]
    dataset_fingerprint: str
    split: str = "test"

    @property
    def k(self) -> int:
        """The longest ranked list stored (the evaluation's cut-off when the corpus is large enough)."""
        return max((len(docs) for r in self.results.values() for docs in r.run.values()), default=0)


def save_results(path: str | Path, stored: StoredResults) -> int:
    """Write ``stored`` to ``path`` atomically (see the module docstring for the layout).

    Returns:
        The file's size in bytes.

    Raises:
        ValueError: a model name is empty or contains a dot (the array names use it as a separator).
        StorageError: the file cannot be written.
    """
    query_ids: dict[str, int] = {}
    passage_ids: dict[str, int] = {}
    for result in stored.results.values():
        for scores in result.per_query.values():
            for q in scores:
                query_ids.setdefault(q, len(query_ids))
        for q, docs in result.run.items():
            query_ids.setdefault(q, len(query_ids))
            for p in docs:
                passage_ids.setdefault(p, len(passage_ids))
    arrays: dict[str, np.ndarray] = {
        "query_ids": np.array(list(query_ids), dtype=str),
        "passage_ids": np.array(list(passage_ids), dtype=str),
    }
    models: dict[str, Any] = {}
    for name, result in stored.results.items():
        if not name or "." in name:
            raise ValueError(f"model names must be non-empty and without dots, got {name!r}")
        metrics = list(result.per_query)
        per_query = np.full((len(metrics), len(query_ids)), np.nan, dtype=np.float64)
        for i, m in enumerate(metrics):
            for q, s in result.per_query[m].items():
                per_query[i, query_ids[q]] = s
        k = max((len(docs) for docs in result.run.values()), default=0)
        top = np.full((len(result.run), k), -1, dtype=np.int32)
        scores = np.full((len(result.run), k), np.nan, dtype=np.float32)
        for row, docs in enumerate(result.run.values()):
            top[row, :len(docs)] = [passage_ids[p] for p in docs]
            scores[row, :len(docs)] = list(docs.values())
        arrays[f"{name}.per_query"] = per_query
        arrays[f"{name}.run_rows"] = np.array([query_ids[q] for q in result.run], dtype=np.int32)
        arrays[f"{name}.top"] = top
        arrays[f"{name}.scores"] = scores
        models[name] = {"metrics": {m: float(v) for m, v in result.metrics.items()}, "per_query_metrics": metrics,
                        "n_queries": int(result.n_queries), "seconds": float(result.seconds)}
    meta = {"format": FORMAT, "dataset_fingerprint": stored.dataset_fingerprint, "split": stored.split,
            "models": models}
    arrays["meta"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    data = buffer.getvalue()
    write_bytes_atomic(path, data)
    return len(data)


def load_results(path: str | Path) -> StoredResults:
    """Read a file written by :func:`save_results`.

    Raises:
        FileNotFoundError: there is no such file.
        ValueError: the file is damaged, of another format version, or not a results file.
    """
    try:
        with np.load(Path(path), allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode("utf-8"))
            if meta.get("format") != FORMAT:
                raise ValueError(f"it has format {meta.get('format')!r}, this version reads format {FORMAT}")
            query_ids = data["query_ids"].tolist()
            passage_ids = data["passage_ids"].tolist()
            results = {name: _result(data, name, info, query_ids, passage_ids)
                       for name, info in meta["models"].items()}
    except FileNotFoundError:
        raise
    except (OSError, KeyError, IndexError, TypeError, ValueError) as exc:  # JSON and Unicode errors are ValueErrors
        raise ValueError(f"{path} is not a readable results file: {exc}") from exc
    return StoredResults(results=results, dataset_fingerprint=str(meta["dataset_fingerprint"]),
                         split=str(meta["split"]))


def _result(data: Mapping[str, np.ndarray], name: str, info: Mapping[str, Any], query_ids: list[str],
            passage_ids: list[str]) -> RetrievalResult:
    """One model's result from its arrays (the inverse of the per-model part of :func:`save_results`)."""
    per_query: dict[str, dict[str, float]] = {}
    matrix = data[f"{name}.per_query"]
    for m, row in zip(info["per_query_metrics"], matrix.tolist()):
        per_query[m] = {q: s for q, s in zip(query_ids, row) if s == s}  # s != s only for NaN (no score)
    run: dict[str, dict[str, float]] = {}
    for q_row, top, scores in zip(data[f"{name}.run_rows"].tolist(), data[f"{name}.top"].tolist(),
                                  data[f"{name}.scores"].tolist()):
        run[query_ids[q_row]] = {passage_ids[p]: s for p, s in zip(top, scores) if p >= 0}
    return RetrievalResult(metrics={m: float(v) for m, v in info["metrics"].items()}, per_query=per_query,
                           run=run, n_queries=int(info["n_queries"]), seconds=float(info.get("seconds", 0.0)))
