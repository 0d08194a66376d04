"""The Metrics page's "new passages" split: the change on test queries whose relevant passages no training query
has, next to the change on the rest (:mod:`explorer.evaluation.novelty`), each with its 95 % interval."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from explorer.evaluation.display import p_value_text
from explorer.evaluation.novelty import PartChange, novelty_split


def split_frame(changes: list[PartChange], names: tuple[str, str]) -> pd.DataFrame:
    """One row per part: queries, A, B, Δ, its interval and p-value (an empty part keeps its row, blank)."""
    rows = []
    for c in changes:
        ci = f"[{c.ci_delta[0]:+.3f}, {c.ci_delta[1]:+.3f}]" if c.ci_delta else ""
        rows.append({"test queries": c.label, "queries": c.n_queries, names[0]: c.mean_a, names[1]: c.mean_b,
                     "Δ": c.delta, "Δ 95% CI": ci, "p-value": p_value_text(c.p_value)})
    return pd.DataFrame(rows)


def verdict(changes: list[PartChange]) -> str:
    """One sentence on what the split says about the overall change."""
    parts = {c.part: c for c in changes}
    new, seen = parts.get("new"), parts.get("seen")
    if new is None or not new.n_queries:
        return ("Every test query has a relevant passage that training queries have too: this data cannot say how "
                "the model does on passages it never saw as positives.")
    if seen is None or not seen.n_queries:
        return "No test query shares a relevant passage with training: the overall change is all on new passages."
    if new.ci_delta and new.ci_delta[0] <= 0.0 <= new.ci_delta[1]:
        return ("On new passages the change is within noise (its interval includes 0): the overall gain may come "
                "from passages training already showed, and may not carry over to new documents.")
    return "The change on new passages is clear of noise (its interval excludes 0)."


def section(m: Any, comp: Any, metric: str = "ndcg@10") -> None:
    """The split table under the overall change, with what it means."""
    with st.container(key="novelty_split"):
        _split(m, comp, metric)


def _split(m: Any, comp: Any, metric: str) -> None:
    st.markdown("**Gain on new passages**")
    st.caption(f"{metric.upper()} on test queries whose relevant passages no training query has as relevant "
               "(new passages), and on the rest (seen passages). A fine-tune that learnt the corpus rather than the "
               "task gains on seen passages only.")
    try:
        changes = novelty_split(comp, m.dataset, metric=metric)
    except ValueError as exc:
        st.info(f"No split by novelty: {exc}.", icon=":material/info:")
        return
    names = (m.name_a, m.name_b)
    st.dataframe(split_frame(changes, names), hide_index=True, key="novelty_table", column_config={
        c: st.column_config.NumberColumn(format="%.3f") for c in (*names, "Δ")})
    st.caption(verdict(changes))
