"""Search: type any query and compare both models' results from the vector store."""

import streamlit as st

from explorer import pipeline
from explorer.ui import guard, rankings, results, state

with guard.page("Search", "Type any query; both models search the whole corpus."):
    m = results.models()
    c1, c2 = st.columns([4, 1])
    query = c1.text_input("Query", key="search_query", placeholder="e.g. how do vaccines train the immune system")
    k = c2.slider("Top k", 3, 30, 10, key="search_k")
    guard.need(query.strip(), "Type a query above.")
    with st.spinner("Searching (the first search of a model indexes the corpus)…"):
        store = state.vector_store()
        base = pipeline.search(m.dataset, m.base, query, k, store)
        tuned = pipeline.search(m.dataset, m.tuned, query, k, store)
    left, right = st.columns(2)
    sides = ((left, base, tuned, "Baseline", "search_base", False),
             (right, tuned, base, f"Fine-tuned ({m.run_id})", "search_tuned", True))
    for col, frame, other, title, key, tuned_side in sides:
        where = dict(zip(other["pid"], other["rank"]))
        frame = frame.assign(other_rank=[where.get(p) for p in frame["pid"]], grade=0)
        with col:
            rankings.show_ranking(rankings.ranking_frame(frame, m.dataset, tuned_side), title, key)
