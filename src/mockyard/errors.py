"""Every error mockyard raises, in one tree.

    MockyardError                    exit_code 1 unless a subclass says otherwise
     ├── UsageError                  a command asked for something it cannot do (exit 2)
     │    └── ExposedWithoutToken     serving off loopback with no admin token
     ├── WorkspaceError              a workspace that cannot be served (exit 2)
     │    ├── SpecError               an OpenAPI document is invalid, or collides with another
     │    └── FixtureError            a fixture file or its Faker recipe is malformed
     ├── ContractError               a contract run that cannot go on (exit 2)
     │    └── StartError              `serve` cannot start: the port is taken, the state unusable
     ├── RequestRefused              the engine refuses a request; rendered as the API's Failure
     │    ├── Unauthorized            no credentials the operation's security accepts (401)
     │    ├── NotFound                no operation at this path (404)
     │    ├── MethodNotAllowed        the path has operations, not for this method (405)
     │    ├── NotAcceptable           no documented media type the `Accept` header allows (406)
     │    ├── BodyTooLarge            a body over the sandbox's limit (413)
     │    ├── HeadersTooLarge         headers over the sandbox's limit (431)
     │    ├── UntypedBody             a body without a Content-Type (415)
     │    ├── InvalidInput            a parameter or body field its schema refuses (400)
     │    ├── MalformedForm           a form body whose bracketed keys do not nest (400)
     │    ├── RateLimited             the caller used up its rate limit (429)
     │    ├── InjectedFault           a fault control answers with the API's 500
     │    ├── StateUnavailable        the state database cannot be reached (503)
     │    ├── PreferredFailure        `Prefer: code=` asked for an error the spec has no example of
     │    ├── RecordRefused           an inferred resource's 404, 409 or invalid record
     │    ├── MutationRefused         the proxy does not forward a write off loopback (403)
     │    ├── UpstreamUnreachable     the proxy's upstream cannot be reached (502)
     │    └── UpstreamTimeout         the proxy's upstream did not answer in time (504)
     └── ApiError                    an answer in the served API's own error format
          └── UnsatisfiablePreference a `Prefer` header the operation cannot honour

    DropConnection                   not an error: a control closes the connection unanswered
    Deferred                         not an error: the fast reader hands a request to Connexion
    WriteNeeded                      not an error: a read-only transaction must rerun as a writer
    Conflict                         not an error: a transaction lost a serialisation conflict
    CyclicSchema                     not an error: a schema refers to itself (cannot be inlined)

Errors a command can end with carry the process `exit_code`; the CLI shows them once, as one
line (`cli.main`). Errors a request can end with carry what its answer needs (status, title,
detail, headers); `responses` is the only place they become HTTP answers.

Handlers raise `ApiError`; the engine turns everything else that goes wrong with a request into a
`Failure` and asks the API how it documents that failure (`render_failure`, see `routing`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any


class MockyardError(Exception):
    """Base class of every mockyard error."""

    exit_code = 1


class UsageError(MockyardError):
    """A command was asked for something it cannot do (a bad option value, an unsafe start)."""

    exit_code = 2


class ExposedWithoutToken(UsageError):
    """Serving on a non-loopback interface without an admin token."""


class WorkspaceError(MockyardError):
    """A workspace that cannot be loaded; `path` names the file at fault."""

    exit_code = 2

    def __init__(self, message: str, *, path: object = None) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class SpecError(WorkspaceError):
    """An OpenAPI document that is invalid or collides with another one."""


class FixtureError(WorkspaceError):
    """A fixture file (catalogue or Faker recipe) that cannot be built."""


class ContractError(MockyardError):
    """A contract run that cannot go on; `url` names the target when it is at fault."""

    exit_code = 2

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class StartError(UsageError):
    """`serve` cannot start as asked; `option` names the flag at fault (`--port`, `--state`)."""

    exit_code = 2

    def __init__(self, message: str, *, option: str) -> None:
        super().__init__(message)
        self.option = option


class RequestRefused(MockyardError):
    """The engine refuses a request before a handler sees it; rendered as the API's `Failure`."""

    status = 400
    title = "Bad Request"

    def __init__(
        self, detail: str = "", *, headers: Mapping[str, str] | None = None, param: str = ""
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = dict(headers or {})
        self.param = param  # the parameter at fault, as the request names it (see `Failure`)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, detail={self.detail!r})"


class Unauthorized(RequestRefused):
    """The request presents no credentials the operation's security accepts."""

    status = 401
    title = "Unauthorized"


class NotFound(RequestRefused):
    """No served operation has this path."""

    status = 404
    title = "Not Found"


class MethodNotAllowed(RequestRefused):
    """The path has operations, but none for the request's method; `Allow` lists theirs."""

    status = 405
    title = "Method Not Allowed"

    def __init__(self, allowed: Iterable[str]) -> None:
        methods = ", ".join(allowed)
        super().__init__(f"allowed: {methods}", headers={"Allow": methods})


class NotAcceptable(RequestRefused):
    """The answer is documented only in media types the request's `Accept` header refuses."""

    status = 406
    title = "Not Acceptable"

    def __init__(self, offered: Iterable[str]) -> None:
        super().__init__("the answer is documented as " + ", ".join(offered))


class BodyTooLarge(RequestRefused):
    """A request body larger than the sandbox accepts."""

    status = 413
    title = "Content Too Large"


class HeadersTooLarge(RequestRefused):
    """Request headers larger, in all, than the sandbox accepts. uvicorn's parser (httptools)
    sets no limit of its own, so without this a client could send megabytes of headers."""

    status = 431
    title = "Request Header Fields Too Large"


class UntypedBody(RequestRefused):
    """A request body without a Content-Type: it could be validated as one type and handed to
    the handler as raw bytes, so it is refused instead."""

    status = 415
    title = "Unsupported Media Type"


class InvalidInput(RequestRefused):
    """A parameter or body field that its schema refuses; `detail` says why in a few words
    ("cannot be longer than 300 characters"), `param` names it as the request does."""


class MalformedForm(RequestRefused):
    """A form field whose bracketed key cannot be nested, or that contradicts another one."""


class RateLimited(RequestRefused):
    """The principal has used up its rate limit; the client may retry after `Retry-After` s."""

    status = 429
    title = "Too Many Requests"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s", headers={"Retry-After": str(retry_after)})


class InjectedFault(RequestRefused):
    """A fault control chose this request for the API's own documented 500."""

    status = 500
    title = "Internal Server Error"


class StateUnavailable(RequestRefused):
    """The state database cannot be reached (or did not answer in time). Requests get their
    API's documented 5xx answer; the next request tries again, so nothing needs a restart."""

    status = 503
    title = "Service Unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"Retry-After": "1"})


class PreferredFailure(RequestRefused):
    """`Prefer: code=` asked for an error status whose documented response has no example: the
    API renders it as it renders its own failures, so it looks like the vendor's."""

    def __init__(self, status: int) -> None:
        super().__init__("the answer this request preferred (Prefer: code)")
        self.status = status
        self.title = reason_phrase(status)


class RecordRefused(RequestRefused):
    """An inferred resource refuses a request: no such record (404), its id is taken (409), or
    the record it would store breaks its schema (the API's documented 400 or 422)."""

    def __init__(self, status: int, title: str, detail: str = "") -> None:
        super().__init__(detail)
        self.status = status
        self.title = title


class MutationRefused(RequestRefused):
    """`mockyard proxy` does not forward what can change state to an upstream that is not a
    loopback address unless `--allow-mutations` says so (as `contract` does not send it)."""

    status = 403
    title = "Forbidden"


class UpstreamUnreachable(RequestRefused):
    """`mockyard proxy` could not reach its upstream (refused, reset, no such host)."""

    status = 502
    title = "Bad Gateway"


class UpstreamTimeout(RequestRefused):
    """`mockyard proxy`'s upstream did not answer within `--timeout`."""

    status = 504
    title = "Gateway Timeout"


class ApiError(MockyardError):
    """An HTTP answer in the API's own documented error format.

    `body=None` sends an empty body (some APIs document errors that way).
    """

    def __init__(
        self,
        status: int,
        body: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        media_type: str = "application/json",
    ) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        self.media_type = media_type

    def __repr__(self) -> str:
        return f"ApiError(status={self.status!r}, body={self.body!r})"


class UnsatisfiablePreference(ApiError):
    """A `Prefer` header the operation cannot honour: bad syntax, undocumented code or example."""

    def __init__(self, status: int, detail: str, **documented: Any) -> None:
        body = {
            "type": "about:blank",
            "title": "Preferred response not available",
            "status": status,
            "detail": detail,
            **documented,
        }
        super().__init__(status, body, media_type="application/problem+json")
        self.detail = detail


class DropConnection(Exception):
    """Raised by a control to close the client's connection without any response."""


class Deferred(Exception):
    """The fast reader cannot vouch for a request: Connexion reads it instead."""


class WriteNeeded(Exception):
    """A read-only transaction tried to write; `Store.run` reruns the work as a writer."""


class Conflict(Exception):
    """The backend aborted a transaction to keep transactions serialisable; rerun the work."""


class CyclicSchema(Exception):
    """A schema whose `$ref`s lead back to it cannot be written out in full (`inline`)."""


@dataclass(frozen=True)
class Failure:
    """A request the engine refused before (or instead of) a handler: bad input, no route, a crash.

    `status` is the HTTP status the engine would use; an API's `render_failure` hook decides the
    status and body its documentation promises for it.
    """

    status: int
    title: str
    detail: str = ""
    # The parameter at fault, as the request names it: a query, path, header or cookie
    # parameter's name, a form field's bracketed key (`items[price][0]`), a JSON body's dotted
    # path (`order.items.0.price`). With it, `detail` says what is wrong with that parameter.
    param: str = ""


def reason_phrase(status: int) -> str:
    """The standard reason phrase of an HTTP status (`Error` for a status that has none)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
