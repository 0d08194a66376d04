"""The Metrics page's "Generalization" section: both compared models on a second dataset, next to the
in-domain change (Δ NDCG@10 with its 95% interval), stored with the run."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from explorer import pipeline
from explorer.core.errors import ExplorerError
from explorer.evaluation.display import p_value_text
from explorer.ui import charts, state, text
from explorer.workspace import DatasetChoice

SOURCES = {"demo": "Bundled demo", "hub": "Hugging Face hub (online)", "upload": "Upload a file",
           "path": "Local file or BEIR folder"}


def checks_frame(comp: Any, dataset_name: str, checks: list[dict[str, Any]], metric: str = "ndcg@10") -> pd.DataFrame:
    """One row per dataset: the in-domain comparison first, then each stored check, with A, B, Δ and its CI."""
    rows = []
    first = comp.metrics[metric].to_dict()
    for name, queries, c in [(f"{dataset_name} (in-domain, test split)", len(comp.per_query), first)] + [
            (check.get("dataset", "?"), check.get("queries"), (check["comparison"].get("metrics") or {}).get(metric))
            for check in checks]:
        if not c:
            continue
        low, high = c["ci_delta"]
        rows.append({"dataset": name, "queries": queries, "A": c["mean_a"], "B": c["mean_b"], "Δ": c["delta"],
                     "Δ 95% CI": f"[{low:+.3f}, {high:+.3f}]", "low": low, "high": high, "p-value": p_value_text(c["p_value"])})
    return pd.DataFrame(rows)


def _choice() -> DatasetChoice | None:
    """The second dataset the user picks (None until it is complete)."""
    public = state.server_settings().public  # a public server never offers server paths, to any visitor
    sources = [s for s in SOURCES if not (public and s == "path")]
    source = st.radio("Second dataset", sources, format_func=SOURCES.get, horizontal=True, key="gen_source",
                      help="Any dataset the models were not trained on. Offline: the demo or a file you upload.")
    if source == "demo":
        return DatasetChoice(spec="demo", name="Demo (bundled)")
    if source == "hub":
        name = st.text_input("Hub dataset id", key="gen_hub", placeholder="e.g. sentence-transformers/natural-questions",
                             help="A pair table (query and passage columns). Needs internet access from the server.")
        return DatasetChoice(spec=f"hf:{name.strip()}", name=name.strip()) if name.strip() else None
    if source == "upload":
        file = st.file_uploader("Dataset file", key="gen_upload", type=["csv", "tsv", "jsonl", "json", "parquet", "zip"])
        if file is None:
            return None
        # A prefix keeps it apart from the in-domain upload, which may have the same file name.
        path = pipeline.save_upload(f"generalization-{file.name}", file.getvalue(), state.workspace().settings)
        return DatasetChoice(spec=str(path), name=file.name)
    path = st.text_input("Path on this machine", key="gen_path", placeholder="a BEIR folder or a CSV/JSONL/Parquet file")
    return DatasetChoice(spec=path.strip(), name=path.strip().rstrip("/").split("/")[-1]) if path.strip() else None


def section(m: Any, comp: Any) -> None:
    """Pick a second dataset, evaluate both models on it, and show every stored check next to the in-domain gain."""
    st.subheader("Generalization")
    st.caption(f"Fine-tuning on one domain can cost quality on others. Evaluate {text.plain(m.name_a)} and {text.plain(m.name_b)} on a second "
               "dataset (all its judged queries) and compare the change with the in-domain one. Stored with run "
               f"{m.run_id}; the model card of a download includes it.")
    ws = state.workspace()
    with st.container(border=True):
        try:
            choice = _choice()
        except ExplorerError as exc:
            st.error(str(exc), icon=":material/error:")
            choice = None
        if st.button("Evaluate both models on it", key="gen_run", disabled=choice is None, icon=":material/science:"):
            try:
                with st.spinner("Embedding the second dataset with both models and comparing them…"):
                    pipeline.check_generalization(ws, m.run_id, choice, m.encoder_a, m.encoder_b, ids=(m.pair.a, m.pair.b),
                                                  names=(m.name_a, m.name_b), in_domain=m.dataset)
            except ExplorerError as exc:
                st.error(str(exc), icon=":material/error:")
    checks = [c for c in pipeline.stored_checks(ws, m.run_id)
              if c.get("a", "baseline") == m.pair.a and c.get("b", m.run_id) == m.pair.b]
    frame = checks_frame(comp, m.dataset.name, checks)
    if not checks:
        st.caption("No second dataset evaluated for this pair yet.")
    shown = frame.drop(columns=["low", "high"]).rename(columns={"A": m.name_a, "B": m.name_b})
    st.dataframe(shown, hide_index=True, key="generalization_table", column_config={
        c: st.column_config.NumberColumn(format="%.3f") for c in (m.name_a, m.name_b, "Δ")})
    if checks:
        st.plotly_chart(charts.delta_intervals(frame, (m.name_a, m.name_b)), config=charts.png_config("generalization"),
                        key="generalization_chart")
