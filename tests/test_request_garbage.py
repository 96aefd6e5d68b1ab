"""A served request leaves nothing for the cyclic collector: what it made is freed by reference
counting when the answer has gone.

A server keeps the scope on its request object and passes that object's bound methods as
`send` and `receive` (uvicorn's `RequestResponseCycle`, hypercorn's stream). A reference from
the scope back to `send` then makes every request a cycle that only a collection frees: 20
objects a validate, and collections took 3% of the sandbox's time under load. So does an
exception kept by a frame it passed through (a refusal: 50-80 objects). `Exchange` is
such a request object, so the test sees what a real server would leave. It counts in a process
of its own, as a server's: in the test process, other tests' sandboxes still have threads that
make and drop objects of their own.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from conftest import ROOT
from starlette.types import Message
from test_cargoextra import PAY, VALIDATE, query

from mockyard.app import Sandbox, ServeConfig, build


class Exchange:
    """One request as a server holds it: the scope on the object, `send` and `receive` its own
    methods."""

    def __init__(self, method: str, path: str, token: str, body: Any = None) -> None:
        self.body = b"" if body is None else json.dumps(body).encode()
        path, _, query_string = path.partition("?")
        headers = [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {token}".encode())]
        if body is not None:
            headers += [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(self.body)).encode()),
            ]
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query_string.encode(),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        self.status = 0

    async def receive(self) -> Message:
        return {"type": "http.request", "body": self.body, "more_body": False}

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]

    async def run(self, sandbox: Sandbox) -> int:
        await sandbox.app(self.scope, self.receive, self.send)
        return self.status


def validate(token: str = "sandbox-token-rich") -> Exchange:
    return Exchange("GET", f"{VALIDATE}?{urlencode(query(100127, 5000))}", token)


def pay(invoice: int, token: str) -> Exchange:
    return Exchange("POST", PAY, token, {"invoice": invoice, "currency": "NGN"})


def invalid() -> Exchange:
    """A pay whose body breaks the schema: Connexion's validator refuses it."""
    return Exchange("POST", PAY, "sandbox-token", {"invoiceNo": "x"})


def left_for_the_collector(
    sandbox: Sandbox, exchanges: Iterable[Exchange]
) -> tuple[int, list[int]]:
    """(objects only a collection frees, statuses) after serving `exchanges` one by one, each
    dropped once answered as a server drops it; counted inside the event loop, so that only
    what the requests left is counted."""

    async def serve() -> tuple[int, list[int]]:
        gc.collect()
        gc.disable()
        try:
            statuses = [await exchange.run(sandbox) for exchange in exchanges]
            return gc.collect(), statuses
        finally:
            gc.enable()

    return asyncio.run(serve())


def count(state: Path) -> dict[str, Any]:
    """What 20 validates, a pay and two refusals leave, on a sandbox whose routes have each
    served once (what a route builds on its first request is kept, not garbage). The invalid
    body is read by Connexion, so its build (in a thread of its own) is over too."""
    sandbox = build(ServeConfig(workspace=str(ROOT), state=str(state)))
    try:
        warm = [
            validate(),
            pay(100128, "sandbox-token"),  # Ada's wallet cannot pay 50,000 NGN
            invalid(),
            validate("no-such-token"),
        ]
        warmed = left_for_the_collector(sandbox, iter(warm))[1]
        measured = itertools.chain(
            (validate() for _ in range(20)),
            [pay(100127, "sandbox-token-rich"), validate("no-such-token"), invalid()],
        )
        garbage, statuses = left_for_the_collector(sandbox, measured)
    finally:
        sandbox.close()
    return {"warmed": warmed, "statuses": statuses, "garbage": garbage}


def test_answers_and_refusals_leave_no_cycles(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, __file__, str(tmp_path / "state.sqlite3")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    counted = json.loads(done.stdout)
    assert counted["warmed"] == [200, 400, 400, 401]
    assert counted["statuses"] == [200] * 21 + [401, 400]
    assert counted["garbage"] == 0


if __name__ == "__main__":
    print(json.dumps(count(Path(sys.argv[1]))))
