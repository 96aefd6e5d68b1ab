"""/__mockyard/state and /__mockyard/catalogue: a test reads records, puts them in any state the
handlers can work with, and the handlers see it at once."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import ROOT, in_process

from mockyard import fixtures, workspace
from mockyard.errors import FixtureError
from mockyard.record_schemas import infer
from mockyard.record_schemas import load as load_schemas

PAY = "/api/v1/billing/invoice/pay"
STATE = "/__mockyard/state"
ADA = {"Authorization": "Bearer sandbox-token"}
FIXTURE = yaml.safe_load((ROOT / "fixtures" / "cargoextra.yaml").read_text())
INVOICE = FIXTURE["catalogue"]["invoices"]["100123"]


def test_state_lists_each_apis_collections(tmp_path: Path) -> None:
    with in_process(tmp_path) as client:
        client.post(PAY, json={"invoice": 100123, "currency": "NGN"}, headers=ADA)
        listing = client.get(STATE).json()
    assert listing["seed"] == 20240601
    # every served API, and engine bookkeeping (`_mockyard`) stays hidden
    assert set(listing["apis"]) == {a.name for a in workspace.load(ROOT).apis}
    collections = listing["apis"]["cargoextra"]["collections"]
    assert set(collections) == {"accounts", "currencies", "invoices"}
    assert collections["currencies"] == {"count": 3, "schema": True}
    assert collections["invoices"]["count"] >= 1000


def test_a_record_reads_as_stored(tmp_path: Path) -> None:
    with in_process(tmp_path) as client:
        record = client.get(f"{STATE}/cargoextra/invoices/100123")
        missing = client.get(f"{STATE}/cargoextra/invoices/999999")
        unknown_api = client.get(f"{STATE}/nope/invoices/1")
        unknown_collection = client.get(f"{STATE}/cargoextra/parcels/1")
    assert record.status_code == 200
    assert record.json() == INVOICE
    assert [r.status_code for r in (missing, unknown_api, unknown_collection)] == [404] * 3


def test_a_collection_lists_its_records_a_page_at_a_time(tmp_path: Path) -> None:
    with in_process(tmp_path) as client:
        page = client.get(f"{STATE}/cargoextra/currencies", params={"limit": 2}).json()
        rest = client.get(f"{STATE}/cargoextra/currencies", params={"offset": 2}).json()
        bad = client.get(f"{STATE}/cargoextra/currencies", params={"limit": -1})
    assert page["count"] == 3
    assert list(page["records"]) == ["GBP", "NGN"]
    assert list(rest["records"]) == ["USD"]
    assert bad.status_code == 400


def test_putting_an_invoice_as_paid_is_what_pay_then_sees(tmp_path: Path) -> None:
    paid = {**INVOICE, "status": "paid", "paidAt": "2024-05-20T08:00:00Z"}
    with in_process(tmp_path) as client:
        put = client.put(f"{STATE}/cargoextra/invoices/100123", json=paid)
        pay = client.post(PAY, json={"invoice": 100123, "currency": "NGN"}, headers=ADA)
        stored = client.get(f"{STATE}/cargoextra/invoices/100123").json()
    assert put.status_code == 200
    assert (pay.status_code, pay.json()) == (400, {"message": "Invoice already paid"})
    assert stored == paid


def test_a_new_account_can_call_the_api_at_once(tmp_path: Path) -> None:
    account = {"id": "cus_test", "name": "Test", "wallets": {"NGN": 20000}, "billingAddress": None}
    invoice = {**INVOICE, "invoiceNo": 424242, "owner": "cus_test", "total": 1200}
    with in_process(tmp_path) as client:
        created = client.put(f"{STATE}/cargoextra/accounts/my-test-token", json=account)
        client.put(f"{STATE}/cargoextra/invoices/424242", json=invoice)
        pay = client.post(
            PAY,
            json={"invoice": 424242, "currency": "NGN"},
            headers={"Authorization": "Bearer my-test-token"},
        )
    assert created.status_code == 201
    assert pay.status_code == 200
    assert pay.json()["walletBalance"] == 18800


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"status": "refunded"}, "/status"),
        ({"total": "15000"}, "/total"),
        ({"invoiceNo": 100124}, "/invoiceNo"),  # must equal the key
        ({"stauts": "paid"}, "/"),  # a typo is an unknown field
        ({"owner": None}, "/owner"),
    ],
)
def test_a_record_the_handlers_cannot_use_is_refused(
    tmp_path: Path, change: dict[str, object], where: str
) -> None:
    with in_process(tmp_path) as client:
        response = client.put(f"{STATE}/cargoextra/invoices/100123", json={**INVOICE, **change})
        stored = client.get(f"{STATE}/cargoextra/invoices/100123").json()
    assert response.status_code == 400
    assert where in [e["path"] for e in response.json()["errors"]]
    assert stored == INVOICE


@pytest.mark.parametrize("body", [b"[1, 2]", b"not json", b'"text"'])
def test_a_body_that_is_not_an_object_is_refused(tmp_path: Path, body: bytes) -> None:
    with in_process(tmp_path) as client:
        response = client.put(
            f"{STATE}/cargoextra/currencies/EUR",
            content=body,
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 400


def test_deleting_a_record_makes_it_unknown_to_the_api(tmp_path: Path) -> None:
    with in_process(tmp_path) as client:
        deleted = client.delete(f"{STATE}/cargoextra/invoices/100123")
        again = client.delete(f"{STATE}/cargoextra/invoices/100123")
        pay = client.post(PAY, json={"invoice": 100123, "currency": "NGN"}, headers=ADA)
        client.post("/__mockyard/reset")
        restored = client.get(f"{STATE}/cargoextra/invoices/100123")
    assert (deleted.status_code, again.status_code) == (204, 404)
    assert (pay.status_code, pay.json()) == (404, {"message": "Invoice not found"})
    assert restored.status_code == 200


def test_catalogue_lists_each_apis_tokens_and_records(tmp_path: Path) -> None:
    with in_process(tmp_path) as client:
        catalogue = client.get("/__mockyard/catalogue").json()
    cargo = catalogue["cargoextra"]
    tokens = {c["value"]: c for c in cargo["credentials"]}
    assert tokens["sandbox-token"]["default"] is True
    assert "Ada" in tokens["sandbox-token"]["note"]
    assert "sandbox-token-expired" in tokens
    assert cargo["records"]["invoices"]["100123"] == INVOICE
    assert set(cargo["records"]) == {"accounts", "currencies", "invoices"}


def test_every_seeded_record_satisfies_its_schema() -> None:
    schemas = load_schemas({"cargoextra": (None, FIXTURE)})["cargoextra"]
    for seed in (20240601, 7):
        for coll, records in fixtures.build(FIXTURE, seed).items():
            for key, record in records.items():
                assert schemas[coll].errors(key, record) == [], (coll, key)


def test_records_the_handlers_write_satisfy_their_schemas(tmp_path: Path) -> None:
    part = {"currency": "NGN", "exchangeRate": 1, "chargeTotalBefore": 15000}
    query = {
        "invoiceNo": 100123,
        "amount": 15000,
        "currencyPaid": "642f1a3e9b1e8a0012345678",
        "type": "start",
        "processor": "paystack",
        "partPaymentFromWalletBalanceBefore": 0,
        "partPaymentFromWalletBalanceCurrent": 0,
    }
    with in_process(tmp_path) as client:
        validated = client.get("/api/v1/billing/invoice/validate", params=query, headers=ADA)
        assert validated.is_success
        prepared = client.post(
            "/api/v1/billing/invoice/part-process",
            json={"invoice": 100123, "currency": "NGN"},
            headers=ADA,
        )
        assert prepared.is_success
        pay = {"invoice": 100123, "currency": "NGN", "cloneId": validated.json()["cloneId"]}
        pay["partPaymentFromWalletBalance"] = {**part, "chargeTotalCurrent": 5000}
        assert client.post(PAY, json=pay, headers=ADA).is_success
        invoice = client.get(f"{STATE}/cargoextra/invoices/100123").json()
        account = client.get(f"{STATE}/cargoextra/accounts/sandbox-token").json()
        assert client.put(f"{STATE}/cargoextra/invoices/100123", json=invoice).status_code == 200
        assert client.put(f"{STATE}/cargoextra/accounts/sandbox-token", json=account).is_success
    assert invoice["status"] == "paid"


def test_a_workspace_without_schemas_gets_them_from_its_seeded_records(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    for folder in ("specs", "handlers", "fixtures"):
        (workspace / folder).mkdir(parents=True)
    (workspace / "specs" / "cargoextra.yaml").write_text(
        (ROOT / "specs" / "cargoextra.yaml").read_text()
    )
    (workspace / "handlers" / "cargoextra.py").write_text(
        (ROOT / "handlers" / "cargoextra.py").read_text()
    )
    no_schemas = {k: v for k, v in FIXTURE.items() if k != "schemas"}
    (workspace / "fixtures" / "cargoextra.yaml").write_text(
        yaml.safe_dump(no_schemas, sort_keys=False)
    )
    url = f"{STATE}/cargoextra/invoices/100123"
    with in_process(tmp_path, workspace) as client:
        unknown = client.put(f"{STATE}/cargoextra/notes/1", json={"anything": [1, 2]})
        wrong_type = client.put(url, json={**INVOICE, "total": "15000"})
        typo = client.put(url, json={**INVOICE, "stauts": "paid"})
        other_key = client.put(url, json={**INVOICE, "invoiceNo": 100124})
        negative = client.put(url, json={**INVOICE, "total": -1})
        stored = client.get(url).json()
        paid = client.put(url, json={**INVOICE, "status": "paid", "paidAt": "2024-05-20"})
        pay = client.post(PAY, json={"invoice": 100123, "currency": "NGN"}, headers=ADA)
        listing = client.get(STATE).json()["apis"]["cargoextra"]["collections"]
    assert unknown.status_code == 404
    assert [r.status_code for r in (wrong_type, typo, other_key, negative)] == [400] * 4
    assert [r.json()["errors"][0]["path"] for r in (wrong_type, typo, other_key, negative)] == [
        "/total",
        "/",
        "/invoiceNo",
        "/total",
    ]
    assert stored == INVOICE
    assert paid.status_code == 200
    assert pay.json() == {"message": "Invoice already paid"}
    assert all(c["schema"] for c in listing.values()) and "notes" not in listing


def test_an_inferred_schema_is_no_looser_than_the_seeded_records() -> None:
    schema = infer(
        {
            "a": {"id": "a", "n": 1, "tags": ["x"], "note": None, "at": {"day": 1}},
            "b": {"id": "b", "n": 2.5, "tags": ["y", "z"], "at": {"day": 2}},
        }
    )
    assert schema["x-mockyard-key"] == "id"
    assert schema["required"] == ["at", "id", "n", "tags"]
    assert schema["additionalProperties"] is False
    props = schema["properties"]
    assert props["n"] == {"type": "number", "minimum": 0}
    assert props["tags"] == {
        "type": "array",
        "items": {"type": "string", "minLength": 1},
        "minItems": 1,
    }
    assert props["note"] == {"type": "null"}
    assert props["at"]["required"] == ["day"]


def test_an_invalid_schema_is_a_fixture_error() -> None:
    with pytest.raises(FixtureError, match=r"schemas\.invoices"):
        load_schemas({"cargoextra": ("f.yaml", {"schemas": {"invoices": {"type": "nonsense"}}})})
