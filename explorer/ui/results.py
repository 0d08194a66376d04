"""What the result pages share: "the dataset, the baseline and the tuned model", and their cached results.

:func:`models` stops the page with an explanation and a link when something is missing, so a page never
crashes on an empty workspace. Results are cached by (dataset fingerprint, encoder fingerprints, options).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from explorer.ui import guard, state, text


@dataclass
class Models:
    """The dataset and the two encoders a result page compares."""

    dataset: Any
    base: Any
    tuned: Any
    run_id: str

    @property
    def key(self) -> tuple[str, str, str]:
        """Cache key: what the results depend on."""
        return self.dataset.fingerprint(), self.base.fingerprint, self.tuned.fingerprint


def models(need_tuned: bool = True) -> Models:
    """The workspace's dataset, baseline encoder and selected fine-tuned run (stops the page if missing)."""
    ws = state.workspace()
    guard.need(ws.dataset_choice(), "No dataset yet: load the demo or upload one.", "pages/data.py", "Open the Data page")
    dataset = state.current_dataset(ws)
    run_id = state.tuned_run_id(ws)
    if need_tuned:
        guard.need(run_id, "No finished training run yet: train a model (or run the one-click demo) to compare.",
                   "pages/train.py", "Open the Train page")
    with st.spinner("Loading the encoders…"):
        base = state.base_encoder()
        tuned = state.run_encoder(run_id, ws) if run_id else None
    if run_id:
        st.caption(f"Dataset **{text.plain(dataset.name)}** · baseline `{base.name}` vs fine-tuned run `{run_id}` "
                   "(change the run on the Train page)")
    return Models(dataset, base, tuned, run_id or "")


@st.cache_resource(max_entries=8, show_spinner=False)
def _comparison(key: tuple, _m: Models) -> Any:
    from explorer import pipeline

    baseline = state.baseline_result(_m.dataset, _m.base)
    return pipeline.compare(_m.dataset, _m.base, _m.tuned, baseline=baseline)


def comparison(m: Models) -> Any:
    """The baseline-vs-tuned :class:`~explorer.evaluation.compare.Comparison`, computed once."""
    with st.spinner("Evaluating both models on the test queries…"):
        return _comparison(m.key, m)


@st.cache_resource(max_entries=8, show_spinner=False)
def _similarity(ds_fp: str, enc_fp: str, neg_key: str, _dataset: Any, _encoder: Any, _negs: Any) -> Any:
    from explorer import pipeline

    return pipeline.similarity(_dataset, _encoder, negatives=_negs)


def similarity(dataset: Any, encoder: Any) -> Any:
    """(PairClassification, pairs frame) of one encoder, with the workspace's hard negatives if mined."""
    from explorer import pipeline

    ws = state.workspace()
    path = pipeline.negatives_path(ws)
    negs = pipeline.saved_negatives(ws)
    neg_key = f"{path.stat().st_mtime_ns}" if path.exists() else "none"
    return _similarity(dataset.fingerprint(), encoder.fingerprint, neg_key, dataset, encoder, negs)


@st.cache_resource(max_entries=6, show_spinner=False)
def _projection(key: tuple, method: str, dims: int, max_passages: int, _m: Models, _status: dict) -> Any:
    from explorer import pipeline

    return pipeline.projection(_m.dataset, _m.base, _m.tuned, method=method, n_components=dims,
                               max_passages=max_passages, status=_status)


def projection(m: Models, method: str, dims: int, max_passages: int) -> Any:
    """The aligned before/after projection, computed once per options."""
    status = dict(zip(comparison(m).per_query["qid"], comparison(m).per_query["status"]))
    with st.spinner(f"Projecting with {method.upper()}… (UMAP and t-SNE take a little while)"):
        return _projection(m.key, method, dims, max_passages, m, status)


@st.cache_resource(max_entries=4, show_spinner=False)
def _neighbourhoods(key: tuple, run_folder: str, _m: Models, _per_query: Any) -> Any:
    from pathlib import Path

    from explorer import pipeline

    return pipeline.neighbourhoods(_m.dataset, _m.base, _m.tuned, cache_dir=Path(run_folder) if run_folder else None,
                                   per_query=_per_query)


def neighbourhoods(m: Models) -> Any:
    """The run's :class:`~explorer.pipeline.views.Neighbourhoods` (computed once, stored in the run folder)."""
    from explorer import pipeline

    folder = str(pipeline.run_folder(state.workspace(), m.run_id)) if m.run_id else ""
    per_query = comparison(m).per_query
    with st.spinner("Comparing every point's nearest neighbours before and after…"):
        return _neighbourhoods(m.key, folder, m, per_query)
