"""Controls a client can put on the sandbox: CORS, latency, and injected faults.

They are set in `mockyard.yaml` (flags override it) and run as plain ASGI middleware in front of
the served APIs, before Connexion sees the request:

    controls:
      cors:                          # see `origins`; false turns CORS off
        origins: [...]               # besides localhost ones; "*" is any origin
        admin_origins: [...]         # pages that may use /__mockyard/* (none by default)
      latency: 100-400               # ms for every operation: a number or LOW-HIGH
      journal_size: 500              # requests kept by GET /__mockyard/requests
      operations:
        <operationId>:
          latency: 200               # overrides the global latency for this operation
          faults: {error: 0.1, drop: 0.05}

A client may also ask for a delay on one request with `Prefer: delay=MS` (RFC 7240 syntax).

Faults. `error` is the rate (0-1) of requests answered with the API's own documented 500 (its
`render_failure` hook), `drop` the rate of connections closed without any response. Whether the
n-th request to an operation since the last reset faults is a function of (seed, operationId, n)
alone, so a run is repeatable for a seed; n is counted in the store, so every worker draws from
one sequence. A faulted request never reaches its handler, and a delay happens before it, so
neither changes the API's state.

Each control action is an async function registered with `@control(name)`; the `Controls` step
runs them in registration order and the first to return an `ApiError` answers the request (an
action may also raise: an injected fault is an `InjectedFault`, which the error boundary renders
in the API's own format).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from mockyard import origins, prefer
from mockyard.asgi_scope import header
from mockyard.errors import (
    ApiError,
    DropConnection,
    InjectedFault,
    UnsatisfiablePreference,
    WorkspaceError,
)
from mockyard.operations import match_of
from mockyard.responses import asgi_response
from mockyard.runtime import Runtime
from mockyard.store import Transaction

DEFAULT_JOURNAL_SIZE = 500
BOOKKEEPING_API = "_mockyard"  # the store namespace of engine bookkeeping; never business data
FAULT_COUNTERS = "fault-counters"
INFO_KEY = "mockyard.controls"  # scope key: what the controls did to a request, for the journal


@dataclass(frozen=True)
class Latency:
    """A delay in milliseconds, fixed (`low == high`) or drawn uniformly from [low, high]."""

    low: float
    high: float

    def pick(self, rng: random.Random) -> float:
        return self.low if self.low == self.high else rng.uniform(self.low, self.high)


def parse_latency(value: object) -> Latency:
    """`200`, `"200"` or `"100-400"` (ms) -> Latency; ValueError for anything else."""
    text = str(value).strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?))?(?:\s*ms)?", text)
    if isinstance(value, bool) or match is None:
        raise ValueError(f"latency must be MS or LOW-HIGH in milliseconds, not {value!r}")
    low = float(match.group(1))
    high = float(match.group(2)) if match.group(2) else low
    if high < low or high > prefer.MAX_DELAY_MS:
        raise ValueError(f"latency range {text!r} must be LOW-HIGH with LOW <= HIGH <= 60000")
    return Latency(low, high)


@dataclass(frozen=True)
class OperationControls:
    """What `controls.operations.<operationId>` sets for one operation."""

    latency: Latency | None = None
    error_rate: float = 0.0
    drop_rate: float = 0.0


@dataclass(frozen=True)
class ControlSettings:
    """Every control, after mockyard.yaml and the command line are combined."""

    cors: origins.OriginPolicy = field(default_factory=origins.OriginPolicy)
    latency: Latency | None = None
    journal_size: int = DEFAULT_JOURNAL_SIZE
    operations: Mapping[str, OperationControls] = field(default_factory=dict)


def load_settings(
    raw: object,
    *,
    operation_ids: Iterable[str],
    source: object = None,
    latency: str | None = None,
    cors_origins: list[str] | None = None,
    admin_origins: list[str] | None = None,
    journal_size: int | None = None,
) -> ControlSettings:
    """Read the `controls:` section of mockyard.yaml; the keyword arguments (flags) win over it."""
    try:
        return _load(raw, set(operation_ids), latency, (cors_origins, admin_origins), journal_size)
    except (ValueError, TypeError) as exc:
        raise WorkspaceError(f"controls: {exc}", path=source) from exc


def _load(
    raw: object,
    known: set[str],
    latency: str | None,
    cors_flags: tuple[list[str] | None, list[str] | None],
    journal_size: int | None,
) -> ControlSettings:
    section = raw or {}
    if not isinstance(section, dict):
        raise ValueError("expected a mapping")
    unknown = set(section) - {"cors", "latency", "journal_size", "operations"}
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
    cors = origins.load(section.get("cors"), *cors_flags)
    global_latency = latency if latency is not None else section.get("latency")
    size = journal_size if journal_size is not None else section.get("journal_size")
    size = DEFAULT_JOURNAL_SIZE if size is None else size
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"journal_size must be a positive integer, not {size!r}")
    operations = {}
    for op_id, opts in (section.get("operations") or {}).items():
        if op_id not in known:
            raise ValueError(f"operations: no operation {op_id!r} in the served specs")
        operations[op_id] = _operation(op_id, opts or {})
    return ControlSettings(
        cors=cors,
        latency=parse_latency(global_latency) if global_latency not in (None, 0, "0") else None,
        journal_size=size,
        operations=operations,
    )


def _operation(op_id: str, opts: Mapping[str, Any]) -> OperationControls:
    unknown = set(opts) - {"latency", "faults"}
    if unknown:
        raise ValueError(f"operations.{op_id}: unknown keys: {', '.join(sorted(unknown))}")
    faults = opts.get("faults") or {}
    if set(faults) - {"error", "drop"}:
        raise ValueError(f"operations.{op_id}.faults: only 'error' and 'drop' rates")
    rates = {}
    for kind in ("error", "drop"):
        rate = faults.get(kind, 0)
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
            raise ValueError(f"operations.{op_id}.faults.{kind} must be a rate from 0 to 1")
        rates[kind] = float(rate)
    if rates["error"] + rates["drop"] > 1:
        raise ValueError(f"operations.{op_id}.faults: error + drop must not exceed 1")
    latency = opts.get("latency")
    return OperationControls(
        latency=parse_latency(latency) if latency is not None else None,
        error_rate=rates["error"],
        drop_rate=rates["drop"],
    )


# --- the registry of control actions -------------------------------------------------------------


@dataclass
class ControlRequest:
    """One request as the control actions see it."""

    scope: Scope
    runtime: Runtime
    settings: ControlSettings
    api: str | None
    operation_id: str | None
    rng: random.Random
    info: dict[str, Any]

    @property
    def operation(self) -> OperationControls:
        return self.settings.operations.get(self.operation_id or "", _NO_CONTROLS)

    def header(self, name: bytes) -> list[str]:
        return [v.decode("latin-1") for k, v in self.scope.get("headers", []) if k == name]


_NO_CONTROLS = OperationControls()
ControlAction = Callable[[ControlRequest], Awaitable[ApiError | None]]
ACTIONS: dict[str, ControlAction] = {}


def control(name: str) -> Callable[[ControlAction], ControlAction]:
    """Register a control action under `name` (a duplicate name is an error)."""

    def register(action: ControlAction) -> ControlAction:
        if name in ACTIONS:
            raise ValueError(f"control action {name!r} is already registered")
        ACTIONS[name] = action
        return action

    return register


def unregister(name: str) -> None:
    ACTIONS.pop(name, None)


@control("latency")
async def delay(request: ControlRequest) -> None:
    """`Prefer: delay=MS`, else the operation's latency, else the global one."""
    ms = prefer_delay(request.header(b"prefer"))
    if ms is None:
        latency = request.operation.latency or request.settings.latency
        ms = latency.pick(request.rng) if latency else None
    if ms:
        request.info["delay_ms"] = round(ms, 1)
        await asyncio.sleep(ms / 1000)


@control("faults")
async def fault(request: ControlRequest) -> ApiError | None:
    op = request.operation
    if not (op.error_rate or op.drop_rate) or request.api is None:
        return None
    draw = await run_in_threadpool(_draw, request.runtime, request.operation_id or "")
    if draw < op.error_rate:
        request.info["fault"] = "error"
        raise InjectedFault("fault injected by mockyard")
    if draw < op.error_rate + op.drop_rate:
        request.info["fault"] = "drop"
        raise DropConnection
    return None


_BUILT_IN = (delay, fault)  # `Controls` skips them for a request they cannot act on


def prefer_delay(values: Iterable[str]) -> float | None:
    """The `delay` preference of `Prefer` headers, capped at 60 s; None when absent or malformed.

    A malformed `Prefer` is not ignored: once the request is authenticated and validated, it is
    answered with 400 like any preference that cannot be honoured (`prefer.parse`)."""
    for value in values:
        try:
            delay = prefer.parse(value).delay
        except UnsatisfiablePreference:
            return None
        if delay is not None:
            return delay
    return None


def _draw(runtime: Runtime, operation_id: str) -> float:
    """A number in [0, 1) for the next request to `operation_id`, fixed by (seed, op, count)."""

    def count(tx: Transaction) -> tuple[int, int]:
        stored = tx.seed()
        counter = tx.get(BOOKKEEPING_API, FAULT_COUNTERS, operation_id) or {"n": 0}
        tx.put(BOOKKEEPING_API, FAULT_COUNTERS, operation_id, {"n": counter["n"] + 1})
        return (runtime.seed if stored is None else stored), counter["n"] + 1

    seed, n = runtime.store.run(count, write=True)
    digest = hashlib.sha256(f"{seed}|{operation_id}|{n}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


# --- middleware ----------------------------------------------------------------------------------


class Controls:
    """Pipeline step: the registered control actions, before anything reads the request."""

    def __init__(self, app: ASGIApp, runtime: Runtime, settings: ControlSettings) -> None:
        self.app = app
        self.runtime = runtime
        self.settings = settings
        self.rng = random.Random()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        op = match_of(scope).operation
        api, op_id = (op.api, op.operation_id) if op is not None else (None, None)
        if self._idle(op_id, scope):
            await self.app(scope, receive, send)
            return
        info = scope.get(INFO_KEY)
        if info is None:
            info = scope[INFO_KEY] = {}
        request = ControlRequest(scope, self.runtime, self.settings, api, op_id, self.rng, info)
        for action in list(ACTIONS.values()):
            reply = await action(request)
            if reply is not None:
                await asgi_response(reply)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _idle(self, operation_id: str | None, scope: Scope) -> bool:
        """True when no action could act on this request: only the built-in ones are
        registered, no latency is set (globally or for the operation), the operation has no
        faults and the request no `Prefer` header (which may ask for a delay)."""
        return (
            tuple(ACTIONS.values()) == _BUILT_IN
            and self.settings.latency is None
            and (operation_id or "") not in self.settings.operations
            and header(scope, b"prefer") is None
        )


class ConnectionDropper:
    """The outermost layer: turns `DropConnection` into a closed socket and no response.

    uvicorn hands the application its connection's own `send` method; its object owns the
    transport. Closing that transport and marking the cycle disconnected ends the exchange
    without a status line, as a crashed upstream would. Servers that do not expose a transport
    (an in-process test client) see the exception instead.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except DropConnection:
            cycle = getattr(send, "__self__", None)
            transport = getattr(cycle, "transport", None)
            if transport is None:
                raise
            await _drain(receive)  # so the close is a clean FIN, not a reset mid-upload
            transport.close()
            cycle.disconnected = True  # type: ignore[union-attr]


async def _drain(receive: Receive, limit: int = 1024 * 1024) -> None:
    """Read what is left of the request body (at most `limit` bytes)."""
    seen = 0
    while seen <= limit:
        message = await receive()
        seen += len(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
