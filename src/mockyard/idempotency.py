"""Idempotent retries: a request repeated with its idempotency key is answered once, then replayed.

An API declares its idempotency header in `mockyard.yaml` (every key but `header` is optional):

    apis:
      payments:
        idempotency:
          header: Idempotency-Key        # the request header that carries the key
          replayed: Idempotent-Replayed  # set to "true" on a replayed answer [default: none]
          expires: 86400                 # seconds a key is kept [default: 24 h]
          max_length: 255                # a longer key is a 400 naming the header
          conflict: 422                  # the key was used for another request
          in_progress: 409               # the key's first request has not been answered yet

An operation of an API that declares nothing, but whose spec names an `Idempotency-Key` header
parameter, gets the same with the defaults (the IETF idempotency-key draft's header and codes).

How it works, as Stripe's and the IETF draft's keys do: a key applies to operations that may
write (any method but GET, HEAD and OPTIONS) and is scoped to the API and to the caller, who is
named first (so a 401 still wins). The first request with a key claims it in the store, runs,
and its answer (status, headers, body) is kept with a fingerprint of the request (method, path,
query, content type, body, `Prefer` and the header parameters the operation declares). A retry
with the same fingerprint gets that answer again, plus the `replayed` header, without reaching
the handler; another request with the key gets the API's `conflict` answer (rendered by its
`render_failure` hook, in its own format) once it is found valid: an invalid one gets its 400
as any invalid request does (`refusal_of`, which the endpoint raises before anything runs).
Answers a retry could change (a 5xx, a 429) are not kept: the key is released and the retry
runs.

Keys live in the store, so every worker sees them and they survive a restart on `--state`; a
reset forgets them. Two concurrent requests with one key never both run: the claim is one write
transaction, and the second waits for the first's answer (up to `WAIT_SECONDS`), then replays
it. A request whose answer was never recorded (the process died in between) leaves its key
claimed until it expires: its retries get `in_progress`, never a second run.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockyard import auth
from mockyard.asgi_scope import header
from mockyard.errors import InvalidInput, RequestRefused, WorkspaceError, reason_phrase
from mockyard.guards import replay
from mockyard.operations import Operation, match_of
from mockyard.runtime import Runtime

DEFAULT_HEADER = "idempotency-key"
REFUSAL_KEY = "mockyard.idempotency"
BOOKKEEPING_API = "_mockyard"
KEYS = "idempotency-keys"
WAIT_SECONDS = 10.0
_POLL_SECONDS = 0.01
_SWEEP_SECONDS = 60.0
_NOT_KEPT = frozenset({429})
_UNSTORED_HEADERS = frozenset({b"content-length", b"transfer-encoding", b"connection", b"date"})
_OPTIONS = frozenset({"header", "replayed", "expires", "max_length", "conflict", "in_progress"})


@dataclass(frozen=True)
class Policy:
    """How one API treats idempotency keys (see the module's docstring for each field)."""

    header: str = DEFAULT_HEADER
    replayed: str = ""
    expires: float = 24 * 3600
    max_length: int = 255
    conflict: int = 422
    in_progress: int = 409


class KeyReused(RequestRefused):
    """An idempotency key met again: used for another request (the API's `conflict` status), or
    whose first request is still unanswered (`in_progress`)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = reason_phrase(status)


def policies(declared: Mapping[str, Any], source: object = None) -> dict[str, Policy]:
    """Each API's policy from its `idempotency:` section (`declared`: API name -> section)."""
    out = {}
    for api, raw in declared.items():
        try:
            out[api] = _policy(raw)
        except (TypeError, ValueError) as exc:
            raise WorkspaceError(f"apis.{api}.idempotency: {exc}", path=source) from exc
    return out


def _policy(raw: Any) -> Policy:
    if not isinstance(raw, Mapping):
        raise TypeError("expected a mapping with at least `header`")
    unknown = set(raw) - _OPTIONS
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
    name = raw.get("header")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("`header` must name the request header that carries the key")
    numbers = {}
    for key, low, high in (
        ("expires", 1, 10**9),
        ("max_length", 1, 8192),
        ("conflict", 400, 499),
        ("in_progress", 400, 499),
    ):
        if key in raw:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"`{key}` must be a whole number from {low} to {high}")
            numbers[key] = value
    replayed = raw.get("replayed", "")
    if not isinstance(replayed, str):
        raise ValueError("`replayed` must name a response header")
    return Policy(header=name.strip().lower(), replayed=replayed.strip(), **numbers)


class Idempotency:
    """Pipeline step: replays the answer a used idempotency key was given (module docstring).

    It sits after `Identify` (a key is scoped to its caller) and `Guards` (the body it
    fingerprints is within the limits), before the error boundary that turns what the
    `Endpoint` raises into the answer it records."""

    def __init__(self, app: ASGIApp, runtime: Runtime, declared: Mapping[str, Policy]) -> None:
        self.app = app
        self.runtime = runtime
        self.declared = dict(declared)
        self._by_operation: dict[str, Policy | None] = {}
        self._swept = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        op = match_of(scope).operation if scope["type"] == "http" else None
        policy = self._policy(op) if op is not None else None
        key = header(scope, policy.header.encode("latin-1")) if policy is not None else None
        if op is None or policy is None or key is None:
            await self.app(scope, receive, send)
            return
        if len(key) > policy.max_length:
            auth.settle(scope)
            raise InvalidInput(
                f"cannot be longer than {policy.max_length} characters", param=policy.header
            )
        caller = auth.caller_of(scope)
        principal = caller.settle() if caller is not None else None
        received, body = await _read_body(receive)
        receive = replay(received, receive)
        slot = "|".join((op.api, principal.id if principal else "", key))
        fingerprint = _fingerprint(scope, body, op, policy)
        try:
            kept = await self._claim(slot, fingerprint, policy)
        except KeyReused as exc:
            if exc.status != policy.conflict:
                raise
            scope[REFUSAL_KEY] = exc  # answered once the request is found valid
            await self.app(scope, receive, send)
            return
        if kept is not None:
            await _replayed(kept, policy)(scope, receive, send)
            return
        await self.app(scope, receive, self._recording(slot, fingerprint, policy, send))

    def _policy(self, op: Operation) -> Policy | None:
        if op.operation_id not in self._by_operation:
            found = self.declared.get(op.api)
            if found is None and _names_default_header(op):
                found = Policy()
            self._by_operation[op.operation_id] = found if op.writes else None
        return self._by_operation[op.operation_id]

    async def _claim(self, slot: str, fingerprint: str, policy: Policy) -> dict[str, Any] | None:
        """The answer kept for `slot`, or None once this request holds the key (claimed)."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            now = self.runtime.clock().timestamp()
            with self.runtime.store.transaction(write=True) as tx:
                self._sweep(tx, now)
                entry = tx.get(BOOKKEEPING_API, KEYS, slot)
                if entry is None or entry["expires_at"] <= now:
                    claim = {"fingerprint": fingerprint, "expires_at": now + policy.expires}
                    tx.put(BOOKKEEPING_API, KEYS, slot, claim)
                    return None
            if entry["fingerprint"] != fingerprint:
                raise KeyReused(policy.conflict, "the idempotency key was used for another request")
            if "status" in entry:
                return entry
            if time.monotonic() >= deadline:
                raise KeyReused(
                    policy.in_progress,
                    "the first request with this idempotency key is still being processed",
                )
            await asyncio.sleep(_POLL_SECONDS)

    def _sweep(self, tx: Any, now: float) -> None:
        """Forget expired keys, at most once a minute per process."""
        if now - self._swept < _SWEEP_SECONDS:
            return
        self._swept = now
        expired = [k for k, e in tx.items(BOOKKEEPING_API, KEYS) if e["expires_at"] <= now]
        for slot in expired:
            tx.delete(BOOKKEEPING_API, KEYS, slot)

    def _recording(self, slot: str, fingerprint: str, policy: Policy, send: Send) -> Send:
        """`send`, keeping the answer for `slot` before its last byte goes out."""
        start: Message = {}
        chunks: list[bytes] = []

        async def recording(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    self._keep(slot, fingerprint, policy, start, b"".join(chunks))
            await send(message)

        return recording

    def _keep(
        self, slot: str, fingerprint: str, policy: Policy, start: Message, body: bytes
    ) -> None:
        status = int(start.get("status", 500))
        with self.runtime.store.transaction(write=True) as tx:
            if status >= 500 or status in _NOT_KEPT:  # a retry may fare better: let it run
                tx.delete(BOOKKEEPING_API, KEYS, slot)
                return
            headers = [
                [k.decode("latin-1"), v.decode("latin-1")]
                for k, v in start.get("headers", [])
                if k.lower() not in _UNSTORED_HEADERS
            ]
            now = self.runtime.clock().timestamp()
            entry = {
                "fingerprint": fingerprint,
                "expires_at": now + policy.expires,
                "status": status,
                "headers": headers,
                "body": base64.b64encode(body).decode("ascii"),
            }
            tx.put(BOOKKEEPING_API, KEYS, slot, entry)


def refusal_of(scope: Mapping[str, Any]) -> KeyReused | None:
    """The conflict a valid request with a used key must be answered with, if it has one."""
    found = scope.get(REFUSAL_KEY)
    return found if isinstance(found, KeyReused) else None


def _names_default_header(op: Operation) -> bool:
    return any(
        p.get("in") == "header" and str(p.get("name", "")).lower() == DEFAULT_HEADER
        for p in op.parameters
    )


async def _read_body(receive: Receive) -> tuple[list[Message], bytes]:
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        chunks.append(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages, b"".join(chunks)


def _fingerprint(scope: Scope, body: bytes, op: Operation, policy: Policy) -> str:
    """What makes two requests with one key the same request: all they say but their key."""
    names = ["content-type", "prefer"]
    for param in op.parameters:
        name = str(param.get("name", "")).lower()
        if param.get("in") == "header" and name != policy.header:
            names.append(name)
    parts = [
        scope["method"].encode(),
        scope["path"].encode("utf-8", "surrogateescape"),
        scope.get("query_string", b""),
        *((header(scope, name.encode("latin-1")) or "").encode("latin-1") for name in names),
        body,
    ]
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def _replayed(entry: Mapping[str, Any], policy: Policy) -> Response:
    response = Response(base64.b64decode(entry["body"]), entry["status"])
    response.raw_headers = [
        *(
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in entry["headers"]
            if k.lower() != "content-length"
        ),
        *response.raw_headers,  # its own content-length
    ]
    if policy.replayed:
        response.headers[policy.replayed] = "true"
    return response
