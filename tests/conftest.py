"""Shared fixtures: a live sandbox on a free loopback port, and an in-process client."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveSandbox:
    """A `mockyard serve` process on 127.0.0.1; `url` is its base URL."""

    url: str
    process: subprocess.Popen[bytes]
    state: Path
    log: Path

    def client(self, token: str | None = "sandbox-token") -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def reset(self) -> None:
        httpx.post(f"{self.url}/__mockyard/reset", timeout=30).raise_for_status()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def start_sandbox(state: Path, *extra: str, workspace: Path = ROOT) -> LiveSandbox:
    """Start `mockyard serve` on a free port and wait until /__mockyard/health answers."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "mockyard.cli",
        "serve",
        "--workspace",
        str(workspace),
        "--port",
        str(port),
        "--state",
        str(state),
        *extra,
    ]
    log = state.with_suffix(".log")
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
    sandbox = LiveSandbox(f"http://127.0.0.1:{port}", process, state, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sandbox exited: {sandbox.log_text()}")
        try:
            if httpx.get(f"{sandbox.url}/__mockyard/health", timeout=1).status_code == 200:
                return sandbox
        except httpx.TransportError:
            time.sleep(0.1)
    sandbox.stop(signal.SIGKILL)
    raise RuntimeError("sandbox did not answer within 60 s")


@pytest.fixture(scope="session")
def live_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSandbox]:
    """One strict (response-validating) sandbox process for the session."""
    sandbox = start_sandbox(tmp_path_factory.mktemp("live") / "state.sqlite3", "--strict")
    yield sandbox
    sandbox.stop()


@pytest.fixture
def sandbox(live_sandbox: LiveSandbox) -> LiveSandbox:
    """The live sandbox, freshly reseeded for this test."""
    live_sandbox.reset()
    return live_sandbox
