"""Latent space: queries and passages under model A and model B in one aligned 2D/3D projection (A alone before a run)."""

import streamlit as st

from explorer.ui import charts, guard, latent, latent_charts, learning, results

with guard.page("Latent space", "Where queries and passages sit under each model. Two models share ONE aligned "
                "projection, so a point that did not move stays put. Neighbourhood change is measured in the full "
                "embedding space, not in the picture."):
    m = results.models()
    results.need_vectors(m)
    c = latent.controls(m.paired)
    method, dims, k = c["method"], c["dims"], c["k"]
    data = results.projection(m, method, dims, c["max_p"])
    if m.paired:
        nb = results.neighbourhoods(m)
        movers = nb.movers(k)
        st.subheader("Biggest movers")
        st.caption(f"Points whose {k} nearest neighbours (among test queries and sampled passages, full space) changed "
                   "most. Select rows to highlight them in the plot; select one to see its neighbours under A and B.")
        table = latent.movers_table(movers)
    else:
        nb = movers = None
        st.subheader("Test queries, worst first")
        st.caption("Select rows to highlight queries and draw lines to their relevant passages. Neighbourhood "
                   "change (biggest movers, colour by change) appears once a second model is trained.")
        table = latent.queries_table(results.single(m)[2])
    picked = st.dataframe(table, key="latent_movers", hide_index=True, height=260, on_select="rerun",
                          selection_mode="multi-row")
    selected = [table["id"].iat[i] for i in (picked.selection.rows if picked else [])]
    points, edges = latent.focus(data, movers, c["show"], c["lines"], selected)
    st.caption(f"{int((points['kind'] == 'passage').sum()) // (2 if m.paired else 1):,} of {data.n_passages_total:,} "
               f"passages shown, {int((points['kind'] == 'query').sum()) // (2 if m.paired else 1)} test queries.")
    if not m.paired:
        fig = latent_charts.single(points, edges, c["color_by"], dims, method, set(selected), f"Queries and passages: {m.name_a}")
    elif c["view"] == "side by side":
        fig = latent_charts.side_by_side(points, edges, c["color_by"], dims, method, set(selected),
                                  (f"A: {m.name_a}", f"B: {m.name_b}"))
    else:
        fig = latent_charts.animated(points, edges, c["color_by"], dims, method, highlight=set(selected))
    selectable = dims == 2 and c["view"] == "side by side"
    event = st.plotly_chart(fig, key="latent_chart", config=charts.png_config(f"latent_{method}_{dims}d"),
                            on_select="rerun" if selectable else "ignore", selection_mode=("points", "box", "lasso"))
    if data.alignment:
        st.caption(data.alignment)
    chosen = [p.get("customdata") for p in (event.selection.points if selectable and event else [])]
    focus_id = ([row[0] for row in chosen if row is not None] or selected or [None])[0]
    if nb is not None and focus_id is not None and focus_id in set(nb.points["id"]):
        latent.neighbour_panel(nb, focus_id, k, (m.name_a, m.name_b))
    elif m.paired and selectable:
        st.caption("Tip: select a row above, or click / lasso points on the chart, to compare their neighbours.")
    learning.section(m, method, dims)
