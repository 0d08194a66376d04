"""What fine-tuning cost elsewhere: both compared models evaluated on a second dataset, stored with the run.

Fine-tuning on one domain can make a model worse on others. :func:`check_generalization` loads a second
dataset through the workspace's own rules (:func:`explorer.pipeline.data.load_dataset`: in public mode only the
demo, hub ids or the workspace's uploads), evaluates model A and model B on *all* its judged queries (none of
them was trained on) and compares them with the same paired test and bootstrap intervals as the in-domain
comparison. The result is appended to the run's ``evaluation.json`` under ``generalization`` (one entry per
dataset and pair; the model card renders the entries against the baseline).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from explorer.core.errors import DataError
from explorer.core.progress import Progress
from explorer.workspace import DatasetChoice, Workspace

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset
    from explorer.encoders.base import Encoder

KEY = "generalization"


def same_texts(a: "Dataset", b: "Dataset") -> bool:
    """Whether two datasets hold the same queries and passages (whatever their split)."""
    return a.queries == b.queries and set(a.corpus) == set(b.corpus)


def stored_checks(ws: Workspace, run_id: str) -> list[dict[str, Any]]:
    """The generalization entries stored with a run (empty when none, or when evaluation.json is unreadable)."""
    checks = (ws.runs.get(run_id).evaluation() or {}).get(KEY) or []
    return [c for c in checks if isinstance(c, dict) and isinstance(c.get("comparison"), dict)]


def check_generalization(ws: Workspace, run_id: str, choice: DatasetChoice, encoder_a: "Encoder",
                         encoder_b: "Encoder", *, ids: tuple[str, str] = ("baseline", ""),
                         names: tuple[str, str] = ("baseline", "fine-tuned"), in_domain: "Dataset | None" = None,
                         progress: Progress | None = None) -> dict[str, Any]:
    """Evaluate models A and B on a second dataset and store the comparison with run ``run_id``.

    Args:
        ws: the visitor's workspace (the dataset is loaded under its settings; the run is one of its runs).
        run_id: the run the entry is stored with (model B's run).
        choice: the second dataset.
        encoder_a, encoder_b: the two models.
        ids: what A and B are ("baseline" or a run id), stored so a page shows the entries of its pair.
        names: display names of A and B.
        in_domain: the dataset the comparison was made on; a second dataset with the same texts is refused.
        progress: hears the comparison's stages (see :func:`explorer.evaluation.compare.compare_encoders`).

    Returns:
        The stored entry: ``{"dataset", "a", "b", "queries", "comparison": Comparison.to_dict()}``; an earlier
        entry for the same dataset and pair is replaced.

    Raises:
        DataError: the dataset cannot be loaded (offline hub, bad file, public-mode rules) or is the
            in-domain one.
        StorageError: the run's evaluation.json cannot be written.
    """
    from explorer.evaluation.compare import compare_encoders
    from explorer.pipeline.data import load_dataset

    run = ws.runs.get(run_id)
    dataset = load_dataset(choice, ws.settings)
    if in_domain is not None and same_texts(dataset, in_domain):
        raise DataError(f"{dataset.name} is the dataset these models are compared on; pick another one to see what "
                        "fine-tuning cost elsewhere.")
    # All judged queries (split None): none of them was trained on, and more queries give tighter intervals.
    comp = compare_encoders(dataset, encoder_a, encoder_b, split=None, progress=progress)
    comp.name_a, comp.name_b, comp.split = names[0], names[1], "all"
    entry = {"dataset": dataset.name or choice.name, "a": ids[0], "b": ids[1] or run_id,
             "queries": int(len(comp.per_query)), "comparison": comp.to_dict()}
    evaluation = run.evaluation() or {}
    kept = [c for c in evaluation.get(KEY) or []
            if not (c.get("dataset") == entry["dataset"] and c.get("a", "baseline") == entry["a"]
                    and c.get("b", run_id) == entry["b"])]
    run.write_evaluation({**evaluation, KEY: kept + [entry]})
    return entry
