"""InvoiceXpress partial payments (DOMAIN.md §2) against the live, response-validating sandbox."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from conftest import ROOT, LiveSandbox

from mockyard.fixtures import build
from mockyard.workspace import read_yaml

KEY = "sandbox-api-key"
API = "invoicexpress"


def pay(
    sandbox: LiveSandbox, document: object, payment: dict[str, Any] | None, *, key: str | None = KEY
) -> httpx.Response:
    params = {"api_key": key} if key is not None else {}
    body = {"partial_payment": payment} if payment is not None else {}
    return httpx.post(
        f"{sandbox.url}/documents/{document}/partial_payments.json",
        params=params,
        json=body,
        timeout=30,
    )


def state(sandbox: LiveSandbox) -> dict[str, Any]:
    """Everything a payment can change."""
    return {
        coll: sandbox.records(API, coll) for coll in ("documents", "series", "counters", "clients")
    }


# --- the documented outcomes ----------------------------------------------------------------------


def test_payment_generates_a_receipt_shaped_like_the_docs_example(sandbox: LiveSandbox) -> None:
    response = pay(
        sandbox,
        1,
        {"payment_mechanism": "TB", "note": "Observations", "serie": "A", "amount": 100.0},
    )
    assert response.status_code == 200
    receipt = response.json()["receipt"]
    assert receipt["type"] == "Receipt"
    assert receipt["status"] == "final"
    assert (receipt["sequence_number"], receipt["inverted_sequence_number"]) == ("28/A", "A/28")
    assert receipt["atcud"] == "ABCD1234-28"
    assert receipt["reference"] == "1/A"
    assert receipt["observations"] == "Observations"
    assert receipt["total"] == 100
    assert Decimal(str(receipt["before_taxes"])) + Decimal(str(receipt["taxes"])) == 100
    assert receipt["currency"] == "Euro"
    assert receipt["client"] == {"id": 1, "name": "Cliente Sandbox, Lda.", "country": "Portugal"}
    [item] = receipt["items"]
    assert item["total"] == 100
    assert item["tax"] == {"id": 7, "name": "IVA7", "value": 7}
    today = datetime.now(UTC).strftime("%d/%m/%Y")
    assert receipt["date"] == receipt["due_date"] == today


def test_payments_lower_what_remains_and_settle_the_document_at_zero(sandbox: LiveSandbox) -> None:
    before = set(sandbox.records(API, "documents"))  # the catalogue's receipt of invoice 4 too
    first = pay(sandbox, 1, {"amount": 57.0})
    assert first.status_code == 200
    document = sandbox.record(API, "documents", 1)
    assert (document["paid"], document["status"]) == (57, "final")

    assert pay(sandbox, 1, {"amount": 50.01}).status_code == 422  # 50.00 remains
    last = pay(sandbox, 1, {"amount": 50})
    assert last.status_code == 200
    document = sandbox.record(API, "documents", 1)
    assert (document["paid"], document["status"]) == (107, "settled")
    assert pay(sandbox, 1, {"amount": 0.01}).status_code == 422

    receipts = [
        d
        for key, d in sandbox.records(API, "documents").items()
        if d["type"] == "Receipt" and key not in before
    ]
    assert sorted(r["amount"] for r in receipts) == [50, 57]
    assert {r["paid_document_id"] for r in receipts} == {1}


def test_simplified_invoice_can_be_paid_in_full(sandbox: LiveSandbox) -> None:
    response = pay(sandbox, 2, {"amount": 61.5, "payment_mechanism": "MB"})
    assert response.status_code == 200
    assert response.json()["receipt"]["total"] == 61.5
    assert sandbox.record(API, "documents", 2)["status"] == "settled"


def test_receipt_takes_the_given_serie_date_and_mechanism(sandbox: LiveSandbox) -> None:
    response = pay(
        sandbox,
        2,
        {"amount": 10, "serie": "2024", "payment_date": "26/10/2017", "payment_mechanism": "NU"},
    )
    assert response.status_code == 200
    receipt = response.json()["receipt"]
    assert receipt["sequence_number"] == "1/2024"
    assert receipt["date"] == "26/10/2017"
    stored = sandbox.record(API, "documents", receipt["id"])
    assert stored["payment_mechanism"] == "NU"


def test_payment_mechanism_defaults_to_bank_transfer(sandbox: LiveSandbox) -> None:
    receipt = pay(sandbox, 1, {"amount": 1}).json()["receipt"]
    assert sandbox.record(API, "documents", receipt["id"])["payment_mechanism"] == "TB"


def test_a_zero_payment_is_accepted_and_changes_no_balance(sandbox: LiveSandbox) -> None:
    response = pay(sandbox, 1, {"amount": 0})
    assert response.status_code == 200
    assert response.json()["receipt"]["total"] == 0
    assert sandbox.record(API, "documents", 1)["paid"] == 0


# --- errors: documented status, empty body, nothing changed ---------------------------------------


@pytest.mark.parametrize(
    ("document", "payment", "key", "status"),
    [
        (1, {"amount": 10}, None, 401),
        (1, {"amount": 10}, "wrong-key", 401),
        (1, {"amount": 10}, "", 401),
        (999, {"amount": 10}, KEY, 404),
        ("abc", {"amount": 10}, KEY, 404),
        (3, {"amount": 1}, KEY, 422),  # a credit note
        (4, {"amount": 1}, KEY, 422),  # settled
        (1, {"amount": 107.01}, KEY, 422),  # above what remains
        (1, {"amount": 10.001}, KEY, 422),  # finer than a cent
        (1, {"amount": -1}, KEY, 422),
        (1, {"amount": "10"}, KEY, 422),
        (1, {"note": "no amount"}, KEY, 422),
        (1, None, KEY, 422),  # no partial_payment
        (1, {"amount": 10, "payment_mechanism": "XX"}, KEY, 422),
        (1, {"amount": 10, "payment_mechanism": "CI"}, KEY, 422),  # SAF-T's, not the vendor's
        (1, {"amount": 10, "payment_date": "2017-10-26"}, KEY, 422),
        (1, {"amount": 10, "payment_date": "31/02/2024"}, KEY, 422),
        (1, {"amount": 10, "serie": "Z"}, KEY, 422),
    ],
)
def test_errors_have_an_empty_body_and_change_nothing(
    sandbox: LiveSandbox, document: object, payment: Any, key: str | None, status: int
) -> None:
    before = state(sandbox)
    response = pay(sandbox, document, payment, key=key)
    assert response.status_code == status
    assert response.content == b""
    assert state(sandbox) == before


def test_the_limited_key_gets_429_after_the_vendors_100_requests_a_minute(
    sandbox: LiveSandbox,
) -> None:
    before = state(sandbox)
    statuses = [pay(sandbox, 999, {"amount": 1}, key="sandbox-api-key-limited") for _ in range(101)]
    assert [r.status_code for r in statuses] == [404] * 100 + [429]
    refused = statuses[-1]
    assert refused.content == b"" and 1 <= int(refused.headers["retry-after"]) <= 60
    assert pay(sandbox, 1, {"amount": 1}, key="sandbox-api-key-limited").status_code == 429
    assert state(sandbox) == before
    # the default key is not held to it, so load tests and contract runs are not cut short
    assert pay(sandbox, 1, {"amount": 1}).status_code == 200


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"\xff\xfe", "application/json"),
        (b"partial_payment[amount]=10", "application/x-www-form-urlencoded"),
        (b"", "application/json"),
    ],
)
def test_undecodable_bodies_are_422_not_500(
    sandbox: LiveSandbox, content: bytes, content_type: str
) -> None:
    before = state(sandbox)
    response = httpx.post(
        f"{sandbox.url}/documents/1/partial_payments.json",
        params={"api_key": KEY},
        content=content,
        headers={"Content-Type": content_type},
        timeout=30,
    )
    assert (response.status_code, response.content) == (422, b"")
    assert state(sandbox) == before


# --- the catalogue and the bulk data --------------------------------------------------------------


def test_catalogue_documents_are_present(sandbox: LiveSandbox) -> None:
    documents = sandbox.records(API, "documents")
    summary = {key: (documents[key]["type"], documents[key]["status"]) for key in "1234"}
    assert summary == {
        "1": ("Invoice", "final"),
        "2": ("SimplifiedInvoice", "final"),
        "3": ("CreditNote", "final"),
        "4": ("Invoice", "settled"),
    }
    assert "999" not in documents
    assert pay(sandbox, 1, {"amount": 107}).status_code == 200  # the whole 107.00 EUR
    assert sandbox.record(API, "documents", 1)["status"] == "settled"


def test_bulk_clients_are_portuguese_and_deterministic_per_seed() -> None:
    recipe = read_yaml(ROOT / "fixtures" / "invoicexpress.yaml")
    first, again, other = build(recipe, 1), build(recipe, 1), build(recipe, 2)
    assert first == again
    assert first["clients"] != other["clients"]
    generated = [c for key, c in first["clients"].items() if key != "1"]
    assert len(generated) == 40
    for client in generated:
        assert client["country"] == "Portugal"
        assert re.fullmatch(r"[0-9]{4}-[0-9]{3}", client["postal_code"])
        assert re.fullmatch(r"[0-9]{9}", client["fiscal_id"])
    catalogue = recipe["catalogue"]["documents"]
    documents = [d for key, d in first["documents"].items() if key not in catalogue]
    assert len(documents) == 200
    assert {d["client_id"] for d in documents} <= {c["id"] for c in generated}


def test_a_generated_open_invoice_can_be_paid(sandbox: LiveSandbox) -> None:
    documents = sandbox.records(API, "documents")
    key, _ = next(
        (k, d)
        for k, d in sorted(documents.items(), key=lambda kv: int(kv[0]))
        if d["type"] == "Invoice" and d["status"] == "final" and int(k) > 1000
    )
    response = pay(sandbox, key, {"amount": 1})
    assert response.status_code == 200
    assert sandbox.record(API, "documents", key)["paid"] == 1


# --- concurrency ----------------------------------------------------------------------------------


def test_concurrent_payments_never_exceed_the_documents_total(sandbox: LiveSandbox) -> None:
    amounts = [12.5, 7.25, 30, 9.99, 15, 4.01, 22, 8.5, 11, 6.75] * 2  # 20 payments, 255.00 EUR
    gate = threading.Barrier(len(amounts))

    def attempt(amount: float) -> tuple[float, int]:
        gate.wait()
        return amount, pay(sandbox, 1, {"amount": amount}).status_code

    with ThreadPoolExecutor(len(amounts)) as pool:
        results = list(pool.map(attempt, amounts))

    assert {status for _, status in results} <= {200, 422}
    accepted = sum(Decimal(str(a)) for a, status in results if status == 200)
    assert 0 < accepted <= 107
    document = sandbox.record(API, "documents", 1)
    assert Decimal(str(document["paid"])) == accepted
    receipts = [
        d
        for d in sandbox.records(API, "documents").values()
        if d["type"] == "Receipt" and d["paid_document_id"] == 1
    ]
    assert len(receipts) == sum(1 for _, status in results if status == 200)
    assert sum(Decimal(str(r["amount"])) for r in receipts) == accepted
    assert len({r["id"] for r in receipts}) == len({r["number"] for r in receipts}) == len(receipts)
    # Whatever was refused would not have fitted in what remained when it was tried.
    remaining = 107 - accepted
    smallest_refused = min((a for a, s in results if s == 422), default=None)
    if smallest_refused is not None:
        assert Decimal(str(smallest_refused)) > remaining


def test_an_undeclared_method_is_405_with_allow(sandbox: LiveSandbox) -> None:
    response = httpx.get(
        f"{sandbox.url}/documents/1/partial_payments.json", params={"api_key": KEY}, timeout=30
    )
    assert (response.status_code, response.content) == (405, b"")
    assert response.headers["allow"] == "POST"
