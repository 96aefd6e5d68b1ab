"""A payment's effect, read back through each vendor's own API: Chargebee's SDK retrieves and
lists, InvoiceXpress's documented GETs. The operations are answered by resources inferred from
the specs (no handler code); the tests check what the vendors' SDK and docs promise."""

from __future__ import annotations

import httpx
from chargebee import Chargebee
from conftest import LiveSandbox

PAY = {"transactions": [{"id": "txn_sandbox_1b", "amount": 4000}]}


def test_invoice_retrieve_shows_the_applied_payment(cb: Chargebee) -> None:
    cb.Invoice.apply_payments("inv_sandbox_1", PAY)
    invoice = cb.Invoice.retrieve("inv_sandbox_1").invoice
    assert (invoice.id, invoice.status, invoice.amount_due, invoice.amount_paid) == (
        "inv_sandbox_1",
        "payment_due",
        6000,
        4000,
    )
    assert [(p.txn_id, p.applied_amount) for p in invoice.linked_payments] == [
        ("txn_sandbox_1b", 4000)
    ]


def test_customer_retrieve_reads_the_invoices_customer(cb: Chargebee) -> None:
    invoice = cb.Invoice.apply_payments("inv_sandbox_1", PAY).invoice
    customer = cb.Customer.retrieve(invoice.customer_id).customer
    assert (customer.id, customer.email, customer.company) == (
        "cus_sandbox_1",
        "alice.ambler@acme.example",
        "Acme Corp",
    )


def test_transaction_retrieve_shows_what_is_left_unused(cb: Chargebee) -> None:
    cb.Invoice.apply_payments("inv_sandbox_1", PAY)
    txn = cb.Transaction.retrieve("txn_sandbox_1b").transaction
    assert (txn.id, txn.customer_id, txn.amount, txn.amount_unused) == (
        "txn_sandbox_1b",
        "cus_sandbox_1",
        10000,
        6000,
    )
    assert [(i.invoice_id, i.applied_amount) for i in txn.linked_invoices] == [
        ("inv_sandbox_1", 4000)
    ]


def test_transaction_list_shows_the_payment_too(cb: Chargebee) -> None:
    cb.Invoice.apply_payments("inv_sandbox_1", PAY)
    found, offset = None, None
    for _ in range(100):  # pages, as the SDK's users read them
        params = {"limit": 100, **({"offset": offset} if offset else {})}
        page = cb.Transaction.list(params)
        found = found or next(
            (e.transaction for e in page.list if e.transaction.id == "txn_sandbox_1b"), None
        )
        offset = page.next_offset
        if found is not None or not offset:
            break
    assert found is not None
    assert found.amount_unused == 6000


DOCUMENT_PAY = {"partial_payment": {"payment_mechanism": "TB", "amount": 100.0, "serie": "A"}}
KEY = {"api_key": "sandbox-api-key"}


def test_invoicexpress_invoice_get_shows_what_remains(sandbox: LiveSandbox) -> None:
    with httpx.Client(base_url=sandbox.url, params=KEY, timeout=30) as client:
        client.post("/documents/1/partial_payments.json", json=DOCUMENT_PAY).raise_for_status()
        response = client.get("/invoices/1.json", headers={"accept": "application/json"})
    assert response.status_code == 200
    invoice = response.json()["invoice"]
    assert (invoice["id"], invoice["total"], invoice["status"]) == (1, 107, "final")


def test_invoicexpress_receipt_get_shows_the_payment(sandbox: LiveSandbox) -> None:
    with httpx.Client(base_url=sandbox.url, params=KEY, timeout=30) as client:
        paid = client.post("/documents/1/partial_payments.json", json=DOCUMENT_PAY).json()
        receipt_id = paid["receipt"]["id"]
        response = client.get(
            f"/receipts/{receipt_id}.json", headers={"accept": "application/json"}
        )
    assert response.status_code == 200
    receipt = response.json()["receipt"]
    assert (receipt["id"], receipt["total"], receipt["sequence_number"]) == (
        receipt_id,
        100,
        "28/A",
    )
