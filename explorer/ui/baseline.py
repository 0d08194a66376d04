"""Views of model A alone, for the pages before any run has finished: metrics with intervals, worst queries,
one ranking per query. User text (queries, passages) is drawn as plain text or inside data frames, never as
Markdown.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
import streamlit as st

from explorer import pipeline
from explorer.core.progress import Rate
from explorer.evaluation.compare import ranked_list
from explorer.ui import charts, rankings, report, results, state

WORST_SHOWN = 25
STAGE_WORDS = {"queries": "embedding the queries", "passages": "embedding the passages", "search": "searching",
               "metrics": "scoring", "indexing": "adding the passages to the index"}
"""What each stage of :func:`explorer.evaluation.retrieval.evaluate_encoder` (and of BM25's index, for a
BM25 or hybrid baseline) is called on the progress bar."""


class ProgressBar:
    """A progress bar fed by :data:`explorer.core.progress.Progress` reports: the stage, the count, the rate
    and the time left (:class:`explorer.core.progress.Rate`), redrawn at most every :attr:`every` seconds;
    removed when the ``with`` block ends."""

    every = 0.25

    def __init__(self, label: str, clock: Any = None) -> None:
        self.label = label
        self._rate = Rate(clock)
        self._drawn = 0.0
        self._slot: Any = None

    def __enter__(self) -> "ProgressBar":
        self._slot = st.empty()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._slot.empty()

    def __call__(self, stage: str, done: int, total: int) -> None:
        text = self._rate.describe(stage, done, total)
        now = time.monotonic()
        if done < total and now - self._drawn < self.every:
            return
        self._drawn = now
        fraction = min(1.0, done / total) if total else 0.0
        self._slot.progress(fraction, text=f"{self.label}: {STAGE_WORDS.get(stage, stage)}, {text}")


def indexing_now(dataset: Any, encoders: list[Any], store: Any) -> list[Any]:
    """Those of ``encoders`` whose Search index is being built in the background, said in a caption with its
    progress: their queries are answered exactly from the embedded corpus meanwhile, nobody waits for it."""
    building = {id(e): p for e in encoders if (p := pipeline.indexing(dataset, e, store)) is not None}
    if building:
        done, total = min(building.values())
        st.caption(f"The search index is being built in the background ({done:,} of {total:,} passages): until it "
                   "is ready, results come from an exact search over the embedded corpus, with the same scores.")
    return [e for e in encoders if id(e) in building]


def evaluate_baseline(m: results.Models) -> None:
    """Model A's evaluation on the test queries with a progress bar (count, rate, time left) while it
    encodes; nothing is drawn when the result is already computed.

    When the whole encode would take long (:func:`explorer.pipeline.cost.first_sample`), results on a sample
    come first, labelled as such, and stay on the page while the whole corpus is embedded below them; the
    page then draws the whole corpus' results. Leaving the page stops the encode; what was embedded is kept
    and the next visit resumes from there.
    """
    sample = _sample_first(m)
    if sample is not None:
        _on_a_sample(m, sample)
    with ProgressBar("Evaluating the baseline on the test queries" + (" (the whole corpus)" if sample else "")) as bar:
        state.baseline_result(m.dataset, m.encoder_a, progress=bar)
    if sample is not None:
        st.rerun()  # the sample's results give way to the whole corpus'


def _sample_first(m: results.Models) -> Any:
    """The sample to show first, or None (results computed already, a quick encode, an API model)."""
    from explorer.core.errors import ExplorerError
    from explorer.pipeline.cost import first_sample
    from explorer.ui.datasets import cost_of

    if state.baseline_known(m.dataset, m.encoder_a):
        return None
    try:
        return first_sample(m.dataset, cost_of(m.dataset, m.encoder_a), state.workspace().settings.sample_first_seconds)
    except ExplorerError:
        return None  # no estimate: the whole encode runs with its progress bar as before


def _on_a_sample(m: results.Models, sample: Any) -> None:
    """Model A's metrics on ``sample``, said to be a sample, while the whole corpus is embedded below."""
    from explorer.evaluation.summary import metric_summary

    judged = len({p for q in sample.queries for p in sample.qrels.get(q, {})})
    with ProgressBar(f"First, a sample of {len(sample.corpus):,} passages") as bar:
        result = state.baseline_result(sample, m.encoder_a, progress=bar, index=False)
    st.info(f"**A first look, on a sample** of {len(sample.corpus):,} of the {len(m.dataset.corpus):,} passages "
            f"(the {judged:,} judged for the test queries, and others drawn at random) while the whole corpus "
            "is embedded below. With fewer passages to tell apart, scores on a sample run higher than on the "
            "whole corpus; the whole corpus' results replace these when it is done.", icon=":material/science:")
    st.dataframe(summary_table(metric_summary(result), f"{m.name_a} (sample)"), hide_index=True, key="sample_metrics",
                 column_config={f"{m.name_a} (sample)": st.column_config.NumberColumn(format="%.3f")})


def summary_table(summary: pd.DataFrame, name: str) -> pd.DataFrame:
    """The metric table of one model: metric label, mean (named after the model), 95% CI."""
    return pd.DataFrame({
        "metric": [report.METRIC_LABELS.get(m, m) for m in summary["metric"]],
        name: summary["mean"],
        f"{name} 95% CI": [f"[{lo:.3f}, {hi:.3f}]" for lo, hi in zip(summary["ci_low"], summary["ci_high"])],
    })


def bars_frame(summary: pd.DataFrame) -> pd.DataFrame:
    """One model's means and bounds in the shape :func:`explorer.ui.charts.metrics_bars` draws."""
    index = [report.METRIC_LABELS.get(m, m) for m in summary["metric"]]
    return pd.DataFrame({"baseline": summary["mean"].to_numpy(), "baseline_low": summary["ci_low"].to_numpy(),
                         "baseline_high": summary["ci_high"].to_numpy()}, index=index)


def metrics_view(m: results.Models) -> None:
    """Model A's ranking metrics with 95% bootstrap intervals, and its worst queries (lowest NDCG@10)."""
    evaluate_baseline(m)
    result, summary, per_query = results.single(m)
    left, right = st.columns([2, 3])
    left.dataframe(summary_table(summary, m.name_a), hide_index=True, key="metrics_table",
                   column_config={m.name_a: st.column_config.NumberColumn(format="%.3f")})
    left.caption(f"{result.n_queries} test queries; intervals: 95% bootstrap over queries.")
    bars = charts.metrics_bars(bars_frame(summary), names=(m.name_a, ""),
                               title=f"{m.name_a}: retrieval metrics on the test split (95% CI)")
    right.plotly_chart(bars, config=charts.png_config("metrics_baseline"), key="metrics_bars")
    st.subheader("Worst queries")
    st.caption(f"The {min(WORST_SHOWN, len(per_query))} test queries with the lowest NDCG@10: where fine-tuning "
               "has the most to gain. Open one on the Inspect page to see its ranking.")
    st.dataframe(per_query.head(WORST_SHOWN), hide_index=True, key="worst_queries", column_config={
        c: st.column_config.NumberColumn(report.METRIC_LABELS[c], format="%.3f") for c in ("ndcg@10", "mrr@10",
                                                                                          "recall@10")} | {
        "qid": None,  # the text says which query it is; the id is in the CSV
        "first_relevant": st.column_config.NumberColumn("first relevant rank", help="Empty: none in the top 100."),
        "relevant": st.column_config.NumberColumn("relevant passages")})
    st.download_button("Download per-query table (CSV)", per_query.to_csv(index=False), file_name="per_query_baseline.csv",
                       mime="text/csv", key="download_csv", icon=":material/download:")


def missing_passages(dataset: Any, judged: dict[str, int], shown: set[str], k: int) -> None:
    """The relevant passages of a query that no shown top-k list holds, as plain text in an expander."""
    missing = [p for p in judged if p not in shown]
    if missing:
        with st.expander(f"{len(missing)} relevant passage(s) not in the top {k}"):
            for p in missing:
                st.text(f"grade {judged[p]}: {dataset.corpus[p].full_text[:300]}")


def inspect_view(m: results.Models) -> None:
    """Model A's top-k for one test query (worst queries first), relevant passages highlighted."""
    evaluate_baseline(m)
    result, _, per_query = results.single(m)
    labels = {q: f"{text}  (NDCG@10 {n:.2f})" for q, text, n in zip(per_query["qid"], per_query["query"],
                                                                     per_query["ndcg@10"])}
    c1, c2 = st.columns([4, 1])
    qid = c1.selectbox("Query (worst first; type to search)", list(labels), format_func=labels.get, key="inspect_query")
    k = c2.slider("Top k", 3, 30, 10, key="inspect_k")
    judged = {p: g for p, g in m.dataset.qrels.get(qid, {}).items() if g > 0}
    st.caption(f"{len(judged)} relevant passage(s) for this query; grades shown in the table.")
    ranking = ranked_list(result, qid, k, m.dataset.qrels)
    left, right = st.columns(2)
    with left:
        frame = rankings.ranking_frame(ranking, m.dataset, tuned_side=False).drop(columns="move")
        rankings.show_ranking(frame, f"{m.name_a}: top {k}", "rank_base")
    with right:
        st.markdown("**Relevant passages and where they rank**")
        st.dataframe(relevant_ranks(result, qid, judged, m.dataset), hide_index=True, key="relevant_ranks",
                     column_config={"rank": st.column_config.NumberColumn(help="Empty: not in the top 100.")})


def relevant_ranks(result: Any, qid: str, judged: dict[str, int], dataset: Any) -> pd.DataFrame:
    """A query's relevant passages, best ranked first: grade, rank in the model's top 100 (<NA> beyond), text."""
    from explorer.evaluation.overlap import top_ids

    where = {p: i for i, p in enumerate(top_ids(result.run.get(qid, {})), start=1)}
    table = pd.DataFrame({"grade": list(judged.values()),
                          "rank": pd.array([where.get(p) for p in judged], dtype="Int64"),
                          "passage": [dataset.corpus[p].full_text[:300] for p in judged]})
    return table.sort_values(["rank", "grade"], ascending=[True, False], na_position="last").reset_index(drop=True)
