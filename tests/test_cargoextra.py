"""CargoExtra gateway behaviour: every documented outcome, in the documented check order.

Each case is reached from the DOMAIN.md catalogue on a freshly reset, response-validating sandbox,
and each error must leave the state exactly as it was.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from conftest import LiveSandbox, snapshot

VALIDATE = "/api/v1/billing/invoice/validate"
PART = "/api/v1/billing/invoice/part-process"
PAY = "/api/v1/billing/invoice/pay"
NGN, USD = "642f1a3e9b1e8a0012345678", "642f1a3e9b1e8a0012345679"
MISSING = "Missing One or More Required Parameters"


def query(invoice: int, amount: float, currency: str = NGN, **extra: Any) -> dict[str, Any]:
    return {
        "invoiceNo": invoice,
        "amount": amount,
        "currencyPaid": currency,
        "type": "confirm",
        "processor": "paystack",
        "partPaymentFromWalletBalanceBefore": 0,
        "partPaymentFromWalletBalanceCurrent": 0,
        **extra,
    }


def part_payment(before: float, current: float) -> dict[str, Any]:
    return {
        "currency": "NGN",
        "exchangeRate": 1,
        "chargeTotalBefore": before,
        "chargeTotalCurrent": current,
    }


# (token, method, path, query-or-json, status, message)
ERRORS = [
    # validate, in its documented order
    (
        "sandbox-token-noaddress",
        "GET",
        VALIDATE,
        query(100130, 3000),
        400,
        "You must set a billing address before you proceed",
    ),
    ("sandbox-token", "GET", VALIDATE, query(999999, 1), 404, "Invoice not found"),
    ("sandbox-token", "GET", VALIDATE, query(100127, 5000), 404, "Invoice not found"),
    ("sandbox-token", "GET", VALIDATE, query(100123, 15000, USD), 400, "Wrong Currency"),
    ("sandbox-token", "GET", VALIDATE, query(100123, 15000, "0" * 24), 400, "Wrong Currency"),
    ("sandbox-token", "GET", VALIDATE, query(100125, 250, USD), 400, "Payment method is disabled"),
    ("sandbox-token", "GET", VALIDATE, query(100123, 14999), 400, "Wrong Amount"),
    ("sandbox-token", "GET", VALIDATE, query(100500, 1000), 500, "Unexpected Error"),
    ("sandbox-token", "GET", VALIDATE, {"invoiceNo": 100123}, 400, MISSING),
    ("sandbox-token", "GET", VALIDATE, query(100123, 15000, type="later"), 400, MISSING),
    ("sandbox-token", "GET", VALIDATE, query(100123, 15000, "NGN"), 400, MISSING),
    # part-process
    (
        "sandbox-token",
        "POST",
        PART,
        {"invoice": 999999, "currency": "NGN"},
        404,
        "Invoice not found",
    ),
    (
        "sandbox-token",
        "POST",
        PART,
        {"invoice": 100127, "currency": "NGN"},
        404,
        "Invoice not found",
    ),
    (
        "sandbox-token",
        "POST",
        PART,
        {"invoice": 100123, "currency": "XYZ"},
        404,
        "Currency not found",
    ),
    (
        "sandbox-token",
        "POST",
        PART,
        {"invoice": 100123, "currency": "USD"},
        400,
        "Currency does not match expected credentials",
    ),
    (
        "sandbox-token-nowallet",
        "POST",
        PART,
        {"invoice": 100129, "currency": "NGN"},
        400,
        "Wallet not found",
    ),
    (
        "sandbox-token",
        "POST",
        PART,
        {"invoice": 100124, "currency": "NGN"},
        400,
        "Invoice already paid",
    ),
    ("sandbox-token", "POST", PART, {"invoice": 100126, "currency": "NGN"}, 400, "Wrong Amount"),
    (
        "sandbox-token-rich",
        "POST",
        PART,
        {"invoice": 100127, "currency": "NGN"},
        400,
        "Wallet balance is too high for this endpoint",
    ),
    (
        "sandbox-token",
        "POST",
        PART,
        {"invoice": 100500, "currency": "NGN"},
        500,
        "Unexpected Error",
    ),
    ("sandbox-token", "POST", PART, {"invoice": 100123}, 400, MISSING),
    # pay
    (
        "sandbox-token-orphan",
        "POST",
        PAY,
        {"invoice": 100123, "currency": "NGN"},
        404,
        "User not found",
    ),
    (
        "sandbox-token",
        "POST",
        PAY,
        {"invoice": 999999, "currency": "NGN"},
        404,
        "Invoice not found",
    ),
    (
        "sandbox-token",
        "POST",
        PAY,
        {"invoice": 100127, "currency": "NGN"},
        400,
        "Customer Invoice does not match expected credentials",
    ),
    (
        "sandbox-token",
        "POST",
        PAY,
        {"invoice": 100123, "currency": "EUR"},
        404,
        "Currency not found",
    ),
    (
        "sandbox-token",
        "POST",
        PAY,
        {"invoice": 100123, "currency": "USD"},
        400,
        "Currency does not match expected credentials",
    ),
    (
        "sandbox-token-nowallet",
        "POST",
        PAY,
        {"invoice": 100129, "currency": "NGN"},
        400,
        "Wallet not found",
    ),
    (
        "sandbox-token",
        "POST",
        PAY,
        {"invoice": 100124, "currency": "NGN"},
        400,
        "Invoice already paid",
    ),
    ("sandbox-token", "POST", PAY, {"invoice": 100126, "currency": "NGN"}, 400, "Wrong Amount"),
    (
        "sandbox-token",
        "POST",
        PAY,
        {
            "invoice": 100123,
            "currency": "NGN",
            "partPaymentFromWalletBalance": part_payment(14000, 4000),
        },
        400,
        "Wrong Amount",
    ),
    (
        "sandbox-token",
        "POST",
        PAY,
        {
            "invoice": 100123,
            "currency": "NGN",
            "partPaymentFromWalletBalance": part_payment(15000, 16000),
        },
        400,
        "Wrong Amount",
    ),
    (
        "sandbox-token",
        "POST",
        PAY,
        {"invoice": 100128, "currency": "NGN"},
        400,
        "Insufficient funds",
    ),
    (
        "sandbox-token",
        "POST",
        PAY,
        {"invoice": 100123, "currency": "NGN"},
        400,
        "Insufficient funds",
    ),
    ("sandbox-token", "POST", PAY, {"invoice": 100500, "currency": "NGN"}, 500, "Unexpected Error"),
    ("sandbox-token", "POST", PAY, {"currency": "NGN"}, 400, MISSING),
    # the auth ladder comes first, whatever the request's other faults
    (None, "POST", PAY, {}, 401, "Unauthorized"),
    ("no-such-token", "GET", VALIDATE, {}, 401, "Unauthorized"),
    (
        "sandbox-token-expired",
        "POST",
        PAY,
        {"invoice": 100123, "currency": "NGN"},
        401,
        "Unauthorized",
    ),
    ("sandbox-token-blocked", "POST", PAY, {}, 403, "Access denied"),
]


def call(
    sandbox: LiveSandbox, token: str | None, method: str, path: str, data: Any
) -> httpx.Response:
    with sandbox.client(token) as client:
        if method == "GET":
            return client.get(path, params=data)
        return client.post(path, json=data)


@pytest.mark.parametrize(
    ("token", "method", "path", "data", "status", "message"),
    ERRORS,
    ids=[f"{c[2].rsplit('/', 1)[1]}-{c[5]}-{i}" for i, c in enumerate(ERRORS)],
)
def test_documented_error_changes_nothing(
    sandbox: LiveSandbox,
    token: str | None,
    method: str,
    path: str,
    data: Any,
    status: int,
    message: str,
) -> None:
    before = snapshot(sandbox.state)
    response = call(sandbox, token, method, path, data)
    assert (response.status_code, response.json()) == (status, {"message": message})
    assert response.headers["content-type"] == "application/json"
    assert snapshot(sandbox.state) == before


def test_validate_paid_invoice_says_already_paid(sandbox: LiveSandbox) -> None:
    response = call(sandbox, "sandbox-token", "GET", VALIDATE, query(100124, 8000))
    assert response.status_code == 200
    body = response.json()
    assert (body["verStatus"], body["error"]) == (False, "Invoice already paid")
    assert body["invoice"]["invoiceNo"] == 100124


def test_validate_confirm_returns_no_clone_and_records_nothing(sandbox: LiveSandbox) -> None:
    before = snapshot(sandbox.state)
    response = call(sandbox, "sandbox-token", "GET", VALIDATE, query(100123, 15000))
    assert response.status_code == 200
    assert response.json()["verStatus"] is True
    assert response.json()["verType"] == "confirm"
    assert "cloneId" not in response.json()
    assert snapshot(sandbox.state) == before


def test_validate_start_records_the_clone_on_the_invoice(sandbox: LiveSandbox) -> None:
    response = call(sandbox, "sandbox-token", "GET", VALIDATE, query(100123, 15000, type="start"))
    clone = response.json()["cloneId"]
    stored = sandbox.record("cargoextra", "invoices", 100123)
    assert [p["cloneId"] for p in stored["onlinePayments"]] == [clone]
    assert response.json()["invoice"]["onlinePayments"][0]["cloneId"] == clone


def test_validate_after_part_process_expects_the_online_remainder(sandbox: LiveSandbox) -> None:
    call(sandbox, "sandbox-token", "POST", PART, {"invoice": 100123, "currency": "NGN"})
    total = call(sandbox, "sandbox-token", "GET", VALIDATE, query(100123, 15000))
    remainder = call(sandbox, "sandbox-token", "GET", VALIDATE, query(100123, 5000))
    assert (total.status_code, total.json()) == (400, {"message": "Wrong Amount"})
    assert remainder.status_code == 200
    assert remainder.json()["invoice"]["payable"] == 5000


def test_part_process_moves_no_money(sandbox: LiveSandbox) -> None:
    response = call(sandbox, "sandbox-token", "POST", PART, {"invoice": 100123, "currency": "NGN"})
    assert response.json()["invoice"]["chargeTotal"] == 5000
    assert sandbox.record("cargoextra", "accounts", "sandbox-token")["wallets"] == {"NGN": 10000}


def test_full_wallet_pay_debits_wallet_and_marks_invoice_paid(sandbox: LiveSandbox) -> None:
    response = call(
        sandbox, "sandbox-token-rich", "POST", PAY, {"invoice": 100127, "currency": "NGN"}
    )
    assert response.json() == {
        "message": "Invoice payment successful",
        "invoiceNo": 100127,
        "amount": 5000,
        "walletBalance": 995000,
    }
    assert sandbox.record("cargoextra", "accounts", "sandbox-token-rich")["wallets"] == {
        "NGN": 995000
    }
    invoice = sandbox.record("cargoextra", "invoices", 100127)
    assert (invoice["status"], invoice["paidFromWallet"], invoice["paidOnline"]) == (
        "paid",
        5000,
        0,
    )


def test_part_payment_pays_wallet_share_and_counts_rest_online(sandbox: LiveSandbox) -> None:
    body = {
        "invoice": 100123,
        "currency": "NGN",
        "partPaymentFromWalletBalance": part_payment(15000, 6000),
    }
    response = call(sandbox, "sandbox-token", "POST", PAY, body)
    assert response.json()["walletBalance"] == 1000
    invoice = sandbox.record("cargoextra", "invoices", 100123)
    assert (invoice["paidFromWallet"], invoice["paidOnline"]) == (9000, 6000)


def test_rate_limited_account_gets_429_on_the_sixth_request(sandbox: LiveSandbox) -> None:
    statuses = [
        call(sandbox, "sandbox-token-limited", "POST", PAY, {}).status_code for _ in range(6)
    ]
    assert statuses == [400] * 5 + [429]
    sixth = call(sandbox, "sandbox-token-limited", "POST", PAY, {})
    assert sixth.json() == {"message": "Too many requests"}
    assert int(sixth.headers["retry-after"]) > 0


def test_orphan_account_can_still_validate(sandbox: LiveSandbox) -> None:
    response = call(sandbox, "sandbox-token-orphan", "GET", VALIDATE, query(100123, 15000))
    assert (response.status_code, response.json()) == (404, {"message": "Invoice not found"})


@pytest.mark.parametrize(
    ("method", "path", "status", "message"),
    [("GET", PAY, 405, "Method Not Allowed"), ("GET", "/api/v1/billing/nothing", 404, "Not Found")],
)
def test_routing_errors_use_the_gateway_format(
    sandbox: LiveSandbox, method: str, path: str, status: int, message: str
) -> None:
    with sandbox.client() as client:
        response = client.request(method, path)
    assert (response.status_code, response.json()) == (status, {"message": message})
