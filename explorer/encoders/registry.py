"""Turn an encoder spec (what a user types or a run config stores) into an :class:`Encoder`.

Specs, tried in this order:

- ``"fake"`` or ``"fake:<dim>"``: the deterministic hashing encoder.
- ``"minilm"`` and the other aliases of the bundled all-MiniLM-L6-v2 (``EXPLORER_ENCODER=fake`` turns them into
  the fake, so the app and browser tests run fast).
- ``"openai:<model>"``, optionally ``?base_url=<url>&dimensions=<n>``: OpenAI's embeddings API or a compatible
  endpoint (:class:`explorer.encoders.openai.ApiModel`).
- ``"static"`` / ``"static:<spec>"``: model2vec static embeddings distilled (once, cached) from a local
  transformer, MiniLM by default; ``"onnx-int8:<spec>"``: the int8 ONNX form of one
  (:mod:`explorer.encoders.static`). ``"bm25"`` and ``"hybrid"`` are retrievers, not encoders
  (:func:`explorer.retrievers.load_retriever`); :mod:`explorer.encoders.spec` holds the whole grammar.
- ``"run:<id>"``, a run id under the settings' runs folder, or a run folder (``config.json`` plus ``model/``
  for a full fine-tune, ``adapter/`` for an adapter or ``nudge/`` for nudged passages over the base model
  named in ``config.json``).
- a local model folder, else a Hugging Face hub id.

Encoders are shared per (spec, device, cache folder, run folder), so the app and the CLI never load the same
model twice; a model folder that changed on disk is loaded afresh. Memory stays bounded: the bundled model is
kept for the life of the process (every page uses it); the others are kept while in use anywhere (a weak
reference finds them) and, beyond that, the most recently used within a byte budget
(:func:`~explorer.core.memory.encoders_budget`: in public mode about one model besides the base, so a model
no longer in use is released when the next one comes).

Run ids are a visitor's data: they are looked up in the runs folder of the settings the caller passes (the
workspace's). Without settings, locally the local runs folder is used; in public mode a bare name is never
looked up among runs, and a ``run:<id>`` spec raises
:class:`~explorer.core.config.WorkspaceRequiredError`. The embedding cache folder, ``EXPLORER_ENCODER`` and the
bfloat16 switch are server-wide (every workspace's settings carry the server's values); without settings they
come from :func:`_server_settings`.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import weakref
from pathlib import Path

from explorer.core.config import BUNDLED_MODEL_ALIASES, Settings, get_settings
from explorer.core.memory import ByteLRU, encoder_bytes, encoders_budget, release_memory
from explorer.encoders.base import Encoder
from explorer.core.errors import ModelError
from explorer.core.progress import Progress
from explorer.encoders.spec import find_run_folder as _run_folder, parse_spec, runs_dir_for as _runs_dir

_LOCK = threading.Lock()
_HELD = ByteLRU(encoders_budget(False), sizeof=encoder_bytes)
"""The most recently used encoders other than the bundled model, within the byte budget (set from the settings
at each load)."""
_ALIVE: "weakref.WeakValueDictionary[tuple, Encoder]" = weakref.WeakValueDictionary()
"""Every encoder still referenced anywhere (a page's cache, a retriever, a job), so none is loaded twice."""
_PINNED: dict[tuple, Encoder] = {}
"""The bundled model's encoders, kept for the life of the process."""


def clear_cache() -> None:
    """Forget the process-wide encoders (tests; or to free memory)."""
    with _LOCK:
        _HELD.clear()
        _ALIVE.clear()
        _PINNED.clear()


def held() -> list[Encoder]:
    """The encoders the registry itself keeps in memory now (pinned or within the budget), for measurements."""
    with _LOCK:
        kept = {id(e): e for e in [*_PINNED.values(), *(_HELD.get(k) for k in _HELD.keys())] if e is not None}
    return list(kept.values())


def load_encoder(spec: str, *, settings: Settings | None = None, device: str | None = None,
                 api_key: str | None = None, progress: Progress | None = None) -> Encoder:
    """The encoder a spec names (see the module docstring), shared within the process.

    Args:
        spec: "minilm", "fake", "openai:<model>", a run folder or id, a model folder or a hub id.
        settings: the workspace's settings (its runs folder resolves run ids); see the module docstring for
            what happens without them.
        device: "cpu" / "cuda" for model encoders; None picks one.
        api_key: OpenAI key for "openai:" specs (the app passes its Streamlit secret); by default
            ``OPENAI_API_KEY`` from the environment.
        progress: given, a hub model is downloaded now (once) and this hears ``"downloading (MB)"``; without
            it the download waits for the model's first use.

    Raises:
        ModelError: the spec names nothing that can be loaded (one line saying what to give instead).
        WorkspaceRequiredError: a ``run:<id>`` spec in public mode without the workspace's settings.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ModelError("No encoder given; use 'minilm', a model folder, a training run, 'openai:<model>' or 'fake'.")
    spec = spec.strip()
    server = settings if settings is not None else _server_settings()
    runs_dir = _runs_dir(settings)
    run = _run_folder(spec, runs_dir)
    key_id = hashlib.sha256(api_key.encode()).hexdigest() if api_key else None  # never keep the key itself in a key
    key = (spec, device, _cache_root(server), server.encoder_override, str(run or ""), _stamp(run or Path(spec), run is not None),
           key_id)
    _HELD.max_bytes = encoders_budget(server.public)
    with _LOCK:
        found = _PINNED.get(key) or _HELD.get(key)
        alive = _ALIVE.get(key) if found is None else None
        if alive is not None:  # still in use somewhere: shared again, and kept as recently used
            found = _HELD.put(key, alive)
    if found is None:
        encoder = _build(spec, settings, server, run, device, api_key)
        with _LOCK:
            found = _ALIVE.get(key) or _alive(key, encoder)
            before, evicted = len(_HELD), False
            if spec.lower() in {a.lower() for a in BUNDLED_MODEL_ALIASES}:
                _PINNED[key] = found
            else:
                _HELD.put(key, found)
                evicted = len(_HELD) <= before
        if evicted:
            release_memory()  # a model out of the budget and no longer in use is freed now
    if progress is not None and callable(getattr(found, "download", None)):
        found.download(progress)  # a hub model: fetched now, where someone watches
    return found


def _alive(key: tuple, encoder: Encoder) -> Encoder:
    """Note ``encoder`` as alive under ``key`` (weakly; an object that cannot be weakly referenced is only held
    by the budget)."""
    try:
        _ALIVE[key] = encoder
    except TypeError:
        pass
    return encoder


def _server_settings() -> Settings:
    """The server's settings, for the server-wide values only (embedding cache folder, ``EXPLORER_ENCODER``,
    bfloat16): they are the same in every workspace, so a caller without a workspace may use them."""
    return get_settings()


def _cache_root(settings: Settings) -> Path:
    return Path(settings.extra.get("shared_cache") or settings.cache_dir)


def _stamp(folder: Path, run: bool = False) -> tuple:
    """Sizes and mtimes of a folder's files two levels deep, so a rewritten model is reloaded. Of a run folder,
    only what makes its model (``config.json``, ``model/``, ``adapter/``): its status, log and results change
    as it finishes, and must not load the same model a second time."""
    folder = folder.expanduser()
    if not folder.is_dir():
        return ()
    entries = []
    for sub in (folder, folder / "model", folder / "adapter", folder / "nudge"):
        try:
            with os.scandir(sub) as it:
                entries.extend((sub.name, e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in it if e.is_file()
                               and not (run and sub == folder and e.name != "config.json"))
        except OSError:
            continue
    return tuple(sorted(entries))


def _build(spec: str, settings: Settings | None, server: Settings, run: Path | None, device: str | None,
           api_key: str | None = None) -> Encoder:
    """Build the encoder ``spec`` names; ``run`` is the run folder it names (already resolved), ``server``
    the settings to take the server-wide values from."""
    from explorer.encoders.sentence import SentenceTransformerEncoder, is_bundled_alias

    cache_dir = _cache_root(server)
    lowered = spec.lower()
    if lowered == "fake" or lowered.startswith("fake:"):
        return _fake(spec, cache_dir)
    if is_bundled_alias(spec):
        if (server.encoder_override or "").lower() == "fake":
            return _fake("fake", cache_dir)
        return SentenceTransformerEncoder("minilm", device=device, bf16=server.bf16, cache_dir=cache_dir)
    if lowered.startswith("openai:"):
        from explorer.encoders.openai import OpenAIEncoder

        return OpenAIEncoder.from_spec(spec, api_key, cache_dir=cache_dir, public=server.public)
    head, sep, inner = spec.partition(":")
    if lowered in ("static", "bm25", "hybrid") or (sep and head.lower() in ("static", "onnx-int8", "hybrid")):
        return _derived(head.lower(), inner.strip() if sep else "minilm", settings, device, cache_dir)
    if run is not None:
        return _load_run(run, settings, server, device, api_key)
    return SentenceTransformerEncoder(spec, device=device, bf16=server.bf16, cache_dir=cache_dir)


def _derived(kind: str, inner: str, settings: Settings | None, device: str | None, cache_dir: Path) -> Encoder:
    """A "static:" or "onnx-int8:" encoder made from the ``inner`` model (built once into the cache folder)."""
    from explorer.encoders.sentence import is_bundled_alias
    from explorer.encoders.static import SHIPPED, OnnxInt8Encoder, StaticEncoder, distilled_folder, int8_folder

    if kind in ("bm25", "hybrid"):
        raise ModelError(f"'{kind}' ranks passages but has no vectors, so it cannot embed texts; views that need "
                         "vectors (latent space, similarity) need a dense model such as minilm or static.")
    spec = parse_spec(f"{kind}:{inner}", settings=settings)
    if kind == "static" and is_bundled_alias(inner) and (SHIPPED / "config.json").is_file():
        # Shipped: no transformer loaded, nothing distilled (also under EXPLORER_ENCODER=fake: it is fast).
        return StaticEncoder(SHIPPED, spec.display, cache_dir=cache_dir)
    source = load_encoder(inner, settings=settings, device=device)
    if kind == "static":
        return StaticEncoder(distilled_folder(source, cache_dir), spec.display, cache_dir=cache_dir)
    return OnnxInt8Encoder(int8_folder(source, cache_dir), spec.display, source.fingerprint, cache_dir=cache_dir)


def _fake(spec: str, cache_dir: Path) -> Encoder:
    from explorer.encoders.fake import FakeEncoder

    _, _, dim = spec.partition(":")
    if dim and not dim.strip().isdigit():
        raise ModelError(f"Encoder {spec!r}: the fake encoder's size must be a whole number, e.g. 'fake:64'.")
    try:
        return FakeEncoder(dim=int(dim) if dim else 64, cache_dir=cache_dir)
    except ValueError as exc:
        raise ModelError(f"Encoder {spec!r}: {exc}.") from exc


def _load_run(run: Path, settings: Settings | None, server: Settings, device: str | None,
              api_key: str | None = None) -> Encoder:
    """The encoder a training run produced: its fine-tuned model, or its adapter (or nudged passages) over the
    base model (an API base model with ``api_key``)."""
    from explorer.encoders.sentence import SentenceTransformerEncoder

    if (run / "model").is_dir():
        encoder = SentenceTransformerEncoder(str(run / "model"), device=device, bf16=server.bf16,
                                             cache_dir=_cache_root(server))
        encoder.name = f"{run.name} (fine-tuned)"
        return encoder
    kind = next((k for k in ("adapter", "nudge") if (run / k).is_dir()), None)
    if kind is None:
        raise ModelError(f"Training run {run.name!r} has no model/ or adapter/ yet; wait until it finishes, or pick another run.")
    try:
        config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"Cannot read {run / 'config.json'} ({exc}); the run folder is damaged.") from exc
    base = config.get("base_model") if isinstance(config, dict) else None
    if not isinstance(base, str) or not base.strip():
        raise ModelError(f"{run / 'config.json'} names no 'base_model', so the adapter of run {run.name!r} has nothing to adapt.")
    base_encoder = load_encoder(base, settings=settings, device=device, api_key=api_key)
    if kind == "nudge":
        from explorer.encoders.nudged import NudgedEncoder

        return NudgedEncoder.load(run / "nudge", base=base_encoder)
    from explorer.encoders.adapter import AdapterEncoder  # written alongside; imported only when needed

    return AdapterEncoder.load(run / "adapter", base=base_encoder)
