"""What the result pages share: the dataset, the two models compared (A and B), and their cached results.

:func:`models` draws the one "compare model A with model B" selector every result page shares (the baseline or
any finished run against a run; stored in the workspace so all pages agree), or, before any run has finished,
one line saying the comparison comes after training: the pages then show model A, the baseline, alone. It
stops the page with an explanation and a link when no dataset is loaded, so a page never crashes on an empty
workspace. Encoders load only for the views that need vectors: the comparison comes from the runs' stored
results when they have them (:func:`explorer.pipeline.pair_comparison`). Results are cached by (dataset
fingerprint, stored file or encoder fingerprint of each side, options).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import streamlit as st

from explorer import pipeline
from explorer.ui import guard, state, text


@dataclass
class Models:
    """The dataset and the two models a result page compares (only the first before any run has finished).

    The encoders load on first use (:attr:`encoder_a`, :attr:`encoder_b`): the Metrics and Inspect pages of a
    run whose results are stored never touch them; the views that need vectors (Latent, Similarity, Search) do.
    Model A is the baseline, a finished run or a stored model, model B a finished run or a stored model.

    Attributes:
        dataset: the loaded dataset.
        run_id: B's run id ("" when there is no B or B is a stored model that is not a run).
        pair: which two models these are, their labels and any warning.
        load_a: returns model A's encoder (the baseline unless another run was chosen).
        load_b: returns model B's encoder (a finished run's); None when no run has succeeded yet.
    """

    dataset: Any
    run_id: str
    pair: Any = None
    load_a: Callable[[], Any] | None = field(default=None, repr=False)
    load_b: Callable[[], Any] | None = field(default=None, repr=False)
    no_vectors: str = ""
    """One line saying which side ranks without vectors, and why ("" when both have vectors)."""

    @cached_property
    def encoder_a(self) -> Any:
        """Model A's encoder, loaded on first use."""
        if self.load_a is None:
            raise ValueError("these models have no loader for model A")
        with st.spinner("Loading the encoders…"):
            return self.load_a()

    @cached_property
    def encoder_b(self) -> Any:
        """Model B's encoder, loaded on first use; None when no run has succeeded yet."""
        if self.load_b is None:
            return None
        with st.spinner("Loading the encoders…"):
            return self.load_b()

    @property
    def paired(self) -> bool:
        """Whether there are two models to compare (False: the baseline alone)."""
        return self.load_b is not None

    @property
    def name_a(self) -> str:
        """Label of model A ("baseline", or a run's label)."""
        return self.pair.label_a if self.pair else "baseline"

    @property
    def name_b(self) -> str:
        """Label of model B (a run's label; "" when there is none)."""
        return self.pair.label_b if self.pair else ""

    @property
    def file_tag(self) -> str:
        """A short name for downloaded files: B's run id (after the name its user gave it, made file-safe), or
        B's model spec made file-safe."""
        import re

        spec = pipeline.model_spec(self.pair.b if self.pair else None)
        if self.run_id:
            named = pipeline.file_safe(pipeline.run_name(state.workspace(), self.run_id))
            return f"{named}-{self.run_id}" if named else self.run_id
        return re.sub(r"[^A-Za-z0-9_-]+", "-", spec or "baseline").strip("-")

    @property
    def key(self) -> tuple[str, str, str]:
        """Cache key of what is computed from the encoders' vectors (loads both encoders)."""
        return (self.dataset.fingerprint(), self.encoder_a.fingerprint,
                self.encoder_b.fingerprint if self.encoder_b else "")


def models(need_tuned: bool = False) -> Models:
    """The workspace's dataset and the two models compared (stops the page if no dataset is loaded).

    Draws the shared "compare A with B" selector once a run has finished (the choice is stored in the
    workspace, so every page agrees), or one line saying the comparison appears after training. Loads no
    encoder: :class:`Models` loads each on first use.

    Args:
        need_tuned: stop the page when no run has finished (for views that only make sense with two models).
    """
    ws = state.workspace()
    guard.need(ws.dataset_choice(), "No dataset yet: load the demo or upload one.", "pages/data.py", "Open the Data page")
    dataset = state.current_dataset(ws)
    pair = pipeline.compared_pair(ws, dataset.fingerprint())
    if need_tuned:
        guard.need(pair.paired, "No finished training run yet: train a model (or run the one-click demo) to compare.",
                   "pages/train.py", "Open the Train page")
    if pair.paired:
        pair = _pair_selector(ws, pair, dataset.fingerprint())
    else:
        left, right = st.columns([5, 1], vertical_alignment="center")
        left.info("Baseline only for now: the comparison with a fine-tuned model appears here after training.",
                  icon=":material/info:")
        right.page_link("pages/train.py", label="Train a model", icon=":material/arrow_forward:")
    a, b = pair.a, pair.b
    m = Models(dataset, b if b and pipeline.model_spec(b) is None else "", pair,
               load_a=_loader(a, ws), load_b=_loader(b, ws) if b else None,
               no_vectors=_no_vectors(pair))
    if pair.paired:
        st.caption(f"Dataset **{text.plain(dataset.name)}** · A = {text.plain(pair.label_a)} ({_what(ws, a, b)}) vs "
                   f"B = {text.plain(pair.label_b)} ({_what(ws, b, a)})")
    else:
        st.caption(f"Dataset **{text.plain(dataset.name)}** · baseline `{m.encoder_a.name}`")
    for warning in pair.warnings:
        st.warning(warning, icon=":material/warning:")
    return m


def _loader(side: str, ws: Any) -> Callable[[], Any]:
    """Returns the side's encoder: the baseline, a run's, or a stored model's (loaded by its spec); one over an
    API model is kept in this browser session only (:func:`explorer.ui.state.api_encoder`)."""
    spec = pipeline.model_spec(side)
    if side == pipeline.BASELINE:
        return state.base_encoder
    if pipeline.api_model(ws, side):
        return lambda: state.api_encoder(spec if spec is not None else str(pipeline.run_folder(ws, side)))
    if spec is not None:
        return lambda: state.model_encoder(spec, ws)
    return lambda: state.run_encoder(side, ws)


def _what(ws: Any, side: str, other: str) -> str:
    """What a side is, for the caption under the selector (nothing is loaded to say it)."""
    spec = pipeline.model_spec(side)
    if side == pipeline.BASELINE:
        name = pipeline.base_model_name(ws, other, spec=state.BASE_ENCODER) if pipeline.model_spec(other) is None else None
        return f"encoder `{name or state.BASE_ENCODER}`"
    return f"model `{spec}`" if spec is not None else f"run `{side}`"


def _no_vectors(pair: Any) -> str:
    """One line naming the side(s) without vectors (BM25, a hybrid) and what to pick instead; "" when none."""
    from explorer.encoders.spec import RETRIEVER_ONLY

    names = [label for side, label in ((pair.a, pair.label_a), (pair.b, pair.label_b))
             if side and (pipeline.model_spec(side) or "").partition(":")[0].lower() in RETRIEVER_ONLY]
    if not names:
        return ""
    return (f"{' and '.join(names)} {'rank' if len(names) > 1 else 'ranks'} passages by matching words (BM25) "
            "without vectors, which this page needs: pick a dense model (the baseline, a run, static) as A and B "
            "above; the Metrics and Inspect pages compare its rankings.")


def need_vectors(m: Models, new_text: bool = False) -> None:
    """Stop a page that needs both models' vectors with one line when a side has none (BM25, a hybrid), or
    when a side is an API model that needs a key nobody gave yet (:func:`need_api_key`).

    Args:
        new_text: the page embeds text nobody embedded before (a typed query), so an API model is called.
    """
    if m.no_vectors:
        st.info(m.no_vectors, icon=":material/info:")
        st.stop()
    need_api_key(m, new_text)


def need_api_key(m: Models, new_text: bool) -> None:
    """For a side over an API model: say whose key pays, or ask for the visitor's and stop the page until given.

    With the operator's key (``st.secrets`` or the server's environment) the page says the server's key pays.
    Else the key this session's visitor typed (here or on the Train page) is used; without one, a password
    field asks for it with one line saying why, when the page will call the API (``new_text``) or when the
    endpoint is OpenAI's, which no encoder reaches without a key (pages built from stored results and cached
    vectors need none). Another endpoint may need no key: a box says so and the page goes on without.
    """
    from explorer.core.config import openai_base_url
    from explorer.encoders.openai import OPENAI_URL, ApiModel

    ws = state.workspace()
    apis = {pipeline.api_model(ws, side): label for side, label in ((m.pair.a, m.name_a), (m.pair.b, m.name_b))
            if m.pair and pipeline.api_model(ws, side)}
    if not apis:
        return
    names = " and ".join(text.plain(label) for label in apis.values())
    if state.operator_api_key():
        if new_text:
            st.caption(f"This server's operator configured an API key: the server's key pays for embedding your "
                       f"queries with {names}.")
        return
    if state.session_api_key():
        if new_text:
            left, right = st.columns([5, 1], vertical_alignment="center")
            left.caption(f"Your queries are embedded with {names} using the API key you typed in this session.")
            right.button("Forget the key", key="results_forget_key", on_click=state.remember_api_key, args=(None,),
                         help="Drops the key from this session (to type another one).")
        return
    urls = {ApiModel.parse(spec).base_url or openai_base_url() or OPENAI_URL for spec in apis}
    openai_host = any(url.rstrip("/") == OPENAI_URL for url in urls)
    if not (new_text or openai_host):
        return
    st.info(f"{names} {'embed' if len(apis) > 1 else 'embeds'} every new query through its API, which needs a key: "
            "type yours below (kept in this browser session's memory only, never written anywhere).",
            icon=":material/key:")
    typed = st.text_input("API key", type="password", key="results_api_key",
                          help="The same key the Train page asks for; this session keeps it until the tab closes.")
    if typed.strip():
        state.remember_api_key(typed.strip())
        return
    if openai_host or not st.checkbox("This endpoint needs no key", key="results_api_no_key",
                                      help="Compatible servers on your own machine often take no key."):
        st.stop()


def _pair_selector(ws: Any, pair: Any, fingerprint: str) -> Any:
    """The "compare A with B" selectboxes; a change is stored in the workspace and read back."""
    others = [k for k in pair.options if k != pipeline.BASELINE]
    left, right = st.columns(2)
    b = right.selectbox("…with model B", others, index=others.index(pair.b), format_func=pair.options.get,
                        key="pair_b", help="A finished run or a model compared on the Metrics page (drawn right / "
                        "\"after\"). When it is a run, the Train page's run choice is the same one.")
    choices = [k for k in pair.options if k != b]
    a = left.selectbox("Compare model A…", choices, index=choices.index(pair.a) if pair.a in choices else 0,
                       format_func=pair.options.get, key="pair_a",
                       help="The baseline encoder, another finished run or a compared model such as BM25 (drawn "
                            "left / \"before\"). Every result "
                            "page compares the same two models, with the same significance tests.")
    if (a, b) != (pair.a, pair.b):
        pipeline.choose_pair(ws, a, b)
        pair = pipeline.compared_pair(ws, fingerprint)
    return pair


@st.cache_resource(max_entries=8, show_spinner=False)
def _comparison(key: tuple, names: tuple[str, str], _m: Models, _sides: tuple) -> Any:
    return pipeline.pair_comparison(_m.dataset, _sides, encoder_a=lambda: _m.encoder_a, encoder_b=lambda: _m.encoder_b,
                                    names=names, evaluate=lambda ds, enc, split: state.baseline_result(ds, enc, split))


def comparison(m: Models) -> Any:
    """The A-vs-B :class:`~explorer.evaluation.compare.Comparison`, built once (it names both models).

    From the runs' stored results when they hold both sides (no encoder loaded, nothing embedded), else each
    missing side is evaluated with its encoder. The cache key names each side by its stored file, or by its
    encoder's fingerprint when it is computed.
    """
    fingerprint = m.dataset.fingerprint()
    sides = pipeline.stored_pair(state.workspace(), fingerprint, m.pair.a, m.pair.b, baseline_model=state.BASE_ENCODER)
    key = (fingerprint,
           sides[0].key if sides[0] else m.encoder_a.fingerprint,
           sides[1].key if sides[1] else m.encoder_b.fingerprint)
    with st.spinner("Comparing both models on the test queries…"):
        return _comparison(key, (m.name_a, m.name_b), m, sides)


def example_queries(m: Models, n: int = 5) -> list[str]:
    """Queries from the loaded data to try on the Search page: the test queries whose ranking changed most
    between A and B when there are two models, else the first test queries."""
    return pipeline.example_queries(m.dataset, comparison(m).per_query if m.paired else None, n=n)


def _put(key: str, value: str) -> None:
    st.session_state[key] = value


def example_buttons(examples: list[str], key: str, changed: bool = False) -> None:
    """One small button per example query (user text, shown escaped); a click puts it in the text input ``key``.
    ``changed``: the examples are the queries whose ranking changed most (the caption says so)."""
    if not examples:
        return
    st.caption("Try a test query of the dataset" + (" (those whose ranking changed most between A and B):" if changed
                                                   else ":"))
    with st.container(horizontal=True, gap="small"):
        for i, example in enumerate(examples):
            short = example if len(example) <= 60 else example[:59] + "…"
            st.button(text.plain(short), key=f"example_{i}", help=text.plain(example), on_click=_put,
                      args=(key, example), width="content")


@st.cache_resource(max_entries=8, show_spinner=False)
def _summary(key: tuple, _result: Any, _dataset: Any) -> tuple[Any, Any]:
    from explorer.evaluation.summary import metric_summary, per_query

    return metric_summary(_result), per_query(_dataset, _result)


def single(m: Models) -> tuple[Any, Any, Any]:
    """Model A alone: (its retrieval result, metric means with 95% CIs, per-query table worst first)."""
    with st.spinner("Evaluating the baseline on the test queries…"):
        result = state.baseline_result(m.dataset, m.encoder_a)
        return (result, *_summary(m.key[:2], result, m.dataset))


@st.cache_resource(max_entries=8, show_spinner=False)
def _similarity(ds_fp: str, enc_fp: str, neg_key: str, _dataset: Any, _encoder: Any, _negs: Any) -> Any:
    return pipeline.similarity(_dataset, _encoder, negatives=_negs)


def similarity(dataset: Any, encoder: Any) -> Any:
    """(PairClassification, pairs frame) of one encoder, with the workspace's hard negatives if mined."""
    ws = state.workspace()
    path = pipeline.negatives_path(ws)
    negs = pipeline.saved_negatives(ws)
    neg_key = f"{path.stat().st_mtime_ns}" if path.exists() else "none"
    return _similarity(dataset.fingerprint(), encoder.fingerprint, neg_key, dataset, encoder, negs)


@st.cache_resource(max_entries=6, show_spinner=False)
def _projection(key: tuple, method: str, dims: int, max_passages: int, _m: Models, _status: dict) -> Any:
    return pipeline.projection(_m.dataset, _m.encoder_a, _m.encoder_b, method=method, n_components=dims,
                               max_passages=max_passages, status=_status,
                               cache_dir=state.workspace().settings.projection_cache_dir)


def projection(m: Models, method: str, dims: int, max_passages: int) -> Any:
    """The aligned A/B projection (model A's alone before any run), computed once per options."""
    status = dict(zip(comparison(m).per_query["qid"], comparison(m).per_query["status"])) if m.paired else {}
    with st.spinner(f"Projecting with {method.upper()}… (UMAP and t-SNE take a little while)"):
        return _projection(m.key, method, dims, max_passages, m, status)


@st.cache_resource(max_entries=4, show_spinner=False)
def _neighbourhoods(key: tuple, run_folder: str, _m: Models, _per_query: Any) -> Any:
    from pathlib import Path

    return pipeline.neighbourhoods(_m.dataset, _m.encoder_a, _m.encoder_b, cache_dir=Path(run_folder) if run_folder else None,
                                   per_query=_per_query)


def neighbourhoods(m: Models) -> Any:
    """The pair's :class:`~explorer.pipeline.views.Neighbourhoods` (computed once, stored in B's run folder)."""
    folder = str(pipeline.run_folder(state.workspace(), m.run_id)) if m.run_id else ""
    per_query = comparison(m).per_query
    with st.spinner("Comparing every point's nearest neighbours before and after…"):
        return _neighbourhoods(m.key, folder, m, per_query)
