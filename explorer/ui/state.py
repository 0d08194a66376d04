"""Session-wide state for the pages: the visitor's workspace, and the cached heavy objects.

Everything expensive is cached by a fingerprint (dataset choice, encoder fingerprint, run id) so a rerun
recomputes nothing: objects that must not be copied (datasets, encoders, the job manager) live in
``st.cache_resource``; plain results live in ``st.cache_data`` or in ``cache_resource`` when they hold
numpy arrays too big to pickle on every rerun. Heavy libraries are imported inside the functions, so a page
that only reads the workspace (Home) paints without importing torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from explorer import workspace_ids
from explorer.config import get_settings
from explorer.workspace import DatasetChoice, Workspace, open_workspace

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset
    from explorer.encoders.base import Encoder

WORKSPACE_PARAM = "ws"
BASE_ENCODER = "minilm"


def workspace() -> Workspace:
    """The visitor's workspace: the shared local one, or (public mode) the private one named in the URL.

    In public mode the URL's ``?ws=`` is accepted only when it names a workspace this server issued and that
    still exists (:mod:`explorer.workspace_ids`); any other value, and a visit without one, gets a fresh id,
    written into the URL so a reload or a bookmark finds the same workspace again. So a link can never
    make a visitor work in a workspace whose id someone chose.
    """
    settings = get_settings()
    if not settings.public:
        return _open_workspace(None)
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
    return _open_workspace(ws_id)


def workspace_folder() -> Path:
    """The visitor's workspace folder, without creating it (to show paths relative to it in messages)."""
    settings = get_settings()
    ws_id = st.session_state.get("_ws_id")
    if not settings.public:
        return settings.home
    return workspace_ids.workspace_folder(ws_id, settings) if ws_id else settings.home / "workspaces"


def _open_workspace(ws_id: str | None) -> Workspace:
    # Not cached: opening is a mkdir + utime, and settings may change between tests in one process.
    return open_workspace(ws_id)


@st.cache_resource(ttl=3600, show_spinner=False)
def _cleanup_token() -> float:
    """Runs at most once an hour per server: removes workspaces idle past their time to live."""
    import time

    from explorer.workspace import cleanup_workspaces

    cleanup_workspaces()
    return time.time()


def _cleanup_once() -> None:
    try:
        _cleanup_token()
    except OSError:  # house-keeping must never break a page
        pass


# ------------------------------------------------------------------------------------------ dataset
@st.cache_resource(max_entries=4, show_spinner=False)
def _load_dataset(choice_key: str, home: str, _settings: Any) -> "Dataset":
    # ``home`` (the workspace folder and the file's stamp) keys the cache; ``_settings`` is not hashed.
    import json

    from explorer import pipeline

    return pipeline.load_dataset(DatasetChoice(**json.loads(choice_key)), _settings)


def current_dataset(ws: Workspace | None = None) -> "Dataset | None":
    """The workspace's dataset, loaded once per choice (None when no dataset is chosen)."""
    ws = ws or workspace()
    choice = ws.dataset_choice()
    if choice is None:
        return None
    # The file's modification time is part of the key: a re-upload under the same name is a new dataset.
    path = Path(choice.spec)
    stamp = str(path.stat().st_mtime_ns) if choice.spec not in ("demo",) and path.exists() else ""
    return _load_dataset(choice.key(), f"{ws.folder}|{stamp}", ws.settings)


# ------------------------------------------------------------------------------------------ encoders
@st.cache_resource(max_entries=6, show_spinner=False)
def _encoder(spec: str, home: str) -> "Encoder":
    from explorer import pipeline

    return pipeline.load_encoder(spec)


def base_encoder() -> "Encoder":
    """The baseline encoder (MiniLM, or the fake when ``EXPLORER_ENCODER=fake``), loaded once."""
    return _encoder(BASE_ENCODER, str(get_settings().home))


def run_encoder(run_id: str, ws: Workspace | None = None) -> "Encoder":
    """The fine-tuned encoder of a finished run, loaded once."""
    ws = ws or workspace()
    from explorer import pipeline

    return _encoder(str(pipeline.run_folder(ws, run_id)), str(ws.folder))


# ------------------------------------------------------------------------------------------ jobs
@st.cache_resource(show_spinner=False)
def job_manager() -> Any:
    """The one job manager of this server (it serializes training jobs across all visitors)."""
    from explorer import pipeline

    return pipeline.make_job_manager(get_settings())


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
@st.cache_resource(show_spinner=False)
def _baselines() -> dict[tuple[str, str, str], Any]:
    """Server-wide memo of baseline results by (dataset fingerprint, encoder fingerprint, split).

    A plain dict rather than a cached function: the computation draws a progress bar, and Streamlit
    replays elements drawn inside a cached function on every later call, which breaks on other pages.
    """
    return {}


def baseline_result(dataset: "Dataset", encoder: "Encoder", split: str = "test", progress: Any = None) -> Any:
    """Retrieval result of ``encoder`` on ``split``, computed once per (dataset, encoder, split)."""
    from explorer import pipeline

    memo = _baselines()
    key = (dataset.fingerprint(), encoder.fingerprint, split)
    if key not in memo:
        memo[key] = pipeline.baseline_evaluation(dataset, encoder, split, progress=progress)
        while len(memo) > 16:  # bounded: oldest first (dicts keep insertion order)
            memo.pop(next(iter(memo)))
    return memo[key]


def runs(ws: Workspace | None = None) -> list[Any]:
    """This workspace's runs, newest first (read from disk on every call: it is a few small files)."""
    from explorer import pipeline

    return pipeline.list_runs(ws or workspace())


def tuned_run_id(ws: Workspace | None = None) -> str | None:
    """The run pages compare against: the selected one if it succeeded, else the newest succeeded run."""
    from explorer import pipeline

    return pipeline.tuned_run_id(ws or workspace())


@st.cache_resource(show_spinner=False)
def _store(store_dir: str, _settings: Any) -> Any:
    from explorer.store import VectorStore

    return VectorStore(_settings)


def vector_store() -> Any:
    """The workspace's vector store (one open chromadb client per store folder)."""
    settings = workspace().settings
    return _store(str(settings.store_dir), settings)
