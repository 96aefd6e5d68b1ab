"""Turning errors into HTTP responses, each in the format its API documents.

This is the only place that does so. Handler errors (`ApiError`) pass through as they are; every
other exception becomes a `Failure` that the request's API renders (`render_failure` hook).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from mockyard.errors import ApiError, Failure, RequestRefused
from mockyard.routing import Runtime

logger = logging.getLogger("mockyard")


def to_response(error: ApiError) -> ConnexionResponse:
    if error.body is None:
        body, mimetype = b"", None
    elif isinstance(error.body, bytes | str):
        body, mimetype = error.body, error.media_type
    else:
        body, mimetype = json.dumps(error.body).encode(), error.media_type
    return ConnexionResponse(
        status_code=error.status, body=body, mimetype=mimetype, headers=error.headers
    )


def asgi_response(error: ApiError) -> Response:
    """The same answer as `to_response`, for middleware that runs outside Connexion."""
    answer = to_response(error)
    return Response(
        answer.body, answer.status_code, dict(answer.headers or {}), media_type=answer.mimetype
    )


def failure_for(exc: BaseException) -> Failure:
    """What an exception means for the client, in the engine's words."""
    if isinstance(exc, ProblemException):
        return Failure(exc.status, exc.title or "", str(exc.detail or ""))
    if isinstance(exc, HTTPException):
        return Failure(exc.status_code, _reason(exc.status_code), str(exc.detail or ""))
    if isinstance(exc, RequestRefused):
        return Failure(exc.status, exc.title, exc.detail)
    if isinstance(exc, UnicodeDecodeError):
        return Failure(400, "Bad Request", "request body is not valid UTF-8")
    if isinstance(exc, ClientDisconnect):  # nobody is left to answer; not a server error either
        return Failure(400, "Bad Request", "the client went away before its body was read")
    logger.error("unhandled error", exc_info=exc)
    return Failure(500, "Internal Server Error", "")


def exception_response(
    runtime: Runtime, scope: Mapping[str, Any], exc: BaseException, operation_id: str | None = None
) -> ApiError:
    """Any exception but an `ApiError`, in the format of the API the request was for."""
    failure = failure_for(exc)
    rendered = runtime.render_failure(scope, failure, operation_id)
    if rendered.status == failure.status:  # keep what the status needs (Allow, Retry-After)
        rendered.headers = {**(getattr(exc, "headers", None) or {}), **rendered.headers}
    return rendered


def error_handlers(runtime: Runtime) -> dict[type[BaseException], Any]:
    """Connexion error handlers: exception class -> handler(request, exc)."""

    def api_error(_request: ConnexionRequest, exc: ApiError) -> ConnexionResponse:
        return to_response(exc)

    def engine_error(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        return to_response(exception_response(runtime, request.scope, exc))

    # Connexion registers its own ProblemException and HTTPException handlers; replace them too.
    return {
        ApiError: api_error,
        ProblemException: engine_error,
        HTTPException: engine_error,
        Exception: engine_error,
    }


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
