"""operationId -> handler function, and the per-request work around every handler call.

A workspace's handler module is a plain Python file. It may define, besides one function per
operationId (kebab-case becomes snake_case):

    authenticate(credentials, ctx) -> Principal | None     who the caller is (None: 401)
    render_failure(failure) -> ApiError                     how the API documents engine errors

A form body with bracketed keys reaches the handler nested and typed, as it was validated (see
`forms`). Each handler call runs in one store transaction: committed when the handler returns,
rolled back when it raises, so an error never changes state.

Operations without a handler, and every request that carries a `Prefer` header, are answered by
`mocking` from the spec alone: no handler runs, no transaction opens. Both happen inside the
endpoint, so security and request validation have already passed (Prism's order).
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from connexion.context import _context as connexion_context
from connexion.context import _scope as connexion_scope
from connexion.lifecycle import ConnexionResponse
from connexion.resolver import Resolution, Resolver

from mockyard import forms, prefer
from mockyard.errors import ApiError, Failure, WorkspaceError
from mockyard.fixtures import seeded_faker
from mockyard.mocking import Responder
from mockyard.prefer import Preference, UnsatisfiablePreference
from mockyard.specs import API_TAG, handler_name
from mockyard.store import ApiStore, Store, Transaction
from mockyard.types import Clock, Context, Credentials, Principal

SAFE_METHODS = frozenset({"get", "head", "options"})
Handler = Callable[..., Any]


def load_module(path: Path, api: str) -> ModuleType:
    """Import a workspace handler file under a private name."""
    name = f"_mockyard_handlers_{handler_name(api)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise WorkspaceError("cannot import handler module", path=path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise WorkspaceError(f"handler module failed to import: {exc!r}", path=path) from exc
    return module


def default_failure(failure: Failure) -> ApiError:
    """RFC 7807 problem details: what an API that documents no error format gets."""
    body = {"type": "about:blank", "title": failure.title, "status": failure.status}
    if failure.detail:
        body["detail"] = failure.detail
    return ApiError(failure.status, body, media_type="application/problem+json")


@dataclass
class ApiHooks:
    """One served API: its name, its handler module (if any) and the hooks that module defines."""

    name: str
    module: ModuleType | None = None
    fixture: Mapping[str, Any] = field(default_factory=dict)

    def handler(self, operation_id: str) -> Handler | None:
        return getattr(self.module, handler_name(operation_id), None) if self.module else None

    @property
    def renders_failures(self) -> bool:
        return getattr(self.module, "render_failure", None) is not None

    def render_failure(self, failure: Failure) -> ApiError:
        hook = getattr(self.module, "render_failure", None)
        return hook(failure) if hook else default_failure(failure)

    def authenticate(self, credentials: Credentials, ctx: Context) -> Principal | None:
        hook = getattr(self.module, "authenticate", None)
        if hook is None:  # no hook: any credentials are accepted, as the caller they name
            return Principal(id=credentials.value)
        return hook(credentials, ctx)


class Runtime:
    """What every request shares: the APIs, the store, the seed and the clock."""

    def __init__(
        self, apis: Mapping[str, ApiHooks], store: Store, *, seed: Callable[[], int], clock: Clock
    ) -> None:
        self.apis = apis
        self.store = store
        self._seed = seed
        self.clock = clock
        self.api_of_operation: dict[str, str] = {}
        self.api_paths: list[tuple[str, str]] = []  # (path template, api) for unrouted requests

    @property
    def seed(self) -> int:
        """The current state's seed (a reset may change it, through any worker)."""
        return self._seed()

    def index(self, merged_spec: Mapping[str, Any]) -> None:
        self.responder = Responder(merged_spec, lambda: self.seed)
        for route, item in merged_spec["paths"].items():
            for op in item.values():
                if isinstance(op, dict) and API_TAG in op:
                    self.api_of_operation[op.get("operationId", "")] = op[API_TAG]
                    self.api_paths.append((route, op[API_TAG]))

    def api_for(self, scope: Mapping[str, Any], operation_id: str | None = None) -> ApiHooks:
        """The API a request belongs to: by its routed operation, else by the longest path match."""
        routing = scope.get("extensions", {}).get("connexion_routing", {})
        api = self.api_of_operation.get(operation_id or routing.get("operation_id") or "")
        if api is None:
            api = _closest_api(scope.get("path", ""), self.api_paths) or next(iter(self.apis))
        return self.apis[api]

    def mock(self, op_id: str, params: Mapping[str, Any], preference: Preference) -> Any:
        """The spec's own answer (see `mocking`); runs no handler and opens no transaction."""
        accept = _header(connexion_scope.get(None) or {}, b"accept")
        answer = self.responder.answer(op_id, params, preference, accept)
        return ConnexionResponse(
            status_code=answer.status,
            body=answer.body,
            mimetype=answer.media_type,
            content_type=answer.media_type,
            headers=answer.headers,
        )

    def render_failure(
        self, scope: Mapping[str, Any], failure: Failure, operation_id: str | None = None
    ) -> ApiError:
        """The request's API renders the failure: by its hook if it has one, else as its spec
        documents that status for the operation (its example or schema), else as RFC 7807."""
        api = self.api_for(scope, operation_id)
        if api.renders_failures:
            return api.render_failure(failure)
        responder = getattr(self, "responder", None)
        routing = (scope.get("extensions") or {}).get("connexion_routing", {})
        op_id = operation_id or routing.get("operation_id")  # uvicorn's error scope lacks it
        if responder and not op_id:
            op_id = responder.find(scope.get("method", ""), scope.get("path", ""))
        if responder and op_id in responder.operations:
            try:
                answer = responder.answer(op_id, {}, Preference(code=failure.status))
            except UnsatisfiablePreference:
                return default_failure(failure)
            return ApiError(
                answer.status,
                answer.body if answer.media_type else None,
                headers=answer.headers,
                media_type=answer.media_type or "application/json",
            )
        return default_failure(failure)

    def resolver(self) -> Resolver:
        return _HandlerResolver(self)

    def run(
        self,
        api: str,
        operation_id: str,
        method: str,
        fn: Handler,
        kwargs: dict,
        principal: Principal | None,
        identify: Callable[[ApiStore], Principal | None] | None = None,
    ) -> Any:
        """Call `fn` in one transaction (`Store.run`: a read-only attempt that turns out to
        write, or one that lost a conflict, is rerun).

        `identify`, when given, names the caller inside that same transaction (one transaction
        per request instead of two); whatever it raises rolls the transaction back."""

        def attempt(tx: Transaction) -> Any:
            store = tx.api(api)
            caller = identify(store) if identify else principal
            return fn(self.context(api, operation_id, caller, store, kwargs), **kwargs)

        return self.store.run(attempt, write=method not in SAFE_METHODS)

    def context(
        self,
        api: str,
        operation_id: str,
        principal: Principal | None,
        store: ApiStore,
        params: Mapping[str, Any],
    ) -> Context:
        """A handler's context; its Faker is seeded from the operation and its parameters."""
        return Context(
            api=api,
            operation_id=operation_id,
            principal=principal,
            store=store,
            now=self.clock,
            faker=lambda: seeded_faker(self.seed, operation_id, sorted(params.items())),
        )


class _HandlerResolver(Resolver):
    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        self.runtime = runtime

    def resolve(self, operation: Any) -> Resolution:
        op_id = operation.operation_id
        api = self.runtime.api_of_operation.get(op_id, "")
        fn = self.runtime.apis[api].handler(op_id) if api in self.runtime.apis else None
        if fn is None:
            return Resolution(_unhandled(self.runtime, op_id), op_id)
        return Resolution(_endpoint(self.runtime, api, op_id, operation.method, fn), op_id)


def _endpoint(runtime: Runtime, api: str, op_id: str, method: str, fn: Handler) -> Handler:
    params = inspect.signature(fn).parameters
    takes_all = any(p.kind is p.VAR_KEYWORD for p in params.values())
    accepted = frozenset(list(params)[1:])

    async def endpoint(**kwargs: Any) -> Any:
        # On the event loop, not in a thread: a handler's transaction takes well under a
        # millisecond, and running them one at a time per process spares the thread hops and the
        # write lock's sleeping retries that concurrent threads would cost.
        scope = connexion_scope.get(None) or {}
        preference = prefer.parse(_header(scope, b"prefer"))
        if preference:  # the client wants a documented answer: the handler and state stay out
            return runtime.mock(op_id, kwargs, preference)
        form = forms.parsed_body(scope)
        if form is not None and "body" in kwargs:  # the nested form, as it was validated
            kwargs["body"] = form
        if not takes_all:
            kwargs = {k: v for k, v in kwargs.items() if k in accepted}
        token_info = connexion_context.get({}).get("token_info") or {}
        return runtime.run(api, op_id, method.lower(), fn, kwargs, token_info.get("principal"))

    endpoint.__name__ = fn.__name__
    # Connexion passes what the signature asks for; the handler's own (less `ctx`) keeps it from
    # offering, and logging about, query parameters the spec does not declare (an api_key).
    endpoint.__signature__ = inspect.Signature(list(params.values())[1:])  # type: ignore[attr-defined]
    return endpoint


def _unhandled(runtime: Runtime, op_id: str) -> Handler:
    """No handler: the mock answers (a documented example, or data generated from the schema)."""

    async def endpoint(**kwargs: Any) -> Any:
        scope = connexion_scope.get(None) or {}
        return runtime.mock(op_id, kwargs, prefer.parse(_header(scope, b"prefer")))

    return endpoint


def _header(scope: Mapping[str, Any], name: bytes) -> str | None:
    """One request header, read from the ASGI scope (cheaper than building a request object)."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _closest_api(path: str, api_paths: list[tuple[str, str]]) -> str | None:
    parts = path.strip("/").split("/")
    best, best_len = None, 0
    for route, api in api_paths:
        common = 0
        for a, b in zip(parts, route.strip("/").split("/"), strict=False):
            if a != b and not b.startswith("{"):
                break
            common += 1
        if common > best_len:
            best, best_len = api, common
    return best
