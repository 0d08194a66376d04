"""The bake-off: every chosen model on the same test queries of the same split, and its stored results.

For each model :func:`compare_models` reports NDCG@10, MRR@10 and Recall@100 with 95 % bootstrap intervals
(:func:`~explorer.evaluation.significance.bootstrap_ci`), the paired p-value of each metric against a reference
model (:func:`~explorer.evaluation.significance.paired_test`, Holm-corrected over the models compared with it),
the time to encode 1,000 passages on this machine (an uncached sample of the corpus; BM25: its indexing time),
the vectors' width and the index's size on disk, and what embedding the corpus and the queries through an API
costs (:func:`embedding_cost`: tokens times the dated price list of :mod:`explorer.encoders.prices`; models that
run here cost nothing). A hybrid's fusion is chosen on a dev split of the dataset's
training queries (:func:`~explorer.retrievers.fusion.choose_fusion`), never on the queries it is scored on.

Models that are not training runs get their results stored the way a run's are
(:mod:`explorer.evaluation.stored`): ``<models_dir>/<slug>/<dataset fingerprint>-<split>/`` holds
``results.npz`` (one model, named :data:`STORED_MODEL`) and ``evaluation.json`` (the spec, display name,
metrics and costs, and a ``stored`` entry naming the file), so the result pages can pick any of them as A or B
without loading a model. The caller passes ``models_dir`` (the workspace's ``models/`` folder).
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.core.errors import ModelError
from explorer.core.memory import release_memory
from explorer.core.progress import Progress, prefixed, silent

if TYPE_CHECKING:  # pragma: no cover
    from explorer.core.config import Settings
    from explorer.data.model import Dataset
    from explorer.encoders.spec import ModelSpec
    from explorer.evaluation.retrieval import RetrievalResult
    from explorer.retrievers.base import Retriever

METRICS = ("ndcg@10", "mrr@10", "recall@100")
"""The bake-off's metrics."""
STORED_MODEL = "model"
"""The model's name inside a stored results file."""
DEV_QUERIES = 300
"""Training queries (at most) a hybrid's fusion is chosen on."""
MIN_DEV_QUERIES = 20
"""Fewer training queries than this: a hybrid keeps the default fusion (a dev split that small would only add noise)."""
TIMING_SAMPLE = 128
"""Passages encoded without the cache to time a model."""


@dataclass
class ModelRow:
    """One model's line of the bake-off (see the module docstring); ``p_values``/``p_holm`` are None for the
    reference itself."""

    spec: str
    display: str
    kind: str
    result: "RetrievalResult"
    intervals: dict[str, tuple[float, float]]
    p_values: dict[str, float] | None
    p_holm: dict[str, float] | None
    encode_seconds_per_1000: float
    dim: int | None
    index_bytes: int
    fusion: dict[str, Any] | None = None
    stored: str | None = None
    api_cost: dict[str, Any] | None = None
    """What embedding the corpus and queries costs (:func:`embedding_cost`); None when not recorded."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: spec, display name, metrics with intervals and p-values, costs."""
        metrics = {m: {"mean": round(self.result.metrics[m], 4),
                       "ci95": [round(self.intervals[m][0], 4), round(self.intervals[m][1], 4)],
                       "p_value": None if self.p_values is None else round(self.p_values[m], 6),
                       "p_holm": None if self.p_holm is None else round(self.p_holm[m], 6)} for m in METRICS}
        return {"spec": self.spec, "display": self.display, "kind": self.kind, "metrics": metrics,
                "encode_seconds_per_1000": round(self.encode_seconds_per_1000, 3), "dim": self.dim,
                "index_bytes": self.index_bytes, "fusion": self.fusion, "stored": self.stored,
                "n_queries": self.result.n_queries, "api_cost": self.api_cost}


@dataclass
class BakeOff:
    """The bake-off's table: one :class:`ModelRow` per model, all on the same queries."""

    dataset: str
    split: str
    reference: str
    k: int
    cpu: str
    rows: list[ModelRow] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "split": self.split, "reference": self.reference, "k": self.k,
                "cpu": self.cpu, "metrics": list(METRICS), "seconds": round(self.seconds, 2),
                "models": [row.to_dict() for row in self.rows]}


def cpu_name() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (or the platform's word for it), with the core count."""
    import os
    import platform

    from explorer.encoders.hardware import read_cpuinfo

    name = next((line.partition(":")[2].strip() for line in (read_cpuinfo() or "").splitlines()
                 if line.startswith("model name")), "") or platform.processor() or "unknown CPU"
    return f"{name}, {os.cpu_count()} cores"


def compare_models(dataset: "Dataset", specs: Sequence[str], *, reference: str | None = None,
                   settings: "Settings | None" = None, models_dir: Path | None = None, split: str = "test",
                   k: int = 100, progress: Progress | None = None, timing_sample: int = TIMING_SAMPLE,
                   device: str | None = None, api_key: str | None = None) -> BakeOff:
    """Evaluate every model of ``specs`` on the same split and compare each with ``reference``.

    Args:
        dataset: the dataset (its whole corpus is searched).
        specs: model specs (:data:`explorer.encoders.spec.GRAMMAR`), at least one; duplicates are dropped.
        reference: the spec the others are tested against (one of ``specs``); the first by default.
        settings: the workspace's settings (run ids, public mode).
        models_dir: where to store the results of models that are not runs; None stores nothing.
        split: the split whose judged queries are scored.
        k: passages retrieved per query.
        progress: hears ``"<spec>:<stage>"`` reports.
        timing_sample: passages encoded without the cache to time each dense model.
        device: "cpu" / "cuda" for model encoders; None picks one.
        api_key: the key for API models (the visitor's, in memory only); None: the server's, if any.

    Raises:
        ModelError: no model, a bad spec, or a reference that is not among the models.
        DataError: the split has no judged query.
    """
    from explorer.encoders.spec import parse_spec
    from explorer.evaluation.retrieval import evaluate_retriever
    from explorer.retrievers import load_retriever

    started = time.perf_counter()
    parsed = list({p.text: p for p in (parse_spec(s, settings=settings) for s in specs)}.values())
    if not parsed:
        raise ModelError("No model to compare; give at least one, e.g. --models minilm,static,bm25,hybrid.")
    reference = parsed[0].text if reference is None else parse_spec(reference, settings=settings).text
    if reference not in {p.text for p in parsed}:
        raise ModelError(f"The reference {reference!r} is not among the models compared; add it to --models.")
    costs: list[dict[str, Any]] = []
    shared: dict[str, Retriever] = {}
    timings: dict[str, float] = {}
    rows = []
    for i, spec in enumerate(parsed):
        report = prefixed(progress, f"{spec.text}:")
        release_memory()  # what the previous model (or the page before) freed goes back before the next loads
        (report or silent)("loading", 0, 1)  # static over a model of its own: distilled here once (a minute or more)
        retriever = load_retriever(spec.text, settings=settings, device=device, shared=shared, progress=report,
                                   api_key=api_key)
        (report or silent)("loading", 1, 1)
        fusion = _tune_fusion(dataset, retriever, k, spec, settings) if spec.kind == "hybrid" else None
        result = evaluate_retriever(dataset, retriever, split=split, k=k, progress=report)
        (report or silent)("timing", 0, 1)
        costs.append(embedding_cost(retriever, dataset, split))
        rows.append(ModelRow(spec.text, spec.display, spec.kind, result, {}, None, None,
                             _seconds_per_1000(retriever, dataset, timing_sample, timings), retriever.dim,
                             retriever.index_bytes(), fusion))
        _release(shared, parsed[i + 1:])
    significance(rows, reference)
    bake = BakeOff(dataset.name, split, reference, k, cpu_name(), rows)
    for row, cost in zip(rows, costs):
        row.api_cost = cost
    if models_dir is not None:
        for row, spec in zip(rows, parsed):
            if spec.kind != "run":
                row.stored = str(save_model_results(models_dir, spec, row, dataset.fingerprint(), split, bake.cpu))
    bake.seconds = time.perf_counter() - started
    return bake


def _release(shared: "dict[str, Retriever]", later: "Sequence[ModelSpec]") -> None:
    """Drop the retrievers (an encoder and its corpus vectors, a BM25 index) no later model reuses, so only the
    models still to score stay in memory (the encoders registry keeps what its budget allows)."""
    needed = {key for spec in later for key in _uses(spec)}
    for key in [k for k in shared if k not in needed]:
        del shared[key]


def _uses(spec: "ModelSpec") -> set[str]:
    """The keys of the shared retrievers a model's retriever is made of (see ``load_retriever``)."""
    if spec.kind == "bm25":
        return {"bm25"}
    if spec.kind == "hybrid":
        return {"bm25", spec.inner.text}  # type: ignore[union-attr]
    return {spec.text}


def _tune_fusion(dataset: "Dataset", retriever: "Retriever", k: int, spec: "ModelSpec",
                 settings: "Settings | None") -> dict[str, Any]:
    """Choose a hybrid's fusion on training queries its dense model never trained on (:func:`fusion_queries`)
    and set it; too few of them keep the default fusion."""
    from explorer.retrievers.fusion import choose_fusion

    train = dataset.qrels_for("train")
    qids, where = fusion_queries(dataset, spec, settings)
    if len(qids) < MIN_DEV_QUERIES:
        return {"method": retriever.method, "dense_weight": retriever.dense_weight,
                "chosen_on": f"defaults (fewer than {MIN_DEV_QUERIES} {where})"}
    pids = dataset.passage_ids()
    retriever.index(pids, dataset.passage_texts(pids))
    dense, sparse = retriever.search_both([dataset.queries[q] for q in qids], k)
    method, weight, tried = choose_fusion(dense, sparse, qids, {q: train[q] for q in qids})
    retriever.method, retriever.dense_weight = method, weight
    return {"method": method, "dense_weight": weight, "chosen_on": f"{len(qids)} {where}",
            "dev_ndcg@10": {label: round(v, 4) for label, v in tried.items()}}


def fusion_queries(dataset: "Dataset", spec: "ModelSpec", settings: "Settings | None") -> tuple[list[str], str]:
    """The judged training queries a hybrid's fusion may be chosen on, and how to name them.

    A dense model fine-tuned on this dataset (a run, or a compressed form of one) trained on every training
    query but its run's dev split: only those are fair, as test queries would be. Any other model never saw
    the dataset: up to :data:`DEV_QUERIES` training queries (a seeded sample)."""
    import json

    from explorer.data.splits import DEV_FRACTION, dev_split
    from explorer.encoders.spec import find_run_folder, runs_dir_for

    judged = sorted(dataset.qrels_for("train"))
    inner = spec.inner
    while inner is not None and inner.kind != "run" and inner.inner is not None:
        inner = inner.inner
    folder = find_run_folder(inner.text, runs_dir_for(settings)) if inner is not None and inner.kind == "run" else None
    config = json.loads((folder / "config.json").read_text()) if folder and (folder / "config.json").exists() else {}
    if config.get("dataset", {}).get("fingerprint") == dataset.fingerprint():
        held_out = set(dev_split(dataset.query_ids("train"), DEV_FRACTION, seed=int(config.get("seed", 42)))[1])
        return [q for q in judged if q in held_out], "training queries its fine-tune held out"
    if len(judged) > DEV_QUERIES:
        judged = sorted(random.Random(13).sample(judged, DEV_QUERIES))
    return judged, "training queries"


def _seconds_per_1000(retriever: "Retriever", dataset: "Dataset", sample: int, memo: dict[str, float]) -> float:
    """Seconds to encode (dense) or index (BM25) 1,000 of the dataset's passages on this machine."""
    from explorer.retrievers.base import DenseRetriever
    from explorer.retrievers.bm25 import BM25Retriever
    from explorer.retrievers.hybrid import HybridRetriever

    if isinstance(retriever, HybridRetriever):
        return (_seconds_per_1000(retriever.dense, dataset, sample, memo)
                + _seconds_per_1000(retriever.sparse, dataset, sample, memo))
    if isinstance(retriever, BM25Retriever):
        n = max(1, len(dataset.corpus))
        if not retriever.index_seconds:  # reused index: time a fresh one
            fresh = BM25Retriever()
            fresh.index(dataset.passage_ids(), dataset.passage_texts())
            return fresh.index_seconds / n * 1000
        return retriever.index_seconds / n * 1000
    if not isinstance(retriever, DenseRetriever):
        return float("nan")
    key = retriever.encoder.fingerprint
    if key not in memo:
        ids = dataset.passage_ids()
        chosen = sorted(random.Random(7).sample(range(len(ids)), min(sample, len(ids))))
        texts = dataset.passage_texts([ids[i] for i in chosen])
        start = time.perf_counter()
        retriever.encoder.encode(texts, "passage", use_cache=False)
        memo[key] = (time.perf_counter() - start) / max(1, len(texts)) * 1000
    return memo[key]


def _api_encoder(retriever: "Retriever") -> Any:
    """The API encoder a retriever embeds with (itself, a hybrid's dense side, an adapter's base), or None."""
    encoder = getattr(getattr(retriever, "dense", retriever), "encoder", None)
    while encoder is not None and not hasattr(encoder, "estimate_cost"):
        encoder = getattr(encoder, "base", None)
    return encoder


def embedding_cost(retriever: "Retriever", dataset: "Dataset", split: str = "test") -> dict[str, Any]:
    """What embedding the corpus and the split's judged queries once costs with this retriever's model.

    An API model: the texts' tokens, counted offline as its encoder counts them, times its price in the dated
    list (:mod:`explorer.encoders.prices`), whatever the embedding cache holds (the cost of the pass, not of
    this visit); ``usd`` None when the model has no listed price (a compatible server's own model). Any other
    model runs on this machine: ``{"local": True, "usd": 0.0}``.
    """
    from explorer.encoders.prices import estimate_cost

    encoder = _api_encoder(retriever)
    if encoder is None:
        return {"local": True, "usd": 0.0}
    queries = [dataset.queries[q] for q in sorted(dataset.qrels_for(split)) if q in dataset.queries]
    estimate = estimate_cost([*dataset.passage_texts(), *queries], encoder.model, base_url=encoder.base_url,
                             counter=encoder.tokens,
                             max_tokens=encoder.max_tokens if encoder.overflow == "truncate" else None)
    return {"local": False, "usd": estimate.usd, "tokens": estimate.tokens, "texts": estimate.texts,
            "exact": estimate.exact, "model": estimate.model, "price_per_million": estimate.price_per_million,
            "as_of": estimate.as_of, "source": estimate.source}


def cost_text(cost: dict[str, Any] | None) -> str:
    """A bake-off cell for :func:`embedding_cost`: "local", "$0.0123" (about, when tokens were estimated),
    "unknown price", or "—" when the cost was not recorded (results stored by an earlier version)."""
    if not cost:
        return "—"
    if cost.get("local"):
        return "local"
    if cost.get("usd") is None:
        return "unknown price"
    return f"{'' if cost.get('exact') else 'about '}${float(cost['usd']):,.4f}"


def significance(rows: list[ModelRow], reference: str) -> None:
    """Fill each row's intervals, and the p-values against the reference (Holm over the other rows)."""
    from explorer.evaluation.significance import bootstrap_ci, holm, paired_test

    base = next(row for row in rows if row.spec == reference)
    others = [row for row in rows if row is not base]
    for row in rows:
        row.intervals = {m: bootstrap_ci(list(row.result.per_query[m].values())) for m in METRICS}
    for row in others:
        row.p_values = {m: paired_test(base.result.per_query[m], row.result.per_query[m]) for m in METRICS}
        row.p_holm = {}
    for m in METRICS:
        for row, adjusted in zip(others, holm([row.p_values[m] for row in others])):  # type: ignore[index]
            row.p_holm[m] = adjusted  # type: ignore[index]


def stored_folder(models_dir: Path, spec: "ModelSpec", dataset_fingerprint: str, split: str) -> Path:
    """Where one model's results on one dataset split are kept (see the module docstring)."""
    return Path(models_dir) / spec.slug / f"{dataset_fingerprint}-{split}"


def save_model_results(models_dir: Path, spec: "ModelSpec", row: ModelRow, dataset_fingerprint: str, split: str,
                       cpu: str) -> Path:
    """Store a bake-off row like a run's results (``results.npz`` + ``evaluation.json``); returns the folder."""
    from explorer.core.storage import write_json_atomic
    from explorer.evaluation.stored import RESULTS_FILE, StoredResults, save_results

    folder = stored_folder(models_dir, spec, dataset_fingerprint, split)
    stored = StoredResults({STORED_MODEL: row.result}, dataset_fingerprint, split)
    size = save_results(folder / RESULTS_FILE, stored)
    evaluation = {"spec": spec.text, "display": spec.display, "kind": spec.kind, "split": split,
                  STORED_MODEL: row.result.to_dict(), "costs": {
                      "encode_seconds_per_1000": row.encode_seconds_per_1000, "dim": row.dim,
                      "index_bytes": row.index_bytes, "cpu": cpu, "api_cost": row.api_cost}, "fusion": row.fusion,
                  "stored": {"file": RESULTS_FILE, "models": [STORED_MODEL], "split": split,
                             "dataset_fingerprint": dataset_fingerprint, "k": stored.k, "bytes": size}}
    write_json_atomic(folder / "evaluation.json", evaluation)
    return folder


def load_model_results(models_dir: Path, spec: "ModelSpec", dataset_fingerprint: str,
                       split: str = "test") -> "RetrievalResult | None":
    """A model's stored result on a dataset split, or None when none is stored (or the file is unreadable)."""
    from explorer.evaluation.stored import RESULTS_FILE, load_results

    try:
        stored = load_results(stored_folder(models_dir, spec, dataset_fingerprint, split) / RESULTS_FILE)
    except (FileNotFoundError, ValueError):
        return None
    if stored.dataset_fingerprint != dataset_fingerprint or stored.split != split:
        return None
    return stored.results.get(STORED_MODEL)


def list_stored_models(models_dir: Path, dataset_fingerprint: str, split: str = "test") -> list[dict[str, Any]]:
    """The models with results stored for a dataset split (what a result page offers as A or B): each one's
    ``spec``, ``display`` name, ``folder`` and metric means, sorted by display name. Unreadable entries are
    skipped."""
    import json

    found = []
    for evaluation in sorted(Path(models_dir).glob(f"*/{dataset_fingerprint}-{split}/evaluation.json")):
        try:
            data = json.loads(evaluation.read_text(encoding="utf-8"))
            found.append({"spec": str(data["spec"]), "display": str(data["display"]), "folder": evaluation.parent,
                          "metrics": {m: float(data[STORED_MODEL][m]) for m in METRICS}})
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return sorted(found, key=lambda entry: entry["display"])
