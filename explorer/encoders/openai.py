"""OpenAI embeddings (``text-embedding-3-small`` and friends) over plain HTTP, with no SDK dependency.

Requests are batched (at most ``batch_size`` inputs and ``max_request_tokens`` tokens each, the API's own
per-request limits), retried with jittered exponential backoff on rate limits, server errors and timeouts
(honouring ``Retry-After``), and every failure the user can act on (missing or rejected key, unknown model,
exhausted quota) becomes a :class:`~explorer.core.errors.ModelError`.

Texts longer than the model's input limit are handled on purpose, per ``overflow``: cut to the limit
("truncate"), split into pieces whose embeddings are averaged weighted by length ("chunk", the method of
OpenAI's cookbook "Embedding texts that are longer than the model's maximum context length"), or refused
("error"). Either way it is counted (``truncated_count``, ``chunked_count``) and each :meth:`encode` that
did it warns with :class:`OverlongInputWarning`, naming how many texts.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from explorer.core.config import openai_api_key
from explorer.encoders.base import DEFAULT_CACHE, DefaultCache, Encoder, Kind, resolve_cache_dir
from explorer.encoders.tokens import TokenCounter
from explorer.core.errors import ModelError
from explorer.core.progress import Progress

logger = logging.getLogger(__name__)

OPENAI_URL = "https://api.openai.com/v1"
Overflow = Literal["truncate", "chunk", "error"]
KEY_HELP = "set the environment variable OPENAI_API_KEY, or pass api_key="


class OverlongInputWarning(UserWarning):
    """Some texts exceeded the model's input limit and were truncated or chunked."""


class _Retryable(Exception):
    """A failure worth retrying (429, 5xx, timeout, connection), with the server's suggested wait."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class OpenAIEncoder(Encoder):
    """Embeddings from OpenAI's ``/embeddings`` endpoint (or any server that speaks it).

    Args:
        model: embedding model name.
        api_key: the key; by default ``OPENAI_API_KEY`` from the environment.
        base_url: API root (change it for Azure-style gateways or compatible servers).
        http_client: an ``httpx.Client`` to send requests with (tests pass one on a ``MockTransport``).
        max_tokens: input limit per text, in tokens (8191 for OpenAI's embedding models).
        overflow: what to do with longer texts: "truncate", "chunk" (average of pieces) or "error".
        dimensions: ask text-embedding-3 models for shorter vectors; None keeps the native size.
        batch_size: inputs per request (the API allows up to 2048).
        max_retries: retries of one request after a rate limit, server error or timeout.
        max_request_tokens: token budget of one request (the API allows 300,000).
        timeout: seconds per request.
        cache_dir: embedding cache root; by default the settings' cache, None disables caching.

    Raises:
        ModelError: no API key was given or found.
        ValueError: invalid parameters.
    """

    def __init__(
        self,
        model: str = "text-embedding-3-small",
        api_key: str | None = None,
        *,
        base_url: str = OPENAI_URL,
        http_client: Any | None = None,
        max_tokens: int = 8191,
        overflow: Overflow = "truncate",
        dimensions: int | None = None,
        batch_size: int = 128,
        max_retries: int = 6,
        max_request_tokens: int = 300_000,
        timeout: float = 60.0,
        cache_dir: Path | str | None | DefaultCache = DEFAULT_CACHE,
    ) -> None:
        super().__init__(resolve_cache_dir(cache_dir))
        if overflow not in ("truncate", "chunk", "error"):
            raise ValueError(f"overflow must be 'truncate', 'chunk' or 'error', got {overflow!r}")
        for label, value in (("max_tokens", max_tokens), ("batch_size", batch_size), ("max_request_tokens", max_request_tokens)):
            if int(value) < 1:
                raise ValueError(f"{label} must be at least 1, got {value}")
        if dimensions is not None and int(dimensions) < 1:
            raise ValueError(f"dimensions must be a positive integer or None, got {dimensions}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        key = api_key or openai_api_key()
        if not key:
            raise ModelError(f"No OpenAI API key for the embeddings model {model!r}: {KEY_HELP}...")
        self.model, self.base_url = model, base_url.rstrip("/")
        self.name = f"openai:{model}"
        self.max_tokens, self.overflow, self.dimensions = int(max_tokens), overflow, dimensions
        self.batch_size, self.max_retries, self.max_request_tokens = int(batch_size), int(max_retries), int(max_request_tokens)
        self.timeout = float(timeout)
        self.truncated_count = 0
        self.chunked_count = 0
        self.tokens = TokenCounter(model)
        self._api_key = key
        self._client = http_client
        self._sleep: Callable[[float], None] = time.sleep  # tests swap it to skip the waits

    @property
    def fingerprint(self) -> str:
        """Model name plus everything that changes its vectors: server, dimensions, overflow handling."""
        identity = f"{self.base_url}|{self.model}|dims={self.dimensions}|{self.overflow}|{self.max_tokens}"
        return f"openai-{_slug(self.model)}-{hashlib.sha256(identity.encode()).hexdigest()[:16]}"

    @property
    def client(self) -> Any:
        """The httpx client (created on first use unless one was given)."""
        if self._client is None:
            import httpx

            self._client = httpx.Client(timeout=self.timeout)
        return self._client

    # ------------------------------------------------------------------------------------ public API
    def encode(self, texts: Sequence[str], kind: Kind = "passage", *, progress: Progress | None = None,
               batch_size: int | None = None, use_cache: bool = True) -> np.ndarray:
        """:meth:`Encoder.encode`, warning once per call if texts were truncated or chunked."""
        before = (self.truncated_count, self.chunked_count)
        out = super().encode(texts, kind, progress=progress, batch_size=batch_size, use_cache=use_cache)
        truncated, chunked = self.truncated_count - before[0], self.chunked_count - before[1]
        if truncated or chunked:
            handled = "truncated to the limit" if truncated else "split into chunks whose embeddings were averaged"
            message = (f"{self.name}: {truncated or chunked} of {len(texts)} texts were longer than {self.max_tokens} "
                       f"tokens and were {handled} (overflow={self.overflow!r}).")
            logger.warning(message)
            warnings.warn(message, OverlongInputWarning, stacklevel=2)
        return out

    def embed_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        # The API rejects empty strings; a blank text gets the vector of a single space.
        pieces = [self._fit(text if text.strip() else " ") for text in texts]
        flat = [piece for parts in pieces for piece in parts]
        vectors = self._embed_pieces(flat)
        rows, at = [], 0
        for parts in pieces:
            block = vectors[at : at + len(parts)]
            weights = [count for _, count in parts]
            rows.append(block[0] if len(parts) == 1 else np.average(block, axis=0, weights=weights))
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

    # ------------------------------------------------------------------------------------ HTTP
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
        from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

        backoff = wait_random_exponential(multiplier=0.5, max=30)

        def wait(state: Any) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, _Retryable) and exc.retry_after is not None:
                return min(max(exc.retry_after, 0.0), 60.0)
            return backoff(state)

        payload: dict[str, Any] = {"model": self.model, "input": inputs, "encoding_format": "float"}
        if self.dimensions is not None:
            payload["dimensions"] = int(self.dimensions)
        retrying = Retrying(stop=stop_after_attempt(self.max_retries + 1), wait=wait, sleep=lambda s: self._sleep(s),
                            retry=retry_if_exception_type(_Retryable), reraise=True)
        try:
            body = retrying(self._post, payload)
        except _Retryable as exc:
            raise ModelError(f"OpenAI embeddings failed after {self.max_retries + 1} attempts: {exc}. Try again later.") from exc
        except RetryError as exc:  # pragma: no cover - reraise=True makes tenacity raise the last error instead
            raise ModelError(f"OpenAI embeddings failed: {exc}") from exc
        return self._parse(body, len(inputs))

    def _post(self, payload: dict[str, Any]) -> Any:
        import httpx

        headers = {"Authorization": f"Bearer {self._api_key}"}
        try:
            response = self.client.post(f"{self.base_url}/embeddings", json=payload, headers=headers, timeout=self.timeout)
        except httpx.TimeoutException as exc:
            raise _Retryable(f"the request to {self.base_url} timed out") from exc
        except httpx.TransportError as exc:
            raise _Retryable(f"could not reach {self.base_url} ({exc})") from exc
        status, detail = response.status_code, _error_detail(response)
        if status == 429 and "insufficient_quota" in detail:
            raise ModelError(f"OpenAI refused the request: the account's quota is used up ({detail}); check billing.")
        if status == 429 or status >= 500:
            raise _Retryable(f"HTTP {status} ({detail})", _retry_after(response.headers))
        if status == 401:
            raise ModelError(f"The OpenAI API key was rejected (HTTP 401: {detail}); check OPENAI_API_KEY or {KEY_HELP}...")
        if status == 403:
            raise ModelError(f"The OpenAI API key may not use {self.model!r} (HTTP 403: {detail}).")
        if status == 404:
            raise ModelError(f"OpenAI has no embeddings model {self.model!r} (HTTP 404: {detail}); check the name.")
        if status >= 400:
            hint = " Install tiktoken for exact token counts, or lower max_tokens." if "token" in detail.lower() else ""
            raise ModelError(f"OpenAI rejected the request (HTTP {status}: {detail}).{hint}")
        try:
            return response.json()
        except ValueError as exc:
            raise _Retryable(f"HTTP {status} with a body that is not JSON") from exc

    def _parse(self, body: Any, expected: int) -> np.ndarray:
        try:
            items = sorted(body["data"], key=lambda item: item["index"])
            vectors = np.asarray([item["embedding"] for item in items], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{self.base_url}/embeddings answered with an unexpected body ({exc!r}).") from exc
        if vectors.ndim != 2 or vectors.shape[0] != expected:
            raise ModelError(f"{self.base_url}/embeddings returned {vectors.shape[0]} vectors for {expected} inputs.")
        return vectors


def _slug(name: str) -> str:
    """A model name made safe for a folder name (the fingerprint names a cache folder)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:40] or "model"


def _error_detail(response: Any) -> str:
    """The API's error message (and code) from a response, or its status text."""
    try:
        error = response.json().get("error") or {}
        return " ".join(str(part) for part in (error.get("message"), error.get("code")) if part) or response.reason_phrase
    except (ValueError, AttributeError):
        return response.reason_phrase or ""


def _retry_after(headers: Any) -> float | None:
    """Seconds the server asks to wait: ``retry-after-ms`` (OpenAI) or ``Retry-After`` (seconds or a date)."""
    if headers.get("retry-after-ms"):
        try:
            return float(headers["retry-after-ms"]) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None
