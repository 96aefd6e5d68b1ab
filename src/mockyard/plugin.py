"""pytest plugin: a `mockyard_sandbox` fixture serving your workspace for your own tests.

Installed with mockyard (entry point `pytest11`), so any test can ask for it:

    def test_pay(mockyard_sandbox):
        response = httpx.post(mockyard_sandbox.url + "/pay", ...)
        assert mockyard_sandbox.requests(method="POST")[0]["status"] == 200

The sandbox process starts once per test session on a free loopback port; before each test that
uses the fixture its state is reseeded and its request journal emptied. The workspace is
`--mockyard-workspace DIR`, else the `mockyard_workspace` ini option, else the rootdir; the
`mockyard_args` ini option adds `mockyard serve` flags (`--latency 50`, `--seed 7` ...).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

STARTUP_TIMEOUT = 60.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mockyard", "mockyard sandbox")
    group.addoption(
        "--mockyard-workspace",
        dest="mockyard_workspace",
        help="workspace the mockyard_sandbox fixture serves (default: ini, else rootdir)",
    )
    parser.addini("mockyard_workspace", "workspace the mockyard_sandbox fixture serves")
    parser.addini("mockyard_args", "extra `mockyard serve` flags for the sandbox", type="args")


class MockyardSandbox:
    """A running sandbox: its URL, its tokens, its request journal and its state."""

    def __init__(self, url: str, workspace: Path, log: Path) -> None:
        self.url = url
        self.workspace = workspace
        self.log = log
        self._admin = httpx.Client(base_url=f"{url}/__mockyard", timeout=30)
        self.catalogue: dict[str, Any] = self._admin.get("/catalogue").raise_for_status().json()

    @property
    def tokens(self) -> dict[str, list[str]]:
        """API name -> the sandbox credentials its fixtures list (the default one first)."""
        out = {}
        for api, listing in self.catalogue.items():
            creds = sorted(listing["credentials"], key=lambda c: not c.get("default"))
            out[api] = [c["value"] for c in creds]
        return out

    @property
    def token(self) -> str:
        """The first API's default credential."""
        return next(t for tokens in self.tokens.values() for t in tokens)

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client on the sandbox's base URL; close it (or use `with`)."""
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    def reset(self, seed: int | None = None) -> dict[str, Any]:
        """Reseed the state (optionally with a new seed)."""
        body = {} if seed is None else {"seed": seed}
        answer: dict[str, Any] = self._admin.post("/reset", json=body).raise_for_status().json()
        return answer

    def requests(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        status: int | str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """The request journal, newest first, filtered like GET /__mockyard/requests."""
        params = {"method": method, "path": path, "status": status, "limit": limit}
        query = {k: str(v) for k, v in params.items() if v is not None}
        found: list[dict[str, Any]] = (
            self._admin.get("/requests", params=query).raise_for_status().json()["requests"]
        )
        return found

    def clear_requests(self) -> None:
        self._admin.delete("/requests").raise_for_status()

    def get_record(self, api: str, collection: str, key: object) -> Any:
        """A record as stored, or None."""
        response = self._admin.get(f"/state/{api}/{collection}/{key}")
        return None if response.status_code == 404 else response.raise_for_status().json()

    def put_record(self, api: str, collection: str, key: object, record: dict[str, Any]) -> None:
        """Store a record (validated against the collection's schema; AssertionError if not)."""
        response = self._admin.put(f"/state/{api}/{collection}/{key}", json=record)
        assert response.status_code in (200, 201), response.text

    def close(self) -> None:
        self._admin.close()


@pytest.fixture(scope="session")
def mockyard_server(request: pytest.FixtureRequest) -> Iterator[MockyardSandbox]:
    """The session's sandbox process (use `mockyard_sandbox` for a freshly reset one)."""
    config = request.config
    chosen = config.getoption("mockyard_workspace") or config.getini("mockyard_workspace")
    workspace = Path(chosen or config.rootpath)
    if not workspace.is_absolute():
        workspace = config.rootpath / workspace
    extra = list(config.getini("mockyard_args") or [])
    with tempfile.TemporaryDirectory(prefix="mockyard-pytest-") as tmp:
        process, url, log = _start(workspace.resolve(), Path(tmp), extra)
        try:
            sandbox = MockyardSandbox(url, workspace, log)
            yield sandbox
            sandbox.close()
        finally:
            _stop(process)


@pytest.fixture
def mockyard_sandbox(mockyard_server: MockyardSandbox) -> MockyardSandbox:
    """The sandbox, reseeded and with an empty request journal for this test."""
    mockyard_server.reset()
    mockyard_server.clear_requests()
    return mockyard_server


def _start(
    workspace: Path, tmp: Path, extra: list[str]
) -> tuple[subprocess.Popen[bytes], str, Path]:
    """Start `mockyard serve`; a port taken between choosing and binding it is retried."""
    log = tmp / "sandbox.log"
    for attempt in range(3):
        port = _free_port()
        cmd = [
            *(sys.executable, "-m", "mockyard.cli", "serve", "--quiet"),
            *("--workspace", str(workspace), "--host", "127.0.0.1", "--port", str(port)),
            *("--state", str(tmp / f"state-{attempt}.sqlite3"), *extra),
        ]
        with log.open("ab") as out:
            process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=_env())
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            try:
                httpx.get(f"{url}/__mockyard/health", timeout=1)
                return process, url, log
            except httpx.TransportError:
                time.sleep(0.1)
        if process.poll() is None:
            _stop(process)
            break
        if "address already in use" not in log.read_text(errors="replace").lower():
            break
    pytest.fail(
        f"the mockyard sandbox for {workspace} did not start:\n"
        + "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        + f"\n(command: {shlex.join(cmd)})",
        pytrace=False,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MOCKYARD_ADMIN_TOKEN", None)  # the session's sandbox is on loopback, unguarded
    return env
