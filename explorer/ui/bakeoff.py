"""The Metrics page's "Compare models" section: which model? (the bake-off).

The visitor picks models (MiniLM, static, BM25, hybrid, int8 ONNX and the finished runs) and a reference; the
models with nothing stored for this dataset are computed in a spinner with a progress bar
(:func:`explorer.pipeline.run_bakeoff`), and the table and chart come from the stored results
(:func:`explorer.pipeline.stored_bakeoff`), so a later visit shows them again without recomputing anything.
Every compared model can then be chosen as A or B at the top of every result page.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from explorer import pipeline
from explorer.core.errors import ExplorerError
from explorer.pipeline.models import CHOICES, DEFAULT_CHOICE, missing_models, stored_stamp
from explorer.retrievers.bakeoff import METRICS, cost_text
from explorer.ui import charts, state, text

METRIC_NAMES = {"ndcg@10": "NDCG@10", "mrr@10": "MRR@10", "recall@100": "Recall@100"}
PALETTE = ["#2563eb", "#f97316", "#16a34a", "#dc2626", "#7c3aed", "#0891b2", "#ca8a04", "#db2777", "#64748b"]
REFERENCE_MARK = " (reference)"


def section(dataset: Any) -> None:
    """Draw the section: pickers, the run button for what is not stored yet, the table and the chart."""
    st.divider()
    st.subheader("Compare models")
    st.caption("Which model should you use, and is tuning worth it compared with switching? Every model below is "
               "scored on the same test queries; results are stored, and each compared model can then be chosen "
               "as A or B on every result page.")
    ws = state.workspace()
    choices = pipeline.bakeoff_choices(ws)
    default = [s for s in DEFAULT_CHOICE if s in choices]
    left, right = st.columns([3, 1])
    picked = left.multiselect(
        "Models", list(choices), default=default, format_func=choices.get, key="bakeoff_models",
        help="Finished runs join the table. " + " · ".join(f"{choices[s]}: {line}" for s, line in CHOICES.items()))
    if not picked:
        st.caption("Pick at least one model.")
        return
    reference = right.selectbox("Reference", picked, format_func=choices.get, key="bakeoff_reference",
                                help="The p-values test each model against this one (paired t-test on per-query "
                                     "scores, Holm-corrected for comparing several at once).")
    fingerprint = dataset.fingerprint()
    try:
        table = _stored(ws, dataset, tuple(picked), reference)
        missing = [] if table is not None else missing_models(ws, fingerprint, picked)
    except ExplorerError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    if missing:
        st.caption("Not computed yet on this dataset: " + ", ".join(choices[s] for s in missing) + ".")
        if st.button("Compare these models", type="primary", key="bakeoff_run", icon=":material/leaderboard:"):
            table = _run(ws, dataset, picked, reference, missing, choices)
            if table is not None:
                st.rerun()  # the A/B selector at the top of the page now offers the compared models
    if table is not None:
        _show(table, choices, fingerprint)


@st.cache_resource(max_entries=8, show_spinner=False)
def _stored_table(key: tuple, specs: tuple[str, ...], reference: str, _ws: Any, _dataset: Any) -> Any:
    return pipeline.stored_bakeoff(_ws, _dataset, specs, reference)


def _stored(ws: Any, dataset: Any, specs: tuple[str, ...], reference: str) -> Any:
    """The table from the stored results, built once per stored files (None when one model is not stored)."""
    fingerprint = dataset.fingerprint()
    key = (str(ws.folder), fingerprint, stored_stamp(ws, fingerprint))
    return _stored_table(key, specs, reference, ws, dataset)


def _run(ws: Any, dataset: Any, specs: list[str], reference: str, missing: list[str],
         choices: dict[str, str]) -> Any:
    """Compute the missing models in a spinner with a progress bar; a failure is one line."""
    bar = st.progress(0.0, text="Starting…")

    def report(stage: str, done: int, total: int) -> None:
        spec = next((s for s in sorted(missing, key=len, reverse=True) if stage.startswith(s + ":")), "")
        step = stage[len(spec) + 1:] if spec else stage
        i = missing.index(spec) if spec else 0
        share = (i + (done / total if total else 0.0)) / len(missing)
        bar.progress(min(1.0, share), text=f"{choices.get(spec, spec)}: {step} {done:,}/{total:,}")

    try:
        with st.spinner(f"Comparing {len(specs)} models on the test queries…"):
            table = pipeline.run_bakeoff(ws, dataset, specs, reference, progress=report,
                                         api_key=state.operator_api_key() or state.session_api_key())
    except ExplorerError as exc:
        bar.empty()
        st.error(str(exc), icon=":material/error:")
        return None
    bar.empty()
    return table


def _cell(mean: float, interval: tuple[float, float]) -> str:
    return f"{mean:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"


def _p(value: float | None) -> str:
    if value is None:
        return "reference"
    return "< 0.0001" if value < 1e-4 else f"{value:.2g}"


def table_frame(bake: Any, names: dict[str, str]) -> pd.DataFrame:
    """One row per measure, one column per model (like the A-vs-B table above it): the metrics with 95 %
    intervals, the Holm-corrected p-values against the reference, and the costs. Cells are text, so each
    column reads alike whatever the measure."""
    columns: dict[str, list[str]] = {"measure": [
        *(f"{METRIC_NAMES[m]} [95% CI]" for m in METRICS), *(f"p {METRIC_NAMES[m]} (Holm)" for m in METRICS),
        "seconds / 1,000 passages", "dimensions", "index MB", "API cost (corpus + queries)"]}
    for row in bake.rows:
        name = names.get(row.spec, row.display) + (REFERENCE_MARK if row.spec == bake.reference else "")
        seconds = row.encode_seconds_per_1000
        columns[name] = [
            *(_cell(row.result.metrics[m], row.intervals[m]) for m in METRICS),
            *(_p(None if row.p_holm is None else row.p_holm[m]) for m in METRICS),
            "—" if seconds is None or math.isnan(seconds) else f"{seconds:.3g}",
            "none (sparse)" if row.dim is None else str(row.dim), f"{row.index_bytes / 1e6:.2f}",
            cost_text(row.api_cost)]
    return pd.DataFrame(columns)


def _vertical(row: Any, shown: list, metric: str, i: int) -> str:
    """Where a point's label goes: above the higher and below the lower of points at about the same cost (a
    hybrid costs what its dense model costs), else alternating, so no two labels cover each other."""
    x = math.log10(row.encode_seconds_per_1000)
    near = [r for r in shown if abs(math.log10(r.encode_seconds_per_1000) - x) < 0.15]
    if len(near) > 1:
        return "top " if row.result.metrics[metric] >= max(r.result.metrics[metric] for r in near) else "bottom "
    return "top " if i % 2 == 0 else "bottom "


def cost_chart(bake: Any, names: dict[str, str], metric: str = "ndcg@10") -> go.Figure:
    """Quality against encode cost: one point per model with its 95 % interval, labelled beside the point
    (left of the costliest points, so no label runs off the chart), decades on a log axis."""
    fig = go.Figure()
    shown = [r for r in bake.rows if r.encode_seconds_per_1000 and not math.isnan(r.encode_seconds_per_1000)]
    shown.sort(key=lambda r: r.encode_seconds_per_1000)
    if not shown:
        return fig
    costs = [r.encode_seconds_per_1000 for r in shown]
    low_x, high_x = math.log10(min(costs)), math.log10(max(costs))
    for i, row in enumerate(shown):
        mean = row.result.metrics[metric]
        low, high = row.intervals[metric]
        name = names.get(row.spec, row.display)
        right_side = math.log10(row.encode_seconds_per_1000) - low_x <= (high_x - low_x) / 2
        side = _vertical(row, shown, metric, i) + ("right" if right_side else "left")
        fig.add_trace(go.Scatter(
            x=[row.encode_seconds_per_1000], y=[mean], name=name, mode="markers+text",
            text=[charts.wrap(name, 24, 80)], textposition=side, textfont=dict(size=14, color="#1f2937"),
            marker=dict(size=14, color=PALETTE[i % len(PALETTE)],
                        symbol="diamond" if row.spec == bake.reference else "circle"),
            error_y=dict(type="data", symmetric=False, array=[high - mean], arrayminus=[mean - low], thickness=2,
                         width=8, color=PALETTE[i % len(PALETTE)]),
            hovertemplate=f"<b>{charts.wrap(name, 40, 120)}</b><br>{METRIC_NAMES[metric]} %{{y:.3f}} "
                          f"[{low:.3f}, {high:.3f}]<br>%{{x:.3g}} s per 1,000 passages<extra></extra>"))
    lows = [r.intervals[metric][0] for r in shown]
    highs = [r.intervals[metric][1] for r in shown]
    pad = max(0.02, (max(highs) - min(lows)) * 0.12)
    fig.update_layout(title=f"{METRIC_NAMES[metric]} against encode cost (95% intervals; ◆ the reference)",
                      height=480, template="plotly_white", showlegend=False, margin=dict(l=10, r=20, t=50, b=10),
                      xaxis_title="seconds to encode 1,000 passages on this machine (log scale; BM25: indexing)",
                      yaxis_title=METRIC_NAMES[metric])
    fig.update_xaxes(type="log", dtick=1, range=[math.floor(low_x - 0.3), math.ceil(high_x + 0.3)])
    fig.update_yaxes(range=[max(0.0, min(lows) - pad), min(1.0, max(highs) + pad)])
    return fig


def _show(bake: Any, choices: dict[str, str], fingerprint: str) -> None:
    names = {spec: choices.get(spec, spec) for spec in (r.spec for r in bake.rows)}
    frame = table_frame(bake, names)
    st.dataframe(frame, hide_index=True, key="bakeoff_table", row_height=35, column_config={
        "measure": st.column_config.TextColumn(width=190, help=(
            "p: paired t-test of each model against the reference on per-query scores, Holm-corrected for comparing "
            "several at once. Seconds: to encode 1,000 of this dataset's passages on this machine without the cache "
            "(BM25: to index them; a hybrid: both). Index: vectors as float32, or the saved BM25 index. API cost: "
            "embedding the corpus and these queries once through an API model, tokens times the list price "
            "(local: runs on this machine; unknown price: a compatible server's own model)."))})
    n = bake.rows[0].result.n_queries if bake.rows else 0
    st.caption(f"{text.plain(bake.dataset)}, {bake.split} split, {n} queries; 95% bootstrap intervals. "
               f"CPU: {text.plain(bake.cpu or 'unknown')}. A hybrid's fusion is chosen on training queries its dense "
               "model never trained on (a fine-tune's held-out dev split), never on these.")
    priced = next((r.api_cost for r in bake.rows if r.api_cost and r.api_cost.get("price_per_million") is not None),
                  None)
    if priced:
        st.caption(f"API cost: the texts' tokens times the price list of {priced['as_of']} ({priced['source']}); "
                   "texts already embedded (cached) are not billed again.")
    st.plotly_chart(cost_chart(bake, names), config=charts.png_config(f"bakeoff_{fingerprint[:8]}"),
                    key="bakeoff_chart")
