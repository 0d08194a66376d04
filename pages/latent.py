"""Latent space: queries and passages before and after fine-tuning, in one aligned 2D/3D projection."""

import streamlit as st

from explorer.ui import charts, guard, latent, results

with guard.page("Latent space", "Where queries and passages sit before and after fine-tuning. Both use ONE aligned "
                "projection, so a point that did not move stays put. Neighbourhood change is measured in the full "
                "embedding space, not in the picture."):
    m = results.models()
    c = st.columns(5)
    method = c[0].selectbox("Projection", ["pca", "umap", "tsne"], key="latent_method",
                            format_func={"pca": "PCA (fast)", "umap": "UMAP", "tsne": "t-SNE"}.get,
                            help="PCA keeps global distances; UMAP and t-SNE keep neighbourhoods (slower).")
    dims = c[1].radio("Dimensions", [2, 3], horizontal=True, key="latent_dims")
    view = c[2].radio("View", ["side by side", "animated"], key="latent_view", help="Animated morphs before → after.")
    color_by = c[3].selectbox("Colour by", list(latent.COLOR_BY), format_func=latent.COLOR_BY.get, key="latent_color",
                              help=latent.COLOR_BY_HELP)
    max_p = c[4].select_slider("Passages (max)", [200, 500, 1000, 2000, 5000], 2000, key="latent_max",
                               help="All test queries' relevant passages plus a seeded sample of the rest.")
    c = st.columns([1, 1, 2])
    k = c[0].select_slider("Neighbours k", [5, 10, 20, 50], 10, key="latent_k",
                           help="How many nearest neighbours (full space) are compared before and after.")
    show = c[1].selectbox("Show", ["all points", "top 50 movers", "top 200 movers"], key="latent_show",
                          help="Keep only the points whose neighbourhood changed most.")
    lines = c[2].radio("Query → relevant passage lines", ["selected queries", "all queries", "none"], horizontal=True,
                       key="latent_lines", help="Lines for every query at once are busy; by default only for the "
                       "queries selected in the table below.")

    data = results.projection(m, method, dims, max_p)
    nb = results.neighbourhoods(m)
    movers = nb.movers(k)
    st.subheader("Biggest movers")
    st.caption(f"Points whose {k} nearest neighbours (among test queries and sampled passages, full space) changed "
               "most. Select rows to highlight them in the plot; select one to see its neighbours before and after.")
    picked = st.dataframe(latent.movers_table(movers), key="latent_movers", hide_index=True, height=260,
                          on_select="rerun", selection_mode="multi-row")
    rows = picked.selection.rows if picked else []
    selected = [movers.at[i, "id"] for i in rows]
    points, edges = latent.focus(data, movers, show, lines, selected)
    st.caption(f"{int((points['kind'] == 'passage').sum()) // 2:,} of {data.n_passages_total:,} passages shown, "
               f"{int((points['kind'] == 'query').sum()) // 2} test queries.")
    build = latent.side_by_side if view == "side by side" else latent.animated
    fig = build(points, edges, color_by, dims, method, highlight=set(selected))
    selectable = dims == 2 and view == "side by side"
    event = st.plotly_chart(fig, key="latent_chart", config=charts.png_config(f"latent_{method}_{dims}d"),
                            on_select="rerun" if selectable else "ignore", selection_mode=("points", "box", "lasso"))
    chosen = [p.get("customdata") for p in (event.selection.points if selectable and event else [])]
    focus_id = ([row[0] for row in chosen if row is not None] or selected or [None])[0]
    if focus_id is not None and focus_id in set(nb.points["id"]):
        latent.neighbour_panel(nb, focus_id, k)
    elif selectable:
        st.caption("Tip: select a row above, or click / lasso points on the chart, to compare their neighbours.")
