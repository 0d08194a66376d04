"""Widgets of the Data page: choosing a dataset (demo, upload with column mapping, hub) and its statistics."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import streamlit as st

from explorer import pipeline
from explorer.data import labels
from explorer.data.columns import label_like_columns, unused_labels_note
from explorer.data.model import Dataset
from explorer.data.stats import distribution
from explorer.core.errors import DataError, ExplorerError, OverCapError
from explorer.ui import charts, guard, state, text
from explorer.workspace import DatasetChoice

ROLES = [("query", "Query text", True), ("passage", "Passage text", True), ("label", "Relevance grade", False),
         ("query_id", "Query id", False), ("passage_id", "Passage id", False), ("title", "Passage title", False)]
NONE = "— none —"
MAX_LENGTHS_DRAWN = 20_000
"""Passage lengths sent to the browser's histogram at most (every one is a point in the page's payload)."""


def current_with_picker() -> Dataset | None:
    """The workspace's dataset, under a collapsed "Change the dataset" picker; the picker open when none loads.

    Once a dataset is loaded the page leads with it: the picker's widgets are drawn (and run) only when the
    visitor opens it, which keeps a switch to the Data page light. A saved choice that no longer loads (its file
    removed, say) shows why, with the picker open to choose another.
    """
    try:
        dataset = state.current_dataset()
    except ExplorerError as exc:
        guard.show_error(exc, "Data")
        dataset = None
    if dataset is None:
        picker()
        return None
    change = st.expander("Change the dataset", key="data_change", on_change="rerun", icon=":material/swap_horiz:")
    if change.open:
        with change:
            picker()
    return dataset


SOURCES = ["Bundled demo", "Upload a file", "Hugging Face hub"]


def picker() -> None:
    """Where the dataset comes from (the bundled demo, an upload, the hub), with its split, and the load button.

    The source offered first is the current dataset's, if any.
    """
    current = state.workspace().dataset_choice()
    spec = current.spec if current else "demo"
    index = 0 if spec == "demo" else 2 if spec.startswith("hf:") else 1
    source = st.radio("Source", SOURCES, index=index, horizontal=True, key="data_source",
                      help="The demo is a small graded dataset shipped with the app.")
    if source == SOURCES[0]:
        frac, seed = split_widgets("demo")
        if st.button("Use the demo dataset", type="primary", key="use_demo"):
            choose(DatasetChoice(spec="demo", name="Demo (bundled)", test_fraction=frac, seed=seed))
    elif source == SOURCES[1]:
        upload_section()
    else:
        name = st.text_input("Dataset name", placeholder="e.g. sentence-transformers/natural-questions", key="hub_name",
                             help="Needs internet access from the server; the offline demo always works.")
        frac, seed = split_widgets("hub")
        if st.button("Load from the hub", key="load_hub", disabled=not name):
            choose(DatasetChoice(spec=f"hf:{name}", name=name, test_fraction=frac, seed=seed))
        sample_offer(f"hf:{name}")


def split_widgets(key: str) -> tuple[float, int]:
    """Test fraction and seed of the split by query."""
    c1, c2 = st.columns(2)
    frac = c1.slider("Test share of queries", 0.1, 0.5, 0.3, 0.05, key=f"{key}_frac",
                     help="Queries (not pairs) are split, so no test query is ever seen in training.")
    seed = c2.number_input("Split seed", 0, 10_000, 13, key=f"{key}_seed", help="Same seed, same split.")
    return float(frac), int(seed)


def choose(choice: DatasetChoice) -> None:
    """Load ``choice`` (showing a spinner) into the page's dataset cache, persist it in the workspace and rerun
    the page; the rerun finds the loaded dataset in the cache, so the file is parsed once. Data over the
    server's caps is not loaded: the rerun shows why, with an offer to load a sample (:func:`sample_offer`)."""
    ws = state.workspace()
    label = text.message(choice.name or choice.spec, ws.folder)
    try:
        with st.spinner(f"Loading {label}…"):
            state.dataset_for(choice, ws)  # raises DataError before the choice is persisted
    except OverCapError as exc:
        if choice.sample:
            raise
        st.session_state[OFFER] = (choice.key(), str(exc))
        st.rerun()
    st.session_state.pop(OFFER, None)
    ws.set_dataset_choice(choice)
    state.set_flash(f"Loaded {label}.")
    st.rerun()


OFFER = "data_sample_offer"
"""Session key of the last refusal over a cap: (the choice's key, the message)."""


def sample_offer(spec: str) -> None:
    """Under the load button of ``spec``: why the data was refused (over the passage or query cap), and a button
    that loads a seeded sample within the caps instead (every passage judged for the queries kept, the rest
    drawn at random), named as a sample on every page."""
    offer = st.session_state.get(OFFER)
    if not offer:
        return
    choice = DatasetChoice(**json.loads(offer[0]))
    if choice.spec != spec:
        return
    settings = state.workspace().settings
    st.error(text.plain(offer[1]), icon=":material/block:")
    size = f"{settings.max_passages:,} passages and {settings.max_queries:,} queries"
    if st.button(f"Load a sample instead (at most {size})", key="load_sample", type="primary",
                 icon=":material/shuffle:",
                 help="Keeps queries drawn at random with every passage judged for them, then random other "
                      f"passages, within this server's limits (seed {choice.seed}: the same sample each time)."):
        choose(replace(choice, sample=True, name=f"{choice.name or Path(spec).stem} (sample)"))


def upload_section() -> None:
    """File uploader, column mapping prefilled by guessing (or by the workspace's choice for this file),
    preview, and the load button."""
    ws = state.workspace()
    settings = ws.settings
    up = st.file_uploader(
        "Upload a dataset", type=["csv", "tsv", "jsonl", "json", "parquet", "zip", "gz"], key="upload",
        max_upload_size=upload_cap_mb(settings.max_upload_mb),
        help=f"A table of (query, passage[, grade]) rows, a BEIR folder as .zip, or a Natural Questions .jsonl(.gz). "
             f"Up to {settings.max_upload_mb:.0f} MB.",
    )
    if up is None:
        return
    path = pipeline.save_upload(up.name, up.getvalue(), settings)
    frac, seed = split_widgets("upload")
    columns = None
    if pipeline.is_table(path):
        current = ws.dataset_choice()
        remembered = current.columns if current and current.spec == str(path) else None
        columns = column_mapping(path, remembered)
    if st.button("Load this file", type="primary", key="load_upload", disabled=columns is False):
        choose(DatasetChoice(spec=str(path), name=Path(up.name).stem, columns=columns or None,
                             test_fraction=frac, seed=seed))
    sample_offer(str(path))


def upload_cap_mb(max_upload_mb: float) -> int:
    """A settings' upload cap as the whole megabytes Streamlit takes (rounded up, at least 1)."""
    return max(1, int(math.ceil(max_upload_mb)))


def apply_upload_cap() -> None:
    """Make Streamlit's own upload cap (``server.maxUploadSize``, which its upload endpoint enforces) the
    server settings' ``max_upload_mb``: 200 MB locally, the public cap in public mode.

    ``.streamlit/config.toml`` holds the public cap, so a server that never ran this refuses large files rather
    than accepting them; the entry point calls this on every run (a cheap comparison once it is set).
    """
    from streamlit import config

    from explorer.workspace import server_settings

    wanted = upload_cap_mb(server_settings().max_upload_mb)
    if config.get_option("server.maxUploadSize") != wanted:
        config.set_option("server.maxUploadSize", wanted)


def column_mapping(path: Path, remembered: dict[str, Any] | None) -> dict[str, Any] | bool:
    """The column mapping widgets over the table's first rows: one box per role, and the label words' grades.

    Prefilled from the workspace's choice when it is this file (``remembered``), else from the column names.
    Returns the mapping (a role set to None means "no such column"), or False while the grades typed do not
    parse (the message says why).
    """
    preview, guess = pipeline.table_preview(path, settings=state.workspace().settings)
    chosen = remembered or guess
    st.caption("Map the columns (prefilled from the column names):")
    options = [NONE, *map(str, preview.columns)]
    cols = st.columns(3)
    columns: dict[str, Any] = {}
    for i, (role, label, required) in enumerate(ROLES):
        default = str(chosen.get(role)) if chosen.get(role) in preview.columns else NONE
        value = cols[i % 3].selectbox(label + (" *" if required else ""), options, index=options.index(default),
                                      key=f"col_{role}", help=f"Which column holds the {label.lower()}.")
        columns[role] = None if value == NONE else value
    ok = _label_grades(preview, columns, (remembered or {}).get("grades"))
    st.dataframe(preview, height=220, key="upload_preview")
    return columns if ok else False


def _label_grades(preview: Any, columns: dict[str, Any], remembered: Any) -> bool:
    """The label words' grades box (with the default for the words in the first rows as its placeholder), or a
    warning when a column looks like labels but none is the label column. False: the grades typed are invalid."""
    if not columns.get("label"):
        unused = label_like_columns(preview, columns)
        if unused:
            st.warning(text.plain(unused_labels_note(unused).replace("rows counted", "Every row will count", 1)),
                       icon=":material/warning:")
        return True
    words = [v for v in preview[columns["label"]].tolist() if str(v).strip()]
    default = labels.default_grades(words)
    typed = st.text_input(labels.CONTROL, value=labels.format_grades(remembered or {}), key="col_grades",
                          placeholder=f"default: {default}" if default else "e.g. Exact=100, Substitute=10",
                          help="How label words become grades, as WORD=GRADE pairs; words not named keep the "
                               "default (ESCI: Exact=100, Substitute=10, Complement=1, Irrelevant=0, the ESCI "
                               "paper's gains; relevant=2, partially=1, not=0; yes=1, no=0).")
    try:
        grades = labels.parse_grades(typed)
    except DataError as exc:
        st.error(text.plain(str(exc)))
        return False
    if grades:
        columns["grades"] = grades
    return True


@st.cache_resource(max_entries=16, show_spinner=False)
def _statistics_figures(fingerprint: str, _stats: Any) -> tuple[Any, Any, Any]:
    """The Data page's three charts of one dataset, built once: plotly's figure construction (subplots,
    layout validation) was the largest share of the page's script time when four visitors opened it at once."""
    lengths = {"queries": _stats.query_lengths, "passages": _stats.passage_lengths[:MAX_LENGTHS_DRAWN]}
    return (charts.length_histogram(lengths), charts.grades_bar(_stats.grade_counts),
            charts.judgements_histogram(_stats.judgements_per_query))


def statistics(dataset: Dataset) -> None:
    """Counts and a one-line summary of the texts, grades and judgements; their charts on request."""
    stats = state.dataset_stats(dataset)
    c = st.columns(5)
    c[0].metric("Queries", f"{stats.n_queries:,}")
    c[1].metric("Passages", f"{stats.n_passages:,}")
    c[2].metric("Judgements", f"{stats.n_judgements:,}")
    c[3].metric("Train queries", f"{stats.n_train_queries:,}")
    c[4].metric("Test queries", f"{stats.n_test_queries:,}")
    st.caption(summary_line(stats))
    if dataset.grading is not None:
        st.caption("Labels: " + text.plain(dataset.grading.describe()))
    if stats.notes:
        st.caption("While loading: " + "; ".join(f"{k}: {v:,}" for k, v in stats.notes.items()))
    encoding_cost(dataset)
    _distributions(dataset, stats)


@st.cache_resource(max_entries=16, show_spinner=False)
def _encoding_cost(dataset_fp: str, encoder_fp: str, shards: int, _dataset: Dataset, _encoder: Any) -> Any:
    from explorer.pipeline.cost import encoding_cost as cost

    return cost(_dataset, _encoder)


def cost_of(dataset: Dataset, encoder: Any) -> Any:
    """What embedding ``dataset`` with ``encoder`` costs here (:func:`explorer.pipeline.cost.encoding_cost`),
    computed again only when the embedding cache grows (its shard count is part of the key)."""
    folder = encoder.cache_dir / encoder.fingerprint if encoder.cache_dir is not None else None
    shards = sum(1 for _ in folder.glob("*.npz")) if folder is not None and folder.is_dir() else 0
    return _encoding_cost(dataset.fingerprint(), encoder.fingerprint, shards, dataset, encoder)


def encoding_cost(dataset: Dataset) -> None:
    """What the baseline encoding will cost on this machine (texts left, time, memory, disk), before the Metrics
    page pays it."""
    try:
        cost = cost_of(dataset, state.base_encoder())
    except ExplorerError as exc:  # no model to measure: the Metrics page says why when it is opened
        st.caption(f"Encoding cost unknown: {text.plain(str(exc))}")
        return
    st.caption("Encoding before the first results: " + text.plain(cost.describe()), help=(
        "Estimated from this model's measured speed on this machine; the Metrics page shows the progress, "
        "its rate and the time left while it encodes (a long encode shows results on a sample of the corpus "
        "first), and an interrupted encode resumes where it stopped."))


def summary_line(stats: Any) -> str:
    """Median and longest text lengths, judgements per grade and judged passages per query, in one line."""
    def words(lengths: Any) -> str:
        d = distribution(lengths)
        return f"median {d['p50']:g} words, longest {d['p100']:g}" if len(lengths) else "none"

    per_query = distribution(stats.judgements_per_query)
    if not len(stats.judgements_per_query):
        judged = "no judgements"
    elif per_query["p0"] == per_query["p100"]:
        judged = f"{per_query['p0']:g} judged passages per query"
    else:
        judged = f"{per_query['p0']:g}–{per_query['p100']:g} judged passages per query (median {per_query['p50']:g})"
    grades = ", ".join(f"grade {g}: {n:,}" for g, n in sorted(stats.grade_counts.items()))
    return f"Queries: {words(stats.query_lengths)} · passages: {words(stats.passage_lengths)} · {judged} · {grades}"


DISTRIBUTIONS = "data_distributions"
"""Widget key of the expander holding the Data page's charts."""
DISTRIBUTIONS_OPEN = "_data_distributions_open"
"""Session key remembering whether the visitor opened the charts (widget state is dropped on a page switch)."""


def _remember_distributions() -> None:
    st.session_state[DISTRIBUTIONS_OPEN] = bool(st.session_state.get(DISTRIBUTIONS))


def _distributions(dataset: Dataset, stats: Any) -> None:
    """The three charts, drawn only while their expander is open (it stays open for the session once opened).

    Lazy because a browser drawing three plotly charts was the slowest part of every switch to this page: with
    four visitors and a training job on two cores, the Data page alone went over 1 s (docs/reliability.md).
    """
    box = st.expander("Distributions: text length, relevance grades, judgements per query", key=DISTRIBUTIONS,
                      expanded=bool(st.session_state.get(DISTRIBUTIONS_OPEN)), on_change=_remember_distributions,
                      icon=":material/bar_chart:")
    if not box.open:
        return
    lengths_fig, grades_fig, judgements_fig = _statistics_figures(dataset.fingerprint(), stats)
    with box:
        left, mid, right = st.columns(3)
        left.plotly_chart(lengths_fig, config=charts.png_config("text_lengths"), key="chart_lengths")
        mid.plotly_chart(grades_fig, config=charts.png_config("grades"), key="chart_grades")
        right.plotly_chart(judgements_fig, config=charts.png_config("judgements_per_query"), key="chart_judgements")
