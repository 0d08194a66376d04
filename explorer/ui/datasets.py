"""Widgets of the Data page: choosing a dataset (demo, upload with column mapping, hub) and its statistics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from explorer import pipeline
from explorer.data.model import Dataset
from explorer.ui import charts, state, text
from explorer.workspace import DatasetChoice

ROLES = [("query", "Query text", True), ("passage", "Passage text", True), ("label", "Relevance grade", False),
         ("query_id", "Query id", False), ("passage_id", "Passage id", False), ("title", "Passage title", False)]
NONE = "— none —"
MAX_LENGTHS_DRAWN = 20_000
"""Passage lengths sent to the browser's histogram at most (every one is a point in the page's payload)."""


def split_widgets(key: str) -> tuple[float, int]:
    """Test fraction and seed of the split by query."""
    c1, c2 = st.columns(2)
    frac = c1.slider("Test share of queries", 0.1, 0.5, 0.3, 0.05, key=f"{key}_frac",
                     help="Queries (not pairs) are split, so no test query is ever seen in training.")
    seed = c2.number_input("Split seed", 0, 10_000, 13, key=f"{key}_seed", help="Same seed, same split.")
    return float(frac), int(seed)


def choose(choice: DatasetChoice) -> None:
    """Load ``choice`` (showing a spinner), persist it in the workspace and rerun the page."""
    ws = state.workspace()
    label = text.message(choice.name or choice.spec, ws.folder)
    with st.spinner(f"Loading {label}…"):
        pipeline.load_dataset(choice, ws.settings)  # raises DataError before the choice is persisted
        ws.set_dataset_choice(choice)
    state.set_flash(f"Loaded {label}.")
    st.rerun()


def upload_section() -> None:
    """File uploader, column mapping prefilled by guessing, preview, and the load button."""
    settings = state.workspace().settings
    up = st.file_uploader(
        "Upload a dataset", type=["csv", "tsv", "jsonl", "json", "parquet", "zip", "gz"], key="upload",
        help=f"A table of (query, passage[, grade]) rows, a BEIR folder as .zip, or a Natural Questions .jsonl(.gz). "
             f"Up to {settings.max_upload_mb:.0f} MB.",
    )
    if up is None:
        return
    path = pipeline.save_upload(up.name, up.getvalue(), settings)
    frac, seed = split_widgets("upload")
    columns = None
    if pipeline.is_table(path):
        preview, guess = pipeline.table_preview(path, settings=settings)
        st.caption("Map the columns (prefilled from the column names):")
        options = [NONE, *map(str, preview.columns)]
        cols = st.columns(3)
        columns = {}
        for i, (role, label, required) in enumerate(ROLES):
            default = str(guess.get(role)) if guess.get(role) in preview.columns else NONE
            value = cols[i % 3].selectbox(label + (" *" if required else ""), options, index=options.index(default),
                                          key=f"col_{role}", help=f"Which column holds the {label.lower()}.")
            if value != NONE:
                columns[role] = value
        st.dataframe(preview, height=220, key="upload_preview")
    if st.button("Load this file", type="primary", key="load_upload"):
        choose(DatasetChoice(spec=str(path), name=Path(up.name).stem, columns=columns, test_fraction=frac, seed=seed))


@st.cache_resource(max_entries=16, show_spinner=False)
def _statistics_figures(fingerprint: str, _stats: Any) -> tuple[Any, Any, Any]:
    """The Data page's three charts of one dataset, built once: plotly's figure construction (subplots,
    layout validation) was the largest share of the page's script time when four visitors opened it at once."""
    lengths = {"queries": _stats.query_lengths, "passages": _stats.passage_lengths[:MAX_LENGTHS_DRAWN]}
    return (charts.length_histogram(lengths), charts.grades_bar(_stats.grade_counts),
            charts.judgements_histogram(_stats.judgements_per_query))


def statistics(dataset: Dataset) -> None:
    """Counts, text lengths, grade distribution and judgements per query, as metrics and charts."""
    stats = state.dataset_stats(dataset)
    c = st.columns(5)
    c[0].metric("Queries", f"{stats.n_queries:,}")
    c[1].metric("Passages", f"{stats.n_passages:,}")
    c[2].metric("Judgements", f"{stats.n_judgements:,}")
    c[3].metric("Train queries", f"{stats.n_train_queries:,}")
    c[4].metric("Test queries", f"{stats.n_test_queries:,}")
    lengths_fig, grades_fig, judgements_fig = _statistics_figures(dataset.fingerprint(), stats)
    left, mid, right = st.columns(3)
    left.plotly_chart(lengths_fig, config=charts.png_config("text_lengths"), key="chart_lengths")
    mid.plotly_chart(grades_fig, config=charts.png_config("grades"), key="chart_grades")
    right.plotly_chart(judgements_fig, config=charts.png_config("judgements_per_query"), key="chart_judgements")
    if stats.notes:
        st.caption("While loading: " + "; ".join(f"{k}: {v:,}" for k, v in stats.notes.items()))
