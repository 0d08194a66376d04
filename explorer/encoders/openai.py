"""Embeddings from OpenAI (text-embedding-3-small/-large, ada-002) or any OpenAI-compatible ``/v1/embeddings``
endpoint (infinity, vLLM, Ollama, LM Studio...), through the official ``openai`` client.

The client's own retries are silent, so it runs with ``max_retries=0`` and tenacity retries around it: rate
limits (429), server errors (5xx), timeouts and refused connections are retried with jittered exponential
backoff, or after exactly the wait the server asks for (``Retry-After`` / ``retry-after-ms``), and each wait is
reported through the progress callback as a stage ``"waiting N s: <why> (...)"``. Requests are batched within
the API's limits (``batch_size`` inputs and ``max_request_tokens`` tokens each); a text longer than the
model's input limit is cut ("truncate"), split into pieces whose embeddings are averaged weighted by length
("chunk", OpenAI's cookbook "Embedding texts that are longer than the model's maximum context length"), or
refused ("error"), counted (``truncated_count``, ``chunked_count``) and warned about with
:class:`OverlongInputWarning`. The cache is keyed by model, endpoint and settings, never by the key.

Every failure the user can act on (no or a wrong key, an unknown model, an exhausted quota, an unreachable
URL, an endpoint answering the wrong number or size of vectors) is a one-line
:class:`~explorer.core.errors.ModelError` with the fix. A server's error text is never passed on (OpenAI's
401 text echoes the key, masked): messages name the status, a short error code, and what to do. In public
mode the endpoint goes through :mod:`explorer.encoders.netguard` (no loopback, private or metadata address).
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

import numpy as np

from explorer.core.config import openai_api_key, openai_base_url
from explorer.core.errors import ModelError
from explorer.core.progress import Progress
from explorer.encoders.base import DEFAULT_CACHE, DefaultCache, Encoder, Kind, resolve_cache_dir
from explorer.encoders.netguard import Resolver, blocked_cause, check_base_url, guarded_transport, system_resolver
from explorer.encoders.prices import CostEstimate, estimate_cost, price_per_million
from explorer.encoders.retries import attempts_made, describe_failure, retrying
from explorer.encoders.tokens import TokenCounter

logger = logging.getLogger(__name__)

OPENAI_URL = "https://api.openai.com/v1"
PREFIX = "openai:"
Overflow = Literal["truncate", "chunk", "error"]
KEY_HELP = "type it in the API key field (in the app) or set OPENAI_API_KEY (on the command line)"
NO_KEY = "no-key"
"""Sent as the bearer token to a compatible endpoint when no key is set (local servers ignore it)."""


class OverlongInputWarning(UserWarning):
    """Some texts exceeded the model's input limit and were truncated or chunked."""


@dataclass(frozen=True)
class ApiModel:
    """Which API model: what a run's config records (as :attr:`spec`), never the key.

    The spec is ``openai:<model>``, optionally followed by ``?base_url=<url>&dimensions=<n>``, e.g.
    ``openai:text-embedding-3-small?dimensions=256`` or
    ``openai:all-MiniLM-L6-v2?base_url=http://127.0.0.1:7997/v1``. Without a base URL the endpoint is
    ``OPENAI_BASE_URL``'s, else OpenAI's.
    """

    model: str
    base_url: str | None = None
    dimensions: int | None = None

    @classmethod
    def parse(cls, spec: str) -> "ApiModel":
        """The model a spec names; raises ModelError for a malformed one."""
        body = spec.strip()[len(PREFIX):] if spec.strip().lower().startswith(PREFIX) else spec.strip()
        model, _, query = body.partition("?")
        if not model.strip():
            raise ModelError("'openai:' needs a model name, e.g. 'openai:text-embedding-3-small'.")
        fields = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        unknown = set(fields) - {"base_url", "dimensions"}
        if unknown:
            raise ModelError(f"Unknown option {sorted(unknown)[0]!r} in {spec!r}; an API model takes base_url and "
                             "dimensions.")
        return cls(model.strip(), fields.get("base_url") or None, _dimensions(fields.get("dimensions")))

    @property
    def spec(self) -> str:
        """The spec string (what ``--model`` and a run's ``base_model`` hold)."""
        options = {k: v for k, v in (("base_url", self.base_url), ("dimensions", self.dimensions)) if v}
        return PREFIX + self.model + (f"?{urlencode(options, safe=':/')}" if options else "")


def _dimensions(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise ModelError(f"dimensions must be a whole number of at least 1 (e.g. --dimensions 256), got {value!r}.")
    return number


def model_spec(model: str, base_url: str | None = None, dimensions: int | None = None) -> str:
    """The spec ``--model``, ``--base-url`` (or ``OPENAI_BASE_URL``) and ``--dimensions`` make together: for an
    ``openai:`` model, its endpoint and size are written into the spec a run records; another model is returned
    as it is, and refuses those flags."""
    if not model.strip().lower().startswith(PREFIX):
        if base_url or dimensions:
            raise ModelError("--base-url and --dimensions apply only to an API model: use --model openai:<name>.")
        return model
    api = ApiModel.parse(model)
    url = (base_url or api.base_url or openai_base_url() or OPENAI_URL).rstrip("/")
    return ApiModel(api.model, url, _dimensions(dimensions) or api.dimensions).spec


class _Thread(threading.local):
    progress: Progress | None = None


class OpenAIEncoder(Encoder):
    """Embeddings from an OpenAI or OpenAI-compatible ``/embeddings`` endpoint.

    Args:
        model: embedding model name.
        api_key: the key; by default ``OPENAI_API_KEY``. Required for OpenAI's own endpoint only.
        base_url: API root; by default ``OPENAI_BASE_URL``, else OpenAI's.
        dimensions: ask text-embedding-3 models for shorter vectors; None keeps the native size.
        public: public mode: refuse endpoints inside the server's network (:mod:`explorer.encoders.netguard`).
        resolver: host-name resolver of that check (tests).
        http_client: an ``httpx2.Client`` (the openai client's HTTP library) to send with (tests); by default one
            is made that follows no redirect (and is guarded in public mode).
        max_tokens: input limit per text, in tokens (8191 for OpenAI's embedding models).
        overflow: what to do with longer texts: "truncate", "chunk" (average of pieces) or "error".
        batch_size: inputs per request (the API allows up to 2048).
        max_retries: retries of one request after a rate limit, server error, timeout or refused connection.
        max_request_tokens: token budget of one request (the API allows 300,000).
        timeout: seconds per request.
        cache_dir: embedding cache root; by default the settings' cache, None disables caching.

    Raises:
        ModelError: no key for OpenAI's endpoint, or a refused base URL.
        ValueError: invalid parameters.
    """

    def __init__(self, model: str = "text-embedding-3-small", api_key: str | None = None, *,
                 base_url: str | None = None, dimensions: int | None = None, public: bool = False,
                 resolver: Resolver = system_resolver, http_client: Any | None = None, max_tokens: int = 8191,
                 overflow: Overflow = "truncate", batch_size: int = 128, max_retries: int = 6,
                 max_request_tokens: int = 300_000, timeout: float = 60.0,
                 cache_dir: Path | str | None | DefaultCache = DEFAULT_CACHE) -> None:
        super().__init__(resolve_cache_dir(cache_dir))
        if overflow not in ("truncate", "chunk", "error"):
            raise ValueError(f"overflow must be 'truncate', 'chunk' or 'error', got {overflow!r}")
        for label, value in (("max_tokens", max_tokens), ("batch_size", batch_size),
                             ("max_request_tokens", max_request_tokens)):
            if int(value) < 1:
                raise ValueError(f"{label} must be at least 1, got {value}")
        if dimensions is not None and int(dimensions) < 1:
            raise ValueError(f"dimensions must be a positive integer or None, got {dimensions}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.base_url = (base_url or openai_base_url() or OPENAI_URL).rstrip("/")
        check_base_url(self.base_url, public=public, resolver=resolver)
        key = api_key or openai_api_key()
        if not key and self.host == urlsplit(OPENAI_URL).hostname:
            raise ModelError(f"No OpenAI API key for the embeddings model {model!r}: {KEY_HELP}.")
        self.model, self.name = model, f"openai:{model}"
        self.max_tokens, self.overflow, self.dimensions = int(max_tokens), overflow, dimensions
        self.batch_size, self.max_retries = int(batch_size), int(max_retries)
        self.max_request_tokens = int(max_request_tokens)
        self.timeout, self.public = float(timeout), public
        self.truncated_count = self.chunked_count = 0
        self.tokens_billed = 0
        self.tokens = TokenCounter(model)
        self._api_key = key or NO_KEY
        self._resolver, self._http = resolver, http_client
        self._client: Any = None
        self._thread = _Thread()
        self._sleep: Callable[[float], None] = time.sleep  # tests swap it to skip the waits

    @classmethod
    def from_spec(cls, spec: str, api_key: str | None = None, **kwargs: Any) -> "OpenAIEncoder":
        """The encoder an ``openai:`` spec names (see :class:`ApiModel`); ``kwargs`` go to the constructor."""
        api = ApiModel.parse(spec)
        return cls(api.model, api_key, base_url=api.base_url, dimensions=api.dimensions, **kwargs)

    @property
    def host(self) -> str:
        """The endpoint's host, for messages."""
        return urlsplit(self.base_url).hostname or self.base_url

    @property
    def spent_usd(self) -> float | None:
        """Dollars spent by this encoder so far (the tokens the server reported, at the listed price), or None
        when the model has no listed price."""
        price = price_per_million(self.model, self.base_url)
        return None if price is None else self.tokens_billed * price / 1_000_000

    @property
    def fingerprint(self) -> str:
        """Model name plus everything that changes its vectors: server, dimensions, overflow handling."""
        identity = f"{self.base_url}|{self.model}|dims={self.dimensions}|{self.overflow}|{self.max_tokens}"
        return f"openai-{_slug(self.model)}-{hashlib.sha256(identity.encode()).hexdigest()[:16]}"

    @property
    def client(self) -> Any:
        """The official client (made on first use), with its own retries off."""
        if self._client is None:
            import httpx2
            import openai

            http = self._http
            if http is None:
                guard = guarded_transport(self._resolver) if self.public else None
                http = httpx2.Client(timeout=self.timeout, trust_env=not self.public, follow_redirects=False,
                                     transport=guard)
            self._client = openai.OpenAI(api_key=self._api_key, base_url=self.base_url, max_retries=0,
                                         timeout=self.timeout, http_client=http)
        return self._client

    # ------------------------------------------------------------------------------------ public API
    def encode(self, texts: Sequence[str], kind: Kind = "passage", *, progress: Progress | None = None,
               batch_size: int | None = None, use_cache: bool = True) -> np.ndarray:
        """:meth:`Encoder.encode`, reporting waits to ``progress`` and warning once if texts were cut or chunked."""
        before = (self.truncated_count, self.chunked_count)
        self._thread.progress = progress
        try:
            out = super().encode(texts, kind, progress=progress, batch_size=batch_size, use_cache=use_cache)
        finally:
            self._thread.progress = None
        truncated, chunked = self.truncated_count - before[0], self.chunked_count - before[1]
        if truncated or chunked:
            handled = "truncated to the limit" if truncated else "split into chunks whose embeddings were averaged"
            message = (f"{self.name}: {truncated or chunked} of {len(texts)} texts were longer than {self.max_tokens} "
                       f"tokens and were {handled} (overflow={self.overflow!r}).")
            logger.warning(message)
            warnings.warn(message, OverlongInputWarning, stacklevel=2)
        return out

    def estimate_cost(self, texts: Sequence[str], kind: Kind = "passage") -> CostEstimate:
        """What embedding ``texts`` would cost, before any request: the texts not in the cache, counted offline
        and priced with :mod:`explorer.encoders.prices` (None dollars for a model without a listed price)."""
        from explorer.encoders.cache import text_key

        cache = self._cache(kind)
        keys = [text_key(str(t)) for t in texts]
        missing = cache.missing(keys) if cache is not None else set(keys)  # the shards' keys only, no vectors
        todo = [str(t) for t, key in zip(texts, keys) if key in missing]
        return estimate_cost(todo, self.model, base_url=self.base_url, counter=self.tokens,
                             max_tokens=self.max_tokens if self.overflow == "truncate" else None)

    def embed_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        # The API rejects empty strings; a blank text gets the vector of a single space.
        pieces = [self._fit(text if text.strip() else " ") for text in texts]
        vectors = self._embed_pieces([piece for parts in pieces for piece in parts])
        rows, at = [], 0
        for parts in pieces:
            block = vectors[at : at + len(parts)]
            rows.append(block[0] if len(parts) == 1 else np.average(block, axis=0, weights=[n for _, n in parts]))
            at += len(parts)
        return np.stack(rows).astype(np.float32)

    # ------------------------------------------------------------------------------------ overflow
    def _fit(self, text: str) -> list[tuple[str, int]]:
        """(piece, tokens) pairs to embed for one text, applying the overflow policy."""
        count = self.tokens.count(text)
        if count <= self.max_tokens:
            return [(text, count)]
        if self.overflow == "error":
            raise ModelError(
                f"A text of about {count} tokens ({text[:60]!r}...) is longer than {self.model}'s limit of "
                f"{self.max_tokens}; shorten it, or choose overflow='truncate' or 'chunk'."
            )
        parts = self.tokens.split(text, self.max_tokens)
        if self.overflow == "truncate":
            self.truncated_count += 1
            return parts[:1]
        self.chunked_count += 1
        return parts

    # ------------------------------------------------------------------------------------ requests
    def _embed_pieces(self, pieces: list[tuple[str, int]]) -> np.ndarray:
        """Embed pieces in requests bounded by input count and token budget; rows in input order."""
        out: list[np.ndarray] = []
        request: list[str] = []
        budget = 0
        for text, count in pieces:
            if request and (len(request) >= self.batch_size or budget + count > self.max_request_tokens):
                out.append(self._request(request))
                request, budget = [], 0
            request.append(text)
            budget += count
        if request:
            out.append(self._request(request))
        return np.concatenate(out, axis=0)

    def _request(self, inputs: list[str]) -> np.ndarray:
        """One request, retried (see the module docstring); its vectors, checked."""
        options: dict[str, Any] = {"model": self.model, "input": inputs, "encoding_format": "float"}
        if self.dimensions is not None:
            options["dimensions"] = int(self.dimensions)
        retry = retrying(self.max_retries, sleep=lambda s: self._sleep(s), report=self._report_wait)
        try:
            response = retry(self.client.embeddings.create, **options)
        except Exception as exc:  # the openai client's errors; mapped to a message without the server's text
            raise self._error(exc, attempts_made(retry)) from None
        return self._vectors(response, len(inputs))

    def _report_wait(self, seconds: float, why: str, attempt: int) -> None:
        logger.info("%s: waiting %.1f s: %s (attempt %d of %d)", self.name, seconds, why, attempt, self.max_retries + 1)
        progress = self._thread.progress
        if progress is not None:
            progress(f"waiting {seconds:.0f} s: {why} (attempt {attempt} of {self.max_retries + 1})", 0,
                     max(1, round(seconds)))

    def _error(self, exc: Exception, attempts: int) -> Exception:
        """The one-line ModelError for a failed request (never the server's text: it may echo the key)."""
        blocked = blocked_cause(exc)
        if blocked is not None:
            return ModelError(blocked.user_message())
        if isinstance(exc, ModelError):
            return exc
        message = describe_failure(exc, host=self.host, base_url=self.base_url, model=self.model,
                                   dimensions=self.dimensions, attempts=attempts)
        return ModelError(message) if message else exc

    def _vectors(self, response: Any, expected: int) -> np.ndarray:
        """The response's vectors in input order, after checking their number and size."""
        where = f"{self.base_url}/embeddings"
        not_embeddings = ModelError(f"{where} answered with a body that is not an embeddings response; check that "
                                    "the base URL is an OpenAI-compatible API root (it usually ends in /v1).")
        data = getattr(response, "data", None)
        try:
            rows = [list(item.embedding) for item in sorted(data, key=lambda item: item.index)]
        except (AttributeError, TypeError):
            raise not_embeddings from None
        if len(rows) != expected:
            raise ModelError(f"{where} returned {len(rows)} vectors for {expected} texts; it is not a working "
                             "embeddings endpoint: check the base URL and model.")
        sizes = sorted({len(row) for row in rows})
        if len(sizes) != 1 or sizes[0] == 0:
            raise ModelError(f"{where} returned vectors of different sizes ({sizes[0]} to {sizes[-1]}); it is not a "
                             "working embeddings endpoint: check the base URL and model.")
        try:
            vectors = np.asarray(rows, dtype=np.float32)
        except (TypeError, ValueError):
            raise not_embeddings from None
        size = int(vectors.shape[1])
        if self.dimensions is not None and size != self.dimensions:
            raise ModelError(f"{where} returned vectors of size {size}, not the {self.dimensions} asked for; "
                             f"{self.model!r} may not support --dimensions: drop it, or use a text-embedding-3 model.")
        if self._dim is not None and size != self._dim:
            raise ModelError(f"{where} returned vectors of size {size} where earlier ones had {self._dim}; the model "
                             "behind the endpoint changed: check the base URL and model name.")
        self._dim = size
        usage = getattr(response, "usage", None)
        self.tokens_billed += int(getattr(usage, "prompt_tokens", 0) or 0)
        return vectors


def _slug(name: str) -> str:
    """A model name made safe for a folder name (the fingerprint names a cache folder)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:40] or "model"

