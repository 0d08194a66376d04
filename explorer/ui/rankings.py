"""Two rankings side by side: relevant passages highlighted with their grade, rank movement arrows."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explorer.ui import text
from explorer.ui.charts import wrap

RELEVANT_BG = "background-color: #dcfce7"
# Fits half of a 1280 px page next to the four narrow columns, so the text never scrolls sideways.
PASSAGE_WIDTH = 200
ROW_HEIGHT = 112  # px; above 4rem Streamlit wraps cell text: five lines of passage per row


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
        "passage": [wrap(dataset.corpus[p].full_text, 10_000, 240, html=False) for p in frame["pid"]],
        "id": frame["pid"],
    })
    return out


def show_ranking(frame: pd.DataFrame, title: str, key: str) -> None:
    """One ranking as a table; relevant rows (grade > 0) on a green background (no grade column: none is).

    The id column is hidden and the number columns kept narrow so the passage text gets the room; rows are
    tall enough (over 4rem) that Streamlit wraps the passage over several lines instead of cutting it off.
    """
    st.markdown(f"**{text.plain(title)}**")  # a title names the models: user text when a run was renamed
    if not len(frame):
        st.caption("Nothing found: no passage shares a word with this query (a word-matching model such as BM25 "
                   "ranks only passages that do).")
        return
    styled = frame.style.apply(lambda row: [RELEVANT_BG if row.get("grade", 0) > 0 else ""] * len(row), axis=1)
    order = [c for c in ("rank", "move", "grade", "score", "passage") if c in frame]
    st.dataframe(styled, hide_index=True, key=key, height=40 + ROW_HEIGHT * max(1, len(frame)),
                 row_height=ROW_HEIGHT, column_order=order, column_config={
                     "rank": st.column_config.NumberColumn(width=40),
                     "move": st.column_config.TextColumn(width=62, help="Rank change versus the other model."),
                     "grade": st.column_config.NumberColumn(width=45),
                     "score": st.column_config.NumberColumn(format="%.3f", width=50),
                     "passage": st.column_config.TextColumn(width=PASSAGE_WIDTH)})


def most_improved(per_query: pd.DataFrame, metric: str = "ndcg@10") -> str | None:
    """The qid of the "fixed" query whose ``metric`` rose most (``None`` when none was fixed)."""
    fixed = per_query[per_query["status"] == "fixed"]
    if not len(fixed):
        return None
    gain = fixed[f"{metric}_b"] - fixed[f"{metric}_a"]
    return str(fixed.loc[gain.idxmax(), "qid"])
