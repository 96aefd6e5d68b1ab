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

import asyncio
import copy
import inspect
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, cast

from connexion import AsyncApp, Resolution, Resolver, request
from connexion.middleware import ConnexionMiddleware
from connexion.middleware.exceptions import ExceptionMiddleware
from connexion.middleware.security import SecurityMiddleware
from connexion.middleware.server_error import ServerErrorMiddleware
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.options import SwaggerUIOptions
from connexion.uri_parsing import OpenAPIURIParser
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mockyard import auth, forms, styles
from mockyard.operations import Operation, OperationIndex, argument
from mockyard.validation import validator_map

logger = logging.getLogger("mockyard")
Invoke = Callable[[Operation, Mapping[str, Any], dict[str, Any], "auth.Caller | None"], Response]

_DONE_BY_THE_PIPELINE = (
    ServerErrorMiddleware,  # the pipeline's error boundary answers in the API's format
    ExceptionMiddleware,
    SwaggerUIMiddleware,  # `docs` serves /openapi.json and /ui for the merged spec
    SecurityMiddleware,  # `auth` names the caller before Connexion sees the request
)
MIDDLEWARES = [m for m in ConnexionMiddleware.default_middlewares if m not in _DONE_BY_THE_PIPELINE]


class Background:
    """An ASGI app built in a thread of its own, so a start does not wait for it: Connexion
    checks and sets up every operation of the spec it is given, seconds for a big spec, and
    only the requests the fast reader defers need it. The build begins `delay` seconds after
    this is made, or at once for a request that needs it sooner, which waits for it: a build
    in the background takes the interpreter from the first requests (one lock for Python
    code), so the sandbox answers those first. If the build failed, every request needing it
    ends in that error (the API's own 500)."""

    def __init__(self, build: Callable[[], ASGIApp], *, delay: float = 0.0) -> None:
        self._build = build
        self._app: ASGIApp | None = None
        self._error: BaseException | None = None
        self._ready = threading.Event()
        self._started = False
        self._lock = threading.Lock()
        timer = threading.Timer(delay, self.start)
        timer.daemon = True
        timer.start()

    def start(self) -> None:
        """Begin the build, unless it has begun."""
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._run, name="mockyard-connexion", daemon=True).start()

    def _run(self) -> None:
        try:
            self._app = self._build()
        except BaseException as exc:  # kept for the requests that need the app
            logger.error("Connexion could not be set up: %s", exc, exc_info=exc)
            self._error = exc
        finally:
            self._ready.set()

    def wait(self) -> ASGIApp:
        """The app, once built (blocking); its build error, raised."""
        self.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        assert self._app is not None
        return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self._app if self._ready.is_set() else None
        if app is None:
            app = await asyncio.to_thread(self.wait)
        await app(scope, receive, send)


def connexion_app(index: OperationIndex, invoke: Invoke, *, strict: bool) -> ASGIApp:
    """One Connexion app for the merged spec; `strict` validates every response too."""
    app = AsyncApp(__name__, middlewares=list(MIDDLEWARES))
    app.add_api(
        copy.deepcopy(dict(index.document)) if strict else request_view(index.document),
        swagger_ui_options=SwaggerUIOptions(serve_spec=False, swagger_ui=False),
        resolver=_Endpoints(index, invoke),
        validate_responses=strict,
        validator_map=validator_map(forms.body_validators()),
        uri_parser_class=StyledURIParser,
        pythonic_params=False,
    )
    return cast(ASGIApp, app)


_PROSE = frozenset({"description", "summary", "externalDocs", "example", "examples", "tags"})


def request_view(document: Mapping[str, Any]) -> dict[str, Any]:
    """What Connexion needs of `document` to route and validate requests, and nothing else:
    responses reduced to their status codes (the endpoint builds every answer itself), prose
    and examples left out, and only the components the rest still refers to.

    Connexion validates the whole document it is given in pure Python, and copies it twice: on
    a big spec that was most of a start, spent on response schemas it never reads."""
    paths: dict[str, Any] = {}
    for route, item in (document.get("paths") or {}).items():
        kept = {}
        for key, value in (item or {}).items():
            if key in _PROSE:
                continue
            if isinstance(value, Mapping) and "responses" in value:
                value = {
                    **_without_prose(value),
                    "responses": {
                        str(code): {"description": ""} for code in value["responses"] or {"200": 0}
                    },
                }
            else:
                value = _without_prose(value)
            kept[key] = value
        paths[route] = kept
    view: dict[str, Any] = {
        "openapi": document.get("openapi", "3.0.3"),
        "info": {"title": "mockyard", "version": "1"},
        "paths": paths,
    }
    if "security" in document:
        view["security"] = document["security"]
    components = document.get("components") or {}
    if components:
        view["components"] = _referenced(components, paths)
    return view


def _without_prose(node: Any, *, names: bool = False) -> Any:
    """`node` without prose and examples; `names` marks a map of property names, whose keys
    are kept whatever they are (a property may well be called `description`)."""
    if isinstance(node, Mapping):
        return {
            k: _without_prose(v, names=not names and k in ("properties", "patternProperties"))
            for k, v in node.items()
            if names or k not in _PROSE
        }
    if isinstance(node, list):
        return [_without_prose(v) for v in node]
    return node


def _referenced(components: Mapping[str, Any], paths: Mapping[str, Any]) -> dict[str, Any]:
    """The components `paths` refer to, directly or through each other; every security scheme."""
    kept: dict[str, dict[str, Any]] = {
        "securitySchemes": dict(components.get("securitySchemes") or {})
    }
    pending: list[Any] = [paths]
    while pending:
        node = pending.pop()
        if isinstance(node, Mapping):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/"):
                _, _, section, name = ref.split("/", 3)
                name = name.replace("~1", "/").replace("~0", "~")
                found = (components.get(section) or {}).get(name)
                if found is not None and name not in kept.setdefault(section, {}):
                    kept[section][name] = found = _without_prose(found)
                    pending.append(found)
            pending.extend(v for v in node.values() if isinstance(v, Mapping | list))
        elif isinstance(node, list):
            pending.extend(v for v in node if isinstance(v, Mapping | list))
    return {section: items for section, items in kept.items() if items}


class StyledURIParser(OpenAPIURIParser):
    """Connexion's URI parser, with the path and query styles it does not decode (label,
    matrix, objects) decoded by `styles`: what is validated and what the handler gets."""

    def resolve_path(self, path_data: dict[str, Any]) -> dict[str, Any]:
        mine = self._styled(path_data, "path")
        rest = {k: v for k, v in path_data.items() if k not in mine}
        resolved: dict[str, Any] = super().resolve_path(rest)
        for name, param in mine.items():
            resolved[name] = styles.decode(param, str(path_data[name]))
        return resolved

    def resolve_query(self, query_data: dict[str, Any]) -> dict[str, Any]:
        resolved: dict[str, Any] = super().resolve_query(self._bracketed_arrays(query_data))
        last = {k: v[-1] for k, v in query_data.items() if isinstance(v, list) and v}
        for name, param in self._styled(self.param_defns, "query").items():
            value = styles.decode_query(param, last)
            if value is not None:
                resolved[name] = value
        return resolved

    def _bracketed_arrays(self, query_data: dict[str, Any]) -> dict[str, Any]:
        """`a[0]=x&a[1]=y` (or `a[]=x&a[]=y`) for an array in deepObject style, which OpenAPI
        defines for objects only and Stripe uses for arrays, read as `a` repeated: Connexion
        would make an object of it, and fail joining it as an array."""
        out: dict[str, Any] = {}
        for key, values in query_data.items():
            root, bracket, _ = key.partition("[")
            defn = self.param_defns.get(root) or {}
            if (
                bracket
                and key.endswith("]")
                and defn.get("style") == "deepObject"
                and (self.param_schemas.get(root) or {}).get("type") == "array"
            ):
                out.setdefault(root, []).extend(values if isinstance(values, list) else [values])
            else:
                out[key] = values
        return out

    def _styled(self, names: Mapping[str, Any], location: str) -> dict[str, Any]:
        defns = self.param_defns
        return {
            n: defns[n]
            for n in names
            if n in defns and defns[n]["in"] == location and styles.styled(defns[n])
        }


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
