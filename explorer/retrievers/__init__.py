"""Retrievers: query texts → the top k passage ids and scores.

Modules:
    base: :class:`Retriever`, :class:`DenseRetriever` (an encoder over the corpus).
    bm25: :class:`BM25Retriever` (bm25s + PyStemmer).
    fusion: :func:`fuse`, :func:`choose_fusion` (min-max weighted sum or RRF, chosen on dev queries).
    hybrid: :class:`HybridRetriever` (BM25 fused with a dense retriever).
    bakeoff: :func:`compare_models` (every model on the same split) and the stored results of models that
        are not runs (:func:`save_model_results`, :func:`load_model_results`, :func:`list_stored_models`).

:func:`load_retriever` turns any model spec (:mod:`explorer.encoders.spec`) into a retriever.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from explorer.core.config import Settings
    from explorer.core.progress import Progress
    from explorer.retrievers.base import Retriever


def load_retriever(spec: str, *, settings: "Settings | None" = None, device: str | None = None,
                   shared: "dict[str, Retriever] | None" = None, progress: "Progress | None" = None,
                   api_key: str | None = None) -> "Retriever":
    """The retriever a model spec names: BM25, a hybrid, or a dense retriever over the spec's encoder.

    Args:
        spec: a model spec (:data:`explorer.encoders.spec.GRAMMAR`).
        settings: the workspace's settings (run ids, public mode), as for
            :func:`~explorer.encoders.registry.load_encoder`.
        device: "cpu" / "cuda" for model encoders; None picks one.
        shared: retrievers already built, by spec text: a hybrid reuses the dense retriever of its inner
            model and BM25 from here (so a bake-off encodes and indexes the corpus once), and new ones are added.
        progress: hears a hub model's download (see :func:`~explorer.encoders.registry.load_encoder`).
        api_key: the key of an API model (or of a run adapting one); held in memory only.

    Raises:
        ModelError: the spec names nothing usable (one line).
    """
    from explorer.encoders.registry import load_encoder
    from explorer.encoders.spec import parse_spec
    from explorer.retrievers.base import DenseRetriever
    from explorer.retrievers.bm25 import BM25Retriever
    from explorer.retrievers.hybrid import HybridRetriever

    parsed = parse_spec(spec, settings=settings)
    shared = shared if shared is not None else {}
    if parsed.kind == "bm25":
        return shared.setdefault("bm25", BM25Retriever())
    if parsed.kind == "hybrid":
        dense = load_retriever(parsed.inner.text, settings=settings, device=device, shared=shared, progress=progress,
                               api_key=api_key)
        sparse = shared.setdefault("bm25", BM25Retriever())
        return HybridRetriever(dense, sparse, name=parsed.display)  # type: ignore[arg-type]
    if parsed.text not in shared:
        retriever = DenseRetriever(load_encoder(parsed.text, settings=settings, device=device, progress=progress,
                                                api_key=api_key))
        retriever.name = parsed.display
        shared[parsed.text] = retriever
    return shared[parsed.text]
