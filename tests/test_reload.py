"""`mockyard serve --reload` picks up edits to specs, fixtures and handlers, and `--spec` serves
a file without a workspace (live processes on 127.0.0.1)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml
from conftest import start_sandbox
from workspaces import UPSTREAM, ok, spec, write_workspace

pytestmark = pytest.mark.slow  # the fast tier (make test-fast) leaves this module out

HANDLER = """
def get_thing(ctx):
    return {"v": ctx.store.get("things", "1")["v"]}
"""


def document(example: str) -> dict:
    return spec(
        {
            "/example": {
                "get": {
                    "operationId": "get-example",
                    "responses": ok({"type": "string"}, example=example),
                }
            },
            "/thing": {"get": {"operationId": "get-thing", "responses": ok({"type": "object"})}},
        }
    )


def eventually(read: Callable[[], object], expected: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    seen: object = None
    while time.monotonic() < deadline:
        try:
            seen = read()
        except (httpx.TransportError, ValueError) as exc:  # between two processes, or a 503 text
            seen = repr(exc)
        if seen == expected:
            return
        time.sleep(0.2)
    raise AssertionError(f"still {seen!r} after {timeout} s, expected {expected!r}")


def test_reload_picks_up_spec_fixture_and_handler_edits(tmp_path: Path) -> None:
    ws = write_workspace(
        tmp_path / "ws",
        {"demo.yaml": document("one")},
        handlers={"demo.py": HANDLER},
        fixtures={"demo.yaml": {"catalogue": {"things": {"1": {"v": "first"}}}}},
    )
    sandbox = start_sandbox(tmp_path / "state.sqlite3", "--reload", workspace=ws)
    try:
        with sandbox.client(token=None) as client:
            assert client.get("/example").json() == "one"
            assert client.get("/thing").json() == {"v": "first"}

            (ws / "specs" / "demo.yaml").write_text(yaml.safe_dump(document("two")))
            eventually(lambda: client.get("/example").json(), "two")

            fixture = {"catalogue": {"things": {"1": {"v": "second"}}}}
            (ws / "fixtures" / "demo.yaml").write_text(yaml.safe_dump(fixture))
            eventually(lambda: client.get("/thing").json(), {"v": "second"})

            (ws / "handlers" / "demo.py").write_text(HANDLER.replace('"v": ', '"v": "edited " + '))
            eventually(lambda: client.get("/thing").json(), {"v": "edited second"})

            (ws / "specs" / "demo.yaml").write_text("openapi: 3.0.3\npaths: [oops\n")
            eventually(lambda: client.get("/example").status_code, 503)
            assert "demo.yaml" in client.get("/example").text
            (ws / "specs" / "demo.yaml").write_text(yaml.safe_dump(document("three")))
            eventually(lambda: client.get("/example").json(), "three")
    finally:
        sandbox.stop()
    assert sandbox.process.returncode is not None


def test_serve_spec_serves_a_file_without_a_workspace(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    sandbox = start_sandbox(
        tmp_path / "state.sqlite3", "--spec", str(UPSTREAM / "pay.yaml"), workspace=empty
    )
    try:
        part = {
            "currency": "NGN",
            "exchangeRate": 1,
            "chargeTotalBefore": 2,
            "chargeTotalCurrent": 1,
        }
        body = {
            "cloneId": "c",
            "invoice": 1,
            "currency": "NGN",
            "partPaymentFromWalletBalance": part,
        }
        with sandbox.client(token=None) as client:
            paid = client.post("/api/v1/billing/invoice/pay", json=body)
            assert paid.status_code == 200
            assert set(paid.json()) == {"key_0", "key_1", "key_2", "key_3", "key_4"}
            assert client.get("/openapi.json").json()["paths"].keys() == {
                "/api/v1/billing/invoice/pay"
            }
            bad = client.post(
                "/api/v1/billing/invoice/pay",
                content=b"x",
                headers={"content-type": "application/json"},
            )
            assert bad.status_code == 400  # in the shape the block documents for 400, not RFC 7807
            assert bad.headers["content-type"] == "application/json"
            assert isinstance(bad.json()["message"], str)
    finally:
        sandbox.stop()
