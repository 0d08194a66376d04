"""Similarity: how well cosine similarity separates relevant pairs from negatives, for model A and model B."""

import streamlit as st

from explorer.ui import charts, guard, results, text

with guard.page("Similarity", "Cosine similarity of relevant pairs vs weak and hard negatives, for each model. "
                "The threshold is chosen on train pairs and scored on test pairs."):
    m = results.models()
    results.need_vectors(m)
    split = st.radio("Pairs shown", ["test", "train"], horizontal=True, key="sim_split",
                     help="The threshold is always chosen on train; accuracy is always measured on test.")
    sides = [("A", m.name_a, m.encoder_a), ("B", m.name_b, m.encoder_b)] if m.paired else [("A", m.name_a, m.encoder_a)]
    for col, (side, name, encoder) in zip(st.columns(2), sides):
        with col, st.spinner(f"Scoring pairs with {text.plain(name)}…"):
            clf, pairs = results.similarity(m.dataset, encoder)
            shown = pairs[pairs["split"] == split].rename(columns={"similarity": "score"})
            title = f"{side}: {name}, {split} pairs" if m.paired else f"{name}: {split} pairs"
            fig = charts.similarity_histograms(shown, clf.threshold, title)
            st.plotly_chart(fig, config=charts.png_config(f"similarity_{side}"), key=f"sim_{side}")
            a, b, c = st.columns(3)
            a.metric("Test accuracy", f"{clf.test_accuracy:.1%}", help=f"± {clf.test_accuracy_se:.1%} standard error, "
                     f"{clf.n_test} test pairs, threshold {clf.threshold:.3f} chosen on train.")
            b.metric("Majority class", f"{clf.majority_accuracy:.1%}",
                     help="Accuracy of always predicting the most common train label.")
            c.metric("ROC AUC", "—" if clf.roc_auc is None else f"{clf.roc_auc:.3f}")
            st.caption(f"accuracy {clf.test_accuracy:.1%} ± {clf.test_accuracy_se:.1%} (s.e.) · F1 {clf.f1:.3f} · "
                       + " · ".join(f"{k}: {v:.0%} correct" for k, v in clf.accuracy_by_kind.items()))
    st.caption("Hard negatives appear when you mine them on the Data page; otherwise only weak (random) ones are shown.")
