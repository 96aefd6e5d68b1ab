"""Where one pay's time goes, on each backend: the same pays, in process, one at a time.

The sandbox app is built as `serve` builds it and called as uvicorn calls it (an ASGI call per
request, on one event loop, no socket); the figures are wall-clock time inside the app, split by
wrapping the store:

- `outside tx`: everything before and after the transaction (HTTP parsing, controls, the fast
  path's validation, the response, queueing the journal entry);
- `begin+commit`: opening and committing the transaction (SQLite: the writer lock, BEGIN
  IMMEDIATE, COMMIT; PostgreSQL: the held-back writes and COMMIT, one round trip);
- `reads+writes`: the handler's store calls (a PostgreSQL read not made before in the
  transaction is a round trip, the first one carrying BEGIN; a write waits for the commit);
- `handler`: the rest of the transaction, the API's own Python (authentication included).
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from bench.servers import ROOT
from bench.workload import Request

PAYS = 300
_CALLS = ("get", "put", "delete", "items", "collections", "seed")


class _Clock:
    def __init__(self) -> None:
        self.app = self.tx = self.work = self.calls = 0.0


class _TimedTransaction:
    """A transaction whose store calls add to `clock.calls`."""

    def __init__(self, tx: Any, clock: _Clock) -> None:
        self._tx = tx
        self._clock = clock

    def api(self, name: str) -> Any:
        from mockyard.store import ApiStore

        return ApiStore(self, name)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._tx, name)
        if name not in _CALLS:
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = attr(*args, **kwargs)
                return iter(list(result)) if name == "items" else result
            finally:
                self._clock.calls += time.perf_counter() - started

        return timed


def pay_profile(state: str, pays: Sequence[Request]) -> dict[str, Any]:
    """Mean µs per pay in each part, over `pays` (each a distinct payable invoice)."""
    with warnings.catch_warnings():  # Connexion imports starlette's test client, which warns
        warnings.simplefilter("ignore")
        from mockyard.app import ServeConfig, build

    sandbox = build(ServeConfig(workspace=str(ROOT), state=state))
    clock = _Clock()
    store = sandbox.runtime.store
    run = store.run

    def timed_run(work: Callable[[Any], Any], *, write: bool) -> Any:
        def timed_work(tx: Any) -> Any:
            started = time.perf_counter()
            try:
                return work(_TimedTransaction(tx, clock))
            finally:
                clock.work += time.perf_counter() - started

        started = time.perf_counter()
        try:
            return run(timed_work, write=write)
        finally:
            clock.tx += time.perf_counter() - started

    store.run = timed_run  # type: ignore[method-assign]
    app = sandbox.app

    async def timed_app(scope: Any, receive: Any, send: Any) -> None:
        started = time.perf_counter()
        try:
            await app(scope, receive, send)
        finally:
            clock.app += time.perf_counter() - started

    statuses: dict[int, int] = {}

    async def drive() -> None:
        for request in pays:
            status = await _call(timed_app, request)
            statuses[status] = statuses.get(status, 0) + 1

    asyncio.run(drive())
    sandbox.journal.flush()
    store.close()
    n = len(pays)
    parts = {
        "outside tx": clock.app - clock.tx,
        "begin+commit": clock.tx - clock.work,
        "reads+writes": clock.calls,
        "handler": clock.work - clock.calls,
    }
    return {
        "pays": n,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "parts_us": {name: round(seconds / n * 1e6, 1) for name, seconds in parts.items()},
        "total_us": round(clock.app / n * 1e6, 1),
    }


async def _call(app: Any, request: Request) -> int:
    """One request through the ASGI app; its status."""
    body = request.body.encode()
    path, _, query = request.path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", f"Bearer {request.token}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    sent = asyncio.Event()
    status = 0
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await sent.wait()  # as a connection does: nothing more until the response is out
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif not message.get("more_body"):
            sent.set()

    await app(scope, receive, send)
    return status
