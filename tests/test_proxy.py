"""`mockyard proxy`: forwarding to a real deployment, checking every exchange against the spec,
and `--record` for a workspace `mockyard serve` replays.

Two upstreams play the real system: a real sandbox (`mockyard serve` of the resource
workspace), and a small, deliberately wrong Starlette app (`WRONG`) answering a shop spec
(`SHOP`) with undocumented statuses, bodies its schema refuses, a missing header, the wrong
content type, slowly, or not at all. The proxy runs in this process on a free loopback port
(uvicorn in a thread), so its log and recorder can be read directly; one test runs the CLI.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml
from conftest import LiveSandbox, free_port, start_sandbox
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from mockyard import journal, proxy, proxy_checks, reports, workspace
from mockyard.proxy_report import ProxyLog
from mockyard.recording import Recorder

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "tests" / "resource_workspace"

SHOP = {
    "openapi": "3.0.3",
    "info": {"title": "Shop", "version": "1"},
    "paths": {
        "/customers/{id}": {
            "get": {
                "operationId": "get-customer",
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
                    {"name": "api_key", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {
                        "description": "The customer.",
                        "headers": {
                            "X-Request-Id": {"required": True, "schema": {"type": "string"}}
                        },
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Customer"}
                            }
                        },
                    },
                    "404": {"$ref": "#/components/responses/Error"},
                },
            }
        },
        "/customers": {
            "post": {
                "operationId": "create-customer",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/New"}}
                    },
                },
                "responses": {
                    "201": {
                        "description": "Created.",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Customer"}
                            }
                        },
                    },
                    "400": {"$ref": "#/components/responses/Error"},
                },
            }
        },
        "/secure": {
            "get": {
                "operationId": "get-secure",
                "security": [{"bearer": []}],
                "responses": {
                    "200": {"description": "OK.", "content": {"application/json": {"schema": {}}}},
                    "401": {"$ref": "#/components/responses/Error"},
                },
            }
        },
        "/slow": {
            "get": {
                "operationId": "get-slow",
                "responses": {
                    "200": {"description": "OK.", "content": {"application/json": {"schema": {}}}},
                    "default": {"$ref": "#/components/responses/Error"},
                },
            }
        },
        "/big": {
            "get": {
                "operationId": "get-big",
                "responses": {
                    "200": {
                        "description": "Many words.",
                        "content": {
                            "application/json": {
                                "schema": {"type": "array", "items": {"type": "string"}}
                            }
                        },
                    }
                },
            }
        },
        "/trickle": {
            "get": {
                "operationId": "get-trickle",
                "responses": {
                    "200": {
                        "description": "Two words, a while apart.",
                        "content": {
                            "application/json": {
                                "schema": {"type": "array", "items": {"type": "string"}}
                            }
                        },
                    }
                },
            }
        },
        "/upload": {
            "post": {
                "operationId": "upload",
                "requestBody": {
                    "content": {
                        "application/octet-stream": {
                            "schema": {"type": "string", "format": "binary"}
                        }
                    }
                },
                "responses": {
                    "200": {
                        "description": "What arrived.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    },
    "components": {
        "schemas": {
            "Customer": {
                "type": "object",
                "required": ["id", "email", "name"],
                "properties": {
                    "id": {"type": "integer"},
                    "email": {"type": "string", "format": "email"},
                    "name": {"type": "string"},
                    "nickname": {"type": "string"},
                },
            },
            "New": {
                "type": "object",
                "required": ["email", "name"],
                "properties": {
                    "email": {"type": "string", "format": "email"},
                    "name": {"type": "string", "minLength": 1},
                },
            },
            "Error": {
                "type": "object",
                "required": ["message"],
                "properties": {"message": {"type": "string"}},
            },
        },
        "responses": {
            "Error": {
                "description": "An error.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        },
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    },
}
ADA = {"id": 1, "email": "ada@real.example", "name": "Ada Lovelace", "nickname": "countess"}
BIG_WORDS = 400_000  # a JSON body of about 5 MB: more than the proxy keeps to check


def wrong_upstream() -> Starlette:
    """The shop as a careless deployment: each customer id shows one way to break the spec."""
    hits: list[tuple[str, str]] = []

    async def customer(request: Request) -> Response:
        hits.append(("GET", request.url.path))
        number = int(request.path_params["id"])
        ok = {"X-Request-Id": "req-1"}
        if number == 1:
            return JSONResponse(ADA, headers=ok)
        if number == 2:
            return JSONResponse({"id": "two", "email": "b@real.example"}, headers=ok)
        if number == 3:
            return JSONResponse({"message": "I'm a teapot"}, 418)
        if number == 4:
            return PlainTextResponse("Ada Lovelace", headers=ok)
        if number == 5:
            return JSONResponse(ADA)  # no X-Request-Id
        return JSONResponse({"message": "no such customer"}, 404)

    async def create(request: Request) -> Response:
        hits.append(("POST", request.url.path))
        body = await request.json()
        return JSONResponse({"id": 10, **body}, 201)

    async def secure(request: Request) -> Response:
        hits.append(("GET", request.url.path))
        return JSONResponse({"ok": True})

    async def slow(request: Request) -> Response:
        hits.append(("GET", request.url.path))
        await asyncio.sleep(2)
        return JSONResponse({"ok": True})

    async def big(request: Request) -> Response:
        async def words() -> Any:
            yield b"["
            for start in range(0, BIG_WORDS, 10_000):
                last = start + 10_000 >= BIG_WORDS
                chunk = ",".join(f'"w{n:08d}"' for n in range(start, start + 10_000))
                yield (chunk + ("]" if last else ",")).encode()

        return StreamingResponse(words(), media_type="application/json")

    async def trickle(request: Request) -> Response:
        async def parts() -> Any:
            yield b'["first"'
            await asyncio.sleep(0.8)
            yield b', "last"]'

        return StreamingResponse(parts(), media_type="application/json")

    async def upload(request: Request) -> Response:
        digest, size = hashlib.sha256(), 0
        async for chunk in request.stream():
            digest.update(chunk)
            size += len(chunk)
        return JSONResponse({"sha256": digest.hexdigest(), "size": size})

    app = Starlette(
        routes=[
            Route("/customers/{id}", customer),
            Route("/customers", create, methods=["POST"]),
            Route("/secure", secure),
            Route("/slow", slow),
            Route("/big", big),
            Route("/trickle", trickle),
            Route("/upload", upload, methods=["POST"]),
            Route("/elsewhere", lambda _: JSONResponse({"ok": True})),
        ]
    )
    app.state.hits = hits
    return app


@dataclass
class Running:
    url: str
    server: uvicorn.Server
    thread: threading.Thread


@contextmanager
def running(app: Any) -> Iterator[str]:
    """`app` served by uvicorn in a thread on a free loopback port; yields its URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def shop_workspace(root: Path, **settings: Any) -> Path:
    (root / "specs").mkdir(parents=True, exist_ok=True)
    (root / "specs" / "shop.yaml").write_text(yaml.safe_dump(SHOP, sort_keys=False))
    (root / "mockyard.yaml").write_text(yaml.safe_dump({"seed": 1, **settings}))
    return root


@dataclass
class Proxied:
    """A proxy running in this process: its URL, its log (the report) and its recorder."""

    url: str
    log: ProxyLog
    recorder: Recorder
    built: proxy.Proxy

    def journal(self) -> list[dict[str, Any]]:
        entries = httpx.get(f"{self.url}/__mockyard/requests", timeout=10).json()["requests"]
        return list(reversed(entries))  # oldest first


@contextmanager
def proxied(
    root: Path,
    upstream: str,
    tmp: Path,
    *,
    target: proxy.Upstream | None = None,
    **options: Any,
) -> Iterator[Proxied]:
    ws = workspace.load(root)
    scratch = tmp / "scratch"
    scratch.mkdir(exist_ok=True)
    config = proxy.ProxyConfig(
        upstream=upstream, workspace=str(root), scratch=str(scratch), **options
    )
    target = target or proxy.Upstream.of(upstream, allow_mutations=config.allow_mutations)
    log = ProxyLog.of(ws, target)
    recorder = Recorder(ws, target.base_url)
    built = proxy.build(config, [log, recorder], ws, target)
    with running(built.app) as url:
        yield Proxied(url, log, recorder, built)


@pytest.fixture(scope="module")
def wrong() -> Iterator[tuple[str, Starlette]]:
    app = wrong_upstream()
    with running(app) as url:
        yield url, app


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSandbox]:
    """A real sandbox of the resource workspace, playing the real deployment."""
    sandbox = start_sandbox(
        tmp_path_factory.mktemp("upstream") / "state.sqlite3", workspace=RESOURCES
    )
    yield sandbox
    sandbox.stop()


def checks_of(entry: dict[str, Any]) -> list[str]:
    return [v["check"] for v in entry["violations"]]


# --- forwarding ----------------------------------------------------------------------------------


def test_answers_from_a_real_sandbox_pass_through_unchanged(
    real: LiveSandbox, tmp_path: Path
) -> None:
    real.reset()
    with proxied(RESOURCES, real.url, tmp_path) as px:
        for path in ("/pets", "/pets/1", "/pets/999", "/pets?limit=2"):
            direct = httpx.get(real.url + path)
            through = httpx.get(px.url + path)
            assert (through.status_code, through.content) == (direct.status_code, direct.content)
            assert through.headers["content-type"] == direct.headers["content-type"]
        created = httpx.post(px.url + "/pets", json={"name": "Rex", "status": "available"})
        assert created.status_code == 201
        assert httpx.get(real.url + f"/pets/{created.json()['id']}").json()["name"] == "Rex"
        journal = px.journal()
    assert [e["operation"] for e in journal] == [
        "list-pets", "get-pet", "get-pet", "list-pets", "create-pet",
    ]  # fmt: skip
    assert all(e["violations"] == [] for e in journal)
    result = px.log.result()
    assert result.outcome.value == "passed"
    assert {t.operation for t in result.tallies} == {"list-pets", "get-pet", "create-pet"}


def test_each_violation_is_journaled_and_reported(
    wrong: tuple[str, Starlette], tmp_path: Path
) -> None:
    url, _ = wrong
    with proxied(shop_workspace(tmp_path / "ws"), url, tmp_path) as px:
        answers = {n: httpx.get(f"{px.url}/customers/{n}") for n in (1, 2, 3, 4, 5)}
        undocumented = httpx.get(px.url + "/elsewhere")
        journal = px.journal()
    # Forwarded as they came, violations or not.
    assert [answers[n].status_code for n in (1, 2, 3, 4, 5)] == [200, 200, 418, 200, 200]
    assert answers[2].json() == {"id": "two", "email": "b@real.example"}
    assert answers[4].text == "Ada Lovelace"
    assert undocumented.json() == {"ok": True}
    by_path = {e["path"]: checks_of(e) for e in journal}
    assert by_path["/customers/1"] == []
    assert by_path["/customers/2"] == ["response_schema_conformance"]
    assert by_path["/customers/3"] == ["status_code_conformance"]
    assert by_path["/customers/4"] == ["content_type_conformance"]
    assert by_path["/customers/5"] == ["response_headers_conformance"]
    assert by_path["/elsewhere"] == ["undocumented_operation"]
    schema = next(e for e in journal if e["path"] == "/customers/2")["violations"][0]
    assert "'two' is not of type 'integer'" in schema["message"]
    assert "'name' is a required property" in schema["message"]

    result = px.log.result()
    assert result.outcome.value == "failed"
    assert sorted(f.check for f in result.failures) == sorted(
        [
            "response_schema_conformance",
            "status_code_conformance",
            "content_type_conformance",
            "response_headers_conformance",
            "undocumented_operation",
        ]
    )
    markdown = reports.markdown.render(result)
    assert "418 is not documented for get-customer (200, 404)" in markdown
    assert f"curl -X GET {url}/customers/3" in markdown
    suites = ET.fromstring(reports.junit.render(result))
    failed = {
        (case.get("classname"), case.get("name"))
        for case in suites.iter("testcase")
        if case.find("failure") is not None
    }
    assert ("shop.get-customer", "status_code_conformance") in failed
    assert ("shop.get-customer", "response_headers_conformance") in failed
    html = reports.html.render(result)
    assert "text/plain; charset=utf-8 is not documented for 200" in html


def test_a_request_the_spec_refuses_is_forwarded_and_reported(
    wrong: tuple[str, Starlette], tmp_path: Path
) -> None:
    url, app = wrong
    with proxied(shop_workspace(tmp_path / "ws"), url, tmp_path) as px:
        answer = httpx.post(px.url + "/customers", json={"name": ""})
        journal = px.journal()
    assert answer.status_code == 201  # the upstream's answer, however wrong the request
    assert ("POST", "/customers") in app.state.hits
    # The careless upstream echoed it: its answer lacks the email too.
    assert checks_of(journal[-1]) == ["request_conformance", "response_schema_conformance"]
    assert "'email' is a required property" in journal[-1]["violations"][0]["message"]


def test_strict_answers_a_refused_request_in_the_apis_format_without_forwarding(
    wrong: tuple[str, Starlette], tmp_path: Path
) -> None:
    url, app = wrong
    before = len(app.state.hits)
    with proxied(shop_workspace(tmp_path / "ws"), url, tmp_path, strict=True) as px:
        invalid = httpx.post(px.url + "/customers", json={"name": ""})
        anonymous = httpx.get(px.url + "/secure")
        unknown = httpx.get(px.url + "/elsewhere")
        allowed = httpx.get(px.url + "/secure", headers={"Authorization": "Bearer t"})
        journal = px.journal()
    # The shop documents its errors as {"message": ...}: the proxy answers in that format.
    assert invalid.status_code == 400 and set(invalid.json()) == {"message"}
    assert anonymous.status_code == 401 and set(anonymous.json()) == {"message"}
    assert unknown.status_code == 404
    assert allowed.json() == {"ok": True}
    assert app.state.hits[before:] == [("GET", "/secure")]  # only the valid request went on
    assert checks_of(journal[0]) == ["request_conformance"]
    assert checks_of(journal[1]) == ["request_conformance"]
    assert "bearer" in journal[1]["violations"][0]["message"]  # the scheme it lacks


def test_an_upstream_too_slow_is_the_apis_504(wrong: tuple[str, Starlette], tmp_path: Path) -> None:
    url, _ = wrong
    with proxied(shop_workspace(tmp_path / "ws"), url, tmp_path, timeout=0.3) as px:
        started = time.monotonic()
        answer = httpx.get(px.url + "/slow")
        took = time.monotonic() - started
        journal = px.journal()
    assert answer.status_code == 504 and set(answer.json()) == {"message"}  # its `default`
    assert took < 1.5
    assert journal[-1]["status"] == 504
    errors = px.log.result().errors
    assert [e.where for e in errors] == ["get-slow"]
    assert "did not answer in time" in errors[0].message


def test_an_upstream_that_is_down_is_the_apis_502(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with proxied(shop_workspace(tmp_path / "ws"), dead, tmp_path) as px:
        answer = httpx.get(px.url + "/customers/1")
        journal = px.journal()
    # get-customer documents no 502 and no default: RFC 9457, naming the upstream.
    assert answer.status_code == 502
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["title"] == "Bad Gateway"
    assert f"cannot reach {dead}" in answer.json()["detail"]
    assert journal[-1]["status"] == 502
    assert px.log.result().outcome.value == "errored"


def test_large_bodies_stream_through_unchanged(
    wrong: tuple[str, Starlette], tmp_path: Path
) -> None:
    url, _ = wrong
    upload = os.urandom(6 * 1024 * 1024)
    with proxied(shop_workspace(tmp_path / "ws"), url, tmp_path) as px:
        direct = httpx.get(url + "/big")
        through = httpx.get(px.url + "/big")
        sent = httpx.post(
            px.url + "/upload",
            content=upload,
            headers={"Content-Type": "application/octet-stream"},
        )
        with httpx.stream("GET", px.url + "/trickle") as streamed:
            started = time.monotonic()
            chunks = streamed.iter_raw()
            first = next(chunks)
            first_after = time.monotonic() - started
            rest = b"".join(chunks)
        journal = px.journal()
    # The first part arrives before the upstream has sent the rest: nothing waits for the end.
    assert first == b'["first"' and first_after < 0.6
    assert rest == b', "last"]'
    assert len(through.content) > proxy.MAX_CHECKED
    assert through.content == direct.content
    assert sent.json() == {"sha256": hashlib.sha256(upload).hexdigest(), "size": len(upload)}
    assert all(e["violations"] == [] for e in journal)  # too large to check: not refused


def test_writes_are_refused_off_loopback_unless_allowed() -> None:
    """The decision, for an upstream that is not loopback: nothing is sent anywhere."""
    remote = proxy.Upstream.of("http://203.0.113.7:8080")  # an address: no name to look up
    assert not remote.loopback
    assert remote.refusal("GET", None) is None
    refusal = remote.refusal("POST", None)
    assert refusal and "--allow-mutations" in refusal and "203.0.113.7" in refusal
    assert remote.refusal("DELETE", None)
    allowed = proxy.Upstream.of("http://203.0.113.7:8080", allow_mutations=True)
    assert allowed.refusal("POST", None) is None
    assert proxy.Upstream.of("http://127.0.0.1:9").refusal("POST", None) is None
    assert proxy.Upstream.of("http://localhost:9").refusal("PATCH", None) is None


def test_a_write_off_loopback_is_the_apis_403_and_not_sent(
    wrong: tuple[str, Starlette], tmp_path: Path
) -> None:
    url, app = wrong
    before = len(app.state.hits)
    # Classified as remote (as a real deployment's name would be), while its address is the
    # loopback test upstream: were the refusal to fail, the request would still stay local.
    remote = proxy.Upstream(url, "api.shop.example", loopback=False)
    with proxied(shop_workspace(tmp_path / "ws"), url, tmp_path, target=remote) as px:
        refused = httpx.post(px.url + "/customers", json={"email": "a@b.example", "name": "A"})
        read = httpx.get(px.url + "/customers/1")
    assert refused.status_code == 403
    assert "--allow-mutations" in refused.json()["detail"]
    assert read.status_code == 200
    assert app.state.hits[before:] == [("GET", "/customers/1")]


# --- recording -----------------------------------------------------------------------------------


def test_a_recording_of_a_real_sandbox_is_replayed_by_serve(
    real: LiveSandbox, tmp_path: Path
) -> None:
    real.reset()
    recorded = tmp_path / "recorded"
    steps = [
        ("GET", "/pets/6", None),  # not there yet
        ("POST", "/pets", {"name": "Rex", "status": "available"}),
        ("GET", "/pets/6", None),  # now it is
        ("GET", "/pets?limit=3", None),
    ]
    with proxied(RESOURCES, real.url, tmp_path) as px:
        seen = [httpx.request(m, px.url + p, json=b) for m, p, b in steps]
        pet_3 = httpx.get(real.url + "/pets/3").json()
    summary = px.recorder.write(recorded)
    assert summary.recorded == 4
    assert [a.status_code for a in seen] == [404, 201, 200, 200]
    spec = yaml.safe_load((recorded / "specs" / "petstore.yaml").read_text())
    examples = spec["paths"]["/pets/{petId}"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["examples"]
    assert examples["recorded-200-1"]["value"] == seen[2].json()
    fixture = yaml.safe_load((recorded / "fixtures" / "petstore.yaml").read_text())
    assert fixture["catalogue"]["pets"]["6"] == seen[1].json()

    replayer = start_sandbox(tmp_path / "replay.sqlite3", workspace=recorded)
    try:
        again = [httpx.request(m, replayer.url + p, json=b) for m, p, b in steps]
        # Not recorded on its own, but shown by the recorded list: a fixture record now.
        other = httpx.get(replayer.url + "/pets/3")
        fresh = httpx.post(replayer.url + "/pets", json={"name": "Tom", "status": "sold"})
    finally:
        replayer.stop()
    assert [(a.status_code, a.json()) for a in again] == [(s.status_code, s.json()) for s in seen]
    assert again[1].headers["location"] == seen[1].headers["location"]
    assert other.json() == pet_3
    assert fresh.status_code == 201 and fresh.json()["name"] == "Tom"  # the sandbox, as usual


def test_a_recording_keeps_no_credentials_and_no_personal_data(
    wrong: tuple[str, Starlette], tmp_path: Path
) -> None:
    url, _ = wrong
    root = shop_workspace(tmp_path / "ws", proxy={"redact": {"fields": ["nickname"]}})
    recorded = tmp_path / "recorded"
    with proxied(root, url, tmp_path) as px:
        answer = httpx.get(
            px.url + "/customers/1?api_key=live-key-123",
            headers={"Authorization": "Bearer live-token-456"},
        )
        created = httpx.post(
            px.url + "/customers", json={"email": "grace@real.example", "name": "Grace"}
        )
    assert answer.json() == ADA and created.status_code == 201
    px.recorder.write(recorded)
    written = "\n".join(p.read_text() for p in recorded.rglob("*") if p.is_file())
    for secret in ("live-key-123", "live-token-456", "ada@real.example", "Ada Lovelace"):
        assert secret not in written
    assert "grace@real.example" not in written
    assert "countess" not in written  # `nickname`, listed in mockyard.yaml
    spec = yaml.safe_load((recorded / "specs" / "shop.yaml").read_text())
    get = spec["paths"]["/customers/{id}"]["get"]
    example = get["responses"]["200"]["content"]["application/json"]["examples"]
    value = example["recorded-200-1"]["value"]
    assert value["id"] == 1 and value["name"] != ADA["name"]  # a customer's name is personal
    assert "@" in value["email"] and value["email"] != ADA["email"]
    recording = get["x-mockyard-recorded"][0]
    assert recording["request"]["query"] == [["api_key", "[redacted]"]]
    assert recording["headers"] == {"x-request-id": "req-1"}

    replayer = start_sandbox(tmp_path / "replay.sqlite3", workspace=recorded)
    try:
        replayed = httpx.get(replayer.url + "/customers/1?api_key=another-key")
        posted = httpx.post(
            replayer.url + "/customers", json={"email": "someone@else.example", "name": "Grace"}
        )
    finally:
        replayer.stop()
    assert replayed.status_code == 200 and replayed.json() == value
    assert replayed.headers["x-request-id"] == "req-1"
    assert posted.status_code == 201  # the email matched any value: it was redacted
    assert posted.json()["email"] != "grace@real.example"


# --- the command ---------------------------------------------------------------------------------


def test_the_command_reports_at_exit_and_exits_1_on_a_violation(
    wrong: tuple[str, Starlette], tmp_path: Path
) -> None:
    url, _ = wrong
    root = shop_workspace(tmp_path / "ws")
    port = free_port()
    report, junit = tmp_path / "proxy.html", tmp_path / "proxy.xml"
    command = [
        sys.executable, "-m", "mockyard.cli", "proxy", "--workspace", str(root),
        "--upstream", url, "--port", str(port), "--report", str(report), "--junit", str(junit),
        "--record", str(tmp_path / "rec"), "--quiet",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/__mockyard/requests", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert httpx.get(f"http://127.0.0.1:{port}/customers/3").status_code == 418
        assert httpx.get(f"http://127.0.0.1:{port}/customers/1").status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode()
    assert process.returncode == 1, output
    assert "FAILED: 1 distinct contract failure (status_code_conformance)" in output
    assert "recorded 1 answer(s)" in output
    assert "418 is not documented" in report.read_text()
    assert ET.parse(junit).getroot().get("failures") == "1"
    assert list(yaml.safe_load((tmp_path / "rec" / "mockyard.yaml").read_text())["apis"]) == [
        "shop"
    ]


def test_a_report_file_of_unknown_kind_is_refused_before_starting(tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "mockyard.cli", "proxy", "--workspace", str(RESOURCES),
        "--upstream", "http://127.0.0.1:9", "--report", str(tmp_path / "r.pdf"),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("error: cannot write a report to")
    assert done.stderr.count("\n") == 1


def test_an_upstream_that_is_not_an_http_url_is_one_line_naming_the_option() -> None:
    command = [
        sys.executable, "-m", "mockyard.cli", "proxy", "--workspace", str(RESOURCES),
        "--upstream", "ftp://example.com",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (
        2,
        "error: --upstream must be an http(s) URL with a host, got 'ftp://example.com'\n",
    )


def test_a_journal_file_from_before_the_proxy_still_opens(tmp_path: Path) -> None:
    """`serve` keeps its journal next to a state file across restarts: an older file, without
    the violations column, gets it."""
    path = tmp_path / "state.sqlite3-requests"
    old_schema = journal._SCHEMA.replace(",\n    violations TEXT", "")
    assert "violations" not in old_schema
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript(old_schema)
        conn.commit()
    kept = journal.Journal(path, 10)
    row = (time.time(), "GET", "/x", 200, None, None, 1.0, None, None, 1, None, "", None, 0, "",
           None, 0, None)  # fmt: skip
    kept.record(row)
    assert [e["violations"] for e in kept.entries()] == [[]]


def test_a_cookie_parameter_is_read_from_the_cookie_header(tmp_path: Path) -> None:
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "Cookies", "version": "1"},
        "paths": {
            "/me": {
                "get": {
                    "operationId": "me",
                    "parameters": [
                        {
                            "name": "session",
                            "in": "cookie",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {"200": {"description": "OK."}},
                }
            }
        },
    }
    path = tmp_path / "cookies.yaml"
    path.write_text(yaml.safe_dump(spec))
    ws = workspace.from_specs([path])
    checker = proxy_checks.Checker(ws.merged)
    op = ws.index.by_id["me"]
    with_cookie = proxy_checks.Call(op, {}, "/me", headers=[("Cookie", "session=abc; x=1")])
    assert checker.request(with_cookie) == []
    without = proxy_checks.Call(op, {}, "/me", headers=[("Cookie", "x=1")])
    assert [v.check for v in checker.request(without)] == ["request_conformance"]
