"""Negative mining and the audit table: mine weak/hard negatives, review them, exclude the bad ones."""

from __future__ import annotations

import streamlit as st

from explorer import pipeline
from explorer.ui import state

AUDIT_COLUMNS = ["flag", "exclude", "kind", "query", "positive", "negative", "pos_score", "neg_score", "rank"]


def mining_form(dataset) -> None:
    """Parameters of the miner and the button that runs it (results are saved in the workspace)."""
    with st.form("mine_form", border=True):
        c = st.columns(4)
        num = c[0].number_input("Negatives per positive", 1, 20, 3, key="neg_num",
                                help="How many negatives to keep for each (query, positive) pair.")
        range_max = c[1].number_input("Search depth (range_max)", 5, 500, 50, key="neg_range",
                                      help="Hard negatives are picked among the encoder's top range_max passages.")
        margin = c[2].number_input("Relative margin", 0.0, 0.5, 0.05, 0.01, key="neg_margin",
                                   help="A candidate scoring above (1 - margin) x the positive's score is treated "
                                        "as a likely false negative (probably relevant but unjudged) and excluded.")
        kinds = c[3].multiselect("Kinds", ["hard", "weak"], default=["hard", "weak"], key="neg_kinds",
                                 help="Hard: ranked high by the baseline encoder. Weak: random passages.")
        go = st.form_submit_button("Mine negatives", type="primary")
    if go:
        with st.spinner("Embedding the corpus and mining negatives…"):
            negs = pipeline.mine_negatives(state.workspace(), dataset, state.base_encoder(), num_negatives=int(num),
                                           range_max=int(range_max), relative_margin=float(margin),
                                           weak="weak" in kinds, hard="hard" in kinds)
        state.set_flash(f"Mined {len(negs):,} negatives; review them below.")
        st.rerun()


def audit_table() -> None:
    """The audit: one editable row per negative, likely false negatives flagged, exclusions saved."""
    ws = state.workspace()
    negs = pipeline.saved_negatives(ws)
    if negs is None or not len(negs):
        st.info("No negatives mined yet: choose the parameters above and press **Mine negatives**.")
        return
    frame = negs.to_frame()
    suspects = int(frame["suspect_false_negative"].sum())
    c = st.columns(4)
    c[0].metric("Negatives", f"{len(frame):,}")
    c[1].metric("Hard", f"{int((frame['kind'] == 'hard').sum()):,}")
    c[2].metric("Likely false negatives", f"{suspects:,}", help="Flagged by the margin guard; excluded by default.")
    c[3].metric("Excluded from training", f"{int(frame['excluded'].sum()):,}")
    if negs.skipped:
        st.caption("Skipped while mining: " + "; ".join(f"{k}: {v:,}" for k, v in negs.skipped.items()))
    only = st.toggle("Show only likely false negatives", value=suspects > 0, key="audit_only_suspects")
    view = frame.assign(flag=frame["suspect_false_negative"].map({True: "⚠️ likely false negative", False: ""}),
                        exclude=frame["excluded"].astype(bool))
    if only:
        view = view[view["suspect_false_negative"]]
    edited = st.data_editor(
        view[AUDIT_COLUMNS].head(2000), key="audit_editor", height=420, hide_index=True,
        disabled=[c for c in AUDIT_COLUMNS if c != "exclude"],
        column_config={
            "exclude": st.column_config.CheckboxColumn("exclude", help="Leave this negative out of training."),
            "pos_score": st.column_config.NumberColumn("positive score", format="%.3f"),
            "neg_score": st.column_config.NumberColumn("negative score", format="%.3f"),
            "query": st.column_config.TextColumn(width="medium"),
            "positive": st.column_config.TextColumn(width="medium"),
            "negative": st.column_config.TextColumn(width="medium"),
        },
    )
    if st.button("Save exclusions", key="save_audit", icon=":material/save:",
                 help="The next training run uses only the negatives not excluded."):
        # Rows not shown keep their state; shown rows take the checkbox (the editor keeps the frame's index).
        excluded = set(frame.index[frame["excluded"]]) - set(edited.index)
        excluded |= set(edited.index[edited["exclude"].astype(bool)])
        pipeline.save_audit(ws, negs, sorted(int(i) for i in excluded))
        state.set_flash(f"Saved: {len(excluded):,} negatives excluded from the next training run.")
        st.rerun()

