"""Answers: what a handler returns as an HTTP response, and every error in its API's format.

`respond` turns a handler's result into a response, as Connexion's response conversion does
(a body, or a `(body, status, headers)` tuple; JSON in the operation's JSON media type).
`Answers.for_error` is the only place an exception becomes an HTTP answer: an `ApiError` is sent
as it is; anything else becomes a `Failure` (status, title, detail) that the request's API
renders with its `render_failure` hook, else as its spec documents that status for the
operation, else as RFC 9457 problem details. `ErrorBoundary` is the pipeline step that calls
it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from enum import Enum
from typing import Any

from connexion.exceptions import ProblemException
from connexion.jsonifier import Jsonifier
from connexion.utils import is_json_mimetype
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockyard import negotiation
from mockyard.errors import ApiError, DropConnection, Failure, RequestRefused, reason_phrase
from mockyard.mocking import Responder
from mockyard.operations import Match, Operation, match_of
from mockyard.prefer import Preference, response_key
from mockyard.runtime import Runtime, default_failure, problem_text
from mockyard.xmlbody import to_xml

logger = logging.getLogger("mockyard")
JSONIFIER = Jsonifier()  # the serialisation Connexion's apps use: dates, decimals, UUIDs


def respond(op: Operation, result: Any, media_type: str | None = None) -> Response:
    """A handler's return value as a response: a Starlette `Response` as it is, else a body
    alone or a `(body, status)`, `(body, headers)` or `(body, status, headers)` tuple.

    `media_type` is the one the request's `Accept` chose: an XML one writes a dict or list
    as the XML its success schema describes; any other keeps the JSON answer."""
    if media_type is not None and negotiation.is_xml(media_type):
        result = _as_xml(op, result, media_type)
    if result.__class__ in (dict, list):  # the usual answer, built directly
        json_type = op.json_type
        return Response(JSONIFIER.dumps(result), 200, {"Content-Type": json_type}, None)
    if isinstance(result, Response):
        return result
    body, status, headers = _unpack(result)
    if isinstance(body, Response):
        return body
    headers = dict(headers or {})
    declared = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    media_type = declared or _media_type(op, body)
    if body is None:
        content: bytes | str = b""
    elif media_type and is_json_mimetype(media_type.split(";")[0]):
        content = JSONIFIER.dumps(body)
    elif isinstance(body, bytes | str):
        content = body
    else:
        content = str(body)
    if media_type and not declared:
        headers["Content-Type"] = media_type
    status = status if status is not None else (204 if body is None else 200)
    return Response(content, status, headers, media_type=None)


def _as_xml(op: Operation, result: Any, media_type: str) -> Any:
    """`result` with its dict or list body written as XML (and said to be so)."""
    if isinstance(result, Response):
        return result
    body, status, headers = _unpack(result)
    if not isinstance(body, dict | list):
        return result
    xml = to_xml(body, op.success_schema(media_type), op.document)
    return (
        xml,
        status if status is not None else 200,
        {"Content-Type": media_type, **(headers or {})},
    )


def _unpack(result: Any) -> tuple[Any, int | None, Mapping[str, str] | None]:
    if not isinstance(result, tuple):
        return result, None, None
    if len(result) == 1:
        return result[0], None, None
    if len(result) == 2:
        body, second = result
        if isinstance(second, Enum):
            second = second.value
        if isinstance(second, int):
            return body, int(second), None
        return body, None, second
    if len(result) == 3:
        return result[0], int(result[1]), result[2]
    raise TypeError(
        "a handler returns a body, or (body, status), (body, headers) or (body, status, headers)"
    )


def _media_type(op: Operation, body: Any) -> str | None:
    produces = op.produces
    if body is None:
        return None
    if isinstance(body, str):
        return next((t for t in produces if t.startswith("text/")), None) or (
            produces[0] if len(produces) == 1 else "text/plain"
        )
    if isinstance(body, bytes):
        return produces[0] if len(produces) == 1 else "application/octet-stream"
    return op.json_type


def asgi_response(error: ApiError) -> Response:
    """An `ApiError` as the response it stands for."""
    if error.body is None:
        body: bytes | str = b""
        media_type = None
    elif isinstance(error.body, bytes | str):
        body, media_type = error.body, error.media_type
    else:
        body, media_type = json.dumps(error.body).encode(), error.media_type
    return Response(body, error.status, error.headers, media_type=media_type)


def failure_for(exc: BaseException) -> Failure:
    """What an exception means for the client, in the engine's words."""
    if isinstance(exc, ProblemException):
        return Failure(exc.status or 500, exc.title or "", str(exc.detail or ""))
    if isinstance(exc, HTTPException):
        return Failure(exc.status_code, reason_phrase(exc.status_code), str(exc.detail or ""))
    if isinstance(exc, RequestRefused):
        return Failure(exc.status, exc.title, exc.detail, exc.param)
    if isinstance(exc, UnicodeDecodeError):
        return Failure(400, "Bad Request", "request body is not valid UTF-8")
    if isinstance(exc, ClientDisconnect):  # nobody is left to answer; not a server error either
        return Failure(400, "Bad Request", "the client went away before its body was read")
    logger.error("unhandled error", exc_info=exc)
    return Failure(500, "Internal Server Error", "")


def _names_no_resource(op: Operation, failure: Failure) -> bool:
    """A path parameter's value the operation cannot take (past its int64 bounds, say), on an
    operation that documents a 404 and no 400 or 422: its 404, as a value of the wrong type
    matches no route, rather than an invalid-input status the operation never answers."""
    if failure.status != 400 or not failure.param:
        return False
    documented = {str(k) for k in op.spec.get("responses") or {}}
    if "404" not in documented or documented & {"400", "422", "4XX", "4xx"}:
        return False
    return any(p["in"] == "path" and p["name"] == failure.param for p in op.parameters)


# What the engine found wrong, on an answer whose body is the spec's documented one (an
# example, a generated body, or none): that body cannot say it. Prism's `sl-violations` does
# the same.
PROBLEM_HEADER = "mockyard-problem"


def _header_text(text: str) -> str:
    """`text` as a header value: printable ASCII, anything else escaped as Python writes it
    (a fuzzed field name holds NULs and newlines, which no header may carry)."""
    return text.encode("unicode_escape").decode("ascii").strip()


class Answers:
    """Renders failures and errors for the API a request belongs to."""

    def __init__(self, runtime: Runtime, responder: Responder) -> None:
        self.runtime = runtime
        self.responder = responder

    def for_failure(self, match: Match, failure: Failure) -> ApiError:
        """The API's hook renders the failure; else the operation's documented answer for its
        status (its example or a body valid for its schema); else RFC 9457.

        The operation is the one matched, or for a 404 the one the path would reach were its
        parameters of their types. A request it finds invalid (400) is its 422 when it
        documents that and no 400, as APIs that answer validation errors with 422 do."""
        hooks = self.runtime.hooks(match.api)
        op = match.operation or match.near
        if op is not None and _names_no_resource(op, failure):
            failure = Failure(404, "Not Found", failure.detail, failure.param)
        if hooks.renders_failures or op is None:
            return hooks.render_failure(failure)
        documented = op.spec.get("responses") or {}
        invalid = failure.status == 400 and response_key(400, documented) in (None, "default")
        if invalid and "422" in {str(k) for k in documented}:
            failure = Failure(422, "Unprocessable Content", failure.detail, failure.param)
        try:
            answer = self.responder.answer(op, {}, Preference(code=failure.status))
        except ApiError:  # the operation documents nothing for this status
            return default_failure(failure)
        return ApiError(
            answer.status,
            answer.body if answer.media_type else None,
            headers={**answer.headers, PROBLEM_HEADER: _header_text(problem_text(failure))},
            media_type=answer.media_type or "application/json",
        )

    def for_error(self, scope: Mapping[str, Any], exc: BaseException) -> ApiError:
        """Any exception as the answer to the request it ended."""
        if isinstance(exc, ApiError):
            return exc
        failure = failure_for(exc)
        rendered = self.for_failure(match_of(scope), failure)
        if rendered.status == failure.status:  # keep what the status needs (Allow, Retry-After)
            rendered.headers = {**(getattr(exc, "headers", None) or {}), **rendered.headers}
        return rendered


_STARTED_KEY = "mockyard.started"


class _Started:
    """Whether the response has started: once it has, an error can only end the exchange, not
    be answered. It rides on the scope for the inner boundaries and holds no reference to the
    server's `send`: the server's request object holds the scope, so a `send` on the scope would
    make every request a reference cycle, left to the cyclic collector (20 objects a request,
    3% of a validate's time in collections)."""

    __slots__ = ("started",)

    def __init__(self) -> None:
        self.started = False


class _Sent:
    """The server's `send`, noting the response's start in `state`."""

    __slots__ = ("send", "state")

    def __init__(self, send: Send, state: _Started) -> None:
        self.send = send
        self.state = state

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.state.started = True
        await self.send(message)


class ErrorBoundary:
    """Pipeline step: whatever a request ends with (a refusal, an `ApiError`, a validation
    problem, a bug) answered in its API's own format, never the server's plain-text 500.

    The pipeline has three (see `mockyard.app`): one outermost, for what the layers outside the
    others raise; one inside CORS and the journal, so both see the answer; one inside
    Idempotency, which keeps the answer. A drop a control asked for still closes the
    connection; an error after the response started can only end it. Only the outermost
    watches `send` for the start (one wrapper a request, not one a boundary); the inner ones
    read its note on the scope."""

    def __init__(self, app: ASGIApp, answers: Answers) -> None:
        self.app = app
        self.answers = answers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        progress = scope.get(_STARTED_KEY)
        if progress is None:  # the outermost boundary watches what leaves; the inner ones ask it
            progress = scope[_STARTED_KEY] = _Started()
            send = _Sent(send, progress)
        try:
            await self.app(scope, receive, send)
        except DropConnection:
            raise
        except Exception as exc:
            if progress.started:
                logger.error("error after the response started", exc_info=exc)
                raise
            try:
                await asgi_response(self.answers.for_error(scope, exc))(scope, receive, send)
            finally:
                _drop_frames(exc)


def _drop_frames(exc: BaseException) -> None:
    """Let an answered exception go with its request. Its traceback holds the frames it passed
    through, whose locals often hold it again (the refusals an authentication collected, a
    validator's errors): a cycle that only the collector frees, 50-80 objects a refusal."""
    pending: list[BaseException | None] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        current.__traceback__ = None
        pending += (current.__cause__, current.__context__)
