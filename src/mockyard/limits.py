"""Request-size guard: bodies over the limit are refused before anything parses them."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockyard.errors import RequestRefused

DEFAULT_MAX_BODY = 1024 * 1024


class BodyTooLarge(RequestRefused):
    """A request body larger than the sandbox accepts."""

    status = 413
    title = "Content Too Large"


class BodyLimitMiddleware:
    """Refuses bodies over `max_body` bytes, by Content-Length or while they stream in."""

    def __init__(self, app: ASGIApp, max_body: int = DEFAULT_MAX_BODY) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and (not value.isdigit() or int(value) > self.max_body):
                raise BodyTooLarge(f"request body over {self.max_body} bytes")
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                raise BodyTooLarge(f"request body over {self.max_body} bytes")
            return message

        await self.app(scope, limited_receive, send)
