"""Chart builders and the one colour palette every page uses.

Colours mean the same thing everywhere: the baseline is blue-grey, the fine-tuned model orange, positives
green, weak negatives grey, hard negatives red. Every figure has a title, axis labels and a legend, and
keeps plotly's mode bar (its camera button saves a PNG named by :func:`png_config`).
"""

from __future__ import annotations

import textwrap
from html import escape
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

BASELINE = "#64748b"
TUNED = "#f97316"
POSITIVE = "#16a34a"
WEAK = "#9ca3af"
HARD = "#dc2626"
QUERY = "#2563eb"
PASSAGE = "#94a3b8"
STATUS_COLORS = {"fixed": POSITIVE, "broken": HARD, "unchanged": WEAK}
KIND_COLORS = {"positive": POSITIVE, "weak": WEAK, "hard": HARD, "query": QUERY, "passage": PASSAGE}
PLURALS = {"queries": "query", "passages": "passage"}
"""Plural panel names and the kind whose colour they take."""
MODEL_COLORS = {"baseline": BASELINE, "tuned": TUNED}
MODEL_LABELS = {"baseline": "baseline", "tuned": "fine-tuned"}  # the app's word for the tuned model
GRADE_COLORS = {0: "#cbd5e1", 1: "#86efac", 2: "#22c55e", 3: "#15803d"}


def png_config(filename: str) -> dict:
    """``st.plotly_chart(config=...)``: keep the mode bar, and name the PNG its camera button saves."""
    return {"displaylogo": False, "toImageButtonOptions": {"format": "png", "filename": filename, "scale": 2}}


def wrap(text: str, width: int = 60, limit: int = 300, *, html: bool = True) -> str:
    """Hover text: truncated to ``limit`` characters and wrapped with ``<br>`` every ``width``.

    Plotly reads a subset of HTML in hover and marker text (``<a href>``, ``<b>`` ...), so user text is
    HTML-escaped (``html=True``) and only the ``<br>`` added here is markup. ``html=False`` only truncates
    and wraps, for plain-text sinks such as dataframe cells.
    """
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    lines = textwrap.wrap(text, width)
    if html:
        lines = [escape(line, quote=False) for line in lines]
    return "<br>".join(lines) or "(empty)"


def _layout(fig: go.Figure, title: str, x: str, y: str, height: int = 380) -> go.Figure:
    fig.update_layout(
        title=title,
        xaxis_title=x,
        yaxis_title=y,
        height=height,
        margin=dict(l=10, r=10, t=50, b=10),
        # Legend under the plot: above it, it collides with the title at laptop width.
        legend=dict(orientation="h", yanchor="top", y=-0.18, xanchor="left", x=0.0),
        template="plotly_white",
    )
    return fig


# ------------------------------------------------------------------------------------------ data page
def length_histogram(lengths: Mapping[str, Sequence[int]]) -> go.Figure:
    """Text lengths in words, one panel per kind (e.g. queries and passages).

    Separate panels with their own x axis: queries (~10 words) and passages (~100) on one axis leave the
    queries a thin sliver at the left edge.
    """
    kinds = list(lengths)
    fig = make_subplots(rows=max(1, len(kinds)), cols=1, subplot_titles=kinds, vertical_spacing=0.22)
    for row, kind in enumerate(kinds, start=1):
        fig.add_trace(go.Histogram(x=list(lengths[kind]), name=kind, marker_color=KIND_COLORS.get(PLURALS.get(kind, kind))),
                      row=row, col=1)
        fig.update_yaxes(title_text="texts", row=row, col=1)
    fig.update_xaxes(title_text="words", row=len(kinds), col=1)
    _layout(fig, "Text length", "", "")
    fig.update_layout(showlegend=False)  # the panel titles name the kinds
    return fig


def grades_bar(counts: Mapping[int, int]) -> go.Figure:
    """Bar chart of how many judgements carry each grade."""
    grades = sorted(counts)
    fig = go.Figure(go.Bar(x=[str(g) for g in grades], y=[counts[g] for g in grades],
                           marker_color=[GRADE_COLORS.get(g, POSITIVE) for g in grades], name="judgements"))
    return _layout(fig, "Relevance grades", "grade", "judgements")


def judgements_histogram(per_query: Sequence[int]) -> go.Figure:
    """Bar chart of how many queries have 1, 2, 3, … judged passages (one tick per integer)."""
    counts = pd.Series(list(per_query), dtype=int).value_counts().sort_index()
    fig = go.Figure(go.Bar(x=counts.index.tolist(), y=counts.tolist(), marker_color=QUERY, name="queries"))
    fig.update_xaxes(tickmode="linear", dtick=1)
    fig.update_layout(showlegend=False)
    return _layout(fig, "Judgements per query", "judged passages", "queries")


# ------------------------------------------------------------------------------------------ training
def loss_curve(steps: Sequence[float], losses: Sequence[float]) -> go.Figure:
    """Training loss by step."""
    fig = go.Figure(go.Scatter(x=list(steps), y=list(losses), mode="lines", line_color=TUNED, name="loss"))
    return _layout(fig, "Training loss", "step", "loss", height=280)


def eval_curve(frame: pd.DataFrame) -> go.Figure:
    """Held-out metrics by step: ``frame`` has a ``step`` column and one column per metric."""
    fig = go.Figure()
    for col in [c for c in frame.columns if c != "step"]:
        fig.add_trace(go.Scatter(x=frame["step"], y=frame[col], mode="lines+markers", name=col))
    return _layout(fig, "Held-out metrics", "step", "score", height=280)


# ------------------------------------------------------------------------------------------ metrics
def jitter(n: int, scale: float = 0.012, seed: int = 0) -> np.ndarray:
    """Small deterministic offsets (seeded uniform in ±scale) so identical points stay visible."""
    return np.random.default_rng(seed).uniform(-scale, scale, n)


def per_query_scatter(frame: pd.DataFrame, metric: str = "NDCG@10",
                      names: tuple[str, str] = ("baseline", "fine-tuned")) -> go.Figure:
    """Baseline vs tuned score per query, coloured fixed/broken/unchanged, with the diagonal.

    Many queries score exactly the same before and after (often 1.0 → 1.0), so markers get a small seeded
    jitter; the hover text shows the exact scores.

    ``frame`` needs columns ``qid``, ``query``, ``baseline``, ``tuned``, ``status``; ``names`` labels the two
    models (model A on x, model B on y).
    """
    fig = go.Figure()
    for i, (status, color) in enumerate(STATUS_COLORS.items()):
        part = frame[frame["status"] == status]
        fig.add_trace(go.Scattergl(
            x=part["baseline"] + jitter(len(part), seed=2 * i), y=part["tuned"] + jitter(len(part), seed=2 * i + 1),
            mode="markers", name=f"{status} ({len(part)})",
            marker=dict(color=color, size=8, opacity=0.7, line=dict(color="white", width=0.5)),
            text=[wrap(t) for t in part["query"]], customdata=np.stack([part["baseline"], part["tuned"]], axis=-1),
            hovertemplate="%{text}<br>" + f"{names[0]} " + "%{customdata[0]:.3f} → " + f"{names[1]} "
                          + "%{customdata[1]:.3f}<extra></extra>",
        ))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(color="#94a3b8", dash="dash"), name="no change"))
    fig.update_xaxes(range=[-0.05, 1.05])
    fig.update_yaxes(range=[-0.05, 1.05])
    return _layout(fig, f"Per-query {metric}: {names[0]} vs {names[1]}", f"{names[0]} {metric}",
                   f"{names[1]} {metric}", 460)


def metrics_bars(frame: pd.DataFrame, names: tuple[str, str] | None = None, title: str | None = None) -> go.Figure:
    """Grouped bars of the metric table: ``frame`` indexed by metric with baseline/tuned and CI columns.

    ``names`` labels the "baseline" (model A) and "tuned" (model B) bars; a frame with only the baseline
    columns draws one model.
    """
    labels = dict(zip(MODEL_COLORS, names)) if names else MODEL_LABELS
    fig = go.Figure()
    for model, color in MODEL_COLORS.items():
        if model not in frame:
            continue
        err = None
        if f"{model}_low" in frame and f"{model}_high" in frame:
            err = dict(type="data", symmetric=False, array=frame[f"{model}_high"] - frame[model],
                       arrayminus=frame[model] - frame[f"{model}_low"])
        fig.add_trace(go.Bar(x=list(frame.index), y=frame[model], name=labels[model], marker_color=color,
                             error_y=err))
    fig.update_layout(barmode="group")
    _layout(fig, title or "Retrieval metrics on the test split (95% CI)", "", "score", height=460)
    # Metric names stay horizontal (tilted ones get clipped); the legend sits above the plot, under the title,
    # so it covers neither the bars nor an axis title.
    # Two-line tick labels ("Recall<br>@100") fit side by side in half the page width.
    names = [str(n) for n in frame.index]
    fig.update_xaxes(tickangle=0, automargin=True, tickvals=names, ticktext=[n.replace("@", "<br>@") for n in names])
    fig.update_layout(margin=dict(l=10, r=10, t=80, b=10),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0.0))
    return fig


def delta_intervals(frame: pd.DataFrame, names: tuple[str, str]) -> go.Figure:
    """Δ NDCG@10 (B − A) per dataset with its 95% interval, a dashed line at no change.

    ``frame``: columns dataset, Δ, low, high (one row per dataset, drawn top to bottom).
    """
    fig = go.Figure(go.Scatter(
        x=frame["Δ"], y=frame["dataset"], mode="markers", marker=dict(size=11, color=TUNED),
        error_x=dict(type="data", symmetric=False, array=frame["high"] - frame["Δ"], arrayminus=frame["Δ"] - frame["low"]),
        hovertemplate="%{y}: Δ %{x:+.3f}<extra></extra>", name="Δ NDCG@10"))
    fig.add_vline(x=0, line=dict(color="#94a3b8", dash="dash"))
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(showlegend=False)
    return _layout(fig, f"NDCG@10 change, {names[1]} − {names[0]} (95% CI)", "Δ NDCG@10", "",
                   height=140 + 50 * len(frame))


# ------------------------------------------------------------------------------------------ similarity
def similarity_histograms(frame: pd.DataFrame, threshold: float | None, title: str) -> go.Figure:
    """Overlaid histograms of cosine similarity by pair kind (``frame``: columns ``kind``, ``score``)."""
    fig = go.Figure()
    for kind in ("positive", "weak", "hard"):
        part = frame[frame["kind"] == kind]
        if len(part):
            fig.add_trace(go.Histogram(x=part["score"], name=f"{kind} ({len(part)})", opacity=0.6,
                                       marker_color=KIND_COLORS[kind], xbins=dict(size=0.02)))
    if threshold is not None:
        # Annotation inside the plot area (just below the top, right of the line) so it never touches the title.
        fig.add_vline(x=threshold, line=dict(color="#0f172a", dash="dash"), annotation_text=f"threshold {threshold:.2f}",
                      annotation_position="top right", annotation_y=0.95, annotation_yanchor="top",
                      annotation_bgcolor="rgba(255,255,255,0.8)")
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(range=[-0.2, 1.0])
    return _layout(fig, title, "cosine similarity", "pairs")
