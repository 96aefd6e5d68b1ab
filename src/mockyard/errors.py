"""Every error mockyard raises, in one tree.

    MockyardError
     ├── WorkspaceError        a workspace that cannot be served (bad mockyard.yaml, missing file)
     │    ├── SpecError         an OpenAPI document is invalid, or collides with another one
     │    └── FixtureError      a fixture file or its Faker recipe is malformed
     ├── ContractError         a contract run that cannot go on (unreachable target, bad option)
     ├── StartError            `serve` cannot start: the port is taken, the state file unusable
     ├── RequestRefused        the engine refuses a request (too large, over its rate limit)
     └── ApiError              an answer in the served API's own error format

Errors a command can end with carry the process `exit_code` it ends with (2: a usage problem).

Handlers raise `ApiError`; the engine turns everything else that goes wrong with a request into a
`Failure` and asks the API how it documents that failure (see `routing.ApiHooks.render_failure`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class MockyardError(Exception):
    """Base class of every mockyard error."""

    exit_code = 1


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


class StartError(MockyardError):
    """`serve` cannot start as asked; `option` names the flag at fault (`--port`, `--state`)."""

    exit_code = 2

    def __init__(self, message: str, *, option: str) -> None:
        super().__init__(message)
        self.option = option


class RequestRefused(MockyardError):
    """The engine refuses a request before a handler sees it; rendered as the API's `Failure`."""

    status = 400
    title = "Bad Request"

    def __init__(self, detail: str = "", *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = dict(headers or {})


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


@dataclass(frozen=True)
class Failure:
    """A request the engine refused before (or instead of) a handler: bad input, no route, a crash.

    `status` is the HTTP status the engine would use; an API's `render_failure` hook decides the
    status and body its documentation promises for it.
    """

    status: int
    title: str
    detail: str = ""
