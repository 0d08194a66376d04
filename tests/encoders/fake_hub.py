"""A local HTTP server shaped like the Hugging Face hub, as huggingface_hub 2.x calls it: model info with file
metadata (``GET /api/models/<id>``), the file tree (``GET /api/models/<id>/tree/<commit>``) and the files
themselves (``HEAD``/``GET /<id>/resolve/<commit>/<file>``). Unknown ids answer 404 ``RepoNotFound``, gated
ones 403 ``GatedRepo``, as the real hub does. Every request is kept in ``requests``."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

from werkzeug import Request, Response

SHA = "0123456789abcdef0123456789abcdef01234567"
_INFO = re.compile(r"^/api/models/([^/]+/[^/]+)(?:/revision/[^/]+)?$")
_TREE = re.compile(r"^/api/models/([^/]+/[^/]+)/tree/[^/]+$")
_FILE = re.compile(r"^/([^/]+/[^/]+)/resolve/[^/]+/(.+)$")


@dataclass
class FakeHub:
    """Repositories by id (file name -> bytes), the ids that are gated, and the requests heard."""

    repos: dict[str, dict[str, bytes]] = field(default_factory=dict)
    gated: set[str] = field(default_factory=set)
    requests: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, request: Request) -> Response:
        self.requests.append((request.method, request.path))
        for pattern in (_INFO, _TREE, _FILE):
            match = pattern.match(request.path)
            if match:
                break
        else:
            return _error(404, "EntryNotFound")
        repo_id = match[1]
        if repo_id in self.gated:
            return _error(403, "GatedRepo")
        if repo_id not in self.repos:
            return _error(404, "RepoNotFound")
        files = self.repos[repo_id]
        if pattern is _INFO:
            siblings = [{"rfilename": n, "size": len(b), "blobId": _oid(b)} for n, b in files.items()]
            return _json({"id": repo_id, "modelId": repo_id, "sha": SHA, "siblings": siblings})
        if pattern is _TREE:
            return _json([{"type": "file", "path": n, "size": len(b), "oid": _oid(b)} for n, b in files.items()])
        body = files.get(match[2])
        if body is None:
            return _error(404, "EntryNotFound")
        return Response(body, headers={"X-Repo-Commit": SHA, "ETag": f'"{_oid(body)}"'})

    def downloads(self) -> list[str]:
        """Files fetched with GET, in order."""
        return [path.split("/resolve/", 1)[1].split("/", 1)[1] for method, path in self.requests
                if method == "GET" and "/resolve/" in path]


def _oid(body: bytes) -> str:
    return hashlib.sha1(body).hexdigest()


def _json(data: object) -> Response:
    return Response(json.dumps(data), content_type="application/json")


def _error(status: int, code: str) -> Response:
    return Response(json.dumps({"error": code}), status=status, content_type="application/json",
                    headers={"X-Error-Code": code, "X-Error-Message": code})
