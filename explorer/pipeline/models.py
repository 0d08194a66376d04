"""Pipeline step: which model? The bake-off of a workspace's dataset, and the models it stored.

:func:`run_bakeoff` evaluates the chosen models (:data:`explorer.encoders.spec.GRAMMAR`: the bundled MiniLM,
static embeddings, BM25, a hybrid, the int8 ONNX form, finished runs as ``run:<id>``) on the workspace's
dataset and split with :func:`explorer.retrievers.bakeoff.compare_models`, which stores each model's results
in the workspace's ``models/`` folder (the same folder ``python -m explorer compare-models`` uses) like a
run's. Only models with nothing stored for this dataset and split are computed; :func:`stored_bakeoff`
rebuilds the table (intervals, Holm-corrected p-values against the chosen reference, costs) from the stored
files alone, so a page shows it again without loading a model. :func:`stored_models` lists what the result
pages can offer as model A or B.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.core.errors import ModelError
from explorer.core.progress import Progress
from explorer.workspace import Workspace

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset
    from explorer.retrievers.bakeoff import BakeOff

MODELS_FOLDER = "models"
"""The workspace folder holding the stored results of models that are not runs."""
CHOICES = {
    "minilm": "the bundled all-MiniLM-L6-v2",
    "static": "model2vec static embeddings distilled from MiniLM: about a hundred times faster to encode, weaker",
    "bm25": "BM25 word matching (bm25s, Snowball stemmer): no vectors",
    "hybrid": "BM25 fused with MiniLM, the fusion chosen on training queries (never on the test queries)",
    "onnx-int8:minilm": "MiniLM compressed to int8 ONNX",
}
"""The models the Metrics page offers besides finished runs, with one line about each."""
DEFAULT_CHOICE = ("minilm", "static", "bm25", "hybrid")
"""What the bake-off picks by default (static ships ready-made: it costs seconds)."""
RUN_PREFIX = "run:"


def models_dir(ws: Workspace) -> Path:
    """Where a workspace keeps the stored results of models that are not runs."""
    return ws.folder / MODELS_FOLDER


def run_spec(run_id: str) -> str:
    """The model spec of a finished run (what the bake-off takes)."""
    return RUN_PREFIX + run_id


def stored_models(ws: Workspace, dataset_fingerprint: str, split: str = "test") -> list[dict[str, Any]]:
    """The models that are not runs with results stored for a dataset split (what a result page offers as A or
    B): each one's ``spec``, ``display`` name, ``folder`` and metric means, by display name."""
    from explorer.retrievers.bakeoff import list_stored_models

    return [m for m in list_stored_models(models_dir(ws), dataset_fingerprint, split)
            if not m["spec"].startswith(RUN_PREFIX)]


def bakeoff_choices(ws: Workspace) -> dict[str, str]:
    """Every model the bake-off can compare: :data:`CHOICES` and the succeeded runs (``run:<id>``), spec -> name."""
    from explorer.encoders.spec import parse_spec
    from explorer.pipeline.names import run_labels, short_display
    from explorer.pipeline.training import list_runs

    names = {spec: short_display(parse_spec(spec).display) for spec in CHOICES}
    runs = [r.id for r in list_runs(ws) if r.status == "succeeded"]
    return {**names, **{run_spec(r): label for r, label in run_labels(ws, runs).items()}}


def run_bakeoff(ws: Workspace, dataset: "Dataset", specs: Sequence[str], reference: str | None = None, *,
                split: str = "test", progress: Progress | None = None, device: str | None = None,
                api_key: str | None = None) -> "BakeOff":
    """Compare ``specs`` on the workspace's dataset: compute (and store) the models with nothing stored yet for
    this dataset and split, then build the table from the stored results.

    Args:
        ws: the workspace (settings: run ids, public mode; its ``models/`` folder stores the results).
        dataset: the workspace's dataset.
        specs: model specs, at least one.
        reference: the spec the others are tested against (the first by default).
        split: the split scored.
        progress: hears ``"<spec>:<stage>"`` reports of the models computed.
        device: "cpu" / "cuda" for model encoders; None picks one.
        api_key: the key for API models (the visitor's session key; never stored).

    Raises:
        ModelError: no model, a bad spec or a reference that is not among them (one line).
        DataError: the split has no judged query.
    """
    from explorer.encoders.spec import parse_spec
    from explorer.retrievers.bakeoff import compare_models, save_model_results

    specs = _checked(specs, reference)
    missing = [s for s in specs if _stored(ws, s, dataset.fingerprint(), split) is None]
    if missing:
        bake = compare_models(dataset, missing, settings=ws.settings, models_dir=models_dir(ws), split=split,
                              progress=progress, device=device, api_key=api_key)
        for row in bake.rows:  # runs keep their own folder; their bake-off row (costs included) is kept here too
            if row.kind == "run":
                save_model_results(models_dir(ws), parse_spec(row.spec, settings=ws.settings), row,
                                   dataset.fingerprint(), split, bake.cpu)
    table = stored_bakeoff(ws, dataset, specs, reference, split=split)
    if table is None:  # written just now: only a file that cannot be written or read again gets here
        raise ModelError(f"The bake-off's results could not be stored in {models_dir(ws)}; check the disk.")
    return table


def stored_bakeoff(ws: Workspace, dataset: "Dataset", specs: Sequence[str], reference: str | None = None, *,
                   split: str = "test") -> "BakeOff | None":
    """The bake-off table of ``specs`` from the stored results alone (no model loaded), or None when one of
    them has nothing stored for this dataset and split."""
    from explorer.retrievers.bakeoff import BakeOff, ModelRow, significance

    specs = _checked(specs, reference)
    rows, infos = [], []
    for spec in specs:
        found = _stored(ws, spec, dataset.fingerprint(), split)
        if found is None:
            return None
        result, info = found
        costs = info.get("costs") or {}
        infos.append(info)
        rows.append(ModelRow(str(info.get("spec", spec)), str(info.get("display", spec)), str(info.get("kind", "")),
                             result, {}, None, None, float(costs.get("encode_seconds_per_1000", float("nan"))),
                             costs.get("dim"), int(costs.get("index_bytes") or 0), info.get("fusion"),
                             api_cost=costs.get("api_cost")))
    reference_spec = rows[specs.index(reference)].spec if reference in specs else rows[0].spec
    significance(rows, reference_spec)
    cpu = next((str((i.get("costs") or {}).get("cpu")) for i in infos if (i.get("costs") or {}).get("cpu")), "")
    k = max(int((i.get("stored") or {}).get("k") or 0) for i in infos)
    return BakeOff(dataset.name, split, reference_spec, k, cpu, rows)


def _checked(specs: Sequence[str], reference: str | None) -> list[str]:
    specs = list(dict.fromkeys(s.strip() for s in specs if s and s.strip()))
    if not specs:
        raise ModelError("No model to compare: pick at least one, e.g. MiniLM and BM25.")
    if reference is not None and reference not in specs:
        raise ModelError(f"The reference {reference!r} is not among the models compared; pick it too.")
    return specs


def _folder(ws: Workspace, spec: str, fingerprint: str, split: str) -> Path:
    from explorer.encoders.spec import parse_spec
    from explorer.retrievers.bakeoff import stored_folder

    return stored_folder(models_dir(ws), parse_spec(spec, settings=ws.settings), fingerprint, split)


def _stored(ws: Workspace, spec: str, fingerprint: str, split: str) -> tuple[Any, dict[str, Any]] | None:
    """(stored result, evaluation.json) of one model, or None when nothing usable is stored."""
    from explorer.encoders.spec import parse_spec
    from explorer.retrievers.bakeoff import load_model_results

    result = load_model_results(models_dir(ws), parse_spec(spec, settings=ws.settings), fingerprint, split)
    if result is None:
        return None
    try:
        info = json.loads((_folder(ws, spec, fingerprint, split) / "evaluation.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return (result, info) if isinstance(info, dict) else None


def model_folder(ws: Workspace, spec: str, dataset_fingerprint: str, split: str = "test") -> Path:
    """The folder holding a stored model's results on a dataset split (it may not exist)."""
    return _folder(ws, spec, dataset_fingerprint, split)


def stored_stamp(ws: Workspace, dataset_fingerprint: str, split: str = "test") -> tuple[tuple[str, int], ...]:
    """What the stored results of a dataset split depend on (each results file and its modification time): a
    cache key part that changes when a model is compared again."""
    found = []
    for path in sorted(models_dir(ws).glob(f"*/{dataset_fingerprint}-{split}/*")):
        try:
            found.append((str(path), path.stat().st_mtime_ns))
        except OSError:
            continue
    return tuple(found)


def missing_models(ws: Workspace, dataset_fingerprint: str, specs: Sequence[str], split: str = "test") -> list[str]:
    """The specs with no stored results for this dataset split (checked by file, nothing is read).

    Raises:
        ModelError: a spec that names nothing usable.
    """
    from explorer.evaluation.stored import RESULTS_FILE

    return [s for s in specs if not (_folder(ws, s, dataset_fingerprint, split) / RESULTS_FILE).is_file()
            or not (_folder(ws, s, dataset_fingerprint, split) / "evaluation.json").is_file()]
