"""Chargebee apply payments (DOMAIN.md §3) against the live, response-validating sandbox."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from conftest import CHARGEBEE_AUTH, FORM, ROOT, LiveSandbox, apply_payments

from mockyard.fixtures import build
from mockyard.workspace import read_yaml

API = "chargebee"
AUTH = CHARGEBEE_AUTH
Fields = list[tuple[str, str]]


def apply(
    sandbox: LiveSandbox,
    invoice: str,
    fields: Fields | str = "",
    *,
    auth: tuple[str, str] | None = AUTH,
    content_type: str = FORM,
) -> httpx.Response:
    with httpx.Client(base_url=sandbox.url, timeout=30) as client:
        return apply_payments(client, invoice, fields, auth=auth, content_type=content_type)


def named(*pairs: tuple[str, int | None]) -> Fields:
    """transactions[id][i] (and transactions[amount][i] where an amount is given)."""
    fields = []
    for i, (txn_id, amount) in enumerate(pairs):
        fields.append((f"transactions[id][{i}]", txn_id))
        if amount is not None:
            fields.append((f"transactions[amount][{i}]", str(amount)))
    return fields


def state(sandbox: LiveSandbox) -> dict[str, Any]:
    return {coll: sandbox.records(API, coll) for coll in ("invoices", "transactions", "customers")}


def unused(sandbox: LiveSandbox, txn_id: str) -> int:
    return sandbox.record(API, "transactions", txn_id)["amount_unused"]


def assert_error(
    response: httpx.Response, status: int, code: str, param: str | None = None
) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["api_error_code"] == body["error_code"] == code
    assert body["message"] == body["error_msg"] and body["message"]
    assert body["http_status_code"] == status
    assert body.get("param") == body.get("error_param") == param


# --- applying payments -------------------------------------------------------------------------


def test_all_excess_payments_are_applied_oldest_first(sandbox: LiveSandbox) -> None:
    response = apply(sandbox, "inv_sandbox_1", [("comment", "Applied by support")])
    assert response.status_code == 200
    invoice = response.json()["invoice"]
    assert (invoice["status"], invoice["amount_due"], invoice["amount_paid"]) == ("paid", 0, 10000)
    assert invoice["paid_at"] >= invoice["date"]
    applied = [(p["txn_id"], p["applied_amount"]) for p in invoice["linked_payments"]]
    assert applied == [("txn_sandbox_1a", 3000), ("txn_sandbox_1b", 7000)]
    assert unused(sandbox, "txn_sandbox_1a") == 0
    assert unused(sandbox, "txn_sandbox_1b") == 3000
    assert unused(sandbox, "txn_sandbox_1f") == 0
    assert sandbox.record(API, "invoices", "inv_sandbox_1")["status"] == "paid"


def test_named_transaction_alone_is_applied(sandbox: LiveSandbox) -> None:
    response = apply(sandbox, "inv_sandbox_1", named(("txn_sandbox_1b", None)))
    assert response.status_code == 200
    invoice = response.json()["invoice"]
    assert (invoice["status"], invoice["amount_due"]) == ("paid", 0)
    assert [p["txn_id"] for p in invoice["linked_payments"]] == ["txn_sandbox_1b"]
    assert unused(sandbox, "txn_sandbox_1b") == 0
    assert unused(sandbox, "txn_sandbox_1a") == 3000


def test_named_amount_caps_what_a_transaction_gives(sandbox: LiveSandbox) -> None:
    response = apply(sandbox, "inv_sandbox_1", named(("txn_sandbox_1b", 4000)))
    invoice = response.json()["invoice"]
    assert (invoice["status"], invoice["amount_due"], invoice["amount_paid"]) == (
        "payment_due",
        6000,
        4000,
    )
    assert unused(sandbox, "txn_sandbox_1b") == 6000


def test_a_transaction_never_gives_more_than_its_unused_amount(sandbox: LiveSandbox) -> None:
    response = apply(sandbox, "inv_sandbox_1", named(("txn_sandbox_1a", 9000)))
    invoice = response.json()["invoice"]
    assert (invoice["amount_due"], invoice["amount_paid"]) == (7000, 3000)
    assert unused(sandbox, "txn_sandbox_1a") == 0


def test_named_transactions_are_applied_oldest_first_up_to_amount_due(sandbox: LiveSandbox) -> None:
    response = apply(
        sandbox, "inv_sandbox_5", named(("txn_sandbox_1b", None), ("txn_sandbox_1a", None))
    )
    invoice = response.json()["invoice"]
    assert [(p["txn_id"], p["applied_amount"]) for p in invoice["linked_payments"]] == [
        ("txn_sandbox_1a", 2000)
    ]
    assert unused(sandbox, "txn_sandbox_1a") == 1000
    assert unused(sandbox, "txn_sandbox_1b") == 10000


def test_partial_excess_lowers_amount_due_and_keeps_the_invoice_due(sandbox: LiveSandbox) -> None:
    response = apply(sandbox, "inv_sandbox_2")
    invoice = response.json()["invoice"]
    assert (invoice["status"], invoice["amount_due"], invoice["amount_paid"]) == (
        "payment_due",
        7500,
        2500,
    )
    assert "paid_at" not in invoice
    assert unused(sandbox, "txn_sandbox_2a") == 0
    assert_error(apply(sandbox, "inv_sandbox_2"), 400, "invalid_request")


@pytest.mark.parametrize(("invoice", "total"), [("inv_sandbox_5", 2000), ("inv_sandbox_6", 1200)])
def test_posted_and_not_paid_invoices_accept_payments(
    sandbox: LiveSandbox, invoice: str, total: int
) -> None:
    response = apply(sandbox, invoice)
    assert response.status_code == 200
    assert response.json()["invoice"]["status"] == "paid"
    assert unused(sandbox, "txn_sandbox_1a") == 3000 - total


def test_money_is_conserved_between_transactions_and_invoice(sandbox: LiveSandbox) -> None:
    before = state(sandbox)
    apply(sandbox, "inv_sandbox_1", named(("txn_sandbox_1a", 1000), ("txn_sandbox_1b", 2500)))
    after = state(sandbox)
    spent = sum(
        before["transactions"][k]["amount_unused"] - t["amount_unused"]
        for k, t in after["transactions"].items()
    )
    paid = after["invoices"]["inv_sandbox_1"]["amount_paid"]
    assert spent == paid == 3500
    invoice = after["invoices"]["inv_sandbox_1"]
    assert invoice["amount_due"] + invoice["amount_paid"] == invoice["total"]


# --- errors: Chargebee's error object, nothing changed --------------------------------------------


@pytest.mark.parametrize(
    ("invoice", "fields", "status", "code", "param"),
    [
        ("inv_sandbox_3", "", 409, "invalid_state_for_request", None),
        ("inv_sandbox_4", "", 400, "invalid_request", None),
        ("inv_missing", "", 404, "resource_not_found", None),
        (
            "inv_sandbox_1",
            named(("txn_nope", None)),
            404,
            "resource_not_found",
            "transactions[id][0]",
        ),
        (
            "inv_sandbox_1",
            named(("txn_sandbox_1a", None), ("txn_sandbox_2a", None)),
            400,
            "param_wrong_value",
            "transactions[id][1]",
        ),
        (
            "inv_sandbox_1",
            named(("txn_sandbox_1f", None)),
            409,
            "invalid_state_for_request",
            "transactions[id][0]",
        ),
        (
            "inv_sandbox_4",
            named(("txn_sandbox_4a", None)),
            400,
            "invalid_request",
            None,
        ),
        (
            "inv_sandbox_1",
            [("transactions[amount][0]", "100")],
            400,
            "param_wrong_value",
            "transactions[amount][0]",
        ),
        (
            "inv_sandbox_1",
            named(("txn_sandbox_1a", None), ("txn_sandbox_1a", None)),
            400,
            "param_wrong_value",
            "transactions[id][1]",
        ),
        (
            "inv_sandbox_1",
            named(("txn_sandbox_1a", -5)),
            400,
            "param_wrong_value",
            "transactions[amount][0]",
        ),
        ("inv_sandbox_1", [("comment", "x" * 301)], 400, "param_wrong_value", "comment"),
        ("inv_sandbox_1", named(("t" * 41, None)), 400, "param_wrong_value", "transactions[id][0]"),
        ("i" * 51, "", 404, "resource_not_found", None),  # the official spec sets no id limit
    ],
)
def test_errors_use_chargebees_error_object_and_change_nothing(
    sandbox: LiveSandbox, invoice: str, fields: Fields | str, status: int, code: str, param: Any
) -> None:
    before = state(sandbox)
    assert_error(apply(sandbox, invoice, fields), status, code, param)
    assert state(sandbox) == before


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([("comment", "x" * 301)], "comment : cannot be longer than 300 characters"),
        (named(("txn_sandbox_1a", -5)), "transactions[amount][0] : cannot be less than 0"),
        (
            [("transactions[amount][0]", "lots"), ("transactions[id][0]", "txn_sandbox_1a")],
            "transactions[amount][0] : must be an integer",
        ),
    ],
)
def test_validation_messages_name_the_parameter_in_one_line(
    sandbox: LiveSandbox, fields: Fields, message: str
) -> None:
    body = apply(sandbox, "inv_sandbox_1", fields).json()
    assert (body["message"], body["type"]) == (message, "invalid_request")


def test_an_amount_of_zero_is_valid_and_gives_nothing(sandbox: LiveSandbox) -> None:
    response = apply(
        sandbox, "inv_sandbox_1", named(("txn_sandbox_1a", 0), ("txn_sandbox_1b", 2000))
    )
    assert response.status_code == 200
    invoice = response.json()["invoice"]
    assert [(p["txn_id"], p["applied_amount"]) for p in invoice["linked_payments"]] == [
        ("txn_sandbox_1b", 2000)
    ]
    assert (unused(sandbox, "txn_sandbox_1a"), unused(sandbox, "txn_sandbox_1b")) == (3000, 8000)


def test_unknown_body_parameters_are_ignored_as_the_official_schema_allows(
    sandbox: LiveSandbox,
) -> None:
    response = apply(sandbox, "inv_sandbox_2", [("unknown", "1"), ("comment", "hi")])
    assert response.status_code == 200
    assert response.json()["invoice"]["amount_due"] == 7500


def test_any_number_of_named_transactions_is_taken(sandbox: LiveSandbox) -> None:
    pairs = [(f"txn_nope_{i}", None) for i in range(300)]
    response = apply(sandbox, "inv_sandbox_1", named(("txn_sandbox_1a", None), *pairs))
    assert_error(response, 404, "resource_not_found", "transactions[id][1]")


@pytest.mark.parametrize(
    "content",
    [
        "transactions[id]]=txn_sandbox_1a",
        "transactions[id][x]=txn_sandbox_1a",
        "transactions=1&transactions[id][0]=txn_sandbox_1a",
        "transactions[id][0]=txn_sandbox_1a&transactions[id]=txn_sandbox_1b",
        "transactions[id][1]=txn_sandbox_1a",
        "transactions[id][0]=txn_sandbox_1a&transactions[id][0]=txn_sandbox_1b",
        "transactions[amount][0]=lots&transactions[id][0]=txn_sandbox_1a",
        "[id]=1",
        "comment[x]=1",
    ],
)
def test_malformed_bracket_keys_are_a_400_in_chargebees_format(
    sandbox: LiveSandbox, content: str
) -> None:
    before = state(sandbox)
    # keys that nest fine but fail their type are named; the others cannot be
    param = {"comment[x]=1": "comment"}.get(content)
    if "amount][0]=lots" in content:
        param = "transactions[amount][0]"
    assert_error(apply(sandbox, "inv_sandbox_1", content), 400, "param_wrong_value", param)
    assert state(sandbox) == before
    assert "Traceback" not in sandbox.log_text()


@pytest.mark.parametrize(
    "auth", [None, ("wrong_key", ""), ("", ""), ("sandbox_api_key_x", "sandbox_api_key")]
)
def test_bad_or_missing_api_key_is_401(sandbox: LiveSandbox, auth: tuple[str, str] | None) -> None:
    before = state(sandbox)
    response = apply(sandbox, "inv_sandbox_1", auth=auth)
    assert_error(response, 401, "api_authentication_failed")
    assert response.json()["type"] == "untyped"  # as the official spec requires
    assert state(sandbox) == before


def test_a_bearer_token_is_not_chargebees_auth(sandbox: LiveSandbox) -> None:
    response = httpx.post(
        f"{sandbox.url}/api/v2/invoices/inv_sandbox_1/apply_payments",
        headers={"Authorization": "Bearer sandbox_api_key"},
        timeout=30,
    )
    assert_error(response, 401, "api_authentication_failed")


def test_a_json_body_is_refused_in_chargebees_format(sandbox: LiveSandbox) -> None:
    before = state(sandbox)
    response = apply(sandbox, "inv_sandbox_1", '{"comment": "x"}', content_type="application/json")
    assert_error(response, 400, "invalid_request")
    assert state(sandbox) == before


# --- the catalogue and the bulk data -------------------------------------------------------------


def test_catalogue_matches_the_documented_outcomes(sandbox: LiveSandbox) -> None:
    invoices = sandbox.records(API, "invoices")
    transactions = sandbox.records(API, "transactions").values()

    def excess(customer: str) -> int:
        return sum(
            t["amount_unused"]
            for t in transactions
            if t["customer_id"] == customer and t["status"] == "success"
        )

    expected = {
        "inv_sandbox_1": ("payment_due", 10000),
        "inv_sandbox_2": ("payment_due", 10000),
        "inv_sandbox_3": ("paid", 0),
        "inv_sandbox_4": ("payment_due", 7500),
    }
    assert {k: (invoices[k]["status"], invoices[k]["amount_due"]) for k in expected} == expected
    assert "inv_missing" not in invoices
    assert excess("cus_sandbox_1") >= invoices["inv_sandbox_1"]["amount_due"]
    assert 0 < excess("cus_sandbox_2") < invoices["inv_sandbox_2"]["amount_due"]
    assert excess("cus_sandbox_3") > 0
    assert excess("cus_sandbox_4") == 0


def test_bulk_customers_have_transactions_and_are_deterministic_per_seed() -> None:
    recipe = read_yaml(ROOT / "fixtures" / "chargebee.yaml")
    first, again, other = build(recipe, 1), build(recipe, 1), build(recipe, 2)
    assert first == again
    assert first["transactions"] != other["transactions"]
    customers = first["customers"]
    assert len(customers) == 54
    generated = [t for k, t in first["transactions"].items() if k.startswith("txn_0")]
    assert len(generated) == 150
    assert all(t["customer_id"] in customers for t in generated)
    assert all(0 <= t["amount_unused"] <= t["amount"] for t in generated)
    assert any(t["amount_unused"] > 0 for t in generated)
    for invoice in first["invoices"].values():
        assert invoice["customer_id"] in customers
        assert invoice["amount_due"] + invoice["amount_paid"] == invoice["total"]


def test_a_generated_customer_with_excess_can_pay_a_due_invoice(sandbox: LiveSandbox) -> None:
    transactions = sandbox.records(API, "transactions").values()
    with_excess = {
        t["customer_id"] for t in transactions if t["status"] == "success" and t["amount_unused"]
    }
    invoice = next(
        i
        for k, i in sorted(sandbox.records(API, "invoices").items())
        if k.startswith("inv_0")
        and i["status"] == "payment_due"
        and i["customer_id"] in with_excess
    )
    response = apply(sandbox, invoice["id"])
    assert response.status_code == 200
    assert response.json()["invoice"]["amount_due"] < invoice["amount_due"]


# --- concurrency ---------------------------------------------------------------------------------


def _race(calls: list[tuple[str, Fields]], sandbox: LiveSandbox) -> list[int]:
    gate = threading.Barrier(len(calls))

    def attempt(call: tuple[str, Fields]) -> int:
        gate.wait()
        return apply(sandbox, *call).status_code

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(attempt, calls))


def test_concurrent_applies_to_one_invoice_pay_it_once(sandbox: LiveSandbox) -> None:
    statuses = _race([("inv_sandbox_1", [])] * 20, sandbox)
    assert statuses.count(200) == 1
    assert set(statuses) == {200, 409}  # the others find it paid
    invoice = sandbox.record(API, "invoices", "inv_sandbox_1")
    assert (invoice["status"], invoice["amount_paid"], invoice["amount_due"]) == ("paid", 10000, 0)
    assert unused(sandbox, "txn_sandbox_1a") + unused(sandbox, "txn_sandbox_1b") == 3000


def test_concurrent_applies_never_spend_an_unused_amount_twice(sandbox: LiveSandbox) -> None:
    before = state(sandbox)
    # cus_sandbox_1 owes 13200 over three invoices and has 13000 of excess in two transactions.
    calls: list[tuple[str, Fields]] = []
    for invoice in ("inv_sandbox_1", "inv_sandbox_5", "inv_sandbox_6"):
        calls += [(invoice, [])] * 3
        calls += [(invoice, named(("txn_sandbox_1b", None)))] * 2
        calls += [(invoice, named(("txn_sandbox_1a", 700), ("txn_sandbox_1b", 900)))] * 2
    statuses = _race(calls, sandbox)
    assert set(statuses) <= {200, 400, 409}
    assert 200 in statuses

    after = state(sandbox)
    txns = {k: after["transactions"][k] for k in ("txn_sandbox_1a", "txn_sandbox_1b")}
    assert all(0 <= t["amount_unused"] <= t["amount"] for t in txns.values())
    spent = sum(
        before["transactions"][k]["amount_unused"] - t["amount_unused"] for k, t in txns.items()
    )
    invoices = {
        k: after["invoices"][k] for k in ("inv_sandbox_1", "inv_sandbox_5", "inv_sandbox_6")
    }
    received = sum(i["amount_paid"] for i in invoices.values())
    assert spent == received <= 13000
    for invoice in invoices.values():
        assert invoice["amount_due"] >= 0
        assert invoice["amount_due"] + invoice["amount_paid"] == invoice["total"]
        assert (
            sum(p["applied_amount"] for p in invoice["linked_payments"]) == invoice["amount_paid"]
        )
        assert (invoice["status"] == "paid") == (invoice["amount_due"] == 0)
    for txn_id, txn in txns.items():
        given = sum(link["applied_amount"] for link in txn["linked_invoices"])
        assert given == before["transactions"][txn_id]["amount_unused"] - txn["amount_unused"]


def test_an_undeclared_method_is_405_with_allow(sandbox: LiveSandbox) -> None:
    response = httpx.get(
        f"{sandbox.url}/api/v2/invoices/inv_sandbox_1/apply_payments", auth=AUTH, timeout=30
    )
    assert_error(response, 405, "http_method_not_supported")
    assert response.headers["allow"] == "POST"
