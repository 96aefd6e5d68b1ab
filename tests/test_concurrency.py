"""Concurrent pays never overdraw a wallet nor pay an invoice twice, with one worker or two.

The workspace here is the real CargoExtra spec and handlers with a fixture made for contention:
one wallet of 10,000 NGN and 25 unpaid invoices of 1,000 NGN, so exactly ten pays can succeed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import LiveSandbox, start_sandbox, wallet_workspace

PAY = "/api/v1/billing/invoice/pay"
PART = "/api/v1/billing/invoice/part-process"
VALIDATE = "/api/v1/billing/invoice/validate"
INVOICES = range(300001, 300026)


@pytest.fixture(scope="module")
def contention_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return wallet_workspace(
        tmp_path_factory.mktemp("contention"), dict.fromkeys(INVOICES, 1000), wallet=10000
    )


@pytest.fixture(params=[1, 2], ids=["1-worker", "2-workers"])
def contended(
    request: pytest.FixtureRequest, contention_workspace: Path, tmp_path: Path
) -> Iterator[LiveSandbox]:
    sandbox = start_sandbox(
        tmp_path / "state.sqlite3", "--workers", str(request.param), workspace=contention_workspace
    )
    yield sandbox
    sandbox.stop()


def pay_all(sandbox: LiveSandbox, bodies: list[dict]) -> list[httpx.Response]:
    def pay(body: dict) -> httpx.Response:
        with sandbox.client() as client:
            return client.post(PAY, json=body)

    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(pay, bodies))


def test_concurrent_pays_never_overdraw_the_wallet(contended: LiveSandbox) -> None:
    responses = pay_all(contended, [{"invoice": n, "currency": "NGN"} for n in INVOICES])
    outcomes = Counter((r.status_code, r.json().get("message")) for r in responses)
    assert outcomes == {
        (200, "Invoice payment successful"): 10,
        (400, "Insufficient funds"): 15,
    }
    paid = [r.json()["invoiceNo"] for r in responses if r.status_code == 200]
    wallet = contended.record("cargoextra", "accounts", "sandbox-token")["wallets"]["NGN"]
    statuses = {n: contended.record("cargoextra", "invoices", n)["status"] for n in INVOICES}
    assert wallet == 0
    assert sorted(n for n, s in statuses.items() if s == "paid") == sorted(paid)
    # every acknowledged balance is distinct: each pay saw the one before it
    balances = sorted(r.json()["walletBalance"] for r in responses if r.status_code == 200)
    assert balances == list(range(0, 10000, 1000))


def test_concurrent_pays_of_one_invoice_pay_it_once(contended: LiveSandbox) -> None:
    responses = pay_all(contended, [{"invoice": 300001, "currency": "NGN"}] * 20)
    outcomes = Counter((r.status_code, r.json()["message"]) for r in responses)
    assert outcomes == {(200, "Invoice payment successful"): 1, (400, "Invoice already paid"): 19}
    wallet = contended.record("cargoextra", "accounts", "sandbox-token")["wallets"]["NGN"]
    assert wallet == 9000


def test_every_worker_sees_a_payment_at_once(contended: LiveSandbox) -> None:
    with contended.client() as client:
        assert client.post(PAY, json={"invoice": 300002, "currency": "NGN"}).status_code == 200
        params = {
            "invoiceNo": 300002,
            "amount": 1000,
            "currencyPaid": "642f1a3e9b1e8a0012345678",
            "type": "confirm",
            "processor": "paystack",
            "partPaymentFromWalletBalanceBefore": 0,
            "partPaymentFromWalletBalanceCurrent": 0,
        }
        verdicts = [
            client.get(VALIDATE, params=params, headers={"Connection": "close"}) for _ in range(20)
        ]
    assert {v.json()["verStatus"] for v in verdicts} == {False}


def test_two_workers_both_answer(contention_workspace: Path, tmp_path: Path) -> None:
    sandbox = start_sandbox(
        tmp_path / "s.sqlite3", "--workers", "2", workspace=contention_workspace
    )
    try:
        workers = {
            httpx.get(f"{sandbox.url}/__mockyard/health", headers={"Connection": "close"}).json()[
                "worker"
            ]
            for _ in range(40)
        }
    finally:
        sandbox.stop()
    assert len(workers) == 2
