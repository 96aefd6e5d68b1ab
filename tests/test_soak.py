"""Soak: a bounded 60-second mixed load leaves no 5xx and no memory growth.

Six client threads mix requests to all three APIs against one sandbox for 60 s (10 s warm-up,
then 50 s measured): CargoExtra validations, part-payments and pays, InvoiceXpress partial
payments, Chargebee applications (all excess or named), malformed requests to each, and resets.
The server's resident memory at the end must be within 10% of its level after warm-up.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, apply_payments, start_sandbox, validate_query

from mockyard import fixtures, workspace

pytestmark = pytest.mark.slow  # the fast tier (make test-fast) leaves this module out

WARM_UP, MEASURED = 10.0, 50.0
VALIDATE = "/api/v1/billing/invoice/validate"
PART = "/api/v1/billing/invoice/part-process"
PAY = "/api/v1/billing/invoice/pay"
IX_KEY = {"api_key": "sandbox-api-key"}


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def invoicexpress_request(
    client: httpx.Client, documents: list[dict], rng: random.Random
) -> httpx.Response:
    document = rng.choice(documents)
    path = f"/documents/{document['id']}/partial_payments.json"
    roll = rng.random()
    if roll < 0.8:  # small payments: documents settle slowly, some are settled already (422)
        amount = rng.randrange(1, 500) / 100
        return client.post(path, params=IX_KEY, json={"partial_payment": {"amount": amount}})
    if roll < 0.9:
        body = {"partial_payment": {"amount": 1}}
        return client.post("/documents/999/partial_payments.json", params=IX_KEY, json=body)
    return client.post(
        path,
        params=IX_KEY,
        headers={"Content-Type": "application/json"},
        content=rng.choice([b"{", b'{"partial_payment": {"amount": "x"}}', b"\xff"]),
    )


def chargebee_request(
    client: httpx.Client, invoices: list[dict], payments: dict[str, list[str]], rng: random.Random
) -> httpx.Response:
    invoice = rng.choice(invoices)
    roll = rng.random()
    if roll < 0.6:
        fields: list[tuple[str, str]] = []
    elif roll < 0.85:
        own = payments.get(invoice["customer_id"], ["txn_missing"])
        fields = [("transactions[id][0]", rng.choice(own)), ("transactions[amount][0]", "300")]
    else:
        fields = [
            rng.choice(
                [("transactions[id]]", "x"), ("transactions[id][7]", "x"), ("comment", "c" * 400)]
            )
        ]
    return apply_payments(client, invoice["id"], fields)


def mixed_load(
    url: str, records: dict, seed: int, until: float, statuses: Counter[tuple[str, int]]
) -> None:
    rng = random.Random(seed)
    cargo = records["cargoextra"]
    owners = {a["id"]: token for token, a in cargo["accounts"].items()}
    invoices = [i for i in cargo["invoices"].values() if i["invoiceNo"] >= 200000]
    documents = [
        d for d in records["invoicexpress"]["documents"].values() if d["type"] != "CreditNote"
    ]
    chargebee = records["chargebee"]
    payments: dict[str, list[str]] = {}
    for txn in chargebee["transactions"].values():
        payments.setdefault(txn["customer_id"], []).append(txn["id"])
    cb_invoices = list(chargebee["invoices"].values())
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(100_000):  # bounded in count as well as in time
            if time.monotonic() >= until:
                return
            api = rng.random()
            if api < 0.25:
                response = invoicexpress_request(client, documents, rng)
                statuses["invoicexpress", response.status_code] += 1
                continue
            if api < 0.5:
                response = chargebee_request(client, cb_invoices, payments, rng)
                statuses["chargebee", response.status_code] += 1
                continue
            invoice = rng.choice(invoices)
            auth = {"Authorization": f"Bearer {owners[invoice['owner']]}"}
            roll = rng.random()
            if roll < 0.4:
                response = client.get(
                    VALIDATE,
                    headers=auth,
                    params=validate_query(
                        invoice, cargo["currencies"], type=rng.choice(["start", "confirm"])
                    ),
                )
            elif roll < 0.6:
                response = client.post(
                    PART,
                    headers=auth,
                    json={"invoice": invoice["invoiceNo"], "currency": invoice["currency"]},
                )
            elif roll < 0.85:
                response = client.post(
                    PAY,
                    headers=auth,
                    json={"invoice": invoice["invoiceNo"], "currency": invoice["currency"]},
                )
            elif roll < 0.995:
                response = client.post(
                    PAY,
                    headers={**auth, "Content-Type": "application/json"},
                    content=rng.choice([b"{", b"[]", b'{"invoice": "x"}']),
                )
            else:
                response = client.post("/__mockyard/reset")
            statuses["cargoextra", response.status_code] += 1


def test_sixty_seconds_of_mixed_load(tmp_path: Path) -> None:
    ws = workspace.load(ROOT)
    records = {
        api.name: fixtures.build(workspace.read_yaml(api.fixtures), ws.seed) for api in ws.apis
    }
    sandbox = start_sandbox(tmp_path / "state.sqlite3")
    statuses: Counter[tuple[str, int]] = Counter()
    try:
        start = time.monotonic()
        until = start + WARM_UP + MEASURED
        threads = [
            threading.Thread(target=mixed_load, args=(sandbox.url, records, n, until, statuses))
            for n in range(6)
        ]
        for thread in threads:
            thread.start()
        time.sleep(WARM_UP)
        warm = rss_kib(sandbox.process.pid)
        for thread in threads:
            thread.join(timeout=MEASURED + 60)
        end = rss_kib(sandbox.process.pid)
    finally:
        sandbox.stop()
    served = sum(statuses.values())
    print(f"soak: {served} requests {dict(sorted(statuses.items()))}; RSS {warm} -> {end} KiB")
    assert served > 1000
    assert not [s for s in statuses if s[1] >= 500], statuses
    for api in ("cargoextra", "invoicexpress", "chargebee"):  # each API carried real load
        assert sum(n for (a, _), n in statuses.items() if a == api) > served / 5
        assert statuses[api, 200] > served / 50
    assert end <= warm * 1.10, f"RSS grew from {warm} KiB to {end} KiB"
