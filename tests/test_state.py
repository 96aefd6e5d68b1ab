"""State lives in one SQLite file: kept with --state across restarts, rebuilt by reset."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from conftest import ROOT, LiveSandbox, in_process, start_sandbox

from mockyard import workspace

pytestmark = pytest.mark.slow  # the fast tier (make test-fast) leaves this module out

PAY = "/api/v1/billing/invoice/pay"


def test_state_file_keeps_payments_across_restarts(tmp_path: Path) -> None:
    state = tmp_path / "kept.sqlite3"
    first = start_sandbox(state)
    try:
        with first.client("sandbox-token-rich") as client:
            assert client.post(PAY, json={"invoice": 100127, "currency": "NGN"}).status_code == 200
    finally:
        first.stop()
    second = start_sandbox(state)
    try:
        with second.client("sandbox-token-rich") as client:
            again = client.post(PAY, json={"invoice": 100127, "currency": "NGN"})
    finally:
        second.stop()
    assert (again.status_code, again.json()) == (400, {"message": "Invoice already paid"})


def test_reset_reseeds_and_accepts_a_new_seed(sandbox: LiveSandbox) -> None:
    with sandbox.client("sandbox-token-rich") as client:
        client.post(PAY, json={"invoice": 100127, "currency": "NGN"})
    assert sandbox.record("cargoextra", "invoices", 100127)["status"] == "paid"
    default_customer = sandbox.record("cargoextra", "accounts", "cust-0001-token")

    reset = httpx.post(f"{sandbox.url}/__mockyard/reset", json={"seed": 7})
    assert reset.status_code == 200
    assert reset.json()["seed"] == 7
    assert reset.json()["collections"]["cargoextra"]["invoices"] >= 1000
    assert sandbox.record("cargoextra", "invoices", 100127)["status"] == "unpaid"
    assert sandbox.record("cargoextra", "accounts", "cust-0001-token") != default_customer
    assert httpx.get(f"{sandbox.url}/__mockyard/health").json()["seed"] == 7


def test_reset_refuses_a_bad_seed(sandbox: LiveSandbox) -> None:
    response = httpx.post(f"{sandbox.url}/__mockyard/reset", json={"seed": "soon"})
    assert response.status_code == 400
    assert "seed" in response.json()["error"]


def test_health_answers(live_sandbox: LiveSandbox) -> None:
    response = httpx.get(f"{live_sandbox.url}/__mockyard/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["apis"] == sorted(a.name for a in workspace.load(ROOT).apis)


def test_durable_fsyncs_every_commit_and_default_does_not(tmp_path: Path) -> None:
    def synchronous(**config: object) -> int:
        folder = tmp_path / ("durable" if config else "default")
        folder.mkdir()
        with in_process(folder, **config) as client:
            store = client.sandbox.state.store
            with store.transaction(write=False) as tx:
                return tx.conn.execute("PRAGMA synchronous").fetchone()[0]

    assert synchronous(durable=True) == 2  # FULL
    assert synchronous() == 1  # NORMAL: durable across process crashes (test_crash_safety)


def test_a_new_seed_reaches_every_worker(tmp_path: Path) -> None:
    sandbox = start_sandbox(tmp_path / "state.sqlite3", "--workers", "2")
    try:
        assert httpx.post(f"{sandbox.url}/__mockyard/reset", json={"seed": 99}).status_code == 200
        answers = [
            httpx.get(f"{sandbox.url}/__mockyard/health", headers={"Connection": "close"}).json()
            for _ in range(40)
        ]
    finally:
        sandbox.stop()
    assert len({a["worker"] for a in answers}) == 2  # both workers answered
    assert {a["seed"] for a in answers} == {99}
