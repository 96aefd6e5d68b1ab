"""A crash never loses an acknowledged payment, and never leaves one half-applied.

The sandbox runs on a state file (or two instances on one PostgreSQL database) under a concurrent
pay load and is killed with SIGKILL mid-load, then restarted on the same state, several times
over. After each restart every payment that was acknowledged with 200 is there, and the wallet
was debited exactly once per paid invoice.

The same holds for the other APIs' money: InvoiceXpress receipts and Chargebee applications,
killed mid-load together, leave every acknowledged receipt and application stored and the
ledgers whole (`ledgers`).
"""

from __future__ import annotations

import json
import random
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from conftest import (
    ROOT,
    Backend,
    LiveSandbox,
    apply_payments,
    snapshot,
    start_sandbox,
    wallet_workspace,
)
from ledgers import chargebee_problems, invoicexpress_problems, records

from mockyard import fixtures, workspace

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

PAY = "/api/v1/billing/invoice/pay"
WALLET = 1_000_000
INVOICES = {n: 1000 + n % 7 for n in range(400001, 400301)}  # distinct totals catch mix-ups
ROUNDS = 4


def ledger(state: Path | str) -> tuple[float, dict[int, dict]]:
    docs = snapshot(state)
    account = json.loads(docs[("cargoextra", "accounts", "sandbox-token")])
    invoices = {
        int(key): json.loads(body) for (api, coll, key), body in docs.items() if coll == "invoices"
    }
    return account["wallets"]["NGN"], invoices


def hammer(url: str, numbers: list[int], acked: list[int], stop: threading.Event) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": "Bearer sandbox-token"}) as client:
        for number in numbers:
            if stop.is_set():
                return
            try:
                response = client.post(PAY, json={"invoice": number, "currency": "NGN"}, timeout=10)
            except httpx.TransportError:
                return  # the server died under us: this pay was never acknowledged
            if response.status_code == 200:
                acked.append(number)


def kill_mid_load(
    sandbox: LiveSandbox,
    lanes: list[threading.Thread],
    acked: list,
    stop: threading.Event,
    *,
    enough: Callable[[list], bool],
) -> None:
    """Start the load lanes, SIGKILL the sandbox once `enough(acked)` says enough writes were
    acknowledged (requests are then in flight), and wait for the lanes to notice."""
    for lane in lanes:
        lane.start()
    deadline = time.monotonic() + 20
    while not enough(acked) and time.monotonic() < deadline:
        time.sleep(0.01)
    sandbox.stop(signal.SIGKILL)
    stop.set()
    for lane in lanes:
        lane.join(timeout=30)


def test_sigkill_mid_load_loses_no_acknowledged_payment(tmp_path: Path, backend: Backend) -> None:
    workspace = wallet_workspace(tmp_path / "ws", INVOICES, wallet=WALLET)
    state = backend.state(tmp_path)
    acknowledged: list[int] = []
    remaining = sorted(INVOICES)
    for _ in range(ROUNDS):
        sandbox = start_sandbox(state, workspace=workspace, instances=backend.instances)
        acked: list[int] = []
        stop = threading.Event()
        lanes = [remaining[i::6] for i in range(6)]
        threads = [
            threading.Thread(target=hammer, args=(sandbox.url, lane, acked, stop)) for lane in lanes
        ]
        kill_mid_load(sandbox, threads, acked, stop, enough=lambda writes: len(writes) >= 15)
        assert acked, "no payment was acknowledged before the kill"
        acknowledged += acked

        wallet, invoices = ledger(state)
        paid = {n for n, inv in invoices.items() if inv["status"] == "paid"}
        assert set(acknowledged) <= paid  # nothing acknowledged was lost
        assert wallet == WALLET - sum(INVOICES[n] for n in paid)  # each paid once, none half-paid
        assert all(invoices[n]["paidFromWallet"] == INVOICES[n] for n in paid)
        remaining = [n for n in remaining if n not in paid]

    restarted = start_sandbox(state, workspace=workspace, instances=backend.instances)
    try:
        with restarted.client() as client:
            again = client.post(PAY, json={"invoice": acknowledged[0], "currency": "NGN"})
    finally:
        restarted.stop()
    assert again.json() == {"message": "Invoice already paid"}


# --- InvoiceXpress receipts and Chargebee applications ------------------------------------------


def invoicexpress_lane(url: str, documents: list[str], seed: int, acked: list, stop) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=10) as client:
        while not stop.is_set():
            document, amount = rng.choice(documents), rng.randrange(1, 100) / 100
            try:
                response = client.post(
                    f"/documents/{document}/partial_payments.json",
                    params={"api_key": "sandbox-api-key"},
                    json={"partial_payment": {"amount": amount}},
                )
            except httpx.TransportError:
                return
            if response.status_code == 200:
                acked.append(("invoicexpress", document, amount, response.json()["receipt"]))


def chargebee_lane(url: str, pairs: list[tuple[str, str]], seed: int, acked: list, stop) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=10, auth=("sandbox_api_key", "")) as client:
        while not stop.is_set():
            invoice, txn = rng.choice(pairs)
            try:
                response = apply_payments(
                    client,
                    invoice,
                    [("transactions[id][0]", txn), ("transactions[amount][0]", "100")],
                )
            except httpx.TransportError:
                return
            if response.status_code == 200:
                acked.append(("chargebee", invoice, txn, response.json()["invoice"]))


def both_apis_acknowledged(acked: list) -> bool:
    kinds = [entry[0] for entry in acked]
    return min(kinds.count("invoicexpress"), kinds.count("chargebee")) >= 15


def test_sigkill_mid_load_loses_no_receipt_and_no_application(
    tmp_path: Path, backend: Backend
) -> None:
    ws = workspace.load(ROOT)
    data = {api.name: fixtures.build(workspace.read_yaml(api.fixtures), ws.seed) for api in ws.apis}
    documents = [
        key
        for key, doc in data["invoicexpress"]["documents"].items()
        if int(key) > 1000 and doc["type"] == "Invoice" and doc["status"] == "final"
    ]
    chargebee = data["chargebee"]
    payable = [i for i in chargebee["invoices"].values() if i["status"] == "payment_due"]
    pairs = [
        (invoice["id"], txn["id"])
        for txn in chargebee["transactions"].values()
        if txn["status"] == "success" and txn["amount_unused"] > 0
        for invoice in payable
        if invoice["customer_id"] == txn["customer_id"]
    ]
    state = backend.state(tmp_path)
    initial = None
    acknowledged: list = []
    for round_ in range(3):
        sandbox = start_sandbox(state, instances=backend.instances)
        initial = initial or snapshot(state)
        acked: list = []
        stop = threading.Event()
        lanes = [
            threading.Thread(
                target=invoicexpress_lane, args=(sandbox.url, documents, n, acked, stop)
            )
            for n in range(3)
        ] + [
            threading.Thread(target=chargebee_lane, args=(sandbox.url, pairs, n, acked, stop))
            for n in range(3)
        ]
        # Each API answers at its own speed: kill once both have acknowledged writes, so the
        # kill lands with both kinds in flight however fast one of them is.
        kill_mid_load(sandbox, lanes, acked, stop, enough=both_apis_acknowledged)
        assert {a[0] for a in acked} == {"invoicexpress", "chargebee"}, f"round {round_}"
        acknowledged += acked

        now = snapshot(state)  # nothing half-applied: every movement is whole and recorded
        assert invoicexpress_problems(initial, now) == []
        assert chargebee_problems(initial, now) == []
        stored_documents = records(now, "invoicexpress", "documents")
        stored_invoices = records(now, "chargebee", "invoices")
        for api, key, detail, answer in acknowledged:  # nothing acknowledged was lost
            if api == "invoicexpress":
                receipt = stored_documents[str(answer["id"])]
                assert (str(receipt["paid_document_id"]), receipt["amount"]) == (key, detail)
            else:
                kept = stored_invoices[key]["linked_payments"]
                assert all(link in kept for link in answer["linked_payments"])

    restarted = start_sandbox(state, instances=backend.instances)
    try:
        _, document, _, _ = next(a for a in acknowledged if a[0] == "invoicexpress")
        again = httpx.post(
            f"{restarted.url}/documents/{document}/partial_payments.json",
            params={"api_key": "sandbox-api-key"},
            json={"partial_payment": {"amount": 0.01}},
            timeout=30,
        )
    finally:
        restarted.stop()
    assert again.status_code == 200
