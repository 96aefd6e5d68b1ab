"""The `Replay` step: a request `mockyard proxy --record` recorded gets the answer it got.

A recorded operation lists its recordings under `x-mockyard-recorded` (see `recording`): the
request (path, query, body) and the answer (status, the named example holding the body, its
media type and documented headers). A request matches a recording, as WireMock's recorded
stubs match, when its path is the same, its query has the same pairs in any order and its
body is the same (JSON compared as JSON); a recorded `[redacted]` value matches any value.
Headers are not compared. When one request was recorded with several answers they are given
in the order they were recorded, the last one repeating, counted in the store (so across
workers, from zero again at each reset).

A request with a `Prefer` header asks for a particular mock answer and is not replayed; a
request no recording matches goes on to the sandbox as usual. The step sits after `Identify`
and `Guards`, so a replayed request still needs credentials the sandbox accepts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockyard.asgi_scope import header, query_pairs
from mockyard.guards import replay
from mockyard.journal import REDACTED
from mockyard.operations import Operation, deref, match_of
from mockyard.runtime import Runtime

RECORDED = "x-mockyard-recorded"


def recordings(op: Operation) -> list[Mapping[str, Any]]:
    found = op.spec.get(RECORDED)
    return [r for r in found if isinstance(r, Mapping)] if isinstance(found, list) else []


class Replay:
    """Pipeline step: the recorded answer to a recorded request (see the module docstring)."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        op = match_of(scope).operation
        recorded = recordings(op) if op is not None and scope["type"] == "http" else []
        if not recorded or header(scope, b"prefer") is not None:
            await self.app(scope, receive, send)
            return
        query = by_name(query_pairs(scope))
        candidates = [
            r
            for r in recorded
            if _request(r).get("path") == scope["path"]
            and _same(_request(r).get("query", []), query)
        ]
        if not candidates:
            await self.app(scope, receive, send)
            return
        messages, body = await _read(receive)
        content_type = (header(scope, b"content-type") or "").lower()
        matching = [r for r in candidates if _body_matches(_request(r), body, content_type)]
        if not matching:
            await self.app(scope, replay(messages, receive), send)
            return
        assert op is not None
        chosen = matching[0]
        if len(matching) > 1:
            turn = await run_in_threadpool(self._turn, op, scope["path"], query, body)
            chosen = matching[min(turn, len(matching)) - 1]
        await _answer(op, chosen)(scope, replay(messages, receive), send)

    def _turn(self, op: Operation, path: str, query: list[list[str]], body: bytes) -> int:
        """How many times this request was replayed, this one included (1 the first time)."""
        digest = hashlib.sha256(json.dumps([path, query]).encode() + body).hexdigest()[:16]
        counter = f"replay-{op.operation_id}-{digest}"
        return int(self.runtime.store.run(lambda tx: tx.api(op.api).sequence(counter), write=True))


def by_name(pairs: Any) -> list[list[str]]:
    """Query pairs in a canonical order: by name, a repeated name's values as sent."""
    return sorted(([str(k), str(v)] for k, v in pairs), key=lambda pair: pair[0])


def _request(recording: Mapping[str, Any]) -> Mapping[str, Any]:
    request = recording.get("request")
    return request if isinstance(request, Mapping) else {}


async def _read(receive: Receive) -> tuple[list[Message], bytes]:
    messages: list[Message] = []
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        messages.append(message)
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return messages, body


def _same(recorded: Any, seen: Any) -> bool:
    """Equal, where a recorded `[redacted]` stands for any value."""
    if recorded == REDACTED:
        return True
    if isinstance(recorded, Mapping) and isinstance(seen, Mapping):
        return recorded.keys() == seen.keys() and all(_same(recorded[k], seen[k]) for k in seen)
    if isinstance(recorded, list) and isinstance(seen, list):
        return len(recorded) == len(seen) and all(map(_same, recorded, seen))
    return bool(recorded == seen and type(recorded) is type(seen))


def _body_matches(request: Mapping[str, Any], body: bytes, content_type: str) -> bool:
    if "body" not in request:
        return not body
    if "json" in content_type:
        try:
            return _same(request["body"], json.loads(body))
        except ValueError:
            return False
    return bool(request["body"] == body.decode("utf-8", "replace"))


def _answer(op: Operation, recording: Mapping[str, Any]) -> Response:
    """The recorded answer: its status, documented headers and the example's body."""
    status = int(recording.get("status", 200))
    headers = {str(k): str(v) for k, v in (recording.get("headers") or {}).items()}
    media_type = recording.get("media_type")
    name = recording.get("example")
    if not media_type or not name:
        return Response(b"", status, headers)
    value = _example(op, str(media_type), str(name))
    if isinstance(value, str) and "json" not in str(media_type):
        content = value.encode()
    else:
        content = json.dumps(value).encode()
    headers["content-type"] = str(media_type)
    return Response(content, status, headers)


def _example(op: Operation, media_type: str, name: str) -> Any:
    """The value of the named example recorded for `status` (looked for under every response:
    the recording names it, whichever key documents the status)."""
    for response in (op.spec.get("responses") or {}).values():
        media = ((deref(op.document, response) or {}).get("content") or {}).get(media_type) or {}
        example = deref(op.document, (media.get("examples") or {}).get(name))
        if isinstance(example, Mapping) and "value" in example:
            return example["value"]
    return None
