"""Tenant isolation: no customer can act on, or read, another customer's invoices.

The sweep covers every generated customer, each acting on invoices of other customers that would
otherwise pass every check (right amount, currency and processor), and every response is searched
for any other customer's identity.
"""

from __future__ import annotations

import random

import httpx
import pytest
from conftest import ROOT, LiveSandbox

from mockyard import fixtures, workspace

VALIDATE = "/api/v1/billing/invoice/validate"
PART = "/api/v1/billing/invoice/part-process"
PAY = "/api/v1/billing/invoice/pay"


@pytest.fixture(scope="module")
def records() -> dict:
    ws = workspace.load(ROOT)
    return fixtures.build(workspace.read_yaml(ws.api("cargoextra").fixtures), ws.seed)


def identities(account: dict) -> set[str]:
    return {account["id"], account["email"], account["name"]}


def test_no_customer_reaches_another_customers_invoice(sandbox: LiveSandbox, records: dict) -> None:
    accounts = records["accounts"]
    ids = {a["id"]: token for token, a in accounts.items()}
    currencies = records["currencies"]
    unpaid = [i for i in records["invoices"].values() if i["status"] == "unpaid" and i["total"] > 0]
    rng = random.Random(5)
    checked = 0
    with httpx.Client(base_url=sandbox.url, timeout=30) as client:
        for token, account in accounts.items():
            if account.get("blocked") or account.get("rateLimit") or account.get("tokenExpiresAt"):
                continue
            others = [i for i in unpaid if i["owner"] != account["id"]]
            for invoice in rng.sample(others, 3):
                auth = {"Authorization": f"Bearer {token}"}
                currency = currencies[invoice["currency"]]
                params = {
                    "invoiceNo": invoice["invoiceNo"],
                    "amount": invoice["total"],
                    "currencyPaid": currency["id"],
                    "type": "start",
                    "processor": currency["processors"][0],
                    "partPaymentFromWalletBalanceBefore": 0,
                    "partPaymentFromWalletBalanceCurrent": 0,
                }
                body = {"invoice": invoice["invoiceNo"], "currency": invoice["currency"]}
                responses = [
                    client.get(VALIDATE, params=params, headers=auth),
                    client.post(PART, json=body, headers=auth),
                    client.post(PAY, json=body, headers=auth),
                ]
                expected_validate = (
                    "You must set a billing address before you proceed"
                    if not account.get("billingAddress")
                    else "Invoice not found"
                )
                expected_pay = (
                    "User not found"
                    if account.get("deletedDownstream")
                    else "Customer Invoice does not match expected credentials"
                )
                assert [(r.status_code, r.json()["message"]) for r in responses] == [
                    (400 if not account.get("billingAddress") else 404, expected_validate),
                    (404, "Invoice not found"),
                    (404 if account.get("deletedDownstream") else 400, expected_pay),
                ]
                owner = accounts[ids[invoice["owner"]]]
                assert not any(who in r.text for r in responses for who in identities(owner))
                checked += 1
    assert checked >= 150


def test_own_invoice_responses_carry_no_one_elses_identity(
    sandbox: LiveSandbox, records: dict
) -> None:
    accounts = records["accounts"]
    currencies = records["currencies"]
    everyone = {token: identities(a) for token, a in accounts.items()}
    bulk = [i for i in records["invoices"].values() if i["invoiceNo"] >= 200000][:120]
    owner_token = {a["id"]: token for token, a in accounts.items()}
    with httpx.Client(base_url=sandbox.url, timeout=30) as client:
        for invoice in bulk:
            token = owner_token[invoice["owner"]]
            if not accounts[token].get("billingAddress"):
                continue
            currency = currencies[invoice["currency"]]
            response = client.get(
                VALIDATE,
                headers={"Authorization": f"Bearer {token}"},
                params={
                    "invoiceNo": invoice["invoiceNo"],
                    "amount": invoice["total"],
                    "currencyPaid": currency["id"],
                    "type": "confirm",
                    "processor": currency["processors"][0],
                    "partPaymentFromWalletBalanceBefore": 0,
                    "partPaymentFromWalletBalanceCurrent": 0,
                },
            )
            assert response.status_code == 200
            assert response.json()["invoice"]["invoiceNo"] == invoice["invoiceNo"]
            strangers = set().union(*(ids for t, ids in everyone.items() if t != token))
            assert not any(who in response.text for who in strangers)
