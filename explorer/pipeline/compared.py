"""Which two models the result pages compare: the baseline or any succeeded run (A) against a run (B).

B is the workspace's selected run (the Train page picks it too, so both places agree), A its *reference*
(the baseline encoder unless another run was chosen). Both are persisted in the workspace, so every page,
a browser reload and a second tab show the same pair. Before any run has finished there is no B, and the
pages show the baseline alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from explorer.workspace import Workspace

BASELINE = "baseline"
"""The key of the baseline encoder among the choices (run ids never take this form)."""

METHOD_WORDS = {"full": "fine-tune", "adapter": "adapter"}


@dataclass
class ComparedPair:
    """The two models the pages compare, with display labels.

    Attributes:
        a: ``BASELINE`` or a run id (the reference, drawn left / "before").
        b: a run id (drawn right / "after"), or None when no run has succeeded yet.
        label_a, label_b: short names for tables and legends ("baseline", "adapter 9b1e07" ...).
        options: every choice (``BASELINE`` and the succeeded runs, newest first) -> its label.
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
        """Whether there is a B side (a finished run) to compare with."""
        return self.b is not None


def run_label(run_id: str, method: str) -> str:
    """A short, distinct label of a run: its method and the end of its id (ids end in a random hash)."""
    tail = run_id if len(run_id) <= 12 else run_id[-6:]
    return f"{METHOD_WORDS.get(method, method)} {tail}"


def _fingerprint(ws: Workspace, run_id: str) -> str | None:
    """The fingerprint of the dataset (texts, judgements and split) a run was trained on, from config.json."""
    try:
        data = ws.runs.get(run_id).config.get("dataset") or {}
    except Exception:  # noqa: BLE001 - an unreadable run only loses its warning, never the page
        return None
    return data.get("fingerprint") if isinstance(data, dict) else None


def pair_warnings(ws: Workspace, a: str, b: str, dataset_fingerprint: str | None) -> list[str]:
    """Why comparing ``a`` and ``b`` on the loaded dataset may mislead.

    A run trained on another dataset or split may have seen some of today's test queries in training, and
    two runs trained on different splits are not a like-for-like comparison.
    """
    out = []
    fp_b = _fingerprint(ws, b)
    if dataset_fingerprint and fp_b and fp_b != dataset_fingerprint:
        out.append(f"Run {b} was trained on a different dataset or split than the one loaded now: some of the "
                   "test queries may have been its training queries, so its scores can look better than they are.")
    if a != BASELINE:
        fp_a = _fingerprint(ws, a)
        if fp_a and fp_b and fp_a != fp_b:
            out.append(f"Runs {a} and {b} were trained on different datasets or splits: their difference mixes "
                       "the training recipe with the training data.")
    return out


def compared_pair(ws: Workspace, dataset_fingerprint: str | None = None) -> ComparedPair:
    """The pair the result pages compare, read from the workspace (stale choices fall back to defaults).

    Args:
        ws: the visitor's workspace.
        dataset_fingerprint: the loaded dataset's fingerprint, to warn about runs trained on other data.

    Returns:
        B: the selected run if it succeeded, else the newest succeeded run (None when there is none).
        A: the workspace's reference run if it succeeded and differs from B, else the baseline.
    """
    from explorer.pipeline.training import list_runs, tuned_run_id

    runs = [r for r in list_runs(ws) if r.status == "succeeded"]
    options = {BASELINE: "baseline", **{r.id: run_label(r.id, r.method) for r in runs}}
    b = tuned_run_id(ws)
    ref = ws.reference_run()
    a = ref if ref in options and ref != b and ref != BASELINE else BASELINE
    if b is None:
        return ComparedPair(BASELINE, None, "baseline", "", options)
    return ComparedPair(a, b, options[a], options[b], options, pair_warnings(ws, a, b, dataset_fingerprint))


def choose_pair(ws: Workspace, a: str, b: str) -> None:
    """Persist a new pair: ``b`` becomes the selected run, ``a`` its reference.

    Raises:
        ValueError: ``b`` is the baseline or equals ``a`` (a model is not compared with itself).
    """
    if b == BASELINE or a == b:
        raise ValueError("choose two different models, the second one a run")
    if ws.selected_run() != b:
        ws.set_selected_run(b)
    ref = None if a == BASELINE else a
    if ws.reference_run() != ref:
        ws.set_reference_run(ref)
