"""Builds the sandbox: one Connexion AsyncApp for the whole workspace, plus /__mockyard/."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from connexion import AsyncApp
from connexion.middleware import MiddlewarePosition
from starlette.types import ASGIApp, Receive, Scope, Send

from mockyard import controls, specs, workspace
from mockyard.admin import PREFIX, admin_app
from mockyard.auth import security_map
from mockyard.errors import WorkspaceError
from mockyard.guards import DEFAULT_MAX_BODY, RequestGuardMiddleware
from mockyard.journal import Journal, RecorderMiddleware, Redactor, journal_routes, spec_credentials
from mockyard.responses import error_handlers
from mockyard.routing import ApiHooks, Runtime, load_module
from mockyard.safety import AdminTokenMiddleware
from mockyard.state import SandboxState
from mockyard.state_api import load_schemas, state_routes
from mockyard.store import Store
from mockyard.validation import validator_map

CONFIG_ENV = "MOCKYARD_SERVE_CONFIG"


@dataclass(frozen=True)
class ServeConfig:
    """What `mockyard serve` decides; serialisable, so every worker process builds the same app."""

    workspace: str = "."
    state: str = ""
    seed: int | None = None
    strict: bool = False
    max_body: int = DEFAULT_MAX_BODY
    latency: str | None = None  # controls: None means "as mockyard.yaml says"
    cors_origins: list[str] | None = None
    journal: str = ""  # the journal's SQLite file [default: next to the state file]
    journal_size: int | None = None
    admin_token: str = ""

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServeConfig:
        return cls(**json.loads(os.environ[CONFIG_ENV]))


@dataclass
class Sandbox:
    """A built sandbox: the ASGI app and the state behind it."""

    app: ASGIApp
    state: SandboxState
    runtime: Runtime
    spec: dict
    journal: Journal
    controls: controls.ControlSettings


def build(config: ServeConfig) -> Sandbox:
    """Load the workspace, seed the state if it is empty, and assemble the ASGI app."""
    ws = workspace.load(config.workspace)
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
    store = Store(Path(config.state))
    seed = config.seed if config.seed is not None else ws.seed
    state = SandboxState(store, fixture_files, seed)
    state.ensure_seeded()
    runtime = Runtime(hooks, store, seed=state.seed, clock=lambda: datetime.now(UTC))
    runtime.index(merged)

    api = AsyncApp(__name__)
    api.add_api(
        merged,
        resolver=runtime.resolver(),
        validate_responses=config.strict,
        security_map=security_map(runtime),
        validator_map=validator_map(),
        pythonic_params=False,
    )
    api.add_middleware(
        RequestGuardMiddleware,
        position=MiddlewarePosition.BEFORE_VALIDATION,
        max_body=config.max_body,
    )
    for exc_class, handler in error_handlers(runtime).items():
        api.add_error_handler(exc_class, handler)

    settings = controls.load_settings(
        ws.settings.get("controls"),
        operation_ids=runtime.api_of_operation,
        source=ws.root / workspace.CONFIG_FILE,
        latency=config.latency,
        cors_origins=config.cors_origins,
        journal_size=config.journal_size,
    )
    journal = Journal(config.journal or f"{config.state}-requests", settings.journal_size)
    fixtures = {name: h.fixture for name, h in hooks.items()}
    admin: ASGIApp = admin_app(
        state,
        [
            *journal_routes(journal, PREFIX),
            *state_routes(state, load_schemas(fixture_files), fixtures, PREFIX),
        ],
    )
    if config.admin_token:
        admin = AdminTokenMiddleware(admin, config.admin_token)
    served = controls.ControlsMiddleware(
        api, runtime, settings, controls.OperationMatcher(merged, specs.API_TAG)
    )
    app = controls.with_cors(_Dispatch(admin, served), settings.cors_origins)
    redactor = Redactor(*spec_credentials(merged))
    app = RecorderMiddleware(app, journal, redactor, skip_prefix=PREFIX + "/")
    return Sandbox(controls.ConnectionDropper(app), state, runtime, merged, journal, settings)


def app_from_env() -> ASGIApp:
    """uvicorn factory for worker processes: the config travels in an environment variable."""
    return build(ServeConfig.from_env()).app


class _Dispatch:
    """Routes /__mockyard/* to the admin app and everything else to the served APIs."""

    def __init__(self, admin: ASGIApp, api: ASGIApp) -> None:
        self.admin = admin
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX + "/"):
            await self.admin(scope, receive, send)
        else:
            await self.api(scope, receive, send)
