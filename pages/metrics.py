"""Metrics: ranking metrics with confidence; model A vs model B (per-query changes, report) once a run exists."""

import streamlit as st

from explorer import pipeline
from explorer.ui import (bakeoff, baseline, charts, generalization, guard, learning, novelty, report, results, state,
                         text, training)

with guard.page("Metrics", "Did fine-tuning help? Ranking metrics on the held-out test queries, with confidence."):
    m = results.models()
    learning.so_far()
    if not m.paired:
        baseline.metrics_view(m)
        bakeoff.section(m.dataset)
        st.stop()
    training.selection_notice(pipeline.run_selection(state.workspace(), m.run_id))
    comp = results.comparison(m)
    a, b = report.model_names(comp)
    st.dataframe(report.metrics_table(comp), hide_index=True, key="metrics_table", column_config={
        c: st.column_config.NumberColumn(format="%.3f") for c in (a, b, "Δ")})
    st.caption(f"Δ = {text.plain(b)} − {text.plain(a)}.")
    novelty.section(m, comp)
    c = st.columns(4)
    c[0].metric("Fixed queries", comp.counts.get("fixed", 0), help=f"NDCG@10 higher with {text.plain(b)} than with {text.plain(a)}.")
    c[1].metric("Broken queries", comp.counts.get("broken", 0), help=f"NDCG@10 lower with {text.plain(b)} than with {text.plain(a)}.")
    c[2].metric("Unchanged", comp.counts.get("unchanged", 0))
    c[3].metric("Mean RBO@10", f"{comp.mean_rbo:.3f}", help="Rank-biased overlap of the two top-10 lists "
                "(1 = identical rankings, 0 = disjoint).")
    left, right = st.columns(2)
    bars = charts.metrics_bars(report.bars_frame(comp), names=(a, b))
    scatter = charts.per_query_scatter(report.scatter_frame(comp), names=(a, b))
    left.plotly_chart(bars, config=charts.png_config("metrics"), key="metrics_bars")
    right.plotly_chart(scatter, config=charts.png_config("per_query_ndcg"), key="per_query_scatter")
    st.caption(f"Significance: paired {comp.test} test on per-query scores; intervals: 95% bootstrap. "
               "Charts: use the camera icon to save a PNG.")
    d1, d2 = st.columns(2)
    d1.download_button("Download report (HTML)", report.html_report(comp, [bars, scatter], f"Comparison: {a} vs {b}"),
                       file_name=f"comparison_{m.file_tag}.html", mime="text/html", key="download_html",
                       icon=":material/download:")
    d2.download_button("Download per-query table (CSV)", report.per_query_csv(comp),
                       file_name=f"per_query_{m.file_tag}.csv", mime="text/csv", key="download_csv",
                       icon=":material/download:")
    with st.expander("Per-query table"):
        st.dataframe(comp.per_query, hide_index=True, key="per_query_table")
    if m.run_id and not m.no_vectors:  # checks are stored with run B and embed a second dataset
        generalization.section(m, comp)
    bakeoff.section(m.dataset)
