"""The Latent page's controls, tables and neighbour panel (its figures: :mod:`explorer.ui.latent_charts`).

Points come from :func:`explorer.pipeline.projection`; the neighbourhood tables from
:func:`explorer.pipeline.neighbourhoods`.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explorer.ui import text

# Short labels: the selectbox sits in a fifth of the page width and cuts long ones off.
COLOR_BY = {"kind": "Kind", "grade": "Grade", "change": "Query change", "moved": "Neighbourhood change"}
COLOR_BY_HELP = ("Kind: query / relevant passage / other passage. Grade: relevance grade of each passage. "
                 "Query change: whether fine-tuning fixed, broke or left each query's NDCG@10 unchanged. "
                 "Neighbourhood change: 1 − Jaccard@k of each point's k nearest neighbours before and after, "
                 "in the full embedding space (0 = same neighbours, 1 = none kept).")


PASSAGE_STEPS = [200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000]
MAX_3D_POINTS = 10_000
"""Passages drawn in 3D at most (a 3D WebGL scatter turns sluggish past this in a laptop browser)."""


def passage_cap(method: str, dims: int, wanted: int) -> tuple[int, str]:
    """The passages the projection gets for the slider's ``wanted``, and a note when the method or view caps them:
    t-SNE has no transform (it runs on a sample only), 3D is drawn up to :data:`MAX_3D_POINTS`."""
    from explorer.latent.projection import TSNE_MAX_POINTS

    caps = [(TSNE_MAX_POINTS, f"t-SNE runs on a sample only: at most {TSNE_MAX_POINTS:,} passages (it cannot place "
                              "points it was not fitted on); choose PCA or UMAP to see more.")] if method == "tsne" else []
    caps += [(MAX_3D_POINTS, f"3D shows at most {MAX_3D_POINTS:,} passages; choose 2D to see more.")] if dims == 3 else []
    for cap, note in sorted(caps):
        if wanted > cap:
            return cap, note
    return wanted, ""


# ------------------------------------------------------------------------------------ neighbourhoods
MOVER_COLUMNS = {"kind": "kind", "change": "change", "rbo": "RBO", "grade": "grade", "delta_ndcg": "Δ NDCG@10",
                 "text": "text", "id": "id"}


def movers_table(movers: pd.DataFrame, limit: int = 500) -> pd.DataFrame:
    """The biggest-movers table as shown: readable column names, rounded, at most ``limit`` rows."""
    table = movers.head(limit)[list(MOVER_COLUMNS)].rename(columns=MOVER_COLUMNS)
    return table.round({"change": 2, "RBO": 2, "Δ NDCG@10": 3})


def neighbour_columns(nb: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(before, after) neighbour lists of one point, each in rank order with status and grade."""
    shown = ["rank", "status", "kind", "grade", "text"]
    before = nb[nb["rank_before"].notna()].sort_values("rank_before").rename(columns={"rank_before": "rank"})
    after = nb[nb["rank_after"].notna()].sort_values("rank_after").rename(columns={"rank_after": "rank"})
    return before[shown].reset_index(drop=True), after[shown].reset_index(drop=True)


def focus(data, movers: pd.DataFrame | None, show: str, lines: str, selected: list[str]) -> tuple[pd.DataFrame, list]:
    """The points and query→passage lines to draw, given the "Show" filter, the lines choice and the selection.

    Points gain a ``moved`` column (neighbourhood change), so any colouring can show it on hover; without
    ``movers`` (one model alone) the points are drawn as they are and the "Show" filter does not apply.
    """
    points = data.points
    if movers is not None:
        points = points.merge(movers[["id", "change"]].rename(columns={"change": "moved"}), on="id", how="left")
    if show.startswith("top ") and movers is not None:
        keep = set(movers["id"].head(int(show.split()[1]))) | set(selected)
        points = points[points["id"].isin(keep)]
    if lines == "all queries":
        edges = data.edges
    elif lines == "selected queries":
        chosen = set(selected)
        edges = [(q, p) for q, p in data.edges if q in chosen or p in chosen]
    else:
        edges = []
    return points, edges


def neighbour_panel(nb, point_id: str, k: int, names: tuple[str, str] = ("before fine-tuning", "after fine-tuning")) -> None:
    """One point's k nearest neighbours before and after, side by side (text shown as text, never markdown)."""
    info = nb.points.set_index("id").loc[point_id]
    row = nb.movers(k).set_index("id").loc[point_id]
    names = (text.plain(names[0]), text.plain(names[1]))  # the models' names: user text when a run was renamed
    st.subheader(f"Neighbours under A ({names[0]}) and B ({names[1]})")
    st.text(f"{info['kind']}: {info['text']}"[:400])
    extra = "" if info["kind"] != "query" or row["delta_ndcg"] != row["delta_ndcg"] else \
        f" · NDCG@10 change {row['delta_ndcg']:+.3f}"
    st.caption(f"{k} nearest neighbours in the full space (A: {names[0]}, B: {names[1]}) · "
               f"Jaccard@{k} {row['jaccard']:.2f} · "
               f"RBO {row['rbo']:.2f}{extra}. Grade: relevance between this point and the neighbour.")
    before, after = neighbour_columns(nb.neighbours(point_id, k))
    left, right = st.columns(2)
    left.caption(f"{names[0]} (lost neighbours marked)")
    left.dataframe(before, hide_index=True, key="latent_nb_before")
    right.caption(f"{names[1]} (gained neighbours marked)")
    right.dataframe(after, hide_index=True, key="latent_nb_after")


# ------------------------------------------------------------------------------------ controls
PAIRED_ONLY = {"change", "moved"}
"""Colourings that need two models (a query's NDCG change, a point's neighbourhood change)."""


def controls(paired: bool) -> dict:
    """The Latent page's two rows of controls; with one model alone the two-model ones are left out.

    Returns:
        method, dims, view, color_by, max_p, k, show, lines.
    """
    c = st.columns(5)
    out = {"method": c[0].selectbox("Projection", ["pca", "umap", "tsne"], key="latent_method",
                                    format_func={"pca": "PCA (fast)", "umap": "UMAP", "tsne": "t-SNE"}.get,
                                    help="PCA keeps global distances; UMAP and t-SNE keep neighbourhoods (slower).")}
    out["dims"] = c[1].radio("Dimensions", [2, 3], horizontal=True, key="latent_dims")
    out["view"] = c[2].radio("View", ["side by side", "animated"], key="latent_view", disabled=not paired,
                             help="Animated morphs A → B." if paired else "Animation needs a second model: train one.")
    colours = [x for x in COLOR_BY if paired or x not in PAIRED_ONLY]
    out["color_by"] = c[3].selectbox("Colour by", colours, format_func=COLOR_BY.get, key="latent_color",
                                     help=COLOR_BY_HELP)
    wanted = c[4].select_slider("Passages (max)", PASSAGE_STEPS, 2000, key="latent_max",
                                help="All test queries' relevant passages plus a seeded sample of the rest. PCA "
                                     "and UMAP are fitted on 5,000 points and place the others; t-SNE runs on "
                                     "5,000 at most.")
    out["max_p"], note = passage_cap(out["method"], out["dims"], wanted)
    if note:
        st.caption(note)
    c = st.columns([1, 1, 2])
    out["k"] = c[0].select_slider("Neighbours k", [5, 10, 20, 50], 10, key="latent_k", disabled=not paired,
                                  help="How many nearest neighbours (full space) are compared between A and B.")
    out["show"] = c[1].selectbox("Show", ["all points", "top 50 movers", "top 200 movers"], key="latent_show",
                                 disabled=not paired, help="Keep only the points whose neighbourhood changed most.")
    out["lines"] = c[2].radio("Query → relevant passage lines", ["selected queries", "all queries", "none"],
                              horizontal=True, key="latent_lines", help="Lines for every query at once are busy; by "
                              "default only for the queries selected in the table below.")
    if not paired:
        out["view"], out["show"] = "side by side", "all points"
        if out["color_by"] in PAIRED_ONLY:  # a colouring kept from a paired view of this session
            out["color_by"] = "kind"
    return out


def queries_table(per_query: pd.DataFrame) -> pd.DataFrame:
    """Model A's test queries, worst first, as the Latent page lists them before any run: id, text, scores."""
    table = per_query[["qid", "query", "ndcg@10", "first_relevant"]].rename(
        columns={"qid": "id", "query": "text", "ndcg@10": "NDCG@10", "first_relevant": "first relevant rank"})
    return table.round({"NDCG@10": 3})
