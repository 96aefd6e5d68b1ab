"""Helpers for the `mockyard contract` tests: running the command, and deployments in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from broken.app import TOKEN, Deployments
from click.testing import CliRunner
from conftest import ROOT, free_port

from mockyard.cli import main

SPEC = ROOT / "tests" / "broken" / "spec.yaml"
SEED = "20240601"


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str


def contract(*args: str, env: dict[str, str] | None = None) -> Run:
    result = CliRunner().invoke(main, ["contract", *args], catch_exceptions=False, env=env)
    return Run(result.exit_code, result.stdout, result.stderr)


@contextmanager
def served(app: Any) -> Iterator[tuple[str, uvicorn.Server]]:
    """`app` on a free 127.0.0.1 port, by uvicorn in a thread: (base URL, server)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "the deployment did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@dataclass
class Broken:
    url: str
    deployments: Deployments

    def run(self, deployment: str, *args: str) -> Run:
        return contract(
            "--base-url",
            f"{self.url}/{deployment}",
            "--spec",
            str(SPEC),
            "--token",
            TOKEN,
            "--max-examples",
            "15",
            "--seed",
            SEED,
            *args,
        )


@contextmanager
def broken_deployments() -> Iterator[Broken]:
    """The faithful deployment and one per defect, on one server."""
    deployments = Deployments()
    with served(deployments) as (url, _):
        yield Broken(url, deployments)
