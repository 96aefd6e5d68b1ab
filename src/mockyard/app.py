"""Builds the sandbox: the workspace's operations served through one pipeline, plus /__mockyard/.

Every request takes the same way, the steps listed in `build` (outermost first), each a small
ASGI class with one job, as Starlette's `build_middleware_stack` lists its own:

    ConnectionDropper  a drop a fault control asked for closes the socket (it needs uvicorn's
                       own `send`, so it wraps even the error boundary)
    ErrorBoundary      the last resort: whatever nothing inside answered, in the API's format
    MatchRequest       the operation index matches the request, once; the Match rides on it
    RecorderMiddleware the access log and the request journal
    Origins            403 for a web page's drive-by on the admin API; CORS for the rest:
                       preflights, CORS headers on every answer, errors and faults included
    Dispatch           /__mockyard/* to the admin API, /openapi.json and /ui to the docs
    Challenges         every 401 with a `WWW-Authenticate` challenge
    ErrorBoundary      what a request ends with, answered where CORS and the journal see it
    Controls           latency, injected faults (before anything reads the request)
    Route              404, 405 and trailing-slash redirects for what matched no operation
    Identify           the caller's credentials, as the operation's security reads them
    Guards             header and body size, a body's Content-Type, chunked bodies
    Replay             a request `mockyard proxy --record` recorded: the answer it got
    Idempotency        a used idempotency key: its first answer replayed, never run twice
    ErrorBoundary      what the Endpoint raises, answered where Idempotency records it
    Endpoint           arguments (the fast reader, else Connexion), then the handler or mock
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from mockyard import (
    admin_spec,
    controls,
    origins,
    record_schemas,
    resource_seeds,
    startup,
    workspace,
)
from mockyard.admin import PREFIX, admin_app
from mockyard.auth import Challenges, Identify
from mockyard.connexion_app import Background, connexion_app
from mockyard.docs import Credential, docs_app, docs_wanted, is_docs_path
from mockyard.endpoint import Endpoint, Route
from mockyard.errors import WorkspaceError
from mockyard.fastpath import FastReader
from mockyard.guards import DEFAULT_MAX_BODY, DEFAULT_MAX_HEADERS, Guards
from mockyard.idempotency import Idempotency, policies
from mockyard.journal import Journal, RecorderMiddleware, Redactor, journal_routes, spec_credentials
from mockyard.mocking import Responder
from mockyard.operations import MatchRequest
from mockyard.replay import Replay
from mockyard.responses import Answers, ErrorBoundary
from mockyard.runtime import Runtime
from mockyard.safety import AdminTokenMiddleware
from mockyard.state import SandboxState
from mockyard.state_api import state_routes
from mockyard.store import is_url, open_store

CONFIG_ENV = "MOCKYARD_SERVE_CONFIG"
# Seconds after a build before Connexion's own build begins (sooner when a request needs it):
# the first requests of a start, almost always plain ones, are answered without waiting on it.
CONNEXION_DELAY = 1.0


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
    fast_path: bool = True  # False: Connexion reads every request (tests compare the two)

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
    workspace: workspace.Workspace
    state: SandboxState
    runtime: Runtime
    journal: Journal
    controls: controls.ControlSettings
    fast_path: FastReader | None = None  # None: Connexion reads every request

    def close(self) -> None:
        """Release the state's and the journal's files, for a process that goes on after the
        sandbox (an in-process test client, an app that embeds one); `serve` simply exits."""
        self.journal.close()
        self.state.store.close()

    @property
    def spec(self) -> dict[str, Any]:
        """The merged document every API is served from."""
        return self.workspace.merged


def build(config: ServeConfig, ws: workspace.Workspace | None = None) -> Sandbox:
    """Load the workspace (unless `ws` is the one `config` names, already loaded), seed the
    state if it is empty, and assemble the pipeline."""
    ws = ws or served_workspace(config)
    merged, index = ws.merged, ws.index
    fixture_files = {s.name: (s.fixtures, ws.fixtures[s.name]) for s in ws.apis}

    if not config.state:
        raise WorkspaceError("a state file or database URL is required (ServeConfig.state)")
    store = open_store(config.state, durable=config.durable)
    seed = config.seed if config.seed is not None else ws.seed
    state = SandboxState(
        store, fixture_files, seed, lambda s, built: inferred_records(ws, s, built)
    )
    if config.reload:  # the fixtures may have changed since the last start
        state.reset()
    else:
        state.ensure_seeded()
    runtime = Runtime(ws.hooks, store, seed=lambda: state.seed, clock=lambda: datetime.now(UTC))
    responder = Responder(merged, lambda: runtime.seed)
    answers = Answers(runtime, responder)
    # --strict validates responses, which Connexion does: every request then goes through it.
    reader = FastReader() if config.fast_path and not config.strict else None
    endpoint = Endpoint(runtime, responder, reader)
    endpoint.connect(
        Background(
            lambda: connexion_app(index, endpoint.invoke, strict=config.strict),
            delay=CONNEXION_DELAY,
        )
    )

    settings = controls.load_settings(
        ws.settings.get("controls"),
        operation_ids=index.by_id,
        source=ws.root / workspace.CONFIG_FILE,
        latency=config.latency,
        cors_origins=config.cors_origins,
        admin_origins=config.admin_origins,
        journal_size=config.journal_size,
    )
    idempotency = policies(
        {s.name: s.idempotency for s in ws.apis if s.idempotency is not None},
        source=ws.root / workspace.CONFIG_FILE,
    )
    journal = Journal(config.journal or _journal_file(config.state), settings.journal_size)
    schemas = record_schemas.load(fixture_files, state.seeded())
    admin_doc = functools.partial(
        admin_spec.document,
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
            *state_routes(state, schemas, ws.fixtures, PREFIX),
            admin_spec.route(PREFIX, admin_doc),
        ],
    )
    if config.admin_token:
        admin = AdminTokenMiddleware(admin, config.admin_token)
    docs = docs_app(merged, _titles(ws), _credentials(ws)) if docs_wanted(merged) else None
    pipeline = [
        Middleware(controls.ConnectionDropper),
        Middleware(ErrorBoundary, answers),
        Middleware(MatchRequest, index),
        Middleware(
            RecorderMiddleware,
            journal,
            Redactor(*spec_credentials(merged)),
            skip_prefix=PREFIX + "/",
        ),
        # No web page of an origin not configured drives the admin API, and every answer
        # carries CORS headers, errors and faults included.
        Middleware(
            origins.Origins, settings.cors, admin_prefix=PREFIX, check_host=not config.admin_token
        ),
        Middleware(Dispatch, admin, docs, merged),
        Middleware(Challenges),
        Middleware(ErrorBoundary, answers),
        Middleware(controls.Controls, runtime, settings),
        Middleware(Route),
        Middleware(Identify, runtime),
        Middleware(Guards, max_body=config.max_body, max_headers=config.max_headers),
        Middleware(Replay, runtime),
        Middleware(Idempotency, runtime, idempotency),
        Middleware(ErrorBoundary, answers),
    ]
    app: ASGIApp = endpoint
    for step in reversed(pipeline):
        app = step.cls(app, *step.args, **step.kwargs)
    return Sandbox(app, ws, state, runtime, journal, settings, reader)


def _journal_file(state: str) -> str:
    """Where the journal goes when `serve` names no place: next to a state file, or in a new
    temporary directory for a database state (the journal stays with the instance)."""
    if not is_url(state):
        return f"{state}-requests"
    return str(Path(tempfile.mkdtemp(prefix="mockyard-journal-")) / "requests.sqlite3")


def _titles(ws: workspace.Workspace) -> dict[str, str]:
    """What each API's tag in the docs says: its spec's title."""
    return {name: str(spec.get("info", {}).get("title", name)) for name, spec in ws.specs.items()}


def _credentials(ws: workspace.Workspace) -> list[Credential]:
    """The sandbox credentials every fixture file lists, for the docs' Authorize dialog."""
    found = []
    for fixture in ws.fixtures.values():
        for entry in fixture.get("credentials") or []:
            if isinstance(entry, dict) and entry.get("scheme") and entry.get("value") is not None:
                found.append(
                    Credential(
                        str(entry["scheme"]),
                        str(entry["value"]),
                        str(entry.get("password", "")),
                        str(entry.get("note", "")),
                        bool(entry.get("default")),
                    )
                )
    return found


def inferred_records(
    ws: workspace.Workspace, seed: int, built: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, dict[str, Any]]]:
    """The seeded records of the inferred collections the fixtures (`built`) do not fill."""
    return resource_seeds.seed_records(ws.inference, ws.merged, seed, built, ws.merged_source)


def served_workspace(config: ServeConfig) -> workspace.Workspace:
    """The workspace `config` names, or one made of its spec files."""
    return workspace.from_specs(config.specs) if config.specs else workspace.load(config.workspace)


def app_from_env() -> ASGIApp:
    """uvicorn factory for worker processes: the config travels in an environment variable.

    Under --reload, a workspace broken by an edit is served as 503 with the error, and the next
    edit that fixes it restarts the process again."""
    config = ServeConfig.from_env()
    with startup.long_lived():
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


class Dispatch:
    """Pipeline step: /__mockyard/* to the admin app, /openapi.json and /ui to the docs, the
    rest on to the served APIs."""

    def __init__(
        self, app: ASGIApp, admin: ASGIApp, docs: ASGIApp | None, served: Mapping[str, Any]
    ) -> None:
        self.app = app
        self.admin = admin
        self.docs = docs
        self.served = served  # the merged document: a path `/` of an API is not the docs
        self.admin_paths = PREFIX + "/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.admin_paths):
            await self.admin(scope, receive, send)
        elif self.docs and scope["type"] == "http" and is_docs_path(scope["path"], self.served):
            await self.docs(scope, receive, send)
        else:
            await self.app(scope, receive, send)
