"""Latent space: queries and passages before and after fine-tuning, in one aligned 2D/3D projection."""

import pandas as pd
import streamlit as st

from explorer.ui import charts, guard, latent, results

with guard.page("Latent space", "Where queries and passages sit before and after fine-tuning. Both use ONE aligned "
                "projection, so a point that did not move stays put. Select points (box / lasso) to list them."):
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
    lines = st.toggle("Lines from each query to its relevant passages", value=True, key="latent_lines")
    data = results.projection(m, method, dims, max_p)
    edges = data.edges if lines else []
    n_passages = int((data.points["kind"] == "passage").sum()) // 2
    st.caption(f"{n_passages:,} of {data.n_passages_total:,} passages shown, "
               f"{int((data.points['kind'] == 'query').sum()) // 2} test queries.")
    build = latent.side_by_side if view == "side by side" else latent.animated
    fig = build(data.points, edges, color_by, dims, method)
    selectable = dims == 2 and view == "side by side"
    event = st.plotly_chart(fig, key="latent_chart", config=charts.png_config(f"latent_{method}_{dims}d"),
                            on_select="rerun" if selectable else "ignore",
                            selection_mode=("points", "box", "lasso"))
    chosen = [p.get("customdata") for p in (event.selection.points if selectable and event else [])]
    chosen = [c for c in chosen if c is not None]
    if chosen:
        ids = {(row[0], row[1]) for row in chosen}
        pts = data.points[[(i, s) in ids for i, s in zip(data.points["id"], data.points["stage"])]]
        st.subheader(f"Selected points ({len(pts)})")
        st.dataframe(pd.DataFrame(pts[["stage", "kind", "id", "grade", "change", "text"]]), hide_index=True,
                     key="latent_selection")
    elif selectable:
        st.caption("Tip: drag a box or lasso on the chart to list the selected points here.")
