"""The Train page's "How much data does it need?" section: the adapter's learning curve on the dev split,
computed on a button press (:func:`explorer.pipeline.curve.learning_curve`) and drawn with its intervals."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import streamlit as st

from explorer.core.errors import ExplorerError
from explorer.pipeline.curve import learning_curve
from explorer.ui import charts, state
from explorer.ui.baseline import ProgressBar

KEY = "learning_curve"
"""Session key of the last curve: ``(dataset fingerprint, LearningCurve)``."""


def curve_figure(curve: Any) -> go.Figure:
    """Dev metric against training queries, 95 % intervals as error bars, the base model as a dotted line."""
    rows = curve.rows()
    base, trained = rows[0], rows[1:]
    fig = go.Figure(go.Scatter(
        x=[r["train_queries"] for r in trained], y=[r["value"] for r in trained], mode="lines+markers",
        name="adapter", line_color=charts.TUNED,
        error_y=dict(type="data", symmetric=False, array=[r["high"] - r["value"] for r in trained],
                     arrayminus=[r["value"] - r["low"] for r in trained]),
        customdata=[[f"{r['fraction']:.0%}", r["low"], r["high"]] for r in trained],
        hovertemplate="%{x} training queries (%{customdata[0]})<br>%{y:.3f} [%{customdata[1]:.3f}, "
                      "%{customdata[2]:.3f}]<extra></extra>"))
    fig.add_hline(y=base["value"], line_dash="dot", line_color=charts.BASELINE,
                  annotation_text=f"base model {base['value']:.3f}", annotation_position="bottom right")
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line=dict(dash="dot", color=charts.BASELINE),
                             name="base model"))  # a legend entry for the line
    metric = curve.metric.upper()
    fig.update_layout(title=f"Learning curve: dev {metric} by training queries", xaxis_title="training queries",
                      yaxis_title=f"dev {metric}", height=360, template="plotly_white",
                      margin=dict(l=10, r=10, t=50, b=10),
                      legend=dict(orientation="h", yanchor="top", y=-0.18, xanchor="left", x=0.0))
    return fig


def section() -> None:
    """The button, its progress, and the last curve of the loaded dataset."""
    st.subheader("How much data does it need?")
    st.caption("Trains the adapter (seconds each, from cached embeddings, no mined negatives) on 10, 25, 50 and 100 % "
               "of the training queries and scores each on the held-out dev queries, with 95% intervals. A curve "
               "still rising at the right says labelling more queries would pay.")
    ws = state.workspace()
    dataset = state.current_dataset(ws)
    if dataset is None:
        return
    if st.button("Draw the learning curve", key="curve_run", icon=":material/show_chart:"):
        try:
            with ProgressBar("Learning curve") as bar:
                curve = learning_curve(ws.settings, dataset, state.base_encoder(), progress=bar)
        except ExplorerError as exc:
            st.error(str(exc), icon=":material/error:")
            return
        st.session_state[KEY] = (dataset.fingerprint(), curve)
    stored = st.session_state.get(KEY)
    if not stored or stored[0] != dataset.fingerprint():
        return
    curve = stored[1]
    with st.container(key="learning_curve_chart"):
        st.plotly_chart(curve_figure(curve), config=charts.png_config("learning_curve"), key="curve_chart")
        st.caption(f"{curve.verdict()} {curve.dev_queries} dev queries; computed in {curve.seconds:.0f} s.")
