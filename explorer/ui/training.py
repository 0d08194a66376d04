"""Widgets of the Train page: the training form, starting a job, the list of runs, the run download."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explorer import pipeline
from explorer.evaluation.display import value_text
from explorer.ui import state, text

LOSS_HELP = {
    "mnrl": "MultipleNegativesRankingLoss: in-batch negatives plus one hard negative per pair (the usual choice).",
    "cached_mnrl": "Cached MNRL: a large effective batch in bounded memory (slower per step).",
    "contrastive": "Contrastive loss on labelled pairs (positives 1, negatives 0).",
    "online_contrastive": "Online contrastive: contrastive loss on the hardest pairs of each batch only.",
}

EXPORT_FORMATS = {"model": "PyTorch", "onnx": "ONNX", "onnx-int8": "ONNX int8"}


def training_form() -> dict | None:
    """The parameters of a run (defaults suit the demo); returns them when the user presses Start."""
    settings = state.workspace().settings  # the visitor's limits (a workspace inherits the server's)
    with st.form("train_form", border=True):
        c = st.columns(3)
        method = c[0].radio("Method", ["full", "adapter"], key="train_method", horizontal=True,
                            format_func={"full": "Full fine-tune", "adapter": "Adapter"}.get,
                            help="Full: update the encoder's own weights (best quality, minutes on CPU). "
                                 "Adapter: learn a linear map on frozen embeddings (seconds).")
        loss = c[1].selectbox("Loss", list(LOSS_HELP), key="train_loss", format_func=str,
                              help=" ".join(f"{k}: {v}" for k, v in LOSS_HELP.items()))
        hard = c[2].toggle("Use hard negatives", value=True, key="train_hard",
                           help="Pairs each positive with a mined near miss (after your audit's exclusions).")
        c = st.columns(3)
        epochs = c[0].number_input("Epochs (0 = auto)", 0, settings.max_epochs, 0, key="train_epochs",
                                   help=f"Passes over the training pairs; auto picks by dataset size. "
                                        f"Limit here: {settings.max_epochs}.")
        batch = c[1].select_slider("Batch size", ["auto", 8, 16, 32, 64, 128], "auto", key="train_batch",
                                   help="Larger batches give more in-batch negatives but use more memory. auto: "
                                        "32 pairs for a full fine-tune, 64 for an adapter (the same defaults "
                                        "as the command line).")
        lr = c[2].select_slider("Learning rate", ["auto", 1e-5, 2e-5, 3e-5, 5e-5, 1e-4, 2e-4, 1e-3, 1e-2], "auto",
                                key="train_lr", format_func=lambda v: v if v == "auto" else f"{v:.0e}",
                                help="auto: 2e-4 when only the top layers train, 3e-5 when every layer does, "
                                     "1e-3 for an adapter (a small linear map needs larger steps).")
        c = st.columns(3)
        seed = c[0].number_input("Seed", 0, 100_000, 42, key="train_seed", help="Same seed, same run.")
        max_len = c[1].select_slider("Max sequence length (tokens)", ["auto", 64, 128, 256, 512], "auto",
                                     key="train_maxlen", help="Longer passages are truncated; shorter is faster. "
                                                              "auto: the model's own limit (256 for MiniLM).")
        layers = c[2].select_slider("Trained layers", ["auto", 1, 2, 3, 4, 6, "all"], "auto", key="train_layers",
                                    help="Top transformer layers to train; the ones below are frozen and computed "
                                         "once per text, which makes a step several times faster. auto: the "
                                         "measured default (see docs/benchmarks.md); all: every weight.")
        keep = keep_control()
        start = st.form_submit_button("Start training", type="primary", icon=":material/play_arrow:")
    if not start:
        return None
    return {"method": method, "loss": loss, "epochs": int(epochs) or None, "batch_size": None if batch == "auto" else int(batch),
            "learning_rate": None if lr == "auto" else float(lr), "seed": int(seed),
            "max_seq_length": None if max_len == "auto" else int(max_len),
            "train_layers": None if layers == "auto" else 0 if layers == "all" else int(layers),
            "use_hard_negatives": bool(hard), "keep": keep}


KEEP_LAST_LABEL = "Keep the last checkpoint anyway"


def keep_control() -> str:
    """The "keep last" switch of the training form: "best" (default) or "last"."""
    last = st.toggle(KEEP_LAST_LABEL, value=False, key="train_keep_last",
                     help="Off (recommended): the run ships the checkpoint that scores best on held-out training "
                          "queries (the dev split), the base model included, so the tuned model is never worse "
                          "there than where it started. On: ship the last checkpoint even when dev says it is worse.")
    return "last" if last else "best"


def data_shape_panel(dataset) -> None:
    """What the data says before training: positives per query, grades, passage length, test/train overlap
    (shown, never used to choose anything)."""
    from explorer.data.stats import data_shape

    if dataset is None:
        return
    with st.expander("Your data's shape", expanded=False):
        for line in data_shape(dataset).lines():
            st.text(line)


def selection_notice(selection: dict | None) -> None:
    """The run's checkpoint choice in one line (plain text): which point was kept, on how many dev queries;
    when no checkpoint beat the base model, that the base model is kept, what to try next, and the control
    that keeps the last checkpoint anyway."""
    if not selection:
        return
    line = text.plain(selection.get("summary", ""))
    if selection.get("gain") is False and selection.get("kept") != "last":
        st.warning(line + " " + text.plain(selection.get("next_steps", "")) +
                   f' To ship the last checkpoint anyway, train again with "{KEEP_LAST_LABEL}" on.',
                   icon=":material/info:")
    else:
        st.caption(line)


def start_job(params: dict) -> str:
    """Submit a training job on the workspace's dataset, as this session already holds it (not read again);
    returns the job id."""
    ws = state.workspace()
    return pipeline.start_training(state.job_manager(), ws, state.current_dataset(ws), params)


def runs_table(runs: list) -> None:
    """Past runs with status and key metrics; lets the user pick the run the other pages compare."""
    ws = state.workspace()
    rows = [{"run": r.id, "status": r.status, "method": r.method, "created": r.created,
             "NDCG@10 before": value_text(r.metrics_before.get("ndcg@10")),  # blank, not "None", while unknown
             "NDCG@10 after": value_text(r.metrics_after.get("ndcg@10")),
             "MRR@10 after": value_text(r.metrics_after.get("mrr@10")), "error": text.redact(r.error or "", ws.folder)}
            for r in runs]
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="runs_table")
    done = [r.id for r in runs if r.status == "succeeded"]
    if not done:
        return
    current = state.tuned_run_id(ws)
    c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
    pick = c1.selectbox("Run to compare with the baseline", done, index=done.index(current) if current in done else 0,
                        key="pick_run", help="The Latent space, Similarity, Metrics, Inspect and Search pages use it.")
    if pick != ws.selected_run():
        ws.set_selected_run(pick)
    selection_notice(pipeline.run_selection(ws, pick))
    method = next((r.method for r in runs if r.id == pick), "full")
    formats = EXPORT_FORMATS if method == "full" else {"model": "Adapter weights"}
    kind = c2.selectbox("Format", list(formats), format_func=formats.get, key=f"download_kind_{method}",
                        help="PyTorch: the sentence-transformers folder, as trained. ONNX: runs with onnxruntime alone, "
                             "no torch needed. ONNX int8: 4x smaller and about 1.5x faster than fp32 on CPU, "
                             "NDCG@10 about 0.01 lower (see docs/benchmarks.md). The first ONNX download of a "
                             "run takes about 20 s to export.")
    c3.download_button("Download (zip)", data=lambda: pipeline.run_zip(ws, pick, kind),
                       file_name=f"{pick}{'' if kind == 'model' else '-' + kind}.zip", mime="application/zip",
                       key="download_run", icon=":material/download:",
                       help="The fine-tuned model folder (or adapter weights) with its training config.")
