"""The request journal and the access log: what each request asked and what it was answered.

Storage. The journal is a ring of the newest N requests in its own SQLite file, by default on
tmpfs (`/dev/shm`) so it lives in memory. SQLite gives what a shared-memory ring would need to
build by hand: every worker process appends to and reads from one ring under SQLite's locking, so
`GET /__mockyard/requests` shows requests served by any worker. Being a separate file, it has its
own write lock: recording a request never waits for, blocks, or rolls back with the business
transaction of a request, and nothing in the journal is ever business state.

Cost. A request is queued when its response's last chunk is about to go out; one writer thread
per process inserts queued entries in batches (one transaction per batch, no fsync) and trims the
ring. Reading the journal first waits for this process's queue, so a client that got its
response from this worker always finds it; another worker's entries land within milliseconds.

Redaction. `Authorization` (the credentials, not the scheme), `Cookie`, `Set-Cookie`, the admin
token header and every API key the specs declare (header or query parameter, plus `api_key`
and `access_token` in the query) are replaced by `[redacted]`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockyard.controls import INFO_KEY, DropConnection
from mockyard.query import query_pairs
from mockyard.store import ThreadConnections

logger = logging.getLogger("mockyard.access")
_errors = logging.getLogger("mockyard")

REDACTED = "[redacted]"
_JSON_TEXT = "_json_text"  # an entry's fields that hold JSON text, parsed when read
MAX_BODY = 16 * 1024  # bytes of each request and response body kept in an entry
DEFAULT_LIMIT = 100
BATCH_INTERVAL = 0.02  # s: under load, the journal is written in batches this far apart
_STATUS = re.compile(r"[1-5](\d\d|xx)")
ALWAYS_REDACTED_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-mockyard-admin-token"}
)
ALWAYS_REDACTED_QUERY = frozenset({"api_key", "access_token"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER,
    entry TEXT NOT NULL
);
"""


class Journal:
    """A bounded ring of request entries in one SQLite file shared by every worker."""

    def __init__(self, path: Path | str, size: int) -> None:
        self.path = Path(path)
        self.size = size
        self._connections = ThreadConnections(self.path, "OFF")
        self._cond = threading.Condition()
        self._pending: list[tuple[float, dict[str, Any]]] = []
        self._queued = 0
        self._written = 0
        self._flushing = 0  # flush() calls waiting: the writer does not linger
        self._writer: threading.Thread | None = None
        conn = self._connections.get()
        conn.executescript(_SCHEMA)

    def record(self, at: float, entry: dict[str, Any]) -> None:
        """Queue an entry for a request received at `at` (epoch s); never blocks on the file."""
        with self._cond:
            self._pending.append((at, entry))
            self._queued += 1
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(
                    target=self._write_forever, name="mockyard-journal", daemon=True
                )
                self._writer.start()
            if len(self._pending) == 1:  # the writer sleeps only when nothing is pending
                self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every entry queued so far in this process is in the file."""
        with self._cond:
            target = self._queued
            self._flushing += 1
            self._cond.notify_all()
            try:
                self._cond.wait_for(lambda: self._written >= target, timeout)
            finally:
                self._flushing -= 1

    def _write_forever(self) -> None:
        last = 0.0
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._pending))
                # Busy (the last batch was just written): let entries gather for a moment, so
                # a batch costs one transaction and the writer takes the GIL once, not per
                # request. A quiet sandbox writes each entry at once.
                linger = last + BATCH_INTERVAL - time.monotonic()
                if linger > 0:
                    self._cond.wait_for(lambda: self._flushing > 0, linger)
                batch, self._pending = self._pending, []
            last = time.monotonic()
            try:
                self._insert(batch)
            except Exception:  # the thread's boundary: a lost entry must not stop the journal
                _errors.exception("could not write %d journal entries", len(batch))
            with self._cond:
                self._written += len(batch)
                self._cond.notify_all()

    def _insert(self, batch: list[tuple[float, dict[str, Any]]]) -> None:
        rows = [
            (at, e["method"], e["path"], e["status"], json.dumps(e, separators=(",", ":")))
            for at, e in batch
        ]
        conn = self._connections.get()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "INSERT INTO requests (at, method, path, status, entry) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            conn.execute(
                "DELETE FROM requests WHERE id <= (SELECT MAX(id) FROM requests) - ?",
                (self.size,),
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def entries(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        status: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> list[dict[str, Any]]:
        """Newest first (by arrival: workers write their entries a moment apart, so not by
        insertion). `path` is a glob (`/api/*`); `status` is `404` or a class like `4xx`."""
        self.flush()
        where, args = [], []
        if method:
            where.append("method = ?")
            args.append(method.upper())
        if path:
            where.append("path GLOB ?")
            args.append(path)
        if status and status[1:] == "xx":
            where.append("status BETWEEN ? AND ?")
            args.extend([int(status[0]) * 100, int(status[0]) * 100 + 99])
        elif status:
            where.append("status = ?")
            args.append(int(status))
        sql = "SELECT id, entry FROM requests"
        if where:
            sql += " WHERE " + " AND ".join(where)
        conn = self._connections.get()
        rows = conn.execute(f"{sql} ORDER BY at DESC, id DESC LIMIT ?", [*args, limit]).fetchall()
        return [_readable(row_id, json.loads(entry)) for row_id, entry in rows]

    def clear(self) -> int:
        self.flush()
        conn = self._connections.get()
        return conn.execute("DELETE FROM requests").rowcount


# --- recording -----------------------------------------------------------------------------------


class Redactor:
    """Hides credentials in journaled headers and query strings."""

    def __init__(self, headers: Iterable[str] = (), query: Iterable[str] = ()) -> None:
        self.headers = ALWAYS_REDACTED_HEADERS | {h.lower() for h in headers}
        self.query = ALWAYS_REDACTED_QUERY | set(query)

    def header(self, name: str, value: str) -> str:
        if name not in self.headers:
            return value
        scheme, _, credentials = value.partition(" ")
        if name.endswith("authorization") and credentials:
            return f"{scheme} {REDACTED}"
        return REDACTED

    def query_string(self, pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in pairs:
            value = REDACTED if name in self.query else value
            if name not in out:
                out[name] = value
            elif isinstance(out[name], list):
                out[name].append(value)
            else:
                out[name] = [out[name], value]
        return out


def spec_credentials(merged_spec: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """(header names, query names) of the apiKey security schemes the specs declare."""
    headers, query = set(), set()
    for scheme in merged_spec.get("components", {}).get("securitySchemes", {}).values():
        if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
            headers.add(str(scheme.get("name", "")).lower())
        elif scheme.get("type") == "apiKey" and scheme.get("in") == "query":
            query.add(str(scheme.get("name", "")))
    return headers, query


class RecorderMiddleware:
    """Times every request, logs one access line, and journals the served APIs' requests.

    Paths under `skip_prefix` (the sandbox's own admin endpoints) are logged but not journaled.
    """

    def __init__(
        self, app: ASGIApp, journal: Journal, redactor: Redactor, *, skip_prefix: str
    ) -> None:
        self.app = app
        self.journal = journal
        self.redactor = redactor
        self.skip_prefix = skip_prefix
        self.pid = os.getpid()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exchange = _Exchange(scope, time.perf_counter(), time.time())
        scope[INFO_KEY] = exchange.info

        async def receive_and_keep() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                exchange.keep_request(message.get("body", b""))
            return message

        async def send_and_keep(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                exchange.response_headers = message.get("headers", [])
            elif message["type"] == "http.response.body":
                exchange.keep_response(message.get("body", b""))
                if not message.get("more_body", False):
                    self._finish(exchange)
            await send(message)

        try:
            await self.app(scope, receive_and_keep, send_and_keep)
        except DropConnection:
            exchange.status = None
            self._finish(exchange)
            raise
        except Exception:
            exchange.status = exchange.status or 500
            self._finish(exchange)
            raise
        self._finish(exchange)

    def _finish(self, exchange: _Exchange) -> None:
        if exchange.done:
            return
        exchange.done = True
        ms = (time.perf_counter() - exchange.started) * 1000
        scope = exchange.scope
        fault = exchange.info.get("fault")
        status = "dropped" if exchange.status is None else str(exchange.status)
        if logger.isEnabledFor(logging.INFO):
            note = " [injected fault]" if fault else ""
            logger.info("%s %s %s %.1f ms%s", scope["method"], scope["path"], status, ms, note)
        if scope["path"].startswith(self.skip_prefix):
            return
        self.journal.record(exchange.arrived, self._entry(exchange, ms))

    def _entry(self, exchange: _Exchange, ms: float) -> dict[str, Any]:
        scope, info, redact = exchange.scope, exchange.info, self.redactor
        return {
            "time": datetime.fromtimestamp(exchange.arrived, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "method": scope["method"],
            "path": scope["path"],
            "query": redact.query_string(query_pairs(scope)),
            "headers": _headers(scope.get("headers", []), redact),
            "body": _body(exchange.request_body, exchange.request_size),
            "api": info.get("api"),
            "operation": info.get("operation"),
            "status": exchange.status,
            "latency_ms": round(ms, 1),
            "delay_ms": info.get("delay_ms"),
            "fault": info.get("fault"),
            "worker": self.pid,
            "response_headers": _headers(exchange.response_headers, redact),
            "response_body": _body(exchange.response_body, exchange.response_size),
            _JSON_TEXT: [
                field
                for field, headers in (
                    ("body", scope.get("headers", [])),
                    ("response_body", exchange.response_headers),
                )
                if _is_json(headers)
            ],
        }


class _Exchange:
    """What the recorder keeps of one request while it is served."""

    def __init__(self, scope: Scope, started: float, arrived: float) -> None:
        self.scope = scope
        self.started = started
        self.arrived = arrived
        self.info: dict[str, Any] = {}
        self.status: int | None = None
        self.response_headers: list[tuple[bytes, bytes]] = []
        self.request_body = bytearray()
        self.request_size = 0
        self.response_body = bytearray()
        self.response_size = 0
        self.done = False

    def keep_request(self, chunk: bytes) -> None:
        self.request_size += len(chunk)
        self.request_body += chunk[: MAX_BODY - len(self.request_body)]

    def keep_response(self, chunk: bytes) -> None:
        self.response_size += len(chunk)
        self.response_body += chunk[: MAX_BODY - len(self.response_body)]


def _headers(raw: Iterable[tuple[bytes, bytes]], redact: Redactor) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in raw:
        name = key.decode("latin-1").lower()
        text = redact.header(name, value.decode("latin-1"))
        out[name] = f"{out[name]}, {text}" if name in out else text
    return out


def _body(kept: bytearray, size: int) -> str | None:
    """The body as text; truncated or binary bodies described. JSON stays text until read."""
    if not size:
        return None
    try:
        text = bytes(kept).decode("utf-8")
    except UnicodeDecodeError:
        return f"[{size} bytes of binary data]"
    if size > len(kept):
        return f"{text}… [truncated, {size} bytes]"
    return text


def _is_json(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
    return b"json" in content_type


def _readable(row_id: int, entry: dict[str, Any]) -> dict[str, Any]:
    """An entry as the journal API shows it: JSON bodies as JSON, not as the text they were
    stored as (parsing them while serving cost more than every read ever will)."""
    for field in entry.pop(_JSON_TEXT, ()):
        with contextlib.suppress(TypeError, ValueError):  # truncated or binary: kept as text
            entry[field] = json.loads(entry[field])
    return {"id": row_id, **entry}


# --- GET / DELETE /__mockyard/requests ----------------------------------------------------------


def journal_routes(journal: Journal, prefix: str) -> list[Route]:
    async def list_requests(request: Request) -> Response:
        params = request.query_params
        status = (params.get("status") or "").lower() or None
        if status and not _STATUS.fullmatch(status):
            return JSONResponse({"error": "status must be a code (404) or a class (4xx)"}, 400)
        try:
            limit = int(params.get("limit", min(DEFAULT_LIMIT, journal.size)))
        except ValueError:
            limit = 0
        if not 1 <= limit <= journal.size:
            return JSONResponse({"error": f"limit must be from 1 to {journal.size}"}, 400)
        entries = await run_in_threadpool(
            journal.entries,
            method=params.get("method") or None,
            path=params.get("path") or None,
            status=status,
            limit=limit,
        )
        return JSONResponse({"requests": entries, "size": journal.size})

    async def clear_requests(_: Request) -> Response:
        await run_in_threadpool(journal.clear)
        return Response(status_code=204)

    return [
        Route(f"{prefix}/requests", list_requests, methods=["GET"]),
        Route(f"{prefix}/requests", clear_requests, methods=["DELETE"]),
    ]
