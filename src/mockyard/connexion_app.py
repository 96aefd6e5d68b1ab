"""Connexion, through its public API: reads and validates every request the fast reader does not.

The spec drives Connexion's routing; its request validators (made stricter in `validation` and
`forms`) check parameters and bodies, and answer what is invalid. Everything else a request
needs the pipeline has done before Connexion sees it, so its middleware list keeps only
routing, request validation, response validation (`--strict`), lifespan and context: the
pipeline's error boundary renders Connexion's problems, `auth` has named the caller (on the
scope: `auth.caller_of`), and `/openapi.json` and the docs are served by `docs`.

Each operation resolves to an endpoint that takes exactly the arguments Connexion reads for
it (path and query parameters, the body) and hands them to the pipeline's `invoke`.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from connexion import AsyncApp, Resolution, Resolver, request
from connexion.middleware import ConnexionMiddleware
from connexion.middleware.exceptions import ExceptionMiddleware
from connexion.middleware.security import SecurityMiddleware
from connexion.middleware.server_error import ServerErrorMiddleware
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.options import SwaggerUIOptions
from starlette.responses import Response
from starlette.types import ASGIApp

from mockyard import auth, forms
from mockyard.operations import Operation, OperationIndex, argument
from mockyard.validation import validator_map

Invoke = Callable[[Operation, Mapping[str, Any], dict[str, Any], "auth.Caller | None"], Response]

_DONE_BY_THE_PIPELINE = (
    ServerErrorMiddleware,  # the pipeline's error boundary answers in the API's format
    ExceptionMiddleware,
    SwaggerUIMiddleware,  # `docs` serves /openapi.json and /ui for the merged spec
    SecurityMiddleware,  # `auth` names the caller before Connexion sees the request
)
MIDDLEWARES = [m for m in ConnexionMiddleware.default_middlewares if m not in _DONE_BY_THE_PIPELINE]


def connexion_app(index: OperationIndex, invoke: Invoke, *, strict: bool) -> ASGIApp:
    """One Connexion app for the merged spec; `strict` validates every response too."""
    app = AsyncApp(__name__, middlewares=list(MIDDLEWARES))
    app.add_api(
        copy.deepcopy(dict(index.document)),
        swagger_ui_options=SwaggerUIOptions(serve_spec=False, swagger_ui=False),
        resolver=_Endpoints(index, invoke),
        validate_responses=strict,
        validator_map=validator_map(forms.body_validators()),
        pythonic_params=False,
    )
    return app


class _Endpoints(Resolver):
    def __init__(self, index: OperationIndex, invoke: Invoke) -> None:
        super().__init__()
        self.index = index
        self.invoke = invoke

    def resolve(self, operation: Any) -> Resolution:
        op = self.index.by_id[operation.operation_id]
        return Resolution(_endpoint(op, self.invoke), op.operation_id)


def _endpoint(op: Operation, invoke: Invoke) -> Callable[..., Any]:
    body = arguments(op)[1]

    async def endpoint(**kwargs: Any) -> Response:
        # On the event loop, not in a thread: a handler's transaction takes well under a
        # millisecond, and one at a time per process spares the thread hops and the write
        # lock's sleeping retries that concurrent threads would cost.
        scope = request.scope
        form = forms.parsed_body(scope)
        if form is not None and body in kwargs:  # the nested form, as it was validated
            kwargs[body] = form
        return invoke(op, scope, kwargs, auth.caller_of(scope))

    endpoint.__name__ = op.operation_id
    # Connexion passes what the signature names: the operation's own parameters, never the
    # undeclared query parameters (an api_key) or its security context.
    names = [*arguments(op)[0], body]
    params = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY) for n in dict.fromkeys(names)]
    endpoint.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return endpoint


def arguments(op: Operation) -> tuple[list[str], str]:
    """The names Connexion passes an operation's path and query parameters under, and its
    body's (`x-body-name`, else `body`)."""
    names = [argument(p) for p in op.parameters if p["in"] in ("path", "query")]
    return [n for n in names if n], op.body_argument
