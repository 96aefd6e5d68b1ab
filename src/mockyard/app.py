"""Builds the sandbox: one Connexion AsyncApp for the whole workspace, plus /__mockyard/."""

from __future__ import annotations

import copy
import functools
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connexion import AsyncApp
from connexion.apps.asynchronous import AsyncApi, AsyncOperation
from connexion.middleware import ConnexionMiddleware, MiddlewarePosition
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.options import SwaggerUIOptions
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from mockyard import admin_spec, controls, forms, origins, record_schemas, specs, workspace
from mockyard.admin import PREFIX, admin_app
from mockyard.auth import security_map
from mockyard.docs import docs_app, docs_wanted, is_docs_path
from mockyard.errors import WorkspaceError
from mockyard.fastpath import FastPath
from mockyard.guards import DEFAULT_MAX_BODY, DEFAULT_MAX_HEADERS, RequestGuardMiddleware
from mockyard.journal import Journal, RecorderMiddleware, Redactor, journal_routes, spec_credentials
from mockyard.responses import error_handlers
from mockyard.routing import ApiHooks, Runtime, load_module
from mockyard.safety import AdminTokenMiddleware
from mockyard.state import SandboxState
from mockyard.state_api import state_routes
from mockyard.store import Store
from mockyard.validation import validator_map

CONFIG_ENV = "MOCKYARD_SERVE_CONFIG"
_MIDDLEWARES = [m for m in ConnexionMiddleware.default_middlewares if m is not SwaggerUIMiddleware]


@dataclass(frozen=True)
class ServeConfig:
    """What `mockyard serve` decides; serialisable, so every worker process builds the same app."""

    workspace: str = "."
    state: str = ""
    seed: int | None = None
    strict: bool = False
    durable: bool = False  # fsync every commit: acknowledged writes survive a power cut too
    max_body: int = DEFAULT_MAX_BODY
    max_headers: int = DEFAULT_MAX_HEADERS
    specs: tuple[str, ...] = ()  # serve these spec files (or folders) instead of a workspace
    reload: bool = False  # a --reload process: reseed at start, serve a broken workspace as 503
    latency: str | None = None  # controls: None means "as mockyard.yaml says"
    cors_origins: list[str] | None = None  # [] is --no-cors
    admin_origins: list[str] | None = None
    journal: str = ""  # the journal's SQLite file [default: next to the state file]
    journal_size: int | None = None
    admin_token: str = ""
    fast_path: bool = True  # False: Connexion serves every request (tests compare the two)

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServeConfig:
        data = json.loads(os.environ[CONFIG_ENV])
        return cls(**{**data, "specs": tuple(data.get("specs", ()))})


@dataclass
class Sandbox:
    """A built sandbox: the ASGI app and the state behind it."""

    app: ASGIApp
    state: SandboxState
    runtime: Runtime
    spec: dict
    journal: Journal
    controls: controls.ControlSettings
    fast_path: FastPath | None = None


def build(config: ServeConfig) -> Sandbox:
    """Load the workspace, seed the state if it is empty, and assemble the ASGI app."""
    ws = served_workspace(config)
    hooks: dict[str, ApiHooks] = {}
    loaded = []
    fixture_files = {}
    for source in ws.apis:
        spec = specs.load_spec(source.spec)
        module = load_module(source.handlers, source.name) if source.handlers else None
        fixture = workspace.read_yaml(source.fixtures) if source.fixtures else {}
        hooks[source.name] = ApiHooks(source.name, module, fixture or {})
        fixture_files[source.name] = (source.fixtures, fixture)
        loaded.append((source.name, source.spec, spec, source.prefix))
    merged = specs.merge(loaded)

    if not config.state:
        raise WorkspaceError("a state file is required (ServeConfig.state)")
    store = Store(Path(config.state), synchronous="FULL" if config.durable else "NORMAL")
    seed = config.seed if config.seed is not None else ws.seed
    state = SandboxState(store, fixture_files, seed)
    if config.reload:  # the fixtures may have changed since the last start
        state.reset()
    else:
        state.ensure_seeded()
    runtime = Runtime(hooks, store, seed=lambda: state.seed, clock=lambda: datetime.now(UTC))
    runtime.index(merged)

    # Connexion's own Swagger UI layer is dropped: `docs` serves /openapi.json and /ui for the
    # merged spec, and that layer's router otherwise runs on every request.
    api = AsyncApp(__name__, middlewares=_MIDDLEWARES)
    api._middleware_app.api_cls = _OperationsBuiltOnce  # before add_api, which instantiates it
    api.add_api(
        copy.deepcopy(merged),
        swagger_ui_options=SwaggerUIOptions(serve_spec=False, swagger_ui=False),
        resolver=runtime.resolver(),
        validate_responses=config.strict,
        security_map=security_map(runtime),
        validator_map=validator_map(forms.body_validators()),
        pythonic_params=False,
    )
    api.add_middleware(
        RequestGuardMiddleware,
        position=MiddlewarePosition.BEFORE_VALIDATION,
        max_body=config.max_body,
        max_headers=config.max_headers,
    )
    for exc_class, handler in error_handlers(runtime).items():
        api.add_error_handler(exc_class, handler)
    docs = docs_app(merged) if docs_wanted(merged) else None

    settings = controls.load_settings(
        ws.settings.get("controls"),
        operation_ids=runtime.api_of_operation,
        source=ws.root / workspace.CONFIG_FILE,
        latency=config.latency,
        cors_origins=config.cors_origins,
        admin_origins=config.admin_origins,
        journal_size=config.journal_size,
    )
    journal = Journal(config.journal or f"{config.state}-requests", settings.journal_size)
    fixtures = {name: h.fixture for name, h in hooks.items()}
    schemas = record_schemas.load(fixture_files, state.seeded())
    admin_doc = admin_spec.document(
        PREFIX,
        schemas,
        apis=state.apis,
        journal_size=settings.journal_size,
        guarded=bool(config.admin_token),
    )
    admin: ASGIApp = admin_app(
        state,
        [
            *journal_routes(journal, PREFIX),
            *state_routes(state, schemas, fixtures, PREFIX),
            admin_spec.route(PREFIX, admin_doc),
        ],
    )
    if config.admin_token:
        admin = AdminTokenMiddleware(admin, config.admin_token)
    fast = None
    if config.fast_path and not config.strict:  # --strict validates responses: Connexion's job
        fast = FastPath(
            api, runtime, merged, max_body=config.max_body, max_headers=config.max_headers
        )
    served = controls.ControlsMiddleware(
        fast or api, runtime, settings, controls.OperationMatcher(merged, specs.API_TAG)
    )
    app = origins.guard(
        _Dispatch(admin, served, docs),
        settings.cors,
        admin_prefix=PREFIX,
        check_host=not config.admin_token,  # with a token, the token is the guard
    )
    redactor = Redactor(*spec_credentials(merged))
    app = RecorderMiddleware(app, journal, redactor, skip_prefix=PREFIX + "/")
    return Sandbox(controls.ConnectionDropper(app), state, runtime, merged, journal, settings, fast)


class _OperationBuiltOnce(AsyncOperation):
    """Connexion's `AsyncOperation.fn` is a property: every request rebuilt the operation's
    decorator chain, inspecting the handler's signature each time. The chain holds no request
    state (it reads the request from Connexion's context), so it is built once."""

    @functools.cached_property
    def fn(self) -> Callable[..., Any]:  # type: ignore[override]
        return AsyncOperation.fn.fget(self)  # type: ignore[attr-defined]


class _OperationsBuiltOnce(AsyncApi):
    def make_operation(self, operation: Any) -> AsyncOperation:
        return _OperationBuiltOnce.from_operation(
            operation, pythonic_params=self.pythonic_params, jsonifier=self.jsonifier
        )


def served_workspace(config: ServeConfig) -> workspace.Workspace:
    """The workspace `config` names, or one made of its spec files."""
    return workspace.from_specs(config.specs) if config.specs else workspace.load(config.workspace)


def app_from_env() -> ASGIApp:
    """uvicorn factory for worker processes: the config travels in an environment variable.

    Under --reload, a workspace broken by an edit is served as 503 with the error, and the next
    edit that fixes it restarts the process again."""
    config = ServeConfig.from_env()
    if not config.reload:
        return build(config).app
    try:
        return build(config).app
    except WorkspaceError as exc:
        return _broken(str(exc))


def _broken(message: str) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            response = PlainTextResponse(f"mockyard: workspace error: {message}\n", 503)
            await response(scope, receive, send)

    return app


class _Dispatch:
    """Routes /__mockyard/* to the admin app, /openapi.json and /ui to the docs, the rest to
    the served APIs."""

    def __init__(self, admin: ASGIApp, api: ASGIApp, docs: ASGIApp | None) -> None:
        self.admin = admin
        self.api = api
        self.docs = docs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX + "/"):
            await self.admin(scope, receive, send)
        elif self.docs and scope["type"] == "http" and is_docs_path(scope["path"]):
            await self.docs(scope, receive, send)
        else:
            await self.api(scope, receive, send)
