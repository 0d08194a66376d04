"""Similarity: how well cosine similarity separates relevant pairs from negatives, before and after."""

import streamlit as st

from explorer.ui import charts, guard, results

with guard.page("Similarity", "Cosine similarity of relevant pairs vs weak and hard negatives, before and after "
                "fine-tuning. The threshold is chosen on train pairs and scored on test pairs."):
    m = results.models()
    split = st.radio("Pairs shown", ["test", "train"], horizontal=True, key="sim_split",
                     help="The threshold is always chosen on train; accuracy is always measured on test.")
    columns = st.columns(2)
    for col, label, encoder in ((columns[0], "Baseline", m.base), (columns[1], "Fine-tuned", m.tuned)):
        with col, st.spinner(f"Scoring pairs with the {label.lower()} model…"):
            clf, pairs = results.similarity(m.dataset, encoder)
            shown = pairs[pairs["split"] == split].rename(columns={"similarity": "score"})
            fig = charts.similarity_histograms(shown, clf.threshold, f"{label}: {split} pairs")
            st.plotly_chart(fig, config=charts.png_config(f"similarity_{label.split()[0].lower()}"),
                            key=f"sim_{label.split()[0]}")
            a, b, c = st.columns(3)
            a.metric("Test accuracy", f"{clf.test_accuracy:.1%}", help=f"± {clf.test_accuracy_se:.1%} standard error, "
                     f"{clf.n_test} test pairs, threshold {clf.threshold:.3f} chosen on train.")
            b.metric("Majority class", f"{clf.majority_accuracy:.1%}",
                     help="Accuracy of always predicting the most common train label.")
            c.metric("ROC AUC", "—" if clf.roc_auc is None else f"{clf.roc_auc:.3f}")
            st.caption(f"accuracy {clf.test_accuracy:.1%} ± {clf.test_accuracy_se:.1%} (s.e.) · F1 {clf.f1:.3f} · "
                       + " · ".join(f"{k}: {v:.0%} correct" for k, v in clf.accuracy_by_kind.items()))
    st.caption("Hard negatives appear when you mine them on the Data page; otherwise only weak (random) ones are shown.")
