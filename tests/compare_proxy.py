"""A deliberately different deployment for the `mockyard compare` tests: a proxy that forwards
every request to a sandbox and changes one behaviour of the answers, chosen by `proxy.change`.

Each change touches one operation of the Chargebee sandbox (through its /api/v2 mount), so a
test can check that the comparison names that operation and no other. Nothing here is part of
the product.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response

Json = Any
# change -> (the operation it touches, what it does to a matching answer's status and body)
Rewrite = Callable[[int, Json], tuple[int, Json]]


def _status(status: int, body: Json) -> tuple[int, Json]:
    return (410 if status == 404 else status), body


def _drop_field(status: int, body: Json) -> tuple[int, Json]:
    if status == 200:
        for item in body["list"]:
            item["transaction"].pop("amount", None)
    return status, body


def _type_change(status: int, body: Json) -> tuple[int, Json]:
    if status == 200:
        body["customer"]["id"] = 7
    return status, body


def _error_format(status: int, body: Json) -> tuple[int, Json]:
    if status >= 400:
        return status, {"error": {"code": status, "text": body.get("message")}}
    return status, body


def _error_message(status: int, body: Json) -> tuple[int, Json]:
    if status >= 400:
        body["message"] = "Something went wrong"
    return status, body


def _same(status: int, body: Json) -> tuple[int, Json]:
    return status, body


# change -> (operation label, its path under /api/v2, the rewrite, extra response headers)
CHANGES: dict[str, tuple[str, str, Rewrite, dict[str, str]]] = {
    "status": ("GET /customers/{customer-id}", r"/customers/[^/]+", _status, {}),
    "dropped-field": ("GET /transactions", r"/transactions", _drop_field, {}),
    "type-change": ("GET /customers/{customer-id}", r"/customers/[^/]+", _type_change, {}),
    "error-format": ("GET /invoices/{invoice-id}", r"/invoices/[^/]+", _error_format, {}),
    "error-message": (
        "GET /transactions/{transaction-id}",
        r"/transactions/[^/]+",
        _error_message,
        {},
    ),
    "header": ("GET /transactions", r"/transactions", _same, {"X-RateLimit-Remaining": "99"}),
}

_HOP = {"host", "content-length", "connection", "transfer-encoding"}


class Proxy:
    """ASGI app: forwards to `upstream`, then applies `CHANGES[self.change]` (none when "")."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.change = ""
        self.seen: list[tuple[str, str, str, bytes, str]] = []  # method, path, query, body, auth
        self.client: httpx.AsyncClient | None = None  # opened and closed with the server's loop

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        request = Request(scope, receive)
        body = await request.body()
        if not request.url.path.startswith("/__mockyard/"):
            auth = request.headers.get("authorization", "")
            self.seen.append((request.method, request.url.path, request.url.query, body, auth))
        assert self.client is not None
        # Forwarded as received, byte for byte: generated cases send odd paths and headers.
        raw = scope["raw_path"] + (b"?" + scope["query_string"] if scope["query_string"] else b"")
        upstream = httpx.URL(self.upstream).copy_with(raw_path=raw)
        headers = [(k, v) for k, v in scope["headers"] if k.decode("latin-1").lower() not in _HOP]
        forwarded = await self.client.send(
            httpx.Request(request.method, upstream, headers=headers, content=body)
        )
        response = self._changed(request.url.path, forwarded)
        await response(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.client = httpx.AsyncClient(base_url=self.upstream, timeout=30)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.client is not None:
                    await self.client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _changed(self, path: str, answer: httpx.Response) -> Response:
        headers = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP}
        headers.pop("content-encoding", None)
        status, content = answer.status_code, answer.content
        if self.change:
            _, pattern, rewrite, extra = CHANGES[self.change]
            if re.fullmatch(f"/api/v2{pattern}", path):
                headers.update(extra)
                if "json" in headers.get("content-type", "") and content:
                    status, body = rewrite(status, json.loads(content))
                    content = json.dumps(body).encode()
        return Response(content, status_code=status, headers=headers)
