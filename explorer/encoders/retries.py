"""Retries around the official ``openai`` client, and one-line messages for its failures.

The client runs with ``max_retries=0`` (its own retries are silent); :func:`retrying` retries what is worth
retrying (:func:`should_retry`: rate limits, 408/409, server errors, timeouts, refused connections) with
tenacity, waiting exactly what the server asks (``retry-after-ms``, then ``Retry-After`` in seconds or as a
date, up to :data:`MAX_SERVER_WAIT`), else jittered exponential backoff, and tells ``report`` before each
wait. :func:`describe_failure` turns a final failure into the message for the user: the status, a short error
code at most, and the fix; never the server's text, which may echo the key (OpenAI's 401 does, masked).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tenacity import Retrying, RetryCallState, stop_after_attempt, wait_random_exponential

from explorer.encoders.netguard import blocked_cause

MAX_SERVER_WAIT = 120.0
"""The longest wait a server may ask for (seconds); asked for more, the pass fails with a message instead."""
RETRY_STATUSES = (408, 409, 429)
CONNECT_ATTEMPTS = 3
"""Attempts at most when the connection is refused (see :func:`should_retry`)."""
QUOTA_CODES = ("insufficient_quota", "billing_hard_limit_reached")
Report = Callable[[float, str, int], None]
"""``report(seconds, why, attempt)`` before a wait: ``attempt`` is the number of the attempt that failed."""


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of an openai API error, or None."""
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def is_quota(exc: BaseException) -> bool:
    """Whether a 429 says the account's quota is used up (not worth retrying) rather than a rate limit."""
    fields = (getattr(exc, "code", None), getattr(exc, "type", None))
    return status_of(exc) == 429 and any(str(f) in QUOTA_CODES for f in fields if f)


def server_wait(exc: BaseException) -> float | None:
    """Seconds the server asks to wait before retrying: ``retry-after-ms`` (OpenAI) or ``Retry-After``."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    if headers.get("retry-after-ms"):
        try:
            return max(0.0, float(headers["retry-after-ms"]) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def is_retryable(exc: BaseException) -> bool:
    """Whether a failed request may succeed if sent again (see the module docstring)."""
    import openai

    if blocked_cause(exc) is not None:
        return False
    if isinstance(exc, openai.APIConnectionError):
        return True
    status = status_of(exc)
    if status is None or is_quota(exc):
        return False
    if (server_wait(exc) or 0.0) > MAX_SERVER_WAIT:
        return False
    return status in RETRY_STATUSES or status >= 500


def reason(exc: BaseException) -> str:
    """Why a request is retried, in a few words (no server text)."""
    import openai

    status = status_of(exc)
    if isinstance(exc, openai.APITimeoutError):
        return "the request timed out"
    if isinstance(exc, openai.APIConnectionError):
        return "the server could not be reached"
    if status == 429:
        return "rate limited by the server (HTTP 429)"
    return f"the server answered HTTP {status}"


class ServerWait:
    """tenacity wait: the server's ``Retry-After`` when it gave one, else jittered exponential backoff."""

    def __init__(self) -> None:
        self.backoff = wait_random_exponential(multiplier=0.5, max=30)

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = server_wait(exc) if exc is not None else None
        return asked if asked is not None else self.backoff(state)


def should_retry(state: RetryCallState) -> bool:
    """tenacity retry test: :func:`is_retryable`, except that a refused connection (nothing listening: a wrong
    base URL or a server not started, rarely a passing fault) is tried :data:`CONNECT_ATTEMPTS` times at most."""
    import openai

    exc = state.outcome.exception() if state.outcome else None
    if exc is None or not is_retryable(exc):
        return False
    refused = isinstance(exc, openai.APIConnectionError) and not isinstance(exc, openai.APITimeoutError)
    return not (refused and state.attempt_number >= CONNECT_ATTEMPTS)


def attempts_made(retry: Retrying) -> int:
    """How many attempts the last call of ``retry`` made."""
    return int(retry.statistics.get("attempt_number", 1))


def retrying(max_retries: int, *, sleep: Callable[[float], None], report: Report) -> Retrying:
    """A tenacity ``Retrying`` (call it with the function and its arguments) for one request."""
    return Retrying(
        stop=stop_after_attempt(max_retries + 1), wait=ServerWait(), retry=should_retry,
        sleep=sleep, reraise=True,
        before_sleep=lambda state: report(state.next_action.sleep, reason(state.outcome.exception()),
                                          state.attempt_number),
    )


def describe_failure(exc: BaseException, *, host: str, base_url: str, model: str, dimensions: int | None,
                     attempts: int) -> str | None:
    """The one-line message for a request that failed for good, or None for an error that is not the API's
    (a bug, to be raised as it is)."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return (f"{host} did not answer in time, {attempts} times; try again later, or check that the server at "
                f"{base_url} is up.")
    if isinstance(exc, openai.APIConnectionError):
        return (f"Cannot connect to {base_url} (tried {attempts} times); check the base URL (--base-url or "
                "OPENAI_BASE_URL) and that the server is running.")
    status = status_of(exc)
    if status is None:
        return f"The OpenAI client failed ({type(exc).__name__}); check the model spec and the key." if isinstance(
            exc, openai.OpenAIError) else None
    code = _code(exc)
    tag = f"HTTP {status}{', ' + code if code else ''}"
    if 300 <= status < 400:
        return (f"{host} answered with a redirect ({tag}), which is not followed; give the address it redirects to "
                "as the base URL.")
    if status == 401:
        return f"{host} rejected the API key ({tag}); check the key (the API key field in the app, OPENAI_API_KEY on the command line): a current key of this provider."
    if status == 403:
        return (f"The API key may not use {model!r} at {host} ({tag}); check the key's project permissions, or "
                "pick another model.")
    if status == 404:
        return (f"{host} has no embeddings model {model!r} ({tag}); check the model name, and that the base URL "
                f"({base_url}) is the API root, usually ending in /v1.")
    if is_quota(exc):
        return (f"The account behind the API key has no quota left ({tag}); add credit in its billing settings, "
                "or use another key.")
    if status == 429 or status >= 500 or status in RETRY_STATUSES:
        wait = server_wait(exc)
        if wait is not None and wait > MAX_SERVER_WAIT:
            return f"{host} asks to wait {wait:.0f} s before the next request ({tag}); run again later."
        return (f"{host} still answered {tag} after {attempts} attempts; try again later (texts already embedded "
                "are cached and not sent again).")
    dims = f", that it supports dimensions={dimensions}" if dimensions else ""
    return (f"{host} refused the request ({tag}); check that {model!r} is an embeddings model it serves{dims}, "
            "and that the texts fit its input limit (lower max_tokens).")


def _code(exc: BaseException) -> str:
    """The error's short code ("invalid_api_key", "model_not_found"), or "" when it has none or it is not a
    plain identifier (a code is shown; a message never is)."""
    import re

    code = getattr(exc, "code", None) or getattr(exc, "type", None)
    return code if isinstance(code, str) and re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", code) else ""
