"""Idempotency keys, for any spec: a retry replays the first answer and never runs twice."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from conftest import LiveSandbox, start_sandbox
from workspaces import served, spec, write_workspace

from mockyard.app import ServeConfig, build
from mockyard.errors import WorkspaceError

with warnings.catch_warnings():  # starlette's test client asks for httpx2
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

# A counter that moves by `by` per call: a handler run twice shows at once.
HANDLER = """\
import time

from mockyard import Principal


def authenticate(credentials, ctx):
    return Principal(id=credentials.value)


def increment(ctx, name, body):
    counter = ctx.store.get("counters", name) or {"value": 0, "calls": 0}
    time.sleep(body.get("slow", 0))  # widens the window two concurrent requests share
    counter["value"] += body["by"]
    counter["calls"] += 1
    ctx.store.put("counters", name, counter)
    return {"name": name, "value": counter["value"]}


def read(ctx, name):
    return ctx.store.get("counters", name) or {"value": 0, "calls": 0}
"""


def _document(*, declares_header: bool = True) -> dict:
    ok = {"200": {"description": "ok", "content": {"application/json": {"schema": {}}}}}
    params = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]
    if declares_header:
        params.append({"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}})
    body = {
        "type": "object",
        "required": ["by"],
        "properties": {"by": {"type": "integer"}, "slow": {"type": "number"}},
    }
    return spec(
        {
            "/counters/{name}": {
                "get": {"operationId": "read", "parameters": params[:1], "responses": ok},
                "post": {
                    "operationId": "increment",
                    "parameters": params,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": body}},
                    },
                    "responses": ok,
                },
            }
        },
        security=[{"token": []}],
        components={"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
    )


def _workspace(root: Path, *, declares_header: bool = True, **idempotency: object) -> Path:
    config = {"apis": {"counters": {"idempotency": idempotency}}} if idempotency else None
    return write_workspace(
        root,
        {"counters.yaml": _document(declares_header=declares_header)},
        handlers={"counters.py": HANDLER},
        config=config,
    )


ALICE = {"Authorization": "Bearer alice"}


def _post(client: httpx.Client, key: str | None, by: int = 1, **extra: object) -> httpx.Response:
    headers = {**ALICE, **({"Idempotency-Key": key} if key else {})}
    return client.post("/counters/c", json={"by": by, **extra}, headers=headers)


def test_a_spec_naming_the_header_gets_retries_replayed(tmp_path: Path) -> None:
    with served(tmp_path, _workspace(tmp_path / "ws")) as client:
        first = _post(client, "k-1", by=5)
        again = _post(client, "k-1", by=5)
        other_key = _post(client, "k-2", by=5)
        no_key = _post(client, None, by=5)
        state = client.get("/counters/c", headers=ALICE).json()
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json() == {"name": "c", "value": 5}
    assert other_key.json()["value"] == 10 and no_key.json()["value"] == 15
    assert state == {"value": 15, "calls": 3}  # the retry never reached the handler


def test_the_same_key_with_another_request_is_the_apis_conflict(tmp_path: Path) -> None:
    with served(tmp_path, _workspace(tmp_path / "ws")) as client:
        _post(client, "k-1", by=5)
        conflict = _post(client, "k-1", by=6)
        invalid = client.post(
            "/counters/c", json={"by": "six"}, headers={**ALICE, "Idempotency-Key": "k-1"}
        )
        elsewhere = client.post(
            "/counters/d", json={"by": 5}, headers={**ALICE, "Idempotency-Key": "k-1"}
        )
        state = client.get("/counters/c", headers=ALICE).json()
    assert conflict.status_code == elsewhere.status_code == 422  # the IETF draft's default
    assert conflict.headers["content-type"] == "application/problem+json"
    assert "another request" in conflict.json()["detail"]
    assert invalid.status_code == 400  # an invalid request is refused as such, key or not
    assert state == {"value": 5, "calls": 1}


def test_keys_are_scoped_to_the_caller(tmp_path: Path) -> None:
    with served(tmp_path, _workspace(tmp_path / "ws")) as client:
        alice = _post(client, "shared", by=1)
        bob = client.post(
            "/counters/c",
            json={"by": 1},
            headers={"Authorization": "Bearer bob", "Idempotency-Key": "shared"},
        )
        nobody = client.post("/counters/c", json={"by": 1}, headers={"Idempotency-Key": "shared"})
    assert (alice.json()["value"], bob.json()["value"]) == (1, 2)
    assert nobody.status_code == 401  # the caller is named before the key is looked at


def test_a_declared_header_replay_header_and_key_length(tmp_path: Path) -> None:
    root = _workspace(
        tmp_path / "ws",
        declares_header=False,
        header="X-Request-Key",
        replayed="X-Replayed",
        max_length=8,
        conflict=409,
    )
    with served(tmp_path, root) as client:
        headers = {**ALICE, "X-Request-Key": "abc"}
        first = client.post("/counters/c", json={"by": 2}, headers=headers)
        again = client.post("/counters/c", json={"by": 2}, headers=headers)
        conflict = client.post("/counters/c", json={"by": 3}, headers=headers)
        too_long = client.post(
            "/counters/c", json={"by": 2}, headers={**ALICE, "X-Request-Key": "k" * 9}
        )
        ignored = _post(client, "abc", by=2)  # this API's header is X-Request-Key
    assert "x-replayed" not in first.headers
    assert again.headers["x-replayed"] == "true" and again.json() == first.json()
    assert conflict.status_code == 409
    assert too_long.status_code == 400
    assert too_long.json()["detail"] == "x-request-key: cannot be longer than 8 characters"
    assert ignored.json()["value"] == 4


def test_a_key_expires_as_declared(tmp_path: Path) -> None:
    clock = {"now": 1_700_000_000.0}
    root = _workspace(tmp_path / "ws", header="Idempotency-Key", expires=60)
    sandbox = build(ServeConfig(workspace=str(root), state=str(tmp_path / "s.sqlite3")))
    sandbox.runtime.clock = lambda: datetime.fromtimestamp(clock["now"], UTC)
    with TestClient(sandbox.app) as client:
        first = _post(client, "k", by=1)
        clock["now"] += 59
        within = _post(client, "k", by=1)
        clock["now"] += 2
        after = _post(client, "k", by=1)
    assert (first.json()["value"], within.json()["value"], after.json()["value"]) == (1, 1, 2)


def test_an_undeclared_api_without_the_header_in_its_spec_ignores_keys(tmp_path: Path) -> None:
    with served(tmp_path, _workspace(tmp_path / "ws", declares_header=False)) as client:
        values = [_post(client, "k", by=1).json()["value"] for _ in range(2)]
    assert values == [1, 2]


def test_a_bad_declaration_stops_the_start_naming_it(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws", header="Idempotency-Key", expires="soon")
    with pytest.raises(WorkspaceError, match=r"apis\.counters\.idempotency: `expires` must be"):
        build(ServeConfig(workspace=str(root), state=str(tmp_path / "s.sqlite3")))


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSandbox]:
    root = tmp_path_factory.mktemp("idem")
    sandbox = start_sandbox(
        root / "state.sqlite3", "--workers", "2", workspace=_workspace(root / "ws")
    )
    yield sandbox
    sandbox.stop()


def test_concurrent_requests_with_one_key_run_once_across_workers(two_workers: LiveSandbox) -> None:
    two_workers.reset()
    gate = threading.Barrier(12)

    def attempt(_: int) -> httpx.Response:
        with httpx.Client(base_url=two_workers.url, timeout=30) as client:
            gate.wait()
            return _post(client, "race", by=7, slow=0.2)

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(attempt, range(12)))
    assert {(a.status_code, a.json()["value"]) for a in answers} == {(200, 7)}
    assert two_workers.record("counters", "counters", "c") == {"value": 7, "calls": 1}


def test_keys_survive_a_restart_on_the_same_state(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws")
    state = tmp_path / "state.sqlite3"
    first = start_sandbox(state, workspace=root)
    try:
        with httpx.Client(base_url=first.url, timeout=30) as client:
            assert _post(client, "kept", by=3).json()["value"] == 3
    finally:
        first.stop()
    second = start_sandbox(state, workspace=root)
    try:
        with httpx.Client(base_url=second.url, timeout=30) as client:
            replayed = _post(client, "kept", by=3)
            conflict = _post(client, "kept", by=4)
        assert replayed.json()["value"] == 3 and conflict.status_code == 422
        assert second.record("counters", "counters", "c") == {"value": 3, "calls": 1}
    finally:
        second.stop()
