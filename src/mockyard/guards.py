"""Request guards that run before anything parses a body: the size of the headers and of the
body, that a body says what it is, and that a chunked body reaches the validators whole."""

from __future__ import annotations

from itertools import chain

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockyard import auth
from mockyard.errors import BodyTooLarge, HeadersTooLarge, RequestRefused, UntypedBody

DEFAULT_MAX_BODY = 1024 * 1024
DEFAULT_MAX_HEADERS = 32 * 1024


class Guards:
    """Pipeline step: refuses headers over `max_headers` bytes in all, bodies over `max_body`
    bytes (by Content-Length, or as a chunked one streams in) and bodies that carry no
    Content-Type.

    A chunked body (no Content-Length) is read here, within `max_body`, and passed on with its
    length: Connexion's validators take a request without Content-Length for one without a body.
    A body with a Content-Length within the limit needs no counting: HTTP/1.1's framing ends it
    there (the server reads what follows as the next request, or refuses it).
    The request's caller is named before any refusal, so a 401 still comes first.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_body: int = DEFAULT_MAX_BODY,
        max_headers: int = DEFAULT_MAX_HEADERS,
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.max_headers = max_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_headers = scope.get("headers", [])
        if _size(raw_headers) > self.max_headers:
            raise _refusal(scope, HeadersTooLarge(f"headers over {self.max_headers} bytes in all"))
        headers = dict(raw_headers)
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            raise _refusal(scope, self._too_large())
        chunked = length is None and b"transfer-encoding" in headers
        has_body = (length not in (None, b"0")) or chunked
        if has_body and not headers.get(b"content-type"):
            raise _refusal(scope, UntypedBody("a request body needs a Content-Type"))
        media_type = headers.get(b"content-type", b"").partition(b";")[0]
        if media_type != media_type.lower():
            scope = {**scope, "headers": _with_media_type(raw_headers)}
        if chunked:
            body = await self._read_all(scope, receive)
            scope = {**scope, "headers": _with_length(scope["headers"], len(body))}
            receive = replay([{"type": "http.request", "body": body, "more_body": False}], receive)
        await self.app(scope, receive, send)

    def _too_large(self) -> BodyTooLarge:
        return BodyTooLarge(f"request body over {self.max_body} bytes")

    async def _read_all(self, scope: Scope, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _refusal(scope, self._too_large())
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _size(raw_headers: list[tuple[bytes, bytes]]) -> int:
    """The headers' size as sent: `name: value` and CRLF each."""
    return sum(map(len, chain.from_iterable(raw_headers))) + 4 * len(raw_headers)


def _refusal(scope: Scope, refusal: RequestRefused) -> RequestRefused:
    """`refusal`, once the request's caller is named: a 401, 403 or 429 comes first."""
    auth.settle(scope)
    return refusal


def _with_media_type(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Media types are case-insensitive (RFC 9110 8.3.1), but Connexion validates `APPLICATION/JSON`
    as JSON and then hands the handler raw bytes: the type is passed on in lower case."""
    kept = []
    for name, value in headers:
        if name == b"content-type":
            media_type, sep, rest = value.partition(b";")
            value = media_type.lower() + sep + rest
        kept.append((name, value))
    return kept


def _with_length(headers: list[tuple[bytes, bytes]], length: int) -> list[tuple[bytes, bytes]]:
    kept = [(k, v) for k, v in headers if k not in (b"transfer-encoding", b"content-length")]
    return [*kept, (b"content-length", str(length).encode())]


def replay(messages: list[Message], receive: Receive) -> Receive:
    """`receive` with `messages` (already read from it) handed out again first."""
    pending = iter(list(messages))

    async def replayed() -> Message:
        for message in pending:
            return message
        return await receive()  # after the body: wait for the disconnect, as uvicorn does

    return replayed
