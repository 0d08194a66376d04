"""Session-wide state for the pages: the visitor's workspace, and the cached heavy objects.

Everything expensive is cached by a fingerprint (dataset choice, encoder fingerprint, run id) so a rerun
recomputes nothing: objects that must not be copied (datasets, encoders, the job manager) live in
``st.cache_resource``; plain results live in ``st.cache_data`` or in ``cache_resource`` when they hold
numpy arrays too big to pickle on every rerun. Heavy libraries are imported inside the functions, so a page
that only reads the workspace (Home) paints without importing torch.

Datasets, encoders and vector-store clients are held in :class:`~explorer.core.memory.ByteLRU` caches (one each,
kept in ``st.cache_resource``) bounded by bytes, least recently used out, so the server's memory after many
visitors who each loaded a dataset and trained a model stays where it was after a few.

Settings are read here and nowhere else in the UI: a visitor's paths and limits are the workspace's
(``workspace().settings``); what is the same for every visitor (public mode or not, the warm-up delay, the
job slots, where workspaces live) comes from :func:`server_settings`.
"""

from __future__ import annotations

import json
import os
import time
import weakref
from pathlib import Path
from typing import Any

import streamlit as st

from explorer import pipeline
from explorer.workspace import ids as workspace_ids
from explorer.core.config import Settings
from explorer.data.model import Dataset
from explorer.data.stats import DatasetStats
from explorer.data.stats import dataset_stats as measure_dataset
from explorer.encoders.base import Encoder
from explorer.core.memory import MB, ByteLRU, dataset_bytes, encoder_bytes, encoders_budget
from explorer.core.progress import Progress
from explorer.workspace import DatasetChoice, Workspace, cleanup_workspaces, open_workspace, recover_runs
from explorer.workspace import server_settings as _server_settings

WORKSPACE_PARAM = "ws"
BASE_ENCODER = "minilm"
DATASETS_BUDGET = 256 * MB
"""Loaded datasets of all visitors together (public caps: 20,000 passages of at most 20,000 characters)."""
OPEN_STORES = 4
"""Vector stores kept open (counted, not measured: their memory maps and chromadb clients are not sized)."""


def server_settings() -> Settings:
    """The server's settings, for server-wide choices only: whether this is the public app (message redaction,
    which data sources are offered), the warm-up delay, the job manager's slots, the base encoder, and where
    workspaces live. Never for a visitor's paths or limits: those are ``workspace().settings``."""
    return _server_settings()


def workspace() -> Workspace:
    """The visitor's workspace: the shared local one, or (public mode) the private one named in the URL.

    In public mode the URL's ``?ws=`` is accepted only when it names a workspace this server issued and that
    still exists (:mod:`explorer.workspace.ids`); any other value, and a visit without one, gets a fresh id,
    written into the URL so a reload or a bookmark finds the same workspace again. So a link can never
    make a visitor work in a workspace whose id someone chose.
    """
    settings = server_settings()
    _recover_once()
    if not settings.public:
        return _open_workspace(None, settings)
    requested = st.query_params.get(WORKSPACE_PARAM)
    own = st.session_state.get("_ws_id")
    if requested and (requested == own or workspace_ids.is_open_workspace(requested, settings)):
        ws_id = requested
    elif own:
        ws_id = own
    else:
        ws_id = workspace_ids.issue_workspace_id(settings)
        if requested:
            st.toast("The workspace in this link does not exist (it may have expired): this is a new, empty one.",
                     icon=":material/info:")
    st.session_state["_ws_id"] = ws_id
    if requested != ws_id:
        st.query_params[WORKSPACE_PARAM] = ws_id
    _cleanup_once()
    return _open_workspace(ws_id, settings)


def workspace_folder() -> Path:
    """The visitor's workspace folder, without creating it (to show paths relative to it in messages)."""
    settings = server_settings()
    ws_id = st.session_state.get("_ws_id")
    if not settings.public:
        return settings.home
    return workspace_ids.workspace_folder(ws_id, settings) if ws_id else settings.home / "workspaces"


def _open_workspace(ws_id: str | None, settings: Settings) -> Workspace:
    # Not cached: opening is a mkdir + utime, and settings may change between tests in one process.
    return open_workspace(ws_id, settings)


@st.cache_resource(ttl=3600, show_spinner=False)
def _cleanup_token() -> float:
    """Runs at most once an hour per server: removes workspaces idle past their time to live."""
    settings = server_settings()
    # Workspaces with a queued job have no active run folder yet: the job manager knows them.
    active = {s.owner for s in job_manager().snapshots() if not s.done and s.owner}
    removed = cleanup_workspaces(settings=settings, active_owners=active)
    forget_workspaces([str(settings.home / "workspaces" / ws_id) for ws_id in removed])
    return time.time()


@st.cache_resource(show_spinner=False)
def _recovered(home: str) -> list[str]:
    """Runs once per server (and home folder), before the first page reads a run: marks the runs a killed
    server left "running" as interrupted (reads never write, so this is where that happens)."""
    return recover_runs(server_settings())


def _recover_once() -> None:
    try:
        _recovered(str(server_settings().home))
    except OSError:  # house-keeping must never break a page
        pass


def _cleanup_once() -> None:
    try:
        _cleanup_token()
    except OSError:  # house-keeping must never break a page
        pass


# ------------------------------------------------------------------------------------------ dataset
@st.cache_resource(show_spinner=False)
def _datasets() -> ByteLRU:
    """The server's loaded datasets, by (choice, workspace folder and file stamp), bounded by bytes."""
    return ByteLRU(DATASETS_BUDGET, sizeof=dataset_bytes)


def _load_dataset(choice_key: str, home: str, settings: Any) -> Dataset:
    return _datasets().get_or_create(
        (choice_key, home), lambda: pipeline.load_dataset(DatasetChoice(**json.loads(choice_key)), settings))


def current_dataset(ws: Workspace | None = None) -> Dataset | None:
    """The workspace's dataset, loaded once per choice (None when no dataset is chosen)."""
    ws = ws or workspace()
    choice = ws.dataset_choice()
    return None if choice is None else dataset_for(choice, ws)


def dataset_for(choice: DatasetChoice, ws: Workspace) -> Dataset:
    """The dataset ``choice`` names, loaded once: the load a click does is the one later reruns reuse."""
    # The file's modification time is part of the key: a re-upload under the same name is a new dataset.
    if choice.spec == "demo":  # the bundled demo is the same for every workspace: one copy in memory
        return _load_dataset(choice.key(), "demo", ws.settings)
    path = Path(choice.spec)
    stamp = str(path.stat().st_mtime_ns) if path.exists() else ""
    return _load_dataset(choice.key(), f"{ws.folder}|{stamp}", ws.settings)


@st.cache_resource(show_spinner=False)
def _stats() -> dict[int, tuple[weakref.ref[Dataset], DatasetStats]]:
    """Statistics of the loaded datasets, by object id (the weak reference tells a reused id apart)."""
    return {}


def dataset_stats(dataset: Dataset) -> DatasetStats:
    """:func:`explorer.data.stats.dataset_stats` of a loaded dataset, measured once per dataset object (a
    200,000-passage corpus takes over a second, and the Data page reruns on every click)."""
    cache = _stats()
    for key, (ref, _) in list(cache.items()):  # entries of datasets the LRU let go go with them
        if ref() is None:
            cache.pop(key, None)
    entry = cache.get(id(dataset))
    if entry is None or entry[0]() is not dataset:
        entry = (weakref.ref(dataset), measure_dataset(dataset))
        cache[id(dataset)] = entry
    return entry[1]


# ------------------------------------------------------------------------------------------ encoders
@st.cache_resource(show_spinner=False)
def _encoders() -> ByteLRU:
    """The server's encoders besides the base model (fine-tunes, static, int8 ONNX...), bounded by the bytes of
    their weights (:func:`~explorer.core.memory.encoders_budget`: in public mode about one model)."""
    return ByteLRU(encoders_budget(server_settings().public), sizeof=encoder_bytes)


def _encoder(spec: str, home: str) -> Encoder:
    if spec == BASE_ENCODER:  # kept by the registry for the life of the process, outside the budget
        return pipeline.load_encoder(spec)
    return _encoders().get_or_create((spec, home), lambda: pipeline.load_encoder(spec))


def base_encoder() -> Encoder:
    """The baseline encoder (MiniLM, or the fake when ``EXPLORER_ENCODER=fake``), loaded once."""
    return _encoder(BASE_ENCODER, str(server_settings().home))  # the same model for every visitor


def run_encoder(run_id: str, ws: Workspace | None = None) -> Encoder:
    """The fine-tuned encoder of a finished run, loaded once."""
    ws = ws or workspace()
    return _encoder(str(pipeline.run_folder(ws, run_id)), str(ws.folder))


def model_encoder(spec: str, ws: Workspace | None = None) -> Encoder:
    """The encoder of a model the bake-off compared (static, int8 ONNX, a folder ...), by its spec, loaded once.
    BM25 and hybrids have none: :func:`explorer.ui.results.need_vectors` stops before asking."""
    ws = ws or workspace()
    return _encoder(spec, str(ws.folder))


# ------------------------------------------------------------------------------------------ jobs
@st.cache_resource(show_spinner=False)
def job_manager() -> Any:
    """The one job manager of this server (it serializes training jobs across all visitors)."""
    return pipeline.make_job_manager(server_settings())


def set_flash(message: str, kind: str = "success") -> None:
    """A message shown once at the top of the next page drawn (e.g. after st.switch_page)."""
    st.session_state["_flash"] = (kind, message)


def show_flash() -> None:
    """Draw and clear the pending flash message."""
    flash = st.session_state.pop("_flash", None)
    if flash:
        kind, message = flash
        getattr(st, kind, st.info)(message)


# ------------------------------------------------------------------------------------------ results
BASELINES_KEPT = 16
"""Baseline results kept in memory (counted: each holds one model's per-query scores and ranked lists)."""


@st.cache_resource(show_spinner=False)
def _baselines() -> ByteLRU:
    """Server-wide memo of baseline results by (dataset fingerprint, encoder fingerprint, split), the most
    recently used :data:`BASELINES_KEPT`.

    A memo rather than a cached function: the computation draws a progress bar, and Streamlit replays
    elements drawn inside a cached function on every later call, which breaks on other pages.
    """
    return ByteLRU(BASELINES_KEPT, sizeof=lambda _result: 1)


def baseline_known(dataset: Dataset, encoder: Encoder, split: str = "test") -> bool:
    """Whether :func:`baseline_result` has this result at hand (nothing to encode or evaluate)."""
    return (dataset.fingerprint(), encoder.fingerprint, split) in _baselines()


def baseline_result(dataset: Dataset, encoder: Encoder, split: str = "test", progress: Progress | None = None,
                    index: bool = True) -> Any:
    """Retrieval result of ``encoder`` on ``split``, computed once per (dataset, encoder, split); with ``index``
    (and locally), the Search index of the test split's corpus is then built in the background."""
    key = (dataset.fingerprint(), encoder.fingerprint, split)
    memo = _baselines()
    known = memo.get(key)
    if known is not None:
        return known
    result = memo.get_or_create(key, lambda: pipeline.evaluate(dataset, encoder, split, progress=progress))
    settings = workspace().settings
    if index and split == "test" and not settings.public:
        # The corpus was just embedded: its Search index is built in the background, not at the first query. Not
        # on a public server, whose memory holds an index only for the visitors who search.
        pipeline.index_soon(dataset, encoder, _store(str(settings.store_dir), settings))
    return result


def runs(ws: Workspace | None = None) -> list[Any]:
    """This workspace's runs, newest first (from the workspace's runs repository: read again only after a
    change in the runs folder)."""
    return pipeline.list_runs(ws or workspace())


def tuned_run_id(ws: Workspace | None = None) -> str | None:
    """The run pages compare against: the selected one if it succeeded, else the newest succeeded run."""
    return pipeline.tuned_run_id(ws or workspace())


@st.cache_resource(show_spinner=False)
def _stores() -> ByteLRU:
    """Open vector stores by folder, at most :data:`OPEN_STORES` (each entry counts 1); evicted ones are closed."""
    return ByteLRU(OPEN_STORES, sizeof=lambda _store: 1, on_evict=lambda _key, store: store.close())


def _store(store_dir: str, settings: Any) -> Any:
    # Local: importing explorer.store.vectors checks (and may swap) SQLite, which must not break pages without a store.
    from explorer.store.vectors import VectorStore

    return _stores().get_or_create(store_dir, lambda: VectorStore(settings))


def vector_store() -> Any:
    """The workspace's vector store (one open store per folder, the most recent few)."""
    settings = workspace().settings
    return _store(str(settings.store_dir), settings)


def _under(text: str, folders: list[str]) -> bool:
    """Whether a cache key part names one of ``folders`` or something inside it."""
    return any(text == f or text.startswith((f + os.sep, f + "|")) for f in folders)


def forget_workspaces(folders: list[str]) -> None:
    """Drop the cached datasets, encoders and vector stores of removed workspaces (closing the stores)."""
    for cache in (_datasets(), _encoders()):
        for key in cache.keys():
            if any(_under(str(part), folders) for part in key):
                cache.pop(key)
    stores = _stores()
    for key in stores.keys():
        if _under(str(key), folders):
            stores.pop(key)


# ------------------------------------------------------------------------------------------ API models' keys
API_KEY_STATE = "_api_key"
"""Where this browser session keeps the API key its visitor typed (memory only: never written anywhere)."""
_API_ENCODERS_STATE = "_api_encoders"


def operator_api_key() -> str | None:
    """The key the server's operator configured (``st.secrets`` or the environment's ``OPENAI_API_KEY``): when
    there is one, the server's key pays for API calls and no page asks a visitor for theirs."""
    from explorer.core.config import openai_api_key

    try:
        configured = st.secrets.get("OPENAI_API_KEY")
    except (FileNotFoundError, KeyError, AttributeError, st.errors.StreamlitAPIException):  # no secrets file
        configured = None
    return configured or openai_api_key()


def session_api_key() -> str | None:
    """The API key this session's visitor typed (on the Train or Search page), or None."""
    return st.session_state.get(API_KEY_STATE) or None


def remember_api_key(key: str | None) -> None:
    """Keep ``key`` in this session's memory (None forgets it); the session's API encoders made with another
    key are dropped, so none outlives the key it holds."""
    if (key or None) == session_api_key():
        return
    if key:
        st.session_state[API_KEY_STATE] = key
    else:
        st.session_state.pop(API_KEY_STATE, None)
    st.session_state.pop(_API_ENCODERS_STATE, None)


def api_encoder(spec: str) -> Encoder:
    """The encoder of an API model (an ``openai:`` spec, or a run folder adapting one) with the operator's key
    or this session's, kept in this browser session only.

    Such an encoder holds the key it was made with, so it never goes into the server-wide cache
    (:func:`_encoders`, keyed by spec), where another visitor's session could use it and their key.
    """
    held = st.session_state.setdefault(_API_ENCODERS_STATE, {})
    if spec not in held:
        held[spec] = pipeline.load_encoder(spec, api_key=operator_api_key() or session_api_key())
    return held[spec]
