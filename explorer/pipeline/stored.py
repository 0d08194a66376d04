"""A finished run's stored results, and the comparison of any two models built from them.

A run's evaluation step keeps both models' per-query scores and ranked lists in the run folder
(:mod:`explorer.evaluation.stored`, named by evaluation.json's ``stored`` entry). From them,
:func:`pair_comparison` rebuilds the A-vs-B :class:`~explorer.evaluation.compare.Comparison` of the result pages
without loading a model or embedding a text, for any two of {the baseline, run A, run B} evaluated on the same
dataset fingerprint and split. A side with nothing usable stored (a run folder from before results were kept,
a damaged file, another dataset) is computed as before, from its encoder, loaded only then.

The baseline's stored result is the one kept by run B (the base model it was trained from): it stands for
"the baseline" only when B's base model is the one the pages call the baseline (``baseline_model``). Otherwise
(B is a stored model, or a run from another base) the bake-off's stored result of that model stands for it.
A side may also be a stored model that is not a run (``"model:<spec>"``, :mod:`explorer.pipeline.models`):
its results live in the workspace's ``models/`` folder, in the same file format.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.core.errors import StorageError
from explorer.evaluation.stored import RESULTS_FILE, StoredResults, load_results
from explorer.pipeline.compared import BASELINE
from explorer.pipeline.names import model_spec
from explorer.workspace import Workspace

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset
    from explorer.encoders.base import Encoder
    from explorer.evaluation.compare import Comparison
    from explorer.evaluation.retrieval import RetrievalResult
    from explorer.jobs.runs import Run

Evaluate = Callable[["Dataset", "Encoder", str], "RetrievalResult"]
"""``evaluate(dataset, encoder, split)``: how a side without stored results is computed."""


@dataclass(frozen=True)
class StoredSide:
    """Where one model's stored result lives: a model ("baseline" or "tuned") of a run's results file.

    Attributes:
        run_id: the run that stored it.
        folder: the run folder.
        model: the model's name in the file.
        file: the file's name in the folder.
        stamp: modification time of the file (ns), so a cache keyed by :attr:`key` sees a rewritten file.
    """

    run_id: str
    folder: Path
    model: str
    file: str
    stamp: int

    @property
    def path(self) -> Path:
        """The results file."""
        return self.folder / self.file

    @property
    def key(self) -> tuple[str, str, int]:
        """What the stored result depends on: a cache key part standing for the model's results."""
        return str(self.path), self.model, self.stamp


def stored_results(run: "Run | str | Path") -> StoredResults | None:
    """The results a finished run stored in its folder, or None when it stored none or they cannot be read.

    Args:
        run: the run (as the workspace's runs give it), or a run folder (read here).
    """
    if isinstance(run, (str, Path)):
        from explorer.jobs.runs import RunStore

        run = RunStore.read(run)
    entry = (run.evaluation() or {}).get("stored")  # unreadable files read as None
    if not isinstance(entry, dict) or not entry.get("file"):
        return None
    try:
        return load_results(run.path / str(entry["file"]))
    except (OSError, ValueError):
        return None


def run_results(ws: Workspace, run_id: str) -> StoredResults | None:
    """The stored results (baseline and tuned) of a workspace's run; None when it stored none.

    Raises:
        StorageError: there is no run ``run_id`` in the workspace.
    """
    return stored_results(ws.runs.get(run_id))


def _run(ws: Workspace, run_id: str) -> "Run | None":
    try:
        return ws.runs.get(run_id)
    except StorageError:  # a vanished run has nothing stored
        return None


def stored_side(ws: Workspace, side: str, partner: str, dataset_fingerprint: str, split: str = "test",
                baseline_model: str | None = None) -> StoredSide | None:
    """Where the stored result of one side of a pair lives, if a run stored it for this dataset and split.

    Reads only the run's small JSON files and checks the results file exists; nothing is loaded.

    Args:
        ws: the workspace.
        side: ``BASELINE``, a run id or a model key (``"model:<spec>"``).
        partner: the other side (the baseline's result is the one run ``partner`` stored, else the bake-off's).
        dataset_fingerprint: the loaded dataset's fingerprint; results of other data do not count.
        split: the split compared.
        baseline_model: the base-model spec the pages call the baseline (None: any run's base model counts).
    """
    spec = model_spec(side)
    if spec is not None:
        return _model_side(ws, spec, dataset_fingerprint, split)
    run_id, model = (partner, "baseline") if side == BASELINE else (side, "tuned")
    run = _run(ws, run_id) if model_spec(run_id) is None else None
    found = _run_side(run, model, dataset_fingerprint, split,
                      baseline_model if side == BASELINE else None) if run is not None else None
    if found is None and side == BASELINE:  # the bake-off's result of the baseline model, when it was stored
        return _model_side(ws, baseline_model or "minilm", dataset_fingerprint, split)
    return found


def _run_side(run: "Run", model: str, dataset_fingerprint: str, split: str,
              baseline_model: str | None) -> StoredSide | None:
    if run.state != "succeeded":
        return None
    entry = (run.evaluation() or {}).get("stored")
    if not isinstance(entry, dict) or model not in (entry.get("models") or ()):
        return None
    if entry.get("dataset_fingerprint") != dataset_fingerprint or entry.get("split") != split:
        return None
    if model == "baseline" and baseline_model is not None and run.config.get("base_model") != baseline_model:
        return None
    file = str(entry.get("file") or RESULTS_FILE)
    try:
        stamp = (run.path / file).stat().st_mtime_ns
    except OSError:
        return None
    return StoredSide(run_id=run.id, folder=run.path, model=model, file=file, stamp=stamp)


def _model_side(ws: Workspace, spec: str, dataset_fingerprint: str, split: str) -> StoredSide | None:
    """A stored model's results (the bake-off's), if any are stored for this dataset and split."""
    from explorer.core.errors import ModelError
    from explorer.pipeline.models import model_folder
    from explorer.retrievers.bakeoff import STORED_MODEL

    try:
        folder = model_folder(ws, spec, dataset_fingerprint, split)
        stamp = (folder / RESULTS_FILE).stat().st_mtime_ns
    except (ModelError, OSError):
        return None
    return StoredSide(run_id="", folder=folder, model=STORED_MODEL, file=RESULTS_FILE, stamp=stamp)


def stored_pair(ws: Workspace, dataset_fingerprint: str, a: str, b: str, split: str = "test",
                baseline_model: str | None = None) -> tuple[StoredSide | None, StoredSide | None]:
    """:func:`stored_side` of both sides of the pair (A: ``BASELINE``, a run id or a model key; B: a run id or
    a model key)."""
    return (stored_side(ws, a, b, dataset_fingerprint, split, baseline_model),
            stored_side(ws, b, a, dataset_fingerprint, split, baseline_model))


def load_sides(sides: Sequence[StoredSide | None], dataset_fingerprint: str,
               split: str = "test") -> list["RetrievalResult | None"]:
    """The stored results of ``sides`` (each file read once); None for a side without one or whose file turns
    out unreadable or computed on other data."""
    files: dict[Path, StoredResults | None] = {}
    out: list[RetrievalResult | None] = []
    for side in sides:
        if side is None:
            out.append(None)
            continue
        if side.path not in files:
            try:
                files[side.path] = load_results(side.path)
            except (OSError, ValueError):
                files[side.path] = None
        stored = files[side.path]
        ok = stored is not None and stored.dataset_fingerprint == dataset_fingerprint and stored.split == split
        out.append(stored.results.get(side.model) if ok and stored is not None else None)
    return out


def _evaluate(dataset: "Dataset", encoder: "Encoder", split: str) -> "RetrievalResult":
    from explorer.evaluation.retrieval import evaluate_encoder

    return evaluate_encoder(dataset, encoder, split=split)


def pair_comparison(dataset: "Dataset", sides: Sequence[StoredSide | None], *,
                    encoder_a: Callable[[], "Encoder"], encoder_b: Callable[[], "Encoder"], split: str = "test",
                    names: tuple[str, str] = ("A", "B"), evaluate: Evaluate | None = None,
                    method: str = "student") -> "Comparison":
    """Model A vs model B on ``split``: from stored results where there are some, else computed.

    Args:
        dataset: the loaded dataset (query texts and judgements of the per-query table).
        sides: (A, B) from :func:`stored_pair`.
        encoder_a, encoder_b: return each side's encoder; called only for a side without a usable stored
            result (so a pair stored in full loads no model).
        split: the split compared.
        names: display names of A and B.
        evaluate: ``evaluate(dataset, encoder, split)`` for a side computed (default:
            :func:`~explorer.evaluation.retrieval.evaluate_encoder`); the app passes its memoised one.
        method: significance test, "student" or "fisher".

    Returns:
        The :class:`~explorer.evaluation.compare.Comparison`, equal to the one computed from the encoders.
    """
    from explorer.evaluation.compare import compare_results

    evaluate = evaluate or _evaluate
    stored = load_sides(sides, dataset.fingerprint(), split)
    result_a, result_b = (result if result is not None else evaluate(dataset, load(), split)
                          for result, load in zip(stored, (encoder_a, encoder_b)))
    return compare_results(dataset, result_a, result_b, split=split, name_a=names[0], name_b=names[1], method=method)


def base_model_name(ws: Workspace, run_id: str, spec: str | None = None) -> str | None:
    """The name of the base model a run was trained from, as its config.json recorded it.

    Args:
        ws: the workspace.
        run_id: the run.
        spec: when given, the name is returned only if the run's base model is this spec (so a caller showing
            "the baseline" never names another model).

    Returns:
        The name, or None when unknown (or another base model than ``spec``).
    """
    run = _run(ws, run_id)
    if run is None or (spec is not None and run.config.get("base_model") != spec):
        return None
    info = run.config.get("base_model_info") or {}
    name = info.get("name") if isinstance(info, dict) else None
    return str(name or run.config.get("base_model") or "") or None


def example_queries(dataset: "Dataset", per_query: Any = None, n: int = 6, split: str = "test") -> list[str]:
    """Query texts worth trying on the Search page, from the loaded data.

    Args:
        dataset: the loaded dataset.
        per_query: a comparison's per-query table (:attr:`~explorer.evaluation.compare.Comparison.per_query`):
            when given, the queries whose ranking changed most between A and B (lowest RBO@10, then the largest
            NDCG@10 change) come first.
        n: how many.
        split: the split whose queries are offered (without a comparison: its first ``n`` by id).
    """
    if per_query is not None and len(per_query):
        change = (per_query["ndcg@10_b"] - per_query["ndcg@10_a"]).abs()
        ranked = per_query.assign(_change=change).sort_values(["rbo", "_change"], ascending=[True, False])
        texts = [str(t) for t in ranked["query"] if str(t).strip()]
    else:
        texts = [dataset.queries[q] for q in dataset.query_ids(split) if dataset.queries.get(q, "").strip()]
    return list(dict.fromkeys(texts))[:n]


def query_id_of(dataset: "Dataset", text: str) -> str | None:
    """The id of the dataset's judged query with exactly this text (spaces at the ends ignored), else None:
    a free-text search has no judgements, so its hits have no grade."""
    wanted = text.strip()
    return next((q for q in dataset.query_ids() if dataset.queries.get(q, "").strip() == wanted), None)
