"""Engine guards and validators against hostile input, on a workspace of no particular vendor:
oversized headers, chunked bodies, over-long integers, lone surrogates, non-UTF-8 forms."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.requests import ClientDisconnect
from workspaces import ok, served, spec, write_workspace

from mockyard.responses import failure_for
from mockyard.validation import well_formed

ECHO = spec(
    {
        "/echo": {
            "post": {
                "operationId": "echo",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["n"],
                                "properties": {"n": {"type": "integer"}, "s": {"type": "string"}},
                            }
                        },
                        "application/x-www-form-urlencoded": {
                            "schema": {"type": "object", "properties": {"s": {"type": "string"}}}
                        },
                    },
                },
                "responses": ok({"type": "object"}),
            }
        }
    }
)
HANDLER = "def echo(ctx, body):\n    return body\n"


@pytest.fixture
def client(tmp_path: Path) -> Iterator:
    ws = write_workspace(tmp_path, {"echo.yaml": ECHO}, handlers={"echo.py": HANDLER})
    with served(tmp_path, ws, strict=True) as test_client:
        yield test_client


def test_headers_over_the_limit_are_431_in_the_apis_format(client) -> None:
    response = client.post("/echo", json={"n": 1}, headers={"X-Big": "a" * (64 * 1024)})
    assert response.status_code == 431
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Request Header Fields Too Large"
    assert client.post("/echo", json={"n": 1}, headers={"X-Ok": "a" * 8192}).status_code == 200


def test_many_small_headers_count_towards_the_limit(client) -> None:
    headers = {f"X-H{i}": "v" * 10 for i in range(3000)}
    assert client.post("/echo", json={"n": 1}, headers=headers).status_code == 431


def test_a_chunked_json_body_reaches_the_handler_whole(client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"n": '
        yield b'7, "s": "chunked"}'

    response = client.post("/echo", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert (response.status_code, response.json()) == (200, {"n": 7, "s": "chunked"})


def test_a_chunked_body_over_the_limit_is_413(client) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b" " * 65536

    response = client.post("/echo", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413


@pytest.mark.parametrize(
    "body",
    [
        b'{"n": ' + b"9" * 5000 + b"}",  # past Python's 4,300-digit int conversion limit
        b'{"n": 1, "s": "\\ud800"}',  # a lone surrogate: not Unicode, SQLite cannot store it
        b'{"n": 1, "\\udfff": "x"}',  # ... in a key
        b'{"n": 1, "s": ["\\ud83d"]}',  # ... nested
    ],
)
def test_json_that_parses_but_is_not_well_formed_is_400(client, body: bytes) -> None:
    response = client.post("/echo", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


def test_an_escaped_surrogate_pair_is_well_formed() -> None:
    assert well_formed(json.loads('{"s": "\\ud83d\\udcb8", "n": [1.5, {"k": "v"}]}')) is None
    assert well_formed({"s": "\ud800"}) is not None
    assert well_formed([float("nan")]) is not None


@pytest.mark.parametrize("body", [b"s=%FF%FE", b"s=\xff", b"%C3=1", b"&".join([b"s=1"] * 1001)])
def test_a_form_that_is_not_utf8_or_has_too_many_fields_is_400(client, body: bytes) -> None:
    response = client.post(
        "/echo", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 400


def test_a_utf8_form_is_decoded(client) -> None:
    response = client.post(
        "/echo",
        content=b"s=caf%C3%A9+cr%C3%A8me&",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (response.status_code, response.json()) == (200, {"s": "café crème"})


def test_a_client_that_goes_away_is_not_logged_as_a_server_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="mockyard"):
        failure = failure_for(ClientDisconnect())
    assert failure.status < 500
    assert caplog.records == []


COUNT = spec(
    {
        "/count": {
            "get": {
                "operationId": "count",
                "parameters": [
                    {"name": "n", "in": "query", "required": True, "schema": {"type": "integer"}},
                    {"name": "x", "in": "query", "schema": {"type": "number"}},
                ],
                "responses": ok({"type": "object"}),
            }
        }
    }
)


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("n=12", 200),
        ("n=-12&x=1.5e3", 200),
        ("n=%2012%20", 200),  # surrounding blanks, as JavaScript's Number() reads them too
        ("n=1_2", 400),
        ("n=%D9%A1%D9%A2", 400),  # Arabic-Indic digits: int() reads them, no gateway does
        ("n=%EF%BC%91", 400),  # a fullwidth digit
        ("n=12&x=infinity", 400),
        ("n=12&x=1_0.5", 400),
        ("n=0x10", 400),
    ],
)
def test_numeric_query_parameters_are_plain_decimal_literals(
    tmp_path: Path, query: str, status: int
) -> None:
    handler = "def count(ctx, n, x=None):\n    return {'n': n, 'x': x}\n"
    ws = write_workspace(tmp_path, {"count.yaml": COUNT}, handlers={"count.py": handler})
    with served(tmp_path, ws) as test_client:
        assert test_client.get(f"/count?{query}").status_code == status
