"""The comparison as tables and an exportable report (HTML with interactive charts, CSV per query)."""

from __future__ import annotations

import html
from datetime import datetime, timezone
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from explorer.core.spreadsheet import safe_csv
from explorer.evaluation.display import p_value_text

METRIC_LABELS = {"ndcg@10": "NDCG@10", "mrr@10": "MRR@10", "recall@10": "Recall@10", "recall@100": "Recall@100",
                 "map@100": "MAP@100", "precision@10": "P@10"}


def model_names(comp: Any) -> tuple[str, str]:
    """The two models' column names: the comparison's own names, made distinct if they coincide."""
    a, b = str(comp.name_a or "A"), str(comp.name_b or "B")
    return (a, b) if a != b else (f"{a} (A)", f"{b} (B)")


def metrics_table(comp: Any) -> pd.DataFrame:
    """One row per metric: both models' means with 95% CIs (columns named after the models), the delta B − A
    with its CI, the p-value."""
    a, b = model_names(comp)
    rows = []
    for key, m in comp.metrics.items():
        rows.append({
            "metric": METRIC_LABELS.get(key, key),
            a: m.mean_a, f"{a} 95% CI": f"[{m.ci_a[0]:.3f}, {m.ci_a[1]:.3f}]",
            b: m.mean_b, f"{b} 95% CI": f"[{m.ci_b[0]:.3f}, {m.ci_b[1]:.3f}]",
            "Δ": m.delta, "Δ 95% CI": f"[{m.ci_delta[0]:+.3f}, {m.ci_delta[1]:+.3f}]",
            "p-value": p_value_text(m.p_value), "p < 0.05": "yes" if m.p_value < 0.05 else "no",
        })
    return pd.DataFrame(rows)


def bars_frame(comp: Any) -> pd.DataFrame:
    """The means and CI bounds in the shape :func:`explorer.ui.charts.metrics_bars` draws (A as "baseline",
    B as "tuned": the chart's colour roles; pass :func:`model_names` as its ``names``)."""
    return pd.DataFrame({
        "baseline": {METRIC_LABELS.get(k, k): m.mean_a for k, m in comp.metrics.items()},
        "baseline_low": {METRIC_LABELS.get(k, k): m.ci_a[0] for k, m in comp.metrics.items()},
        "baseline_high": {METRIC_LABELS.get(k, k): m.ci_a[1] for k, m in comp.metrics.items()},
        "tuned": {METRIC_LABELS.get(k, k): m.mean_b for k, m in comp.metrics.items()},
        "tuned_low": {METRIC_LABELS.get(k, k): m.ci_b[0] for k, m in comp.metrics.items()},
        "tuned_high": {METRIC_LABELS.get(k, k): m.ci_b[1] for k, m in comp.metrics.items()},
    })


def scatter_frame(comp: Any) -> pd.DataFrame:
    """Per-query NDCG@10 in the shape :func:`explorer.ui.charts.per_query_scatter` draws."""
    pq = comp.per_query
    return pd.DataFrame({"qid": pq["qid"], "query": pq["query"], "baseline": pq["ndcg@10_a"],
                         "tuned": pq["ndcg@10_b"], "status": pq["status"]})


def per_query_csv(comp: Any) -> str:
    """The per-query table as CSV, its query texts unable to act as spreadsheet formulas."""
    return safe_csv(comp.per_query)


def html_report(comp: Any, figures: list[go.Figure], title: str) -> str:
    """A standalone HTML page: summary, metric table, counts, and the interactive figures (plotly from CDN)."""
    table = metrics_table(comp).to_html(index=False, float_format=lambda v: f"{v:.4f}", border=0)
    counts = ", ".join(f"{k}: {v}" for k, v in comp.counts.items())
    charts = "\n".join(f.to_html(full_html=False, include_plotlyjs="cdn" if i == 0 else False)
                       for i, f in enumerate(figures))
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#0f172a}}
table{{border-collapse:collapse}}td,th{{padding:4px 10px;border-bottom:1px solid #e2e8f0;text-align:right}}</style>
</head><body><h1>{html.escape(title)}</h1><p>Generated {when}. Split: {html.escape(comp.split)},
{len(comp.per_query)} queries. Significance: paired {html.escape(comp.test)} test; 95% bootstrap intervals.</p>
<h2>Metrics</h2><p>A: {html.escape(model_names(comp)[0])}; B: {html.escape(model_names(comp)[1])};
Δ = B − A.</p>{table}<h2>Per-query changes (NDCG@10)</h2><p>{html.escape(counts)}; mean RBO@10 of the two
top-10 lists: {comp.mean_rbo:.3f}</p>{charts}</body></html>"""
