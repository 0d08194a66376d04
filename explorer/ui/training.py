"""Widgets of the Train page: the training form, starting a job, the list of runs, the run download."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
METHOD_LABELS = {"full": "Full fine-tune", "adapter": "Adapter", "nudge": "Corpus-side (NUDGE)"}
NUDGE_CAPTION = ("Corpus-side (NUDGE): moves the passages your training queries judge relevant toward those queries, "
                 "within a bound chosen on held-out queries; it helps only passages training queries reach (new "
                 "passages keep the base vectors; loss, epochs, batch and learning rate do not apply).")


def training_form() -> dict | None:
    """The parameters of a run (defaults suit the demo); returns them when the user presses Start."""
    settings = state.workspace().settings  # the visitor's limits (a workspace inherits the server's)
    with st.form("train_form", border=True):
        c = st.columns(3)
        method = c[0].radio("Method", list(METHOD_LABELS), key="train_method", horizontal=True,
                            format_func=METHOD_LABELS.get,
                            help="Full: update the encoder's own weights (best quality, minutes on CPU). "
                                 "Adapter: learn a linear map on frozen embeddings (seconds). " + NUDGE_CAPTION)
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
        st.caption(NUDGE_CAPTION)
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


def start_job(params: dict, api_key: str | None = None) -> str:
    """Submit a training job on the workspace's dataset, as this session already holds it (not read again);
    returns the job id. ``api_key``: an API base model's key, passed to the job's process in memory only."""
    from explorer.pipeline.base_model import fetch_base_model
    from explorer.ui.baseline import ProgressBar

    ws = state.workspace()
    with ProgressBar(f"Downloading {params.get('base_model', '')}") as bar:  # a hub model, once; else nothing
        fetch_base_model(str(params.get("base_model", "")), ws.settings, progress=bar)
    return pipeline.start_training(state.job_manager(), ws, state.current_dataset(ws), params, api_key=api_key)


def runs_table(runs: list) -> None:
    """Past runs with status and key metrics; lets the user pick the run the other pages compare."""
    ws = state.workspace()
    rows = [{"run": r.id, "status": r.status, "method": r.method, "base model": base_model_label(r.base_model),
             "created": r.created,
             "NDCG@10 before": value_text(r.metrics_before.get("ndcg@10")),  # blank, not "None", while unknown
             "NDCG@10 after": value_text(r.metrics_after.get("ndcg@10")),
             "MRR@10 after": value_text(r.metrics_after.get("mrr@10")),
             "API cost": "" if r.cost_usd is None else f"${r.cost_usd:,.4f}", "error": text.redact(r.error or "", ws.folder)}
            for r in runs]
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="runs_table")
    done = [r.id for r in runs if r.status == "succeeded"]
    if not done:
        return
    selected = ws.selected_run()  # model B: a run, a compared model (BM25...: nothing chosen here), or unset
    current = state.tuned_run_id(ws) if selected is None else selected
    c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
    labels = pipeline.run_labels(ws, done)
    # Choosing here makes the run model B; merely opening the page must not (B may be BM25 or another model).
    pick = c1.selectbox("Run", done, index=done.index(current) if current in done else None, key="pick_run",
                        format_func=lambda run_id: f"{labels[run_id]} ({run_id})", placeholder="Choose a run",
                        on_change=lambda: ws.set_selected_run(st.session_state["pick_run"]),
                        help="The run to download. Choosing one here also makes it model B of the Latent space, "
                             "Similarity, Metrics, Inspect and Search pages.")
    if pick is None:  # model B is not a run (BM25, a compared model): nothing chosen here yet
        c2.caption("Choose a run to download it; it then becomes model B.")
        return
    selection_notice(pipeline.run_selection(ws, pick))
    method = next((r.method for r in runs if r.id == pick), "full")
    base = next((r.base_model for r in runs if r.id == pick), "")
    formats = EXPORT_FORMATS if method == "full" else {
        "model": "Nudged passage table" if method == "nudge" else "Adapter weights"}
    kind = c2.selectbox("Format", list(formats), format_func=formats.get, key=f"download_kind_{method}",
                        help="PyTorch: the sentence-transformers folder, as trained. ONNX: runs with onnxruntime alone, "
                             "no torch needed. ONNX int8: 4x smaller and about 1.5x faster than fp32 on CPU, "
                             "NDCG@10 about 0.01 lower (see docs/benchmarks.md). The first ONNX download of a "
                             "run takes about 20 s to export.")
    c3.download_button("Download (zip)", data=lambda: pipeline.run_zip(ws, pick, kind),
                       file_name=download_name(pick, base, kind, pipeline.run_name(ws, pick)), mime="application/zip",
                       key="download_run", icon=":material/download:",
                       help="The fine-tuned model folder (or adapter weights) with its training config.")


def base_model_label(spec: str) -> str:
    """A run's base model as people read it ("MiniLM (bundled)", "OpenAI text-embedding-3-small")."""
    from explorer.encoders.spec import parse_spec

    try:
        return parse_spec(spec or "minilm", settings=state.workspace().settings).display
    except Exception:  # noqa: BLE001 - a run whose base model is gone still lists: show what it recorded
        return spec


def download_name(run_id: str, base_spec: str, kind: str, name: str = "") -> str:
    """The download's file name: the run's given name (made file-safe) if it has one, the run, the base model it
    trained from, and the format."""
    import re

    base = re.sub(r"[^A-Za-z0-9.]+", "-", base_spec.partition("?")[0].split("/")[-1] or "minilm").strip("-")
    named = pipeline.file_safe(name)
    return f"{named + '-' if named else ''}{run_id}-{base}{'' if kind == 'model' else '-' + kind}.zip"


# ------------------------------------------------------------------------------------------ the base model
MODEL_CHOICES = {
    "minilm": "MiniLM (bundled)",
    "static": "Static embeddings (model2vec, distilled from MiniLM)",
    "bm25": "BM25 (keywords)",
    "hybrid": "BM25 + MiniLM (hybrid)",
    "hub": "A Hugging Face hub model",
    "folder": "A model folder on this server",
    "api": "OpenAI / compatible endpoint",
}
"""What the Train page's base-model picker offers (a folder only in local mode)."""
API_MODELS = ["text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002"]
SECRET_NAME = "OPENAI_API_KEY"
"""The operator's key, when one is configured in ``st.secrets``."""


@dataclass(frozen=True)
class BaseModelChoice:
    """The model the Train page trains from: ``spec`` (what the run records), ``api_key`` (an API model's key,
    kept in this browser session only; never shown, stored or logged), ``api`` (whether it is an API model)."""

    spec: str
    api_key: str | None = field(default=None, repr=False)
    api: bool = False


def operator_key() -> str | None:
    """The key the operator configured in ``st.secrets`` (the server's key pays), or None."""
    try:
        return st.secrets.get(SECRET_NAME) or None
    except (FileNotFoundError, KeyError, AttributeError, st.errors.StreamlitAPIException):  # no secrets file
        return None


def own_model_note() -> None:
    """How to bring one's own model, offline and online (the Data page says it too, before any training)."""
    public = state.workspace().settings.public
    lines = [
        "**Offline**: " + ("on this public server, the bundled MiniLM, static, BM25 and hybrid; "
                           "model folders work when you run the app yourself." if public else
                           "the bundled MiniLM, static, BM25, hybrid, or **A model folder on this server** "
                           "(a saved sentence-transformers model)."),
        "**Online**: **A Hugging Face hub model** by its id (e.g. BAAI/bge-small-en-v1.5): its size is shown before "
        "the download, its own code never runs" + (f"; this server takes up to "
                                                     f"{state.workspace().settings.hub_max_parameters / 1e6:,.0f} M "
                                                     "parameters." if public else "."),
        "**An API model**: **OpenAI / compatible endpoint** (OpenAI, infinity, vLLM, Ollama, LM Studio): the cost is "
        "shown before the first call; your key stays in this browser session.",
    ]
    st.markdown("\n".join(f"- {line}" for line in lines))


def base_model_picker() -> BaseModelChoice | None:
    """The base-model picker above the training form; None (with a one-line message) while the pick is
    incomplete or refused here."""
    from explorer.core.errors import ExplorerError
    from explorer.pipeline.base_model import check_base_model

    settings = state.workspace().settings
    with st.expander("Using your own model"):
        own_model_note()
    options = [k for k in MODEL_CHOICES if not (k == "folder" and settings.public)]
    kind = st.selectbox("Base model", options, format_func=MODEL_CHOICES.get, key="train_base_kind",
                        help="Full fine-tuning trains a local transformer (MiniLM, a folder, a hub model); the adapter "
                             "trains over any dense model, static and API models included. BM25 and hybrid rank "
                             "without vectors, so they cannot be trained." + (
                                 f" This public server takes hub models up to {settings.hub_max_parameters / 1e6:,.0f} "
                                 "M parameters; folders only in local mode." if settings.public else ""))
    if kind == "api":
        choice = _api_choice(settings)
    elif kind in ("hub", "folder"):
        label = "Hub id (owner/name)" if kind == "hub" else "Model folder on the server"
        text_ = st.text_input(label, key=f"train_base_{kind}", placeholder="BAAI/bge-small-en-v1.5" if kind == "hub"
                              else "/path/to/a/sentence-transformers/model")
        choice = BaseModelChoice(text_.strip()) if text_.strip() else None
        if choice is None:
            st.info(f"Type the {label.lower()} to train from.")
    else:
        choice = BaseModelChoice(kind)
    if choice is None:
        return None
    try:  # the size cap and what each model can train, said now rather than after Start
        spec = check_base_model(choice.spec, "adapter", settings, parameters=_hub_parameters)
    except ExplorerError as exc:
        st.error(text.message(exc, state.workspace_folder()), icon=":material/block:")
        return None
    if spec.kind not in ("bundled", "folder", "hub", "run"):
        st.caption(text.plain(f"{spec.display}: the adapter or corpus-side (NUDGE) methods only (its weights are not "
                              "here to fine-tune)."))
    if spec.kind == "hub":
        try:
            size = _hub_download(spec.text).size_text
        except ExplorerError as exc:
            st.error(text.message(exc, state.workspace_folder()), icon=":material/cloud_off:")
            return None
        st.caption(text.plain(f"{spec.text}: a {size} download the first time (weights, tokenizer and configuration "
                              "only; its own code never runs), with progress when training starts."))
    return choice


@st.cache_data(ttl=3600, show_spinner="Checking the model's size on the hub…", max_entries=256)
def _hub_parameters(repo_id: str) -> int | None:
    """A hub model's parameter count, asked once an hour per id (the picker reruns on every change)."""
    from explorer.pipeline import base_model

    return base_model.hub_parameters(repo_id)


@st.cache_data(ttl=3600, show_spinner="Checking the model's download size…", max_entries=256)
def _hub_download(repo_id: str) -> Any:
    """What a hub model's download fetches, asked once an hour per id."""
    from explorer.pipeline import base_model

    return base_model.hub_download(repo_id)


def _api_choice(settings) -> BaseModelChoice | None:
    """Model, base URL, dimensions and key of an API model; None until the model is named."""
    from explorer.encoders.openai import ApiModel

    c = st.columns([2, 3, 1])
    model = c[0].selectbox("Model", API_MODELS, key="train_api_model", accept_new_options=True,
                           help="An OpenAI embeddings model, or the name a compatible server serves.")
    base_url = c[1].text_input("Base URL", key="train_api_base_url", placeholder="https://api.openai.com/v1",
                               help="Empty: OpenAI. A compatible server (infinity, vLLM, Ollama, LM Studio): its /v1 root."
                                    + (" On this public server, addresses inside its network are refused."
                                       if settings.public else ""))
    dims = c[2].number_input("Dimensions", 0, 4096, 0, key="train_api_dims",
                             help="0: the model's own size. text-embedding-3 models can return shorter vectors.")
    server_key = operator_key()
    if server_key:
        st.info("This server's operator configured an API key: the server's key pays for these calls.",
                icon=":material/key:")
        key = server_key
    else:
        key = st.text_input("API key", type="password", key="train_api_key",
                            help="Kept only in this browser session's memory and handed to the training job through "
                                 "its input pipe: never written to a file, the run, a log or a download.") or None
        if key:
            state.remember_api_key(key)  # the session's one place for it: the Search page uses it too
        key = key or state.session_api_key()
    if not (model or "").strip():
        return None
    spec = ApiModel(model.strip(), base_url.strip().rstrip("/") or None, int(dims) or None).spec
    return BaseModelChoice(spec, key, api=True)


def cost_confirmed(choice: BaseModelChoice, dataset) -> bool:
    """For an API model: the cost of the embedding pass, before the first call (tokens × the dated list price,
    named), and a confirmation above :data:`~explorer.pipeline.base_model.COST_CONFIRM_USD`; True when the
    run may start."""
    from explorer.core.errors import ExplorerError
    from explorer.pipeline.base_model import COST_CONFIRM_USD, api_cost

    if not choice.api or dataset is None:
        return True
    try:
        estimate = api_cost(dataset, choice.spec, choice.api_key, state.workspace().settings)
    except ExplorerError as exc:
        st.error(text.message(exc, state.workspace_folder()), icon=":material/block:")
        return False
    st.info(text.plain(f"Before the first call: {estimate.describe()}"), icon=":material/payments:")
    if estimate.usd is not None and estimate.usd > COST_CONFIRM_USD:
        return st.checkbox(f"I accept about {estimate.usd:,.2f} USD of API calls for this run", key="train_cost_ok")
    return True
