"""Search: type any query and compare the models' results from the vector store (model A's alone before a run)."""

import streamlit as st

from explorer import pipeline
from explorer.ui import baseline, guard, rankings, results, state

with guard.page("Search", "Type any query; the models search the whole corpus."):
    m = results.models()
    results.need_vectors(m, new_text=True)
    examples = results.example_queries(m)
    c1, c2 = st.columns([4, 1])
    query = c1.text_input("Query", key="search_query", placeholder="type a query, or try an example below")
    k = c2.slider("Top k", 3, 30, 10, key="search_k")
    results.example_buttons(examples, "search_query", m.paired)
    guard.need(query.strip(), "Type a query above, or try one of the examples.")
    store = state.vector_store()
    encoders = [enc for enc in (m.encoder_a, m.encoder_b) if enc is not None]
    building = baseline.indexing_now(m.dataset, encoders, store)
    with st.spinner("Searching (the first search of a model indexes the corpus)…"):
        hits = [pipeline.search(m.dataset, enc, query, k, store, exact=any(enc is b for b in building)) for enc in encoders]
    qid = pipeline.query_id_of(m.dataset, query)
    judged = m.dataset.qrels.get(qid, {}) if qid else {}
    if qid is None:
        st.caption("A query of your own has no relevance judgements, so the hits have no grade.")
    titles = [f"A: {m.name_a}", f"B: {m.name_b}"] if m.paired else [m.name_a]
    for i, (col, frame) in enumerate(zip(st.columns(len(hits)), hits)):
        other = hits[1 - i] if m.paired else None
        where = dict(zip(other["pid"], other["rank"])) if other is not None else {}
        frame = frame.assign(other_rank=[where.get(p) for p in frame["pid"]],
                             grade=[judged.get(p, 0) for p in frame["pid"]])
        shown = rankings.ranking_frame(frame, m.dataset, tuned_side=i == 1)
        drop = [c for c, gone in (("move", not m.paired), ("grade", qid is None)) if gone]
        with col:
            rankings.show_ranking(shown.drop(columns=drop), titles[i], f"search_{i}")
