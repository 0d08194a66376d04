"""Which base model a run may train from, and what embedding through an API will cost before it starts.

- :func:`check_base_model`: the Train page's and ``python -m explorer train``'s rule. A full fine-tune needs a
  local transformer (the bundled MiniLM, a folder, a hub id, a run's fine-tune); the adapter trains over any
  dense model (static and API models included); BM25 and hybrid rank without vectors, so neither trains. In
  public mode a hub model must be under the settings' parameter cap (``Settings.hub_max_parameters``).
- :func:`hub_download` (what a hub model's download fetches and its size, asked before anything is fetched) and
  :func:`fetch_base_model` (the download itself, with progress, before a run starts on it).
- :func:`api_cost` and :data:`COST_CONFIRM_USD`: tokens times the dated price list for the texts a run over an
  API model will embed (the corpus, the queries), counted offline before the first request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from explorer.core.config import Settings
from explorer.core.errors import ModelError, TrainingError
from explorer.core.progress import Progress

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset
    from explorer.encoders.hub import DownloadPlan
    from explorer.encoders.prices import CostEstimate
    from explorer.encoders.spec import ModelSpec

FULL_KINDS = frozenset({"bundled", "folder", "hub", "run"})
"""Spec kinds a full fine-tune can start from (a local transformer; a run's fine-tune trains on)."""
COST_CONFIRM_USD = 0.05
"""Above this estimate (US dollars) the Train page asks for a confirmation before the first API call."""


def hub_parameters(repo_id: str) -> int | None:
    """A hub model's parameter count from its safetensors metadata (one small request, nothing downloaded);
    None when the hub does not list it.

    Raises:
        ModelError: the hub cannot be reached or does not know the id (one line).
    """
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    try:
        info = HfApi().model_info(repo_id, expand=["safetensors"], timeout=15)
    except RepositoryNotFoundError as exc:
        raise ModelError(f"The Hugging Face hub has no model {repo_id!r}; check the id (owner/name).") from exc
    except (HfHubHTTPError, OSError) as exc:
        raise ModelError(f"Cannot reach the Hugging Face hub to check the size of {repo_id!r}; try again, or "
                         "pick minilm, static, bm25 or hybrid.") from exc
    return getattr(info.safetensors, "total", None) if info.safetensors is not None else None


def hub_download(repo_id: str) -> "DownloadPlan":
    """What downloading a hub model fetches (the files sentence-transformers needs) and its size; one small
    request, nothing downloaded.

    Raises:
        ModelError: offline, unreachable, unknown, private or gated (one line saying what to do).
    """
    from explorer.encoders.hub import plan

    return plan(repo_id)


def fetch_base_model(spec: str, settings: Settings, progress: Progress | None = None) -> None:
    """Download the hub model ``spec`` names (once; ``progress`` hears ``"downloading (MB)"``), so the run's
    process finds it on disk; nothing for other models.

    Raises:
        ModelError: the download failed (one line saying what to do).
    """
    from explorer.encoders.registry import load_encoder
    from explorer.encoders.spec import parse_spec

    if parse_spec(spec, settings=settings).kind == "hub":
        load_encoder(spec, settings=settings, progress=progress)


def check_base_model(text: str, method: str, settings: Settings, *,
                     parameters: Callable[[str], int | None] | None = None) -> "ModelSpec":
    """The checked spec of the model a run of ``method`` ("full" or "adapter") trains from.

    Args:
        text: the model spec (see :mod:`explorer.encoders.spec`).
        method: "full" or "adapter".
        settings: the workspace's settings (public mode, the hub cap, its runs folder).
        parameters: how a hub model's parameter count is found (default :func:`hub_parameters`).

    Raises:
        TrainingError: a model the method cannot train, or (public mode) a hub model over the cap or of
            unknown size; one line that names what to pick instead.
        ModelError: the spec names nothing usable.
    """
    from explorer.encoders.spec import parse_spec

    spec = parse_spec(text, settings=settings)
    if not spec.has_vectors:
        raise TrainingError(f"{spec.display} ranks passages without vectors, so there is nothing to train; pick a "
                            "dense model (minilm, static, a hub model or an API model) to fine-tune or adapt.")
    if method == "full" and spec.kind not in FULL_KINDS:
        raise TrainingError(f"{spec.display} has no weights here to fine-tune; choose the Adapter method (a linear "
                            "map trained over its embeddings) or Corpus-side (NUDGE), or a local transformer model "
                            "for a full fine-tune.")
    if settings.public and spec.kind == "hub":
        count = (parameters or hub_parameters)(spec.text)
        cap = settings.hub_max_parameters
        if count is None:
            raise TrainingError(f"{spec.text} does not list its size on the hub, and this public server takes hub "
                                f"models of at most {cap / 1e6:,.0f} M parameters only; run the app locally to "
                                "use it.")
        if count > cap:
            raise TrainingError(f"{spec.text} has {count / 1e6:,.0f} M parameters; this public server takes hub "
                                f"models of at most {cap / 1e6:,.0f} M parameters (its memory is shared); pick a "
                                "smaller model, or run the app locally.")
    return spec


def api_cost(dataset: "Dataset", spec: str, api_key: str | None, settings: Settings) -> "CostEstimate":
    """What one embedding pass of ``dataset`` (every passage and query) through the API model ``spec`` costs,
    counted offline (texts already in the embedding cache are free); nothing is sent.

    Raises:
        ModelError: a malformed spec, a refused endpoint (public mode) or no key for OpenAI's own endpoint.
    """
    from explorer.encoders.registry import load_encoder

    encoder = load_encoder(spec, settings=settings, api_key=api_key)
    if not hasattr(encoder, "estimate_cost"):
        raise ModelError(f"{spec!r} is not an API model; only API models have a cost per token.")
    passages = encoder.estimate_cost(dataset.passage_texts(), "passage")
    queries = encoder.estimate_cost(list(dataset.queries.values()), "query")
    usd = None if passages.usd is None or queries.usd is None else passages.usd + queries.usd
    return replace(passages, texts=passages.texts + queries.texts, tokens=passages.tokens + queries.tokens, usd=usd)
