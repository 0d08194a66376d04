"""A fake OpenAI-compatible ``/v1/embeddings`` server on pytest-httpserver (real HTTP on 127.0.0.1), for the
encoder's tests: deterministic vectors per text, and scripted failures before them."""

from __future__ import annotations

import hashlib
import json

import numpy as np
from werkzeug import Request, Response

PATH = "/v1/embeddings"


def vector_of(text: str, dim: int = 8) -> list[float]:
    """The fake server's embedding of ``text``: deterministic, distinct per text, unit length."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
    v = np.random.default_rng(seed).normal(size=dim)
    return (v / np.linalg.norm(v)).tolist()


def error(status: int, message: str, code: str | None = None, headers: dict | None = None) -> Response:
    """An OpenAI-style error response."""
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}
    return Response(json.dumps(body), status=status, headers=headers or {}, content_type="application/json")


class EmbeddingsHandler:
    """Answers embedding requests: ``script`` responses first (one per request), then vectors.

    Attributes:
        requests: every request's JSON body; ``authorizations`` their Authorization headers.
        count, dim, honour_dimensions: tamper with the answer (vectors per request, their size) to test the
            checks.
    """

    def __init__(self, *script: Response, dim: int = 8) -> None:
        self.script = list(script)
        self.requests: list[dict] = []
        self.authorizations: list[str] = []
        self.dim, self.count, self.honour_dimensions = dim, None, True

    def __call__(self, request: Request) -> Response:
        payload = json.loads(request.get_data())
        self.requests.append(payload)
        self.authorizations.append(request.headers.get("Authorization", ""))
        if self.script:
            return self.script.pop(0)
        inputs = payload["input"] if isinstance(payload["input"], list) else [payload["input"]]
        asked = payload.get("dimensions") if self.honour_dimensions else None
        dim = asked or self.dim
        data = [{"object": "embedding", "index": i, "embedding": vector_of(t, dim)} for i, t in enumerate(inputs)]
        if self.count is not None:
            data = data[: self.count]
        body = {"object": "list", "data": data, "model": payload["model"],
                "usage": {"prompt_tokens": sum(len(t.split()) for t in inputs), "total_tokens": 0}}
        return Response(json.dumps(body), status=200, content_type="application/json")


def serve(httpserver, *script: Response, dim: int = 8) -> EmbeddingsHandler:
    """Install an :class:`EmbeddingsHandler` on ``httpserver`` and return it."""
    handler = EmbeddingsHandler(*script, dim=dim)
    httpserver.expect_request(PATH, method="POST").respond_with_handler(handler)
    return handler
