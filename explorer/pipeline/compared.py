"""Which two models the result pages compare, and the names people read for them.

A side is the baseline (``BASELINE``), a succeeded run (its id), or a model whose bake-off results are stored
in the workspace (``"model:<spec>"``, :func:`model_key`; BM25, a hybrid, static embeddings ...). B is the
workspace's selected side (the Train page's run choice when it is a run), A its *reference* (the baseline
unless another side was chosen). Both are persisted in the workspace, so every page, a browser reload and a
second tab show the same pair. Before any run has finished or any model was compared there is no B, and the
pages show the baseline alone.

Runs are named by what they are (:func:`run_label`: "MiniLM fine-tune · 3 layers · 1 epoch · 14:02",
"MiniLM + adapter · 14:05"), models by their spec's display name; ids appear only where two names would
otherwise be the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from explorer.pipeline.names import MODEL_PREFIX, describe_run, model_key, model_spec, run_labels, short_display
from explorer.workspace import Workspace

__all__ = ["BASELINE", "MODEL_PREFIX", "ComparedPair", "choose_pair", "compared_pair", "describe_run", "model_key",
           "model_spec", "pair_warnings", "run_label", "run_labels"]

BASELINE = "baseline"
"""The key of the baseline encoder among the choices (run ids never take this form)."""


@dataclass
class ComparedPair:
    """The two models the pages compare, with display labels.

    Attributes:
        a: ``BASELINE``, a run id or a model key (the reference, drawn left / "before").
        b: a run id or a model key (drawn right / "after"), or None when there is nothing to compare with yet.
        label_a, label_b: readable names for tables and legends ("baseline", "MiniLM + adapter · 14:05", "BM25").
        options: every choice (``BASELINE``, the succeeded runs newest first, the stored models) -> its label.
        warnings: why the comparison may mislead (different datasets or splits), one sentence each.
    """

    a: str
    b: str | None
    label_a: str
    label_b: str
    options: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def paired(self) -> bool:
        """Whether there is a B side to compare with."""
        return self.b is not None


def run_label(ws: Workspace, run_id: str) -> str:
    """The readable label of one run (as the selectors show it among the workspace's runs)."""
    from explorer.pipeline.training import list_runs

    return run_labels(ws, [r.id for r in list_runs(ws) if r.status == "succeeded"] + [run_id])[run_id]


def _fingerprint(ws: Workspace, side: str) -> str | None:
    """The fingerprint of the dataset (texts, judgements and split) a run was trained on, from config.json."""
    if side == BASELINE or model_spec(side) is not None:
        return None
    try:
        data = ws.runs.get(side).config.get("dataset") or {}
    except Exception:  # noqa: BLE001 - an unreadable run only loses its warning, never the page
        return None
    return data.get("fingerprint") if isinstance(data, dict) else None


def pair_warnings(ws: Workspace, a: str, b: str, dataset_fingerprint: str | None,
                  labels: dict[str, str] | None = None) -> list[str]:
    """Why comparing ``a`` and ``b`` on the loaded dataset may mislead.

    A run trained on another dataset or split may have seen some of today's test queries in training, and
    two runs trained on different splits are not a like-for-like comparison.
    """
    name = (labels or {}).get
    out = []
    fp_b = _fingerprint(ws, b)
    if dataset_fingerprint and fp_b and fp_b != dataset_fingerprint:
        out.append(f"Run {name(b) or b} ({b}) was trained on a different dataset or split than the one loaded "
                   "now: some of the test queries may have been its training queries, so its scores can look better "
                   "than they are.")
    fp_a = _fingerprint(ws, a)
    if fp_a and fp_b and fp_a != fp_b:
        out.append(f"Runs {a} and {b} were trained on different datasets or splits: their difference mixes "
                   "the training recipe with the training data.")
    return out


def compared_pair(ws: Workspace, dataset_fingerprint: str | None = None) -> ComparedPair:
    """The pair the result pages compare, read from the workspace (stale choices fall back to defaults).

    Args:
        ws: the visitor's workspace.
        dataset_fingerprint: the loaded dataset's fingerprint: offers the models stored for it (test split)
            and warns about runs trained on other data. None: runs only.

    Returns:
        B: the selected side if it is still there, else the newest succeeded run, else the first stored
        model (None when there is none). A: the workspace's reference if it is there and differs from B,
        else the baseline.
    """
    from explorer.pipeline.models import stored_models
    from explorer.pipeline.training import list_runs

    runs = [r.id for r in list_runs(ws) if r.status == "succeeded"]
    models = stored_models(ws, dataset_fingerprint) if dataset_fingerprint else []
    options = {BASELINE: "baseline", **run_labels(ws, runs),
               **{model_key(m["spec"]): short_display(m["display"]) for m in models if m["spec"] != "minilm"}}
    chosen = [k for k in options if k != BASELINE]
    selected = ws.selected_run()
    b = selected if selected in chosen else (runs[0] if runs else (chosen[0] if chosen else None))
    ref = ws.reference_run()
    a = ref if ref in options and ref != b and ref != BASELINE else BASELINE
    if b is None:
        return ComparedPair(BASELINE, None, "baseline", "", options)
    return ComparedPair(a, b, options[a], options[b], options, pair_warnings(ws, a, b, dataset_fingerprint, options))


def choose_pair(ws: Workspace, a: str, b: str) -> None:
    """Persist a new pair: ``b`` becomes the selected side (a run or a model key), ``a`` its reference.

    Raises:
        ValueError: ``b`` is the baseline or equals ``a`` (a model is not compared with itself).
    """
    if b == BASELINE or a == b:
        raise ValueError("choose two different models, the second one not the baseline")
    if ws.selected_run() != b:
        ws.set_selected_run(b)
    ref = None if a == BASELINE else a
    if ws.reference_run() != ref:
        ws.set_reference_run(ref)
