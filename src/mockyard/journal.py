"""The request journal and the access log: what each request asked and what it was answered.

Storage. The journal is a ring of the newest N requests in its own SQLite file, by default on
tmpfs (`/dev/shm`) so it lives in memory. SQLite gives what a shared-memory ring would need to
build by hand: every worker process appends to and reads from one ring under SQLite's locking, so
`GET /__mockyard/requests` shows requests served by any worker. Being a separate file, it has its
own write lock: recording a request never waits for, blocks, or rolls back with the business
transaction of a request, and nothing in the journal is ever business state.

Cost. A request is queued when its response's last chunk is about to go out; one writer thread
per process inserts queued entries in batches (`batches`: one transaction per batch, no fsync)
and trims the ring. Reading the journal first waits for this process's queue, so a client that
got its response from this worker always finds it; another worker's entries land within
milliseconds.
An entry is stored as plain columns (headers as `name: value` lines, JSON bodies as their text)
and only made into the API's JSON when it is read: recording happens on every request, reading
when someone looks.

Violations. `mockyard proxy` checks each exchange against the spec; what it finds is in the
entry's `violations` (check, title, message), empty for a sandbox's requests.

Redaction. `Authorization` (the credentials, not the scheme), `Cookie`, `Set-Cookie`, the admin
token header and every API key the specs declare (header or query parameter, plus `api_key`
and `access_token` in the query) are replaced by `[redacted]`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
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

from mockyard.asgi_scope import query_pairs
from mockyard.batches import Batches
from mockyard.controls import INFO_KEY
from mockyard.errors import DropConnection
from mockyard.logs import access_line
from mockyard.operations import match_of
from mockyard.store_sqlite import ThreadConnections

REDACTED = "[redacted]"
_REDACTED = REDACTED.encode()
MAX_BODY = 16 * 1024  # bytes of each request and response body kept in an entry
DEFAULT_LIMIT = 100
_STATUS = re.compile(r"[1-5](\d\d|xx)")
ALWAYS_REDACTED_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-mockyard-admin-token"}
)
ALWAYS_REDACTED_QUERY = frozenset({"api_key", "access_token"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS exchanges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER,
    api TEXT, operation TEXT, latency_ms REAL, delay_ms REAL, fault TEXT, worker INTEGER,
    query TEXT, headers TEXT NOT NULL, body TEXT, body_is_json INTEGER NOT NULL,
    response_headers TEXT NOT NULL, response_body TEXT, response_is_json INTEGER NOT NULL,
    violations TEXT
);
"""
COLUMNS = (
    "at", "method", "path", "status", "api", "operation", "latency_ms", "delay_ms", "fault",
    "worker", "query", "headers", "body", "body_is_json", "response_headers", "response_body",
    "response_is_json", "violations",
)  # fmt: skip
_INSERT = f"INSERT INTO exchanges ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
Row = tuple[Any, ...]  # one entry, as COLUMNS


class Journal:
    """A bounded ring of request entries in one SQLite file shared by every worker."""

    def __init__(self, path: Path | str, size: int) -> None:
        self.path = Path(path)
        self.size = size
        self._connections = ThreadConnections(self.path, "OFF")
        self._batches: Batches[Row] = Batches(self._insert, name="mockyard-journal")
        conn = self._connections.get()
        conn.executescript(_SCHEMA)
        columns = {row[1] for row in conn.execute("PRAGMA table_info(exchanges)")}
        if "violations" not in columns:  # a journal file from before `mockyard proxy`
            with contextlib.suppress(sqlite3.OperationalError):  # another worker added it
                conn.execute("ALTER TABLE exchanges ADD COLUMN violations TEXT")

    def record(self, row: Row) -> None:
        """Queue one entry (see `RecorderMiddleware._row`); never blocks on the file."""
        self._batches.put(row)

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every entry queued so far in this process is in the file."""
        self._batches.flush(timeout)

    def close(self) -> None:
        """Write what is queued, end the writer thread, then close the file in every thread
        that opened it."""
        self._batches.close()
        self._connections.close()

    def _insert(self, batch: list[Row]) -> None:
        conn = self._connections.get()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(_INSERT, batch)
            conn.execute(
                "DELETE FROM exchanges WHERE id <= (SELECT MAX(id) FROM exchanges) - ?",
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
        where: list[str] = []
        args: list[object] = []
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
        sql = f"SELECT id, {', '.join(COLUMNS)} FROM exchanges"
        if where:
            sql += " WHERE " + " AND ".join(where)
        conn = self._connections.get()
        rows = conn.execute(f"{sql} ORDER BY at DESC, id DESC LIMIT ?", [*args, limit]).fetchall()
        return [_readable(row) for row in rows]

    def clear(self) -> int:
        self.flush()
        conn = self._connections.get()
        return conn.execute("DELETE FROM exchanges").rowcount


# --- recording -----------------------------------------------------------------------------------


class Redactor:
    """Hides credentials in journaled headers and query strings."""

    def __init__(self, headers: Iterable[str] = (), query: Iterable[str] = ()) -> None:
        names = ALWAYS_REDACTED_HEADERS | {h.lower() for h in headers}
        self.headers = frozenset(name.encode("latin-1") for name in names)
        self.query = ALWAYS_REDACTED_QUERY | set(query)

    def header_lines(self, raw: Iterable[tuple[bytes, bytes]]) -> str:
        """Headers as `name: value` lines, credentials hidden (`Bearer [redacted]`)."""
        lines = []
        for key, value in raw:
            name = key.lower()
            if name in self.headers:
                scheme, _, credentials = value.partition(b" ")
                hidden = name.endswith(b"authorization") and credentials
                value = scheme + b" " + _REDACTED if hidden else _REDACTED
            lines.append(name + b": " + value)
        return b"\n".join(lines).decode("latin-1")

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
        note = " [injected fault]" if fault else ""
        access_line("%s %s %s %.1f ms%s", scope["method"], scope["path"], status, ms, note)
        if scope["path"].startswith(self.skip_prefix):
            return
        self.journal.record(self._row(exchange, ms))

    def _row(self, exchange: _Exchange, ms: float) -> Row:
        """The entry as `COLUMNS` hold it; what can wait until it is read, waits."""
        scope, info, redact = exchange.scope, exchange.info, self.redactor
        op = match_of(scope).operation
        headers = redact.header_lines(scope.get("headers", []))
        response_headers = redact.header_lines(exchange.response_headers)
        query = (
            json.dumps(redact.query_string(query_pairs(scope)))
            if scope.get("query_string")
            else None
        )
        return (
            exchange.arrived,
            scope["method"],
            scope["path"],
            exchange.status,
            op.api if op is not None else None,
            op.operation_id if op is not None else None,
            ms,  # rounded when read
            info.get("delay_ms"),
            info.get("fault"),
            self.pid,
            query,
            headers,
            _body(exchange.request_body, exchange.request_size),
            _JSON_TYPE.search(headers) is not None,
            response_headers,
            _body(exchange.response_body, exchange.response_size),
            _JSON_TYPE.search(response_headers) is not None,
            json.dumps(info["violations"]) if info.get("violations") else None,
        )


class _Exchange:
    """What the recorder keeps of one request while it is served.

    Bodies are kept as `bytes`: a body that comes in one chunk (nearly all) is the server's own
    object, never copied (`b"" + chunk` is `chunk`)."""

    __slots__ = (
        "arrived",
        "done",
        "info",
        "request_body",
        "request_size",
        "response_body",
        "response_headers",
        "response_size",
        "scope",
        "started",
        "status",
    )

    def __init__(self, scope: Scope, started: float, arrived: float) -> None:
        self.scope = scope
        self.started = started
        self.arrived = arrived
        self.info: dict[str, Any] = {}
        self.status: int | None = None
        self.response_headers: list[tuple[bytes, bytes]] = []
        self.request_body = b""
        self.request_size = 0
        self.response_body = b""
        self.response_size = 0
        self.done = False

    def keep_request(self, chunk: bytes) -> None:
        self.request_size += len(chunk)
        if len(self.request_body) < MAX_BODY:
            self.request_body += chunk[: MAX_BODY - len(self.request_body)]

    def keep_response(self, chunk: bytes) -> None:
        self.response_size += len(chunk)
        if len(self.response_body) < MAX_BODY:
            self.response_body += chunk[: MAX_BODY - len(self.response_body)]


def _body(kept: bytes, size: int) -> str | None:
    """The body as text; truncated or binary bodies described. JSON stays text until read."""
    if not size:
        return None
    try:
        text = kept.decode("utf-8")
    except UnicodeDecodeError:
        return f"[{size} bytes of binary data]"
    if size > len(kept):
        return f"{text}… [truncated, {size} bytes]"
    return text


# A JSON body, told from its `header_lines` (names in lower case, one header a line).
_JSON_TYPE = re.compile(r"^content-type:[^\n]*json", re.MULTILINE)


def _readable(row: tuple[Any, ...]) -> dict[str, Any]:
    """An entry as the journal API shows it, from its stored columns."""
    stored = dict(zip(("id", *COLUMNS), row, strict=True))
    return {
        "id": stored["id"],
        "time": datetime.fromtimestamp(stored["at"], UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "method": stored["method"],
        "path": stored["path"],
        "query": json.loads(stored["query"]) if stored["query"] else {},
        "headers": _header_map(stored["headers"]),
        "body": _maybe_json(stored["body"], stored["body_is_json"]),
        "api": stored["api"],
        "operation": stored["operation"],
        "status": stored["status"],
        "latency_ms": round(stored["latency_ms"], 1),
        "delay_ms": stored["delay_ms"],
        "fault": stored["fault"],
        "worker": stored["worker"],
        "response_headers": _header_map(stored["response_headers"]),
        "response_body": _maybe_json(stored["response_body"], stored["response_is_json"]),
        "violations": json.loads(stored["violations"]) if stored["violations"] else [],
    }


def _header_map(lines: str) -> dict[str, str]:
    """`name: value` lines as a mapping; a repeated header's values joined as HTTP joins them."""
    out: dict[str, str] = {}
    for line in lines.split("\n") if lines else ():
        name, _, value = line.partition(": ")
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def _maybe_json(body: str | None, is_json: bool) -> Any:
    if body is not None and is_json:
        with contextlib.suppress(ValueError):  # truncated: kept as text
            return json.loads(body)
    return body


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
