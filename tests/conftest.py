"""Shared fixtures: a live sandbox on a free loopback port, and an in-process client.

A live sandbox's state is a SQLite file or a database on the session's throwaway PostgreSQL
server (`postgres`); `backend` parametrises a test over both, and on PostgreSQL it runs two
`mockyard serve` instances on one database, as a team's shared sandbox does.
"""

from __future__ import annotations

import fcntl
import itertools
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

from mockyard.pgtemp import TempPostgres
from mockyard.store import is_url

ROOT = Path(__file__).resolve().parent.parent
# In-process clients send the Host a client of a loopback sandbox sends (Starlette's default,
# `testserver`, is a name the admin API refuses without a token: it could be DNS rebinding).
LOOPBACK_URL = "http://127.0.0.1"
# The startup cache (mockyard.cache) of this test run lives with the run, not in ~/.cache.
os.environ.setdefault("MOCKYARD_CACHE_DIR", tempfile.mkdtemp(prefix="mockyard-test-cache-"))
pytest_plugins = ["pytester"]  # test_plugin.py runs example test sessions


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveSandbox:
    """One or more `mockyard serve` instances on 127.0.0.1 sharing one state (a SQLite file or
    a PostgreSQL URL). Each read of `url` names the next instance, round robin, as a load
    balancer in front of them would; `urls` lists them all."""

    urls: list[str]
    processes: list[subprocess.Popen[bytes]]
    state: Path | str
    log: Path

    def __post_init__(self) -> None:
        self._turn = itertools.count()

    @property
    def url(self) -> str:
        return self.urls[next(self._turn) % len(self.urls)]

    @property
    def process(self) -> subprocess.Popen[bytes]:
        return self.processes[0]

    def client(self, token: str | None = "sandbox-token") -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def reset(self) -> None:
        httpx.post(f"{self.url}/__mockyard/reset", timeout=30).raise_for_status()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(sig)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def records(self, api: str, collection: str) -> dict[str, Any]:
        """The API's stored records of one collection, read straight from the state."""
        docs = read_docs(self.state, api, collection)
        return {key: json.loads(body) for (_, _, key), body in docs.items()}

    def record(self, api: str, collection: str, key: object) -> Any:
        """One stored record, or None."""
        body = read_docs(self.state, api, collection, str(key)).get((api, collection, str(key)))
        return None if body is None else json.loads(body)


def read_docs(
    state: Path | str, api: str | None = None, coll: str | None = None, key: str | None = None
) -> dict[tuple[str, str, str], str]:
    """(api, collection, key) -> stored JSON text, read straight from the state (a SQLite file
    or a PostgreSQL database), optionally only one API, collection or record."""
    where = " AND ".join(
        f"{column} = ?" for column, value in (("api", api), ("coll", coll), ("key", key)) if value
    )
    args = [value for value in (api, coll, key) if value]
    if is_url(str(state)):
        import psycopg

        sql = f"SELECT api, coll, key, body FROM mockyard_docs WHERE {where or 'true'}"
        with psycopg.connect(str(state)) as conn:
            rows = conn.execute(sql.replace("?", "%s"), args).fetchall()
    else:
        sql = f"SELECT api, coll, key, body FROM docs WHERE {where or '1'}"
        with closing(sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=30)) as conn:
            rows = conn.execute(sql, args).fetchall()
    return {(a, c, k): body for a, c, k, body in rows}


def start_sandbox(
    state: Path | str,
    *extra: str,
    workspace: Path = ROOT,
    admin_token: str | None = None,
    instances: int = 1,
) -> LiveSandbox:
    """Start `instances` `mockyard serve` processes on one state, each on a free port, all at
    once (so they race to seed it), and wait until every /__mockyard/health answers."""
    ports = [free_port() for _ in range(instances)]
    log = (
        Path(tempfile.mkdtemp(prefix="mockyard-log-")) / "sandbox.log"
        if is_url(str(state))
        else Path(state).with_suffix(".log")
    )
    processes = []
    for port in ports:
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
        with log.open("ab") as out:  # the child keeps its own copy of the descriptor
            processes.append(
                subprocess.Popen(
                    cmd,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )
            )
    sandbox = LiveSandbox([f"http://127.0.0.1:{port}" for port in ports], processes, state, log)
    headers = {"Authorization": f"Bearer {admin_token}"} if admin_token else {}
    deadline = time.monotonic() + 60
    waiting = list(zip(sandbox.urls, processes, strict=True))
    while waiting and time.monotonic() < deadline:
        url, process = waiting[0]
        if process.poll() is not None:
            sandbox.stop(signal.SIGKILL)
            raise RuntimeError(f"sandbox exited: {sandbox.log_text()}")
        try:
            health = httpx.get(f"{url}/__mockyard/health", headers=headers, timeout=1)
            if health.status_code == 200:
                waiting.pop(0)
                continue
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    if waiting:
        sandbox.stop(signal.SIGKILL)
        raise RuntimeError("sandbox did not answer within 60 s")
    return sandbox


# --- backends: SQLite, and PostgreSQL with two instances ------------------------------------------

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres() -> Iterator[TempPostgres]:
    """A throwaway PostgreSQL server for the session (on a free loopback port)."""
    server = TempPostgres(fsync=False)  # tests never crash the server itself
    yield server
    server.stop()


@dataclass
class Backend:
    """Where a test's state lives, and how many instances serve it."""

    name: str
    server: TempPostgres | None = None
    instances: int = 1

    def state(self, folder: Path) -> Path | str:
        """A new, empty state: a file in `folder`, or a new database."""
        if self.server is None:
            return folder / "state.sqlite3"
        return self.server.create_database(f"t{next(_databases)}")

    def start(self, folder: Path, *extra: str, **options: Any) -> LiveSandbox:
        return start_sandbox(self.state(folder), *extra, instances=self.instances, **options)


_databases = itertools.count(1)


def backend_named(request: pytest.FixtureRequest, name: str) -> Backend:
    if name == "sqlite":
        return Backend("sqlite")
    return Backend("postgresql", request.getfixturevalue("postgres"), instances=2)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    """SQLite (one instance), or PostgreSQL (two instances on one database)."""
    return backend_named(request, request.param)


@pytest.fixture(scope="session")
def live_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSandbox]:
    """One strict (response-validating) sandbox process for the session."""
    sandbox = start_sandbox(tmp_path_factory.mktemp("live") / "state.sqlite3", "--strict")
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="session")
def pg_live_sandbox(postgres: TempPostgres) -> Iterator[LiveSandbox]:
    """Two strict sandbox instances on one PostgreSQL database, for the session."""
    sandbox = start_sandbox(postgres.create_database("live"), "--strict", instances=2)
    yield sandbox
    sandbox.stop()


@pytest.fixture
def sandbox(live_sandbox: LiveSandbox) -> LiveSandbox:
    """The live sandbox, freshly reseeded for this test."""
    live_sandbox.reset()
    return live_sandbox


@pytest.fixture(params=BACKENDS)
def sandbox_on(request: pytest.FixtureRequest) -> LiveSandbox:
    """A live strict sandbox, freshly reseeded: one instance on SQLite, or two on PostgreSQL."""
    live = request.getfixturevalue(
        "live_sandbox" if request.param == "sqlite" else "pg_live_sandbox"
    )
    live.reset()
    return live


def snapshot(state: Path | str) -> dict[tuple[str, str, str], str]:
    """Every business document in a state (rate-limit bookkeeping excluded)."""
    return {name: body for name, body in read_docs(state).items() if name[0] != "_mockyard"}


def curl_words(line: str, **env: str) -> list[str]:
    """The words bash hands to curl when it runs the command `line` with `env` set."""
    script = 'curl() { printf "%s\\0" "$@"; }\n' + line
    out = subprocess.run(
        ["bash", "-c", script], env={**os.environ, **env}, capture_output=True, check=True
    )
    return out.stdout.decode().split("\0")[:-1]


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
    try:
        with TestClient(sandbox.app, base_url=LOOPBACK_URL) as client:
            client.sandbox = sandbox  # type: ignore[attr-defined]
            yield client
    finally:
        sandbox.close()


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


# --- programs from Debian's packages --------------------------------------------------------------


def debian_program(package: str, path: str, role: str) -> str:
    """`path`, installing Debian's `package` with apt-get first when it is missing (CI runs as
    root). What cannot be had fails the test under CI (`CI` set, as `.ci/run` sets it), so CI
    never passes without it; elsewhere it is a skip that says why."""
    reason = _apt_install(package, path)
    if reason is None:
        return path
    if os.environ.get("CI"):
        pytest.fail(f"CI needs {role}: {reason}")
    pytest.skip(f"no {role}: {reason}")


def _apt_install(package: str, path: str) -> str | None:
    """Why `path` cannot be had, or None once it is there. One install at a time: the test
    workers (pytest-xdist) would otherwise race for dpkg's lock."""
    if os.path.exists(path):
        return None
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return f"{path} is missing and installing {package} needs root"
    if shutil.which("apt-get") is None:
        return f"{path} is missing and there is no apt-get to install {package}"
    with open(Path(tempfile.gettempdir()) / "mockyard-tests-apt.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        return None if os.path.exists(path) else _apt_get(package, path)


def _apt_get(package: str, path: str) -> str | None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd, timeout in (
        (["apt-get", "update", "-qq"], 300),
        (["apt-get", "install", "-y", "-qq", package], 900),
    ):
        try:
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return f"`{' '.join(cmd)}` did not finish within {timeout} s"
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return f"`{' '.join(cmd)}` failed: {last}"
    return None if os.path.exists(path) else f"apt-get installed no {path}"
