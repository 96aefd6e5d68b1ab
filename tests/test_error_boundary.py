"""The error boundaries: an error before the response starts is answered once, in the API's
format, by the innermost boundary; one after it has started ends the exchange unanswered."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from mockyard.errors import ApiError
from mockyard.responses import ErrorBoundary


class _Answers:
    """Renders every error as the API's 500 body, and counts how often it was asked."""

    def __init__(self) -> None:
        self.asked = 0

    def for_error(self, scope: Any, exc: BaseException) -> ApiError:
        self.asked += 1
        return ApiError(500, {"error": str(exc)})


def _serve(app: Any) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    asyncio.run(app(scope, receive, send))
    return sent


def _nested(app: Any, answers: _Answers) -> Any:
    """Two boundaries with a step between them, as the pipeline nests them."""

    async def step(scope: Scope, receive: Receive, send: Send) -> None:
        await ErrorBoundary(app, answers)(scope, receive, send)

    return ErrorBoundary(step, answers)


def test_an_error_before_the_response_is_answered_once_by_the_inner_boundary() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    answers = _Answers()
    sent = _serve(_nested(app, answers))
    assert answers.asked == 1
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 500
    assert sent[1]["body"] == b'{"error": "boom"}'


def test_an_error_after_the_response_started_is_not_answered_again() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("mid-body")

    answers = _Answers()
    with pytest.raises(RuntimeError, match="mid-body"):
        _serve(_nested(app, answers))
    assert answers.asked == 0
