"""`mockyard proxy`: the workspace's APIs served by forwarding each request to the real
deployment, every exchange validated against the effective spec on the way.

The pipeline is the sandbox's outer half with a different last step (`Forward` instead of the
`Endpoint`), outermost first:

    ErrorBoundary      the last resort, in the API's format
    MatchRequest       the operation of the request, once (the checks and the journal read it)
    RecorderMiddleware the access log and the request journal (violations included)
    Origins            403 for a web page's drive-by on the journal (`origins`)
    Dispatch           /__mockyard/requests: the journal
    ErrorBoundary      refusals, 502 and 504 answered in the API's own format
    Route              --strict only: 404/405 for what no operation documents
    Forward            the request to the upstream, its answer streamed back unchanged

What `Forward` does, as Prism's proxy does: the body is never changed either way; a request or
response body is kept (up to `max_checked` bytes) only to be checked once it has gone through.
An upstream that cannot be reached is the API's 502, one that does not answer in time its
504. With `strict` (Prism's `--errors`) a request the spec refuses is answered with the API's
own 4xx (401 for missing credentials) and not forwarded. Off loopback, what can change state
(a method that is not safe, or an operation marked `x-mockyard-writes: true`) is refused with
the API's 403 unless mutations are allowed, as `contract` does not send it there.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockyard import origins
from mockyard import workspace as workspace_mod
from mockyard.admin import PREFIX
from mockyard.app import Dispatch
from mockyard.asgi_scope import query_pairs
from mockyard.contract_target import is_loopback, parse_base_url
from mockyard.controls import INFO_KEY
from mockyard.endpoint import Route
from mockyard.errors import (
    InvalidInput,
    MutationRefused,
    Unauthorized,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from mockyard.journal import Journal, RecorderMiddleware, Redactor, journal_routes, spec_credentials
from mockyard.mocking import Responder
from mockyard.operations import SAFE_METHODS, Match, MatchRequest, Operation, match_of
from mockyard.proxy_checks import Call, Checker, Violation, undocumented
from mockyard.responses import Answers, ErrorBoundary
from mockyard.runtime import Runtime
from mockyard.safety import AdminTokenMiddleware
from mockyard.store import open_store

logger = logging.getLogger("mockyard.proxy")

DEFAULT_TIMEOUT = 30.0
MAX_CHECKED = 4 * 1024 * 1024  # bytes of a body kept to check and record; more is not checked
WRITES = "x-mockyard-writes"
# RFC 9110's hop-by-hop headers: they describe one connection, never forwarded.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_DECODERS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


@dataclass(frozen=True)
class Upstream:
    """The real deployment: its base URL, whether it is loopback, whether writes may go there."""

    base_url: str
    host: str
    loopback: bool
    allow_mutations: bool = False

    @classmethod
    def of(cls, url: str, *, allow_mutations: bool = False) -> Upstream:
        base, host = parse_base_url(url, "--upstream")
        return cls(base, host, is_loopback(host), allow_mutations)

    def refusal(self, method: str, op: Operation | None) -> str | None:
        """Why a request is not forwarded for changing state off loopback, or None."""
        if self.loopback or self.allow_mutations:
            return None
        marked = op is not None and op.spec.get(WRITES) is True
        if method.upper() not in SAFE_METHODS | {"TRACE"} or marked:
            return (
                f"mockyard proxy does not forward {method.upper()} to {self.host}, which is not "
                "a loopback address, unless it runs with --allow-mutations"
            )
        return None

    def url(self, scope: Scope) -> str:
        path: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope.get("query_string", b"")
        return self.base_url + path.decode("latin-1") + ("?" + query.decode() if query else "")


@dataclass
class Seen:
    """One exchange as the proxy saw it: what the report and the recording are made of.

    Bodies are the decoded bytes (at most `MAX_CHECKED`; None when larger); `forwarded` is False
    for a request the proxy answered itself (--strict, a refused write, the upstream down)."""

    method: str
    path: str
    query: list[tuple[str, str]]
    match: Match
    request_headers: list[tuple[str, str]]
    url: str
    request_body: bytes | None = b""
    status: int | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: bytes | None = b""
    violations: list[Violation] = field(default_factory=list)
    forwarded: bool = True
    failure: str = ""  # why the upstream gave no answer (502, 504)

    @property
    def operation(self) -> Operation | None:
        return self.match.operation

    @property
    def response_type(self) -> str:
        return next((v for k, v in self.response_headers if k.lower() == "content-type"), "")


Observer = Callable[[Seen], None]


class _Body:
    """A request body read from ASGI `receive` as it is forwarded; the first `limit` bytes
    kept. `read_ahead` reads it up front (to check it before forwarding), up to the limit."""

    def __init__(self, receive: Receive, limit: int, present: bool) -> None:
        self.receive = receive
        self.limit = limit
        self.done = not present
        self.chunks: list[bytes] = []  # read ahead, not forwarded yet
        self.kept = bytearray()
        self.size = 0

    async def _next(self) -> bytes:
        message = await self.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        self.done = not message.get("more_body", False)
        self.size += len(chunk)
        if self.size <= self.limit:
            self.kept += chunk
        return chunk

    async def read_ahead(self) -> None:
        while not self.done and self.size <= self.limit:
            self.chunks.append(await self._next())

    async def stream(self) -> AsyncIterator[bytes]:
        while self.chunks:
            yield self.chunks.pop(0)
        while not self.done:
            yield await self._next()

    @property
    def body(self) -> bytes | None:
        """The whole body when it is read and small enough to check, else None."""
        return bytes(self.kept) if self.done and self.size <= self.limit else None


class Forward:
    """Pipeline step: the request to the upstream, its answer streamed back unchanged, the
    exchange checked (and then journaled, reported and recorded by the observers)."""

    def __init__(
        self,
        upstream: Upstream,
        checker: Checker,
        client: httpx.AsyncClient,
        observers: Iterable[Observer],
        *,
        strict: bool = False,
        max_checked: int = MAX_CHECKED,
    ) -> None:
        self.upstream = upstream
        self.checker = checker
        self.client = client
        self.observers = tuple(observers)
        self.strict = strict
        self.max_checked = max_checked

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, self.client)
            return
        if scope["type"] != "http":
            return
        match = match_of(scope)
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        seen = Seen(
            scope["method"], scope["path"], query_pairs(scope), match, headers,
            self.upstream.url(scope),
        )  # fmt: skip
        refusal = self.upstream.refusal(seen.method, match.operation)
        if refusal:
            self._refused(scope, seen, MutationRefused.status, refusal)
            raise MutationRefused(refusal)
        present = any(k in ("content-length", "transfer-encoding") for k, _ in headers)
        body = _Body(receive, self.max_checked, present and _length(headers) != 0)
        call = None
        if match.operation is not None:
            call = Call(match.operation, match.path_params, seen.path, seen.query, headers)
        if self.strict and call is not None:
            await body.read_ahead()
            seen.request_body = body.body
            found = self.checker.request(_with_body(call, body.body))
            if found:
                seen.violations = found
                first = found[0]
                self._refused(scope, seen, first.status, first.message)
                refused = Unauthorized if first.status == 401 else InvalidInput
                raise refused(first.message.splitlines()[0])
        request = httpx.Request(
            seen.method,
            seen.url,
            headers=[(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP | {"host"}],
            content=body.stream() if present else None,
        )
        try:
            response = await self.client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            message = f"{self.upstream.base_url} did not answer in time ({_reason(exc)})"
            self._refused(scope, seen, UpstreamTimeout.status, message, failed=True)
            raise UpstreamTimeout(message) from exc
        except httpx.TransportError as exc:
            message = f"cannot reach {self.upstream.base_url}: {_reason(exc)}"
            self._refused(scope, seen, UpstreamUnreachable.status, message, failed=True)
            raise UpstreamUnreachable(message) from exc
        try:
            kept = await self._relay(response, send, seen)
        finally:
            await response.aclose()
        seen.request_body = body.body
        seen.response_body = _decoded(kept, response.headers.get("content-encoding", ""))
        if call is not None:
            checked = _with_body(call, seen.request_body)
            if not self.strict:
                seen.violations += self.checker.request(checked)
            seen.violations += self.checker.response(
                checked, seen.status or 0, seen.response_headers, seen.response_body
            )
        else:
            seen.violations.append(undocumented(seen.method, seen.path, match.near))
        self._observed(scope, seen)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _relay(self, response: httpx.Response, send: Send, seen: Seen) -> bytes | None:
        """Send the upstream's status, headers and raw body on; all but the last empty chunk,
        which goes once the exchange is checked (the journal records it then)."""
        raw = [(k, v) for k, v in response.headers.raw if k.lower().decode() not in HOP_BY_HOP]
        seen.status = response.status_code
        seen.response_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]
        await send({"type": "http.response.start", "status": response.status_code, "headers": raw})
        kept: bytearray | None = bytearray()
        async for chunk in response.aiter_raw():
            if kept is not None:
                kept = kept + chunk if len(kept) + len(chunk) <= self.max_checked else None
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        return None if kept is None else bytes(kept)

    def _refused(
        self, scope: Scope, seen: Seen, status: int, message: str, failed: bool = False
    ) -> None:
        """An exchange the proxy answers itself, observed before its answer is rendered."""
        seen.forwarded = False
        seen.status = status
        if failed:
            seen.failure = message
        self._observed(scope, seen)

    def _observed(self, scope: Scope, seen: Seen) -> None:
        if seen.violations:
            scope.setdefault(INFO_KEY, {})["violations"] = [v.as_json() for v in seen.violations]
            for violation in seen.violations:
                logger.warning(
                    "violation: %s %s -> %s: %s: %s",
                    seen.method,
                    seen.path,
                    seen.status,
                    violation.check,
                    "; ".join(line.strip() for line in violation.message.splitlines()[:2]),
                )
        for observe in self.observers:
            observe(seen)


def _with_body(call: Call, body: bytes | None) -> Call:
    return Call(call.operation, call.path_params, call.path, call.query, call.headers, body)


def _length(headers: list[tuple[str, str]]) -> int | None:
    raw = next((v for k, v in headers if k.lower() == "content-length"), None)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _decoded(body: bytes | None, encoding: str) -> bytes | None:
    """The body as its Content-Encoding decodes it; None when it cannot be (br, zstd)."""
    encoding = encoding.strip().lower()
    if body is None or encoding in ("", "identity"):
        return body
    wbits = _DECODERS.get(encoding)
    if wbits is None:
        return None
    try:
        return zlib.decompress(body, wbits)
    except zlib.error:
        return None


def _reason(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


async def _lifespan(receive: Receive, send: Send, client: httpx.AsyncClient) -> None:
    """Starts nothing; at shutdown closes the upstream connections."""
    while True:
        message: Message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await client.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return


# --- assembly -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProxyConfig:
    """What `mockyard proxy` decides."""

    upstream: str
    workspace: str = "."
    specs: tuple[str, ...] = ()
    scratch: str = ""  # a private directory: the journal, the (unused) store of the renderer
    strict: bool = False
    allow_mutations: bool = False
    timeout: float = DEFAULT_TIMEOUT
    journal_size: int = 500
    admin_token: str = ""
    max_checked: int = MAX_CHECKED


@dataclass
class Proxy:
    """A built proxy: the ASGI app, what it forwards to, and what it serves."""

    app: ASGIApp
    upstream: Upstream
    workspace: workspace_mod.Workspace
    journal: Journal
    started: datetime


def build(
    config: ProxyConfig,
    observers: Iterable[Observer],
    ws: workspace_mod.Workspace | None = None,
    upstream: Upstream | None = None,
) -> Proxy:
    """Assemble the proxy's pipeline; `observers` see every exchange once it is checked. `ws`
    and `upstream` are the workspace and upstream `config` names, when already loaded and
    classified (the upstream's name is then looked up once)."""
    ws = ws or (
        workspace_mod.from_specs(config.specs)
        if config.specs
        else workspace_mod.load(config.workspace)
    )
    upstream = upstream or Upstream.of(config.upstream, allow_mutations=config.allow_mutations)
    scratch = Path(config.scratch)
    # Failures are rendered as each API documents them: its hooks, else its spec's answer.
    runtime = Runtime(
        ws.hooks,
        open_store(str(scratch / "renderer.sqlite3")),
        seed=lambda: ws.seed,
        clock=lambda: datetime.now(UTC),
    )
    answers = Answers(runtime, Responder(ws.merged, lambda: ws.seed))
    journal = Journal(scratch / "requests.sqlite3", config.journal_size)
    admin: ASGIApp = Starlette(routes=journal_routes(journal, PREFIX))
    if config.admin_token:
        admin = AdminTokenMiddleware(admin, config.admin_token)
    client = httpx.AsyncClient(
        timeout=httpx.Timeout(config.timeout), follow_redirects=False, trust_env=False
    )
    forward = Forward(
        upstream,
        Checker(ws.merged),
        client,
        observers,
        strict=config.strict,
        max_checked=config.max_checked,
    )
    app: ASGIApp = Route(forward) if config.strict else forward
    app = ErrorBoundary(app, answers)
    app = Dispatch(app, admin, None, ws.merged)
    # The journal is the admin API's: no web page of another origin, no rebinding Host reads
    # it; CORS headers are the upstream's, as they come.
    policy = origins.OriginPolicy(enabled=False)
    app = origins.Origins(app, policy, admin_prefix=PREFIX, check_host=not config.admin_token)
    redactor = Redactor(*spec_credentials(ws.merged))
    app = RecorderMiddleware(app, journal, redactor, skip_prefix=PREFIX + "/")
    app = MatchRequest(app, ws.index)
    app = ErrorBoundary(app, answers)
    return Proxy(app, upstream, ws, journal, datetime.now(UTC))
