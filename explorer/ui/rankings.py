"""Two rankings side by side: relevant passages highlighted with their grade, rank movement arrows."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explorer.ui.charts import wrap

RELEVANT_BG = "background-color: #dcfce7"


def movement(rank: int, other_rank, tuned_side: bool) -> str:
    """Arrow text of a passage's move between the two lists (seen from the tuned list when ``tuned_side``)."""
    if pd.isna(other_rank):
        return "new" if tuned_side else "dropped"
    delta = int(other_rank) - int(rank) if tuned_side else int(rank) - int(other_rank)
    return "=" if delta == 0 else (f"↑{delta}" if delta > 0 else f"↓{-delta}")


def ranking_frame(frame: pd.DataFrame, dataset, tuned_side: bool) -> pd.DataFrame:
    """Display columns: rank, move, grade, score, passage text (truncated)."""
    out = pd.DataFrame({
        "rank": frame["rank"].astype(int),
        "move": [movement(r, o, tuned_side) for r, o in zip(frame["rank"], frame["other_rank"] if "other_rank" in frame else [pd.NA] * len(frame))],
        "grade": frame["grade"].astype(int),
        "score": frame["score"].astype(float),
        "passage": [wrap(dataset.corpus[p].full_text, 10_000, 240).replace("<br>", " ") for p in frame["pid"]],
        "id": frame["pid"],
    })
    return out


def show_ranking(frame: pd.DataFrame, title: str, key: str) -> None:
    """One ranking as a table; relevant rows (grade > 0) on a green background."""
    st.markdown(f"**{title}**")
    styled = frame.style.apply(lambda row: [RELEVANT_BG if row["grade"] > 0 else ""] * len(row), axis=1)
    st.dataframe(styled, hide_index=True, key=key, height=38 + 35 * max(1, len(frame)),
                 column_config={"score": st.column_config.NumberColumn(format="%.3f"),
                                "passage": st.column_config.TextColumn(width="large"),
                                "move": st.column_config.TextColumn(help="Rank change versus the other model.")})
