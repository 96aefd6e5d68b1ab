"""Shared fixtures: a live sandbox on a free loopback port, and an in-process client."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import yaml
from chargebee import Chargebee

with warnings.catch_warnings():  # starlette warns once, on import, that it prefers httpx2
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

    from mockyard.app import ServeConfig, build

ROOT = Path(__file__).resolve().parent.parent
# The startup cache (mockyard.cache) of this test run lives with the run, not in ~/.cache.
os.environ.setdefault("MOCKYARD_CACHE_DIR", tempfile.mkdtemp(prefix="mockyard-test-cache-"))
pytest_plugins = ["pytester"]  # test_plugin.py runs example test sessions


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

    def records(self, api: str, collection: str) -> dict[str, Any]:
        """The API's stored records of one collection, read straight from the state file."""
        rows = self._query(
            "SELECT key, body FROM docs WHERE api = ? AND coll = ?", (api, collection)
        )
        return {key: json.loads(body) for key, body in rows}

    def record(self, api: str, collection: str, key: object) -> Any:
        """One stored record, or None."""
        rows = self._query(
            "SELECT key, body FROM docs WHERE api = ? AND coll = ? AND key = ?",
            (api, collection, str(key)),
        )
        return json.loads(rows[0][1]) if rows else None

    def _query(self, sql: str, args: tuple[object, ...]) -> list[tuple[str, str]]:
        with closing(sqlite3.connect(f"file:{self.state}?mode=ro", uri=True)) as conn:
            return conn.execute(sql, args).fetchall()


def start_sandbox(
    state: Path, *extra: str, workspace: Path = ROOT, admin_token: str | None = None
) -> LiveSandbox:
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
        *(["--admin-token", admin_token] if admin_token else []),
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
            headers = {"Authorization": f"Bearer {admin_token}"} if admin_token else {}
            health = httpx.get(f"{sandbox.url}/__mockyard/health", headers=headers, timeout=1)
            if health.status_code == 200:
                return sandbox
        except httpx.TransportError:
            pass
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


def snapshot(state: Path) -> dict[tuple[str, str, str], str]:
    """Every business document in a state file (rate-limit bookkeeping excluded)."""
    conn = sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=30)
    try:
        rows = conn.execute("SELECT api, coll, key, body FROM docs WHERE api != '_mockyard'")
        return {(api, coll, key): body for api, coll, key, body in rows}
    finally:
        conn.close()


def wallet_workspace(root: Path, invoices: dict[int, float], wallet: float) -> Path:
    """A workspace with the real CargoExtra spec and handlers and a made-to-measure fixture:
    Ada (`sandbox-token`) with an NGN wallet of `wallet` and unpaid NGN invoices number -> total."""
    for folder in ("specs", "handlers", "fixtures"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "specs" / "cargoextra.yaml", root / "specs")
    shutil.copy(ROOT / "handlers" / "cargoextra.py", root / "handlers")
    real = yaml.safe_load((ROOT / "fixtures" / "cargoextra.yaml").read_text())
    ada = {**real["catalogue"]["accounts"]["sandbox-token"], "wallets": {"NGN": wallet}}
    template = {
        "owner": ada["id"],
        "currency": "NGN",
        "status": "unpaid",
        "description": "Test",
        "issuedAt": "2024-05-02T10:00:00Z",
        "dueAt": "2024-06-01",
    }
    fixture = {
        "catalogue": {
            "currencies": real["catalogue"]["currencies"],
            "accounts": {"sandbox-token": ada},
            "invoices": {
                str(n): {**template, "invoiceNo": n, "total": total}
                for n, total in invoices.items()
            },
        }
    }
    (root / "fixtures" / "cargoextra.yaml").write_text(yaml.safe_dump(fixture))
    return root


def cargoextra_workspace(root: Path, **settings: object) -> Path:
    """A workspace in `root` that serves this repository's CargoExtra files, plus `settings`
    (top-level mockyard.yaml keys such as `controls`)."""
    api = {
        "spec": str(ROOT / "specs" / "cargoextra.yaml"),
        "handlers": str(ROOT / "handlers" / "cargoextra.py"),
        "fixtures": str(ROOT / "fixtures" / "cargoextra.yaml"),
    }
    config = {"seed": 20240601, "apis": {"cargoextra": api}, **settings}
    root.mkdir(parents=True, exist_ok=True)
    (root / "mockyard.yaml").write_text(yaml.safe_dump(config))
    return root


@contextmanager
def in_process(tmp: Path, workspace: Path = ROOT, **config: object) -> Iterator[TestClient]:
    """The sandbox app built in this process (no socket), behind Starlette's test client.

    `client.sandbox` is the built `Sandbox`; `config` sets `ServeConfig` fields.
    """
    state = tmp / "inproc.sqlite3"
    sandbox = build(ServeConfig(workspace=str(workspace), state=str(state), **config))
    with TestClient(sandbox.app) as client:
        client.sandbox = sandbox  # type: ignore[attr-defined]
        yield client


FAULTY_CONTROLS = {
    "operations": {
        "pay-invoice-from-wallet": {"faults": {"error": 0.3, "drop": 0.3}},
        "prepare-invoice-part-payment-from-wallet": {"faults": {"error": 1}},
        "validate-invoice-payment": {"faults": {"drop": 1}},
    }
}


@pytest.fixture(scope="session")
def faulty_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSandbox]:
    """A live sandbox with FAULTY_CONTROLS and two workers on one state and one journal, so
    what the controls and the journal promise is proven across worker processes."""
    root = tmp_path_factory.mktemp("faulty")
    workspace = cargoextra_workspace(root / "ws", controls=FAULTY_CONTROLS)
    sandbox = start_sandbox(root / "state.sqlite3", "--workers", "2", workspace=workspace)
    yield sandbox
    sandbox.stop()


def validate_query(invoice: dict, currencies: dict, type: str = "confirm") -> dict[str, object]:
    """CargoExtra validate parameters that pass every check for a stored `invoice` record: its
    amount, its currency's ObjectId and that currency's first enabled processor."""
    currency = currencies[invoice["currency"]]
    return {
        "invoiceNo": invoice["invoiceNo"],
        "amount": invoice["total"],
        "currencyPaid": currency["id"],
        "type": type,
        "processor": currency["processors"][0],
        "partPaymentFromWalletBalanceBefore": 0,
        "partPaymentFromWalletBalanceCurrent": 0,
    }


CHARGEBEE_AUTH = ("sandbox_api_key", "")  # Basic auth: the API key as user name, no password
FORM = "application/x-www-form-urlencoded"


def apply_payments(
    client: httpx.Client,
    invoice: str,
    fields: list[tuple[str, str]] | str = "",
    *,
    auth: tuple[str, str] | None = CHARGEBEE_AUTH,
    content_type: str = FORM,
) -> httpx.Response:
    """Chargebee's apply_payments on `invoice`, with `fields` form-encoded (or a raw body)."""
    return client.post(
        f"/api/v2/invoices/{invoice}/apply_payments",
        content=fields if isinstance(fields, str) else urlencode(fields),
        headers={"Content-Type": content_type},
        auth=auth,
    )


def sdk_for(sandbox: LiveSandbox, api_key: str = "sandbox_api_key") -> Chargebee:
    """Chargebee's official SDK pointed at `sandbox` through its own settings: it builds
    `{protocol}://{site}.{chargebee_domain}/api/v2`, so site `127.0.0` and domain `1:PORT` give
    `http://127.0.0.1:PORT/api/v2`. It picks the scheme from the class attribute
    `Chargebee.verify_ca_certs` (protocol `http` only clears the instance's): callers clear that
    too (the `cb` fixture does, for one test)."""
    host, port = sandbox.url.removeprefix("http://").rsplit(":", 1)
    site, last = host.rsplit(".", 1)
    client = Chargebee(
        api_key=api_key, site=site, chargebee_domain=f"{last}:{port}", protocol="http"
    )
    assert client.env.api_endpoint == f"{sandbox.url}/api/v2"
    return client


@pytest.fixture
def cb(sandbox: LiveSandbox, monkeypatch: pytest.MonkeyPatch) -> Chargebee:
    """The official Chargebee SDK on the reseeded live sandbox."""
    monkeypatch.setattr(Chargebee, "verify_ca_certs", False)
    return sdk_for(sandbox)
