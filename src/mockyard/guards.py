"""Request guards that run before anything parses a body: its size, and that it says what it is."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockyard.errors import RequestRefused

DEFAULT_MAX_BODY = 1024 * 1024


class BodyTooLarge(RequestRefused):
    """A request body larger than the sandbox accepts."""

    status = 413
    title = "Content Too Large"


class UntypedBody(RequestRefused):
    """A request body without a Content-Type: Connexion would validate it as one type and hand
    the handler raw bytes, so it is refused instead."""

    status = 415
    title = "Unsupported Media Type"


class RequestGuardMiddleware:
    """Refuses bodies over `max_body` bytes (by Content-Length or as they stream in) and bodies
    that carry no Content-Type."""

    def __init__(self, app: ASGIApp, max_body: int = DEFAULT_MAX_BODY) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            raise BodyTooLarge(f"request body over {self.max_body} bytes")
        has_body = (length not in (None, b"0")) or b"transfer-encoding" in headers
        if has_body and not headers.get(b"content-type"):
            raise UntypedBody("a request body needs a Content-Type")
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                raise BodyTooLarge(f"request body over {self.max_body} bytes")
            return message

        await self.app(scope, limited_receive, send)
