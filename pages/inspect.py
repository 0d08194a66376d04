"""Inspect: one query's top-k under model A and model B side by side (model A's alone before any run)."""

import streamlit as st

from explorer.ui import baseline, guard, rankings, results, text

with guard.page("Inspect", "Pick a test query and see its rankings (relevant passages in green)."):
    m = results.models()
    if not m.paired:
        baseline.inspect_view(m)
        st.stop()
    comp = results.comparison(m)
    pq = comp.per_query
    c1, c2, c3 = st.columns([1, 3, 1])
    which = c1.radio("Queries", ["all", "fixed", "broken", "unchanged"], key="inspect_filter",
                     help=f"Fixed: NDCG@10 higher with {text.plain(m.name_b)} than with {text.plain(m.name_a)}; "
                     "broken: lower.")
    pool = pq if which == "all" else pq[pq["status"] == which]
    guard.need(len(pool), f"No {which} queries.")
    labels = {q: f"{text}  ({status}, NDCG@10 {a:.2f} → {b:.2f})" for q, text, status, a, b
              in zip(pool["qid"], pool["query"], pool["status"], pool["ndcg@10_a"], pool["ndcg@10_b"])}
    best = rankings.most_improved(pool)  # open on the clearest success: the most improved fixed query
    options = list(labels)
    qid = c2.selectbox("Query (type to search)", options, index=options.index(best) if best in labels else 0,
                       format_func=labels.get, key="inspect_query")
    k = c3.slider("Top k", 3, 30, 10, key="inspect_k")
    base_list, tuned_list = comp.ranked_lists(qid, k)
    judged = {p: g for p, g in m.dataset.qrels.get(qid, {}).items() if g > 0}
    st.caption(f"{len(judged)} relevant passage(s) for this query; grades shown in the tables.")
    left, right = st.columns(2)
    with left:
        rankings.show_ranking(rankings.ranking_frame(base_list, m.dataset, tuned_side=False), f"A: {m.name_a}",
                              "rank_base")
    with right:
        rankings.show_ranking(rankings.ranking_frame(tuned_list, m.dataset, tuned_side=True), f"B: {m.name_b}",
                              "rank_tuned")
    baseline.missing_passages(m.dataset, judged, set(tuned_list["pid"]) | set(base_list["pid"]), k)
