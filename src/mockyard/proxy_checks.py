"""The spec's verdict on one proxied exchange: openapi-core validates the request and the
response against the effective (merged) spec, and each problem becomes a `Violation`.

Violations are named like the Schemathesis checks a contract run reports, so a proxy's report
reads like a contract run's: `status_code_conformance` (a status the operation does not
document), `content_type_conformance` (a media type it does not document for that status),
`response_schema_conformance` (a body its schema refuses), `response_headers_conformance` (a
documented header missing or invalid), and `request_conformance` (a request the spec refuses:
a parameter, a body, missing credentials). `undocumented_operation` is a request no operation
of the spec matches.

The operation is the one `MatchRequest` found (openapi-core is given its path template), so the
proxy and the sandbox agree on which operation a request is for.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any

from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.media_types.exceptions import MediaTypeNotFound
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.validation.request.exceptions import SecurityValidationError
from openapi_core.validation.response.exceptions import (
    DataValidationError,
    HeaderValidationError,
    MissingData,
)
from werkzeug.datastructures import Headers, ImmutableMultiDict

from mockyard.operations import Operation

STATUS = "status_code_conformance"
CONTENT_TYPE = "content_type_conformance"
SCHEMA = "response_schema_conformance"
HEADERS = "response_headers_conformance"
REQUEST = "request_conformance"
UNDOCUMENTED = "undocumented_operation"
CHECKS = (STATUS, CONTENT_TYPE, SCHEMA, HEADERS, REQUEST)
"""The checks every exchange with a documented operation goes through."""
_MAX_SCHEMA_ERRORS = 8


@dataclass(frozen=True)
class Violation:
    """One way an exchange departs from the spec; `status` is the answer `--strict` gives a
    request violation (401 for missing credentials, else 400)."""

    check: str
    title: str
    message: str
    status: int = 400

    def as_json(self) -> dict[str, str]:
        return {"check": self.check, "title": self.title, "message": self.message}


@dataclass(frozen=True)
class Call:
    """The request of an exchange, as the checks read it."""

    operation: Operation
    path_params: Mapping[str, str]
    path: str
    query: Iterable[tuple[str, str]] = ()
    headers: Iterable[tuple[str, str]] = ()
    body: bytes | None = None  # None: not kept (too large to check)
    host_url: str = "http://127.0.0.1"


class _Request:
    """openapi-core's request protocol over a `Call`; the path template is the matched one."""

    def __init__(self, call: Call) -> None:
        headers = Headers(list(call.headers))
        self.host_url = call.host_url
        self.path = call.path
        self.path_pattern = call.operation.path
        self.method = call.operation.method.lower()
        self.body = call.body
        self.content_type = str(headers.get("content-type", "")).lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(list(call.query)),
            header=headers,
            cookie=ImmutableMultiDict(_cookies(headers.get("cookie", ""))),
            path=dict(call.path_params),
        )


class _Response:
    """openapi-core's response protocol over what the upstream answered."""

    def __init__(self, status: int, headers: Iterable[tuple[str, str]], body: bytes) -> None:
        self.status_code = status
        self.headers = Headers(list(headers))
        self.content_type = str(self.headers.get("content-type", "")).lower()
        self.data = body


class Checker:
    """Validates exchanges against one (merged) document."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        # The document was checked when it was loaded (speccheck): openapi-core need not again.
        # It documents None as "no check", though its annotation leaves None out.
        config = Config(spec_validator_cls=None)  # type: ignore[arg-type]
        self._api = OpenAPI.from_dict(dict(document), config=config)

    def request(self, call: Call) -> list[Violation]:
        """What the spec refuses in the request (nothing when its body was not kept)."""
        found = []
        for error in self._api.request_validator.iter_errors(_Request(call)):
            if call.body is None and "body" in type(error).__name__.lower():
                continue
            unauthorised = isinstance(error, SecurityValidationError)
            title = "Missing credentials" if unauthorised else "Request violates the spec"
            found.append(Violation(REQUEST, title, _describe(error), 401 if unauthorised else 400))
        return found

    def response(
        self,
        call: Call,
        status: int,
        headers: Iterable[tuple[str, str]],
        body: bytes | None,
    ) -> list[Violation]:
        """What the spec refuses in the response; a body not kept (`None`) is not checked."""
        op = call.operation
        response = _Response(status, headers, body or b"")
        found = []
        for error in self._api.response_validator.iter_errors(_Request(call), response):
            cause = error.__cause__
            if isinstance(error, ResponseNotFound):
                documented = ", ".join(str(k) for k in op.spec.get("responses") or {})
                message = f"{status} is not documented for {op.operation_id} ({documented})"
                found.append(Violation(STATUS, "Undocumented status code", message))
            elif isinstance(cause, MediaTypeNotFound):
                seen = response.content_type or "no Content-Type"
                message = f"{seen} is not documented for {status}; documented: "
                message += ", ".join(cause.availableMimetypes) or "no body"
                found.append(Violation(CONTENT_TYPE, "Undocumented Content-Type", message))
            elif isinstance(error, DataValidationError):
                if body is None or (isinstance(error, MissingData) and not body):
                    continue
                found.append(Violation(SCHEMA, "Response violates schema", _describe(error)))
            elif isinstance(error, HeaderValidationError):
                found.append(Violation(HEADERS, "Response header violates the spec", str(error)))
            else:
                found.append(Violation(SCHEMA, "Response violates the spec", _describe(error)))
        return found


def undocumented(method: str, path: str, near: Operation | None = None) -> Violation:
    """A request no operation of the spec matches (`near`: the one it would, were its path
    parameters of their types)."""
    message = f"no operation has {method} {path}"
    if near is not None:
        message += f" ({near.operation_id} has {near.path}, its path parameters of other types)"
    return Violation(UNDOCUMENTED, "Undocumented operation", message)


def _cookies(header: str) -> list[tuple[str, str]]:
    """The request's cookies, as the `Cookie` header sends them (a malformed one: none)."""
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return []
    return [(name, morsel.value) for name, morsel in jar.items()]


def _describe(error: BaseException) -> str:
    """An openapi-core error in lines: the error, then each schema error at its JSON path."""
    errors = list(_schema_errors(error))[:_MAX_SCHEMA_ERRORS]
    head = str(error).split(":", 1)[0] if errors else str(error)
    if head in ("", type(error).__name__):  # the error says no more than its class: its cause
        cause = error.__cause__
        head = str(cause) if cause is not None and not errors else "the body breaks its schema"
    lines = [head]
    for schema_error in errors:
        where = getattr(schema_error, "json_path", "$")
        lines.append(f"  {where}: {getattr(schema_error, 'message', schema_error)}")
    return "\n".join(lines)


def _schema_errors(error: BaseException) -> Iterator[Any]:
    seen: BaseException | None = error
    while seen is not None:
        errors = getattr(seen, "schema_errors", None)
        if errors:
            yield from errors
            return
        seen = seen.__cause__
