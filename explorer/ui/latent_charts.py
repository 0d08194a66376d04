"""Latent-space figures (plotly, no Streamlit): before/after points of one aligned projection, side by side or
animated, and a run's training snapshots played in order.

Points come from :func:`explorer.pipeline.projection` (columns id, kind, stage, text, grade, change, x, y[, z]).
One trace per colour group keeps the legend meaningful; 2D uses WebGL (Scattergl) so tens of thousands of points
stay fluid, in the before/after animation too once it holds more than :data:`SVG_ANIMATION_MAX_POINTS` points
(plotly tweens SVG points smoothly between frames but redraws WebGL ones per frame, and SVG stalls past a few
thousand points). Lines join each query to its relevant passages.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.ui.charts import GRADE_COLORS, PASSAGE, POSITIVE, QUERY, STATUS_COLORS, wrap

MOVED_SCALE = "YlOrRd"
AXIS_NAMES = {"pca": "PC", "umap": "UMAP", "tsne": "t-SNE"}
SVG_ANIMATION_MAX_POINTS = 3000
"""Points per frame up to which a 2D animation is drawn in SVG (smooth motion); above, in WebGL (frames redrawn)."""


def axis_titles(method: str, dims: int) -> list[str]:
    """Axis titles of a projection, e.g. ``["PC 1", "PC 2"]`` for 2D PCA."""
    name = AXIS_NAMES.get(method, "component")
    return [f"{name} {i}" for i in range(1, dims + 1)]


def groups(points: pd.DataFrame, color_by: str) -> tuple[pd.Series, dict[str, str]]:
    """A group label per point and the colour of each group."""
    is_q = points["kind"] == "query"
    if color_by == "grade":
        label = points["grade"].fillna(-1).astype(int).map(lambda g: "query" if g < 0 else f"grade {g}")
        colors = {"query": QUERY, **{f"grade {g}": c for g, c in GRADE_COLORS.items()}}
    elif color_by == "change":
        label = points["change"].where(is_q, "passage").map(lambda s: s if s == "passage" else f"query {s}")
        colors = {"passage": PASSAGE, **{f"query {s}": c for s, c in STATUS_COLORS.items()}}
    else:
        label = pd.Series("other passage", index=points.index).mask(points["grade"].fillna(0) > 0, "relevant passage")
        label = label.mask(is_q, "query")
        colors = {"query": QUERY, "relevant passage": POSITIVE, "other passage": PASSAGE}
    return label, colors


def _marker_trace(part: pd.DataFrame, name: str, color: str, dims: int, show_legend: bool,
                  faded: bool = False) -> go.BaseTraceType:
    hover = [wrap(t) for t in part["text"]]
    if "moved" in part:
        hover = [f"{h}<br>neighbourhood change {m:.2f}" if m == m else h for h, m in zip(hover, part["moved"])]
    common = dict(name=name, legendgroup=name, showlegend=show_legend, text=hover,
                  customdata=part[["id", "stage"]].to_numpy(), hovertemplate="%{text}<extra>" + name + "</extra>")
    size = [9 if k == "query" else 5 for k in part["kind"]]
    symbol = ["diamond" if k == "query" else "circle" for k in part["kind"]]
    opacity = 0.25 if faded else 0.8
    if color == "continuous":
        marker = dict(color=part["moved"], colorscale=MOVED_SCALE, cmin=0, cmax=1, showscale=show_legend,
                      colorbar=dict(title="change", len=0.6, thickness=12) if show_legend else None)
    else:
        marker = dict(color=color)
    if dims == 3:
        return go.Scatter3d(x=part["x"], y=part["y"], z=part["z"], mode="markers",
                            marker=dict(**marker, size=[s * 0.6 for s in size], opacity=opacity), **common)
    return go.Scattergl(x=part["x"], y=part["y"], mode="markers",
                        marker=dict(**marker, size=size, symbol=symbol, opacity=opacity), **common)


def _highlight_trace(part: pd.DataFrame, dims: int, show_legend: bool) -> go.BaseTraceType:
    """Selected points drawn again on top: larger, outlined, labelled."""
    common = dict(name="selected", legendgroup="selected", showlegend=show_legend, hoverinfo="text",
                  text=[wrap(t) for t in part["text"]], customdata=part[["id", "stage"]].to_numpy())
    marker = dict(color="rgba(0,0,0,0)", line=dict(color="#0f172a", width=2))
    if dims == 3:
        return go.Scatter3d(x=part["x"], y=part["y"], z=part["z"], mode="markers",
                            marker=dict(**marker, size=9), **common)
    return go.Scattergl(x=part["x"], y=part["y"], mode="markers", marker=dict(**marker, size=15), **common)


def _edge_trace(stage_points: pd.DataFrame, edges: list[tuple[str, str]], dims: int, show_legend: bool):
    pos = stage_points.set_index("id")
    xs, ys, zs = [], [], []
    for q, p in edges:
        if q in pos.index and p in pos.index:
            xs += [pos.at[q, "x"], pos.at[p, "x"], None]
            ys += [pos.at[q, "y"], pos.at[p, "y"], None]
            if dims == 3:
                zs += [pos.at[q, "z"], pos.at[p, "z"], None]
    style = dict(mode="lines", line=dict(color="rgba(22,163,74,0.35)", width=1), name="query → relevant",
                 legendgroup="edges", showlegend=show_legend, hoverinfo="skip")
    return go.Scatter3d(x=xs, y=ys, z=zs, **style) if dims == 3 else go.Scattergl(x=xs, y=ys, **style)


def stage_traces(points: pd.DataFrame, stage: str, color_by: str, edges, dims: int, legend: bool,
                 highlight: set[str] | None = None) -> list:
    """The traces of one stage ("before" or "after"), edges first so points draw on top.

    ``highlight``: ids to outline; when given, the other points are faded so the selection stands out.
    """
    part = points[points["stage"] == stage]
    traces = [_edge_trace(part, edges, dims, legend)] if edges else []
    faded = bool(highlight)
    if color_by == "moved" and "moved" in part:
        for kind, name in (("passage", "passages"), ("query", "queries")):
            sel = part[part["kind"] == kind]
            if len(sel):
                traces.append(_marker_trace(sel, name, "continuous", dims, legend and kind == "query", faded))
    else:
        label, colors = groups(part, color_by)
        for name, color in colors.items():
            sel = part[label == name]
            if len(sel):
                traces.append(_marker_trace(sel, name, color, dims, legend, faded))
    if highlight:
        chosen = part[part["id"].isin(highlight)]
        if len(chosen):
            traces.append(_highlight_trace(chosen, dims, legend))
    return traces


def side_by_side(points: pd.DataFrame, edges, color_by: str, dims: int, method: str = "",
                 highlight: set[str] | None = None,
                 titles: tuple[str, str] = ("Before fine-tuning", "After fine-tuning")) -> go.Figure:
    """Before (left) and after (right) in the same aligned coordinates, legends shared.

    ``titles`` names the two panels (model A's and model B's when two runs are compared).
    """
    spec = {"type": "scene"} if dims == 3 else {}
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles,
                        specs=[[spec, spec]], shared_xaxes=dims == 2, shared_yaxes=dims == 2,
                        horizontal_spacing=0.04)
    for col, stage in ((1, "before"), (2, "after")):
        for trace in stage_traces(points, stage, color_by, edges, dims, legend=col == 1, highlight=highlight):
            fig.add_trace(trace, row=1, col=col)
    _scatter_layout(fig, dims, "Queries and passages of both models, in one aligned space")
    _title_axes(fig, method, dims, first_column_only=True)
    return fig


def single(points: pd.DataFrame, edges, color_by: str, dims: int, method: str = "",
           highlight: set[str] | None = None, title: str = "Queries and passages") -> go.Figure:
    """One model's points alone (stage "before"): the view before any run has finished."""
    fig = go.Figure(stage_traces(points, "before", color_by, edges, dims, legend=True, highlight=highlight))
    _scatter_layout(fig, dims, title)
    _title_axes(fig, method, dims)
    return fig


def _scatter_layout(fig: go.Figure, dims: int, title: str) -> None:
    """Size, margins, title and selection tool of a still latent-space chart."""
    # Legend below the x axis titles (at y=-0.05 it covered "PC 1").
    fig.update_layout(height=640, margin=dict(l=10, r=10, t=60, b=10), template="plotly_white", title=title,
                      legend=dict(orientation="h", yanchor="top", y=-0.1), dragmode="lasso" if dims == 2 else "orbit")


def _title_axes(fig: go.Figure, method: str, dims: int, *, first_column_only: bool = False) -> None:
    """Name the axes after the projection (:func:`axis_titles`); in 3D, the scenes' axes.

    ``first_column_only``: side-by-side subplots share the y axis title, written once at the left.
    """
    titles = axis_titles(method, dims)
    if dims == 2:
        fig.update_xaxes(title_text=titles[0])
        fig.update_yaxes(title_text=titles[1], **({"col": 1} if first_column_only else {}))
    else:
        fig.update_scenes(xaxis_title=titles[0], yaxis_title=titles[1], zaxis_title=titles[2])


def animated(points: pd.DataFrame, edges, color_by: str, dims: int, method: str = "",
             highlight: set[str] | None = None) -> go.Figure:
    """One plot that morphs from before to after (play button and a two-step slider)."""
    return play(points, ["before", "after"], ["before", "after"], edges, color_by, dims, method, highlight,
                title="Queries and passages: before → after (press play)", prefix="stage: ")


def play(points: pd.DataFrame, stages: list, labels: list[str], edges, color_by: str, dims: int, method: str = "",
         highlight: set[str] | None = None, *, title: str, prefix: str = "", duration: int = 800) -> go.Figure:
    """An animation over ``stages`` (values of the points' ``stage`` column), one frame each, in one space.

    Axes are fixed to all frames' extent (plus 8%), or plotly would rescale between frames and hide the
    motion. The slider names each frame by ``labels``; play runs through them in order.
    """
    per_stage = [stage_traces(points, s, color_by, edges, dims, legend=True, highlight=highlight) for s in stages]
    svg = dims == 2 and len(points) <= SVG_ANIMATION_MAX_POINTS * max(1, len(stages))
    if svg:  # few points: plotly tweens SVG points between frames, so swap the trace type for smooth motion
        per_stage = [[go.Scatter(t.to_plotly_json()) for t in traces] for traces in per_stage]
    redraw = not svg  # WebGL (2D Scattergl, 3D) frames are drawn anew, not tweened
    names = [str(i) for i in range(len(stages))]
    fig = go.Figure(data=per_stage[0], frames=[go.Frame(data=t, name=n) for t, n in zip(per_stage, names)])
    span = points[["x", "y"]].max() - points[["x", "y"]].min()
    lo = points[["x", "y"]].min() - 0.08 * span
    hi = points[["x", "y"]].max() + 0.08 * span
    _title_axes(fig, method, dims)
    if dims == 2:
        fig.update_xaxes(range=[lo["x"], hi["x"]])
        fig.update_yaxes(range=[lo["y"], hi["y"]])
    motion = dict(frame=dict(duration=duration, redraw=redraw), transition=dict(duration=duration))
    steps = [dict(method="animate", label=label, args=[[n], dict(mode="immediate", **motion)])
             for n, label in zip(names, labels)]
    # Play button and slider sit under the plot so they never cover the title or the points.
    fig.update_layout(
        height=680, template="plotly_white", title=title,
        margin=dict(l=10, r=10, t=60, b=140), legend=dict(orientation="h", y=-0.32),
        updatemenus=[dict(type="buttons", showactive=False, x=0, y=-0.1, xanchor="left", yanchor="top", buttons=[
            dict(label="▶ play", method="animate",
                 args=[None, dict(frame=dict(duration=duration + 200, redraw=redraw),
                                  transition=dict(duration=duration), fromcurrent=True)])])],
        sliders=[dict(active=0, steps=steps, x=0.1, len=0.85, y=-0.06, yanchor="top",
                      currentvalue=dict(prefix=prefix))],
    )
    return fig


def frame_label(frame: dict) -> str:
    """A snapshot's slider label: "baseline", "step 40" or "final", with its NDCG@10.

    Baseline and final frames carry the whole test split's NDCG@10; the frames in between carry the held-out
    sample's (a subset of the test queries evaluated during training), and say so.
    """
    ndcg = next((v for k, v in frame.items() if k.endswith("ndcg@10")), None)
    if ndcg is None:
        return frame["label"]
    scope = "sample " if frame["label"].startswith("step") else ""
    return f"{frame['label']} · {scope}NDCG@10 {ndcg:.3f}"


def training_animation(tf, color_by: str, dims: int, method: str = "") -> go.Figure:
    """The run's training snapshots as an animation (baseline first, final last), in one aligned space."""
    points = tf.points.assign(stage=tf.points["frame"], change="unchanged")
    labels = [frame_label(f) for f in tf.frames]
    # No query -> passage lines: sixty queries' lines at once hide the motion the animation is for.
    return play(points, [f["index"] for f in tf.frames], labels, [], color_by if color_by in ("kind", "grade")
                else "kind", dims, method, title="Watching the model learn: a fixed sample of test points at each "
                "held-out evaluation (press play)", prefix="")
