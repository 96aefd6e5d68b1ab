"""Concurrent payments never overspend, with one worker or two, or two instances on one
PostgreSQL database: the ledgers add up after every run (sum of debits = sum of balance
changes, no negative balance, no double payment; see `ledgers`).

CargoExtra pays and part-payments run on a workspace made for contention: the real spec and
handlers, one wallet of 10,000 NGN and 25 unpaid invoices of 1,000 NGN, so exactly ten full pays
can succeed. InvoiceXpress partial payments and Chargebee applications run on the real workspace
with two worker processes sharing one state file, and with two instances on one database.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from conftest import (
    BACKENDS,
    ROOT,
    LiveSandbox,
    apply_payments,
    backend_named,
    snapshot,
    start_sandbox,
    wallet_workspace,
)
from ledgers import cargoextra_problems, chargebee_problems, invoicexpress_problems, records

from mockyard import fixtures, workspace

pytestmark = pytest.mark.slow

PAY = "/api/v1/billing/invoice/pay"
PART = "/api/v1/billing/invoice/part-process"
VALIDATE = "/api/v1/billing/invoice/validate"
INVOICES = range(300001, 300026)


@pytest.fixture(scope="module")
def contention_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return wallet_workspace(
        tmp_path_factory.mktemp("contention"), dict.fromkeys(INVOICES, 1000), wallet=10000
    )


@pytest.fixture(
    scope="module",
    params=[("sqlite", 1), ("sqlite", 2), ("postgresql", 1)],
    ids=["sqlite-1-worker", "sqlite-2-workers", "postgresql-2-instances"],
)
def contended_sandbox(
    request: pytest.FixtureRequest,
    contention_workspace: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveSandbox]:
    backend, workers = request.param
    sandbox = backend_named(request, backend).start(
        tmp_path_factory.mktemp("contended"),
        "--workers",
        str(workers),
        workspace=contention_workspace,
    )
    yield sandbox
    sandbox.stop()


@pytest.fixture
def contended(contended_sandbox: LiveSandbox) -> LiveSandbox:
    """The contention sandbox, reset to its seed: one wallet, 25 unpaid invoices."""
    contended_sandbox.reset()
    return contended_sandbox


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
    headers = {"Authorization": "Bearer sandbox-token", "Connection": "close"}
    verdicts = [  # new connections spread over the workers; every instance is asked
        httpx.get(f"{url}{VALIDATE}", params=params, headers=headers)
        for url in contended.urls
        for _ in range(20)
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


# --- part-payments under contention ---------------------------------------------------------------


def part_pay(number: int, current: int) -> dict:
    """Pay invoice `number` (1000 NGN): the wallet gives 1000 - current, the rest is online."""
    return {
        "invoice": number,
        "currency": "NGN",
        "partPaymentFromWalletBalance": {
            "currency": "NGN",
            "exchangeRate": 1,
            "chargeTotalBefore": 1000,
            "chargeTotalCurrent": current,
        },
    }


def test_concurrent_part_payments_never_overspend(contended: LiveSandbox) -> None:
    before = snapshot(contended.state)
    rng = random.Random(8)
    shares = {n: rng.randrange(100, 1001, 100) for n in INVOICES}  # 13,800 asked of 10,000
    calls = [(PAY, part_pay(n, 1000 - shares[n])) for n in INVOICES] * 2  # each one twice
    calls += [(PART, {"invoice": n, "currency": "NGN"}) for n in INVOICES]
    rng.shuffle(calls)

    def call(path_body: tuple[str, dict]) -> tuple[str, dict, httpx.Response]:
        path, body = path_body
        with contended.client() as client:
            return path, body, client.post(path, json=body)

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(call, calls))

    pays = [(b, r.status_code, r.json()) for p, b, r in results if p == PAY]
    parts = [(b, r.status_code, r.json()) for p, b, r in results if p == PART]
    assert {(s, j["message"]) for _, s, j in pays} <= {
        (200, "Invoice payment successful"),
        (400, "Insufficient funds"),
        (400, "Invoice already paid"),
    }
    assert {(s, j["message"]) for _, s, j in parts} <= {
        (200, "Invoice ready for part payment"),
        (400, "Wallet balance is too high for this endpoint"),
        (400, "Invoice already paid"),
    }
    acked = [(b["invoice"], j["walletBalance"]) for b, s, j in pays if s == 200]
    assert len(acked) == len({n for n, _ in acked})  # no invoice paid twice
    assert any(j["message"] == "Insufficient funds" for _, _, j in pays)  # the wallet ran dry

    # The acknowledged balances form one chain from 10,000: each pay saw the one before it.
    balance = 10000
    for number, after in sorted(acked, key=lambda a: -a[1]):
        assert after == balance - shares[number] >= 0
        balance = after
    wallet = contended.record("cargoextra", "accounts", "sandbox-token")["wallets"]["NGN"]
    assert wallet == balance == 10000 - sum(shares[n] for n, _ in acked)
    # Every part-payment prepared saw one of those balances, never a half-applied one.
    seen = {10000, *(b for _, b in acked)}
    prepared = [j["invoice"]["partPaymentFromWalletBalance"] for _, s, j in parts if s == 200]
    assert all(1000 - p["chargeTotalCurrent"] in seen for p in prepared)

    after_state = snapshot(contended.state)
    assert cargoextra_problems(before, after_state) == []
    paid = {
        n: contended.record("cargoextra", "invoices", n)
        for n in INVOICES
        if contended.record("cargoextra", "invoices", n)["status"] == "paid"
    }
    assert sorted(paid) == sorted(n for n, _ in acked)
    assert all(inv["paidFromWallet"] == shares[n] for n, inv in paid.items())


# --- InvoiceXpress and Chargebee with two workers on one state -----------------------------------


@pytest.fixture(scope="module", params=BACKENDS, ids=["sqlite-2-workers", "postgresql-2-instances"])
def two_workers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveSandbox]:
    """The real workspace served by two worker processes sharing one state file, or by two
    instances sharing one database."""
    backend = backend_named(request, request.param)
    workers = ["--workers", "2"] if backend.name == "sqlite" else []
    sandbox = backend.start(tmp_path_factory.mktemp("two-workers"), *workers)
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def seeded() -> dict[str, dict]:
    ws = workspace.load(ROOT)
    return {api.name: fixtures.build(workspace.read_yaml(api.fixtures), ws.seed) for api in ws.apis}


def race(sandbox: LiveSandbox, calls: list[Callable[[httpx.Client], httpx.Response]]) -> list:
    """Run every call at once (a barrier releases them together), each on its own connection."""
    gate = threading.Barrier(len(calls))

    def attempt(call: Callable[[httpx.Client], httpx.Response]) -> httpx.Response:
        with httpx.Client(base_url=sandbox.url, timeout=60) as client:
            gate.wait()
            return call(client)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(attempt, calls))


def test_invoicexpress_payments_add_up_with_two_workers(
    two_workers: LiveSandbox, seeded: dict[str, dict]
) -> None:
    two_workers.reset()
    before = snapshot(two_workers.state)
    open_bulk = [
        key
        for key, doc in sorted(
            seeded["invoicexpress"]["documents"].items(), key=lambda kv: int(kv[0])
        )
        if int(key) > 1000 and doc["type"] == "Invoice" and doc["status"] == "final"
    ][:3]
    rng = random.Random(3)
    payments = [
        (document, rng.randrange(500, 4001) / 100)  # 5.00 to 40.00 EUR
        for document in ["1", "2", *open_bulk]
        for _ in range(8)
    ]
    payments += [("1", 107.0), ("2", 61.5)]  # the whole total, racing the parts

    def pay(document: str, amount: float) -> Callable[[httpx.Client], httpx.Response]:
        return lambda client: client.post(
            f"/documents/{document}/partial_payments.json",
            params={"api_key": "sandbox-api-key"},
            json={"partial_payment": {"amount": amount}},
        )

    responses = race(two_workers, [pay(d, a) for d, a in payments])
    statuses = [r.status_code for r in responses]
    assert set(statuses) == {200, 422}  # documents 1 and 2 cannot take all that is offered

    after = snapshot(two_workers.state)
    assert invoicexpress_problems(before, after) == []
    documents = records(after, "invoicexpress", "documents")
    acked = [
        (d, a, r.json()["receipt"])
        for (d, a), r in zip(payments, responses, strict=True)
        if r.status_code == 200
    ]
    assert len({receipt["id"] for _, _, receipt in acked}) == len(acked)
    for document, amount, receipt in acked:
        stored = documents[str(receipt["id"])]
        assert (str(stored["paid_document_id"]), stored["amount"]) == (document, amount)
    for document in ["1", "2", *open_bulk]:
        given = sum(Decimal(str(a)) for d, a, _ in acked if d == document)
        assert Decimal(str(documents[document]["paid"])) == given


def test_chargebee_applications_add_up_with_two_workers(
    two_workers: LiveSandbox, seeded: dict[str, dict]
) -> None:
    two_workers.reset()
    before = snapshot(two_workers.state)
    data = seeded["chargebee"]
    excess = {}
    for txn in sorted(data["transactions"].values(), key=lambda t: (t["date"], t["id"])):
        if txn["status"] == "success" and txn["amount_unused"] > 0:
            excess.setdefault(txn["customer_id"], []).append(txn["id"])
    due: dict[str, list[str]] = {}
    for invoice in data["invoices"].values():
        if invoice["status"] in ("payment_due", "posted", "not_paid"):
            due.setdefault(invoice["customer_id"], []).append(invoice["id"])
    bulk = [c for c in sorted(excess) if c.startswith("cus_0") and len(due.get(c, [])) >= 2][:3]

    def apply(invoice: str, fields: list[tuple[str, str]]) -> Callable:
        return lambda client: apply_payments(client, invoice, fields)

    calls = []
    for customer in ["cus_sandbox_1", *bulk]:
        first = excess[customer][0]
        for invoice in due[customer]:
            calls += [apply(invoice, [])] * 2  # every excess payment, oldest first
            calls.append(apply(invoice, [("transactions[id][0]", first)]))
            calls.append(
                apply(invoice, [("transactions[id][0]", first), ("transactions[amount][0]", "700")])
            )
    responses = race(two_workers, calls)
    assert {r.status_code for r in responses} <= {200, 400, 409}
    assert 200 in {r.status_code for r in responses}
    assert {
        (r.status_code, r.json()["api_error_code"]) for r in responses if r.status_code > 299
    } <= {
        (400, "invalid_request"),  # nothing left to apply
        (409, "invalid_state_for_request"),  # the invoice got paid meanwhile
    }
    after = snapshot(two_workers.state)
    assert chargebee_problems(before, after) == []
    # Nothing is left unapplied: each invoice's "apply everything" ran, so for every customer
    # either all its due invoices are paid or all its excess is spent.
    transactions = records(after, "chargebee", "transactions")
    invoices = records(after, "chargebee", "invoices")
    for customer in ["cus_sandbox_1", *bulk]:
        left = sum(transactions[t]["amount_unused"] for t in excess[customer])
        unpaid = [i for i in due[customer] if invoices[i]["status"] != "paid"]
        assert left == 0 or not unpaid, (customer, left, unpaid)
