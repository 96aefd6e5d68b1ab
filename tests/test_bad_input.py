"""Malformed requests get a 4xx in CargoExtra's documented {"message"} format and change nothing."""

from __future__ import annotations

import json

import pytest
from conftest import LiveSandbox, snapshot

PAY = "/api/v1/billing/invoice/pay"
PART = "/api/v1/billing/invoice/part-process"
VALIDATE = "/api/v1/billing/invoice/validate"
MISSING = {"message": "Missing One or More Required Parameters"}
JSON = "application/json"

# (path, raw body, content type, expected status, expected body)
BODIES = [
    ("malformed JSON", PAY, b'{"invoice": 100123,', JSON, 400, MISSING),
    ("non-UTF-8 JSON", PAY, b'{"invoice": 100123, "currency": "\xff\xfe"}', JSON, 400, MISSING),
    ("raw NUL byte", PAY, b'{"invoice": 100123,\x00 "currency": "NGN"}', JSON, 400, MISSING),
    ("empty body", PAY, b"", JSON, 400, MISSING),
    ("JSON null", PAY, b"null", JSON, 400, MISSING),
    ("JSON array", PAY, b'[100123, "NGN"]', JSON, 400, MISSING),
    ("text/plain", PAY, b'{"invoice": 100123, "currency": "NGN"}', "text/plain", 400, MISSING),
    (
        "form body",
        PART,
        b"invoice=100123&currency=NGN",
        "application/x-www-form-urlencoded",
        400,
        MISSING,
    ),
    ("XML body", PAY, b"<pay><invoice>100123</invoice></pay>", "application/xml", 400, MISSING),
    ("string invoice", PAY, b'{"invoice": "100123", "currency": "NGN"}', JSON, 400, MISSING),
    ("float invoice", PAY, b'{"invoice": 100123.5, "currency": "NGN"}', JSON, 400, MISSING),
    ("numeric currency", PAY, b'{"invoice": 100123, "currency": 566}', JSON, 400, MISSING),
    ("negative invoice", PAY, b'{"invoice": -100123, "currency": "NGN"}', JSON, 400, MISSING),
    (
        "huge invoice",
        PAY,
        b'{"invoice": 1000000000000000000000000000000, "currency": "NGN"}',
        JSON,
        400,
        MISSING,
    ),
    (
        "overflowing float",
        PAY,
        b'{"invoice": 100123, "currency": "NGN", "partPaymentFromWallet'
        b'Balance": {"currency": "NGN", "exchangeRate": 1, "chargeTotalBefore": 1e400, '
        b'"chargeTotalCurrent": 0}}',
        JSON,
        400,
        MISSING,
    ),
    (
        "negative part-payment",
        PAY,
        json.dumps(
            {
                "invoice": 100123,
                "currency": "NGN",
                "partPaymentFromWalletBalance": {
                    "currency": "NGN",
                    "exchangeRate": 1,
                    "chargeTotalBefore": 15000,
                    "chargeTotalCurrent": -5000,
                },
            }
        ).encode(),
        JSON,
        400,
        MISSING,
    ),
    (
        "part-payment not an object",
        PAY,
        b'{"invoice": 100123, "currency": "NGN", "partPaymentFromWalletBalance": "all"}',
        JSON,
        400,
        MISSING,
    ),
    (
        "malformed cloneId",
        PAY,
        b'{"invoice": 100123, "currency": "NGN", "cloneId": "x; drop"}',
        JSON,
        400,
        MISSING,
    ),
    (
        "NUL in currency",
        PAY,
        b'{"invoice": 100127, "currency": "NG\\u0000N"}',
        JSON,
        404,
        {"message": "Currency not found"},
    ),
    (
        "unknown currency",
        PART,
        b'{"invoice": 100127, "currency": "ZZZ"}',
        JSON,
        404,
        {"message": "Currency not found"},
    ),
    (
        "overlong currency",
        PART,
        json.dumps({"invoice": 100123, "currency": "N" * 5000}).encode(),
        JSON,
        400,
        MISSING,
    ),
    (
        "body over 1 MiB",
        PAY,
        json.dumps({"invoice": 100123, "currency": "NGN", "note": "x" * (1024 * 1024)}).encode(),
        JSON,
        400,
        MISSING,
    ),
]

QUERIES = [
    ("text invoiceNo", "invoiceNo=abc"),
    ("negative amount", "amount=-15000"),
    ("infinite amount", "amount=1e999"),
    ("NaN amount", "amount=nan"),
    ("NUL in currencyPaid", "currencyPaid=642f1a3e9b1e8a00123456%00"),
    ("unknown processor", "processor=stripe"),
    ("empty type", "type="),
]
GOOD_QUERY = {
    "invoiceNo": "100123",
    "amount": "15000",
    "currencyPaid": "642f1a3e9b1e8a0012345678",
    "type": "start",
    "processor": "paystack",
    "partPaymentFromWalletBalanceBefore": "0",
    "partPaymentFromWalletBalanceCurrent": "0",
}


@pytest.mark.parametrize(
    ("name", "path", "body", "content_type", "status", "expected"),
    BODIES,
    ids=[b[0] for b in BODIES],
)
def test_bad_body_is_refused_in_gateway_format(
    sandbox: LiveSandbox,
    name: str,
    path: str,
    body: bytes,
    content_type: str,
    status: int,
    expected: dict[str, str],
) -> None:
    before = snapshot(sandbox.state)
    with sandbox.client("sandbox-token-rich") as client:
        response = client.post(path, content=body, headers={"Content-Type": content_type})
    assert (response.status_code, response.json()) == (status, expected)
    assert snapshot(sandbox.state) == before


@pytest.mark.parametrize(("name", "replacement"), QUERIES, ids=[q[0] for q in QUERIES])
def test_bad_query_is_refused_in_gateway_format(
    sandbox: LiveSandbox, name: str, replacement: str
) -> None:
    key = replacement.split("=", 1)[0]
    params = [f"{k}={v}" for k, v in GOOD_QUERY.items() if k != key] + [replacement]
    before = snapshot(sandbox.state)
    with sandbox.client() as client:
        response = client.get(f"{VALIDATE}?{'&'.join(params)}")
    assert (response.status_code, response.json()) == (400, MISSING)
    assert snapshot(sandbox.state) == before


def test_missing_content_type_is_refused(sandbox: LiveSandbox) -> None:
    with sandbox.client() as client:
        request = client.build_request("POST", PAY, content=b'{"invoice": 1, "currency": "NGN"}')
        assert "content-type" not in request.headers
        response = client.send(request)
    assert (response.status_code, response.json()) == (400, MISSING)


def test_server_survives_bad_input_and_still_pays(sandbox: LiveSandbox) -> None:
    with sandbox.client("sandbox-token-rich") as client:
        for _, path, body, content_type, *_ in BODIES:
            client.post(path, content=body, headers={"Content-Type": content_type})
        paid = client.post(PAY, json={"invoice": 100127, "currency": "NGN"})
    assert paid.status_code == 200
    assert "Traceback" not in sandbox.log_text()
