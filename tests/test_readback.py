"""Read-back through each vendor's own API, with no handler code: the GETs are inferred
resources over the records the payment handlers keep, so after a payment they show its effect.
Against the live, response-validating sandbox (`--strict`): every answer matches the spec."""

from __future__ import annotations

import httpx
from conftest import CHARGEBEE_AUTH, ROOT, LiveSandbox, apply_payments

from mockyard.workspace import load

IX = {"api_key": "sandbox-api-key"}


def ix_get(sandbox: LiveSandbox, path: str, **params: str) -> httpx.Response:
    return httpx.get(f"{sandbox.url}{path}", params={**IX, **params}, timeout=30)


def cb_get(sandbox: LiveSandbox, path: str, **params: object) -> httpx.Response:
    return httpx.get(f"{sandbox.url}/api/v2{path}", params=params, auth=CHARGEBEE_AUTH, timeout=30)


def test_no_handler_module_defines_the_read_backs() -> None:
    ws = load(ROOT)
    answered = {op.operation_id: op.answered_by for op in ws.index}
    reads = [
        "retrieve-invoice",
        "retrieve-customer",
        "retrieve-transaction",
        "list-transactions",
        "get-invoice",
        "get-simplified-invoice",
        "get-receipt",
    ]
    assert {op: answered[op] for op in reads} == dict.fromkeys(reads, "resource")
    for api in ("chargebee", "invoicexpress"):
        defined = ws.handler_names[api]
        assert not {n for n in defined if n.startswith(("retrieve_", "get_", "list_"))}


# --- Chargebee -----------------------------------------------------------------------------------


def test_chargebee_invoice_read_back_shows_what_apply_payments_did(sandbox: LiveSandbox) -> None:
    before = cb_get(sandbox, "/invoices/inv_sandbox_2")
    assert before.status_code == 200
    assert (before.json()["invoice"]["amount_due"], before.json()["invoice"]["status"]) == (
        10000,
        "payment_due",
    )
    with httpx.Client(base_url=sandbox.url, timeout=30) as client:
        applied = apply_payments(client, "inv_sandbox_2")
    assert applied.status_code == 200
    after = cb_get(sandbox, "/invoices/inv_sandbox_2")
    assert after.json() == applied.json()  # the invoice as apply_payments answered it
    assert (after.json()["invoice"]["amount_due"], after.json()["invoice"]["amount_paid"]) == (
        7500,
        2500,
    )
    txn = cb_get(sandbox, "/transactions/txn_sandbox_2a").json()["transaction"]
    assert txn["amount_unused"] == 0
    assert txn["linked_invoices"][-1]["invoice_id"] == "inv_sandbox_2"
    assert txn["linked_invoices"][-1]["applied_amount"] == 2500


def test_chargebee_customer_and_transaction_are_in_chargebees_shape(sandbox: LiveSandbox) -> None:
    customer = cb_get(sandbox, "/customers/cus_sandbox_1")
    assert customer.status_code == 200
    body = customer.json()["customer"]
    assert (body["id"], body["object"], body["first_name"], body["deleted"]) == (
        "cus_sandbox_1",
        "customer",
        "Alice",
        False,
    )
    txn = cb_get(sandbox, "/transactions/txn_sandbox_1a").json()["transaction"]
    assert (txn["object"], txn["amount_unused"], txn["gateway"]) == (
        "transaction",
        3000,
        "not_applicable",
    )


def test_chargebee_unknown_ids_are_its_resource_not_found(sandbox: LiveSandbox) -> None:
    for path in ("/invoices/inv_missing", "/customers/cus_missing", "/transactions/txn_missing"):
        response = cb_get(sandbox, path)
        assert response.status_code == 404, path
        assert response.json()["api_error_code"] == "resource_not_found"
        assert response.json()["http_status_code"] == 404


def test_chargebee_lists_transactions_a_page_at_a_time_with_filters(sandbox: LiveSandbox) -> None:
    seen: list[str] = []
    params: dict[str, object] = {"customer_id[is]": "cus_sandbox_1", "limit": 2}
    while True:
        page = cb_get(sandbox, "/transactions", **params)
        assert page.status_code == 200
        body = page.json()
        assert len(body["list"]) <= 2
        seen += [entry["transaction"]["id"] for entry in body["list"]]
        if "next_offset" not in body:
            break
        params["offset"] = body["next_offset"]
    assert seen == ["txn_sandbox_1a", "txn_sandbox_1b", "txn_sandbox_1f"]
    failed = cb_get(sandbox, "/transactions", **{"status[is]": "failure", "limit": 100})
    assert failed.json()["list"]
    assert {e["transaction"]["status"] for e in failed.json()["list"]} == {"failure"}
    default = cb_get(sandbox, "/transactions").json()
    assert len(default["list"]) == 10 and "next_offset" in default  # Chargebee's default limit


def test_chargebee_list_refuses_a_bad_limit_in_its_error_format(sandbox: LiveSandbox) -> None:
    response = cb_get(sandbox, "/transactions", limit=500)
    assert response.status_code == 400
    assert response.json()["api_error_code"] == "param_wrong_value"


# --- InvoiceXpress -------------------------------------------------------------------------------


def test_invoicexpress_receipt_and_invoice_read_back_after_a_payment(sandbox: LiveSandbox) -> None:
    paid = httpx.post(
        f"{sandbox.url}/documents/1/partial_payments.json",
        params=IX,
        json={"partial_payment": {"amount": 100.0, "note": "first part"}},
        timeout=30,
    )
    assert paid.status_code == 200
    receipt = paid.json()["receipt"]
    read = ix_get(sandbox, f"/receipts/{receipt['id']}.json")
    assert read.status_code == 200
    assert read.json() == paid.json()  # the receipt, as the payment answered it
    invoice = ix_get(sandbox, "/invoices/1.json").json()["invoice"]
    assert (invoice["status"], invoice["total"], invoice["sequence_number"]) == (
        "final",
        107,
        "1/A",
    )
    rest = httpx.post(
        f"{sandbox.url}/documents/1/partial_payments.json",
        params=IX,
        json={"partial_payment": {"amount": 7.0}},
        timeout=30,
    )
    assert rest.status_code == 200
    assert ix_get(sandbox, "/invoices/1.json").json()["invoice"]["status"] == "settled"


def test_invoicexpress_documents_are_read_at_their_own_type(sandbox: LiveSandbox) -> None:
    assert (
        ix_get(sandbox, "/simplified_invoices/2.json").json()["simplified_invoice"]["total"] == 61.5
    )
    assert ix_get(sandbox, "/invoices/4.json").json()["invoice"]["status"] == "settled"
    for path in ("/invoices/2.json", "/invoices/3.json", "/receipts/1.json", "/invoices/999.json"):
        response = ix_get(sandbox, path)
        assert (response.status_code, response.content) == (404, b""), path  # documented: empty
    assert httpx.get(f"{sandbox.url}/invoices/1.json", timeout=30).status_code == 401
