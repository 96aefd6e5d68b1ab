"""Which endpoint reaches each catalogue outcome, where the README catalogue says it matters."""

from __future__ import annotations

from conftest import LiveSandbox

VALIDATE = "/api/v1/billing/invoice/validate"
PART = "/api/v1/billing/invoice/part-process"
PAY = "/api/v1/billing/invoice/pay"
NGN = "642f1a3e9b1e8a0012345678"


def _validate(invoice: int, amount: float) -> dict[str, object]:
    return {
        "invoiceNo": invoice,
        "amount": amount,
        "currencyPaid": NGN,
        "type": "confirm",
        "processor": "paystack",
        "partPaymentFromWalletBalanceBefore": 0,
        "partPaymentFromWalletBalanceCurrent": 0,
    }


def test_100126_is_wrong_amount_for_part_process_and_pay_and_for_validate_but_with_0(
    sandbox: LiveSandbox,
) -> None:
    body = {"invoice": 100126, "currency": "NGN"}
    with sandbox.client() as client:
        zero = client.get(VALIDATE, params=_validate(100126, 0))
        other = client.get(VALIDATE, params=_validate(100126, 100))
        part = client.post(PART, json=body)
        pay = client.post(PAY, json=body)
    assert (zero.status_code, zero.json()["verStatus"]) == (200, True)  # 0 is what it costs
    for response in (other, part, pay):
        assert (response.status_code, response.json()) == (400, {"message": "Wrong Amount"})


def test_100130s_missing_address_stops_validate_only(sandbox: LiveSandbox) -> None:
    body = {"invoice": 100130, "currency": "NGN"}
    with sandbox.client("sandbox-token-noaddress") as client:
        validate = client.get(VALIDATE, params=_validate(100130, 3000))
        part = client.post(PART, json=body)
        pay = client.post(PAY, json=body)
    assert validate.json() == {"message": "You must set a billing address before you proceed"}
    assert part.json() == {"message": "Wallet balance is too high for this endpoint"}
    assert (pay.status_code, pay.json()["message"]) == (200, "Invoice payment successful")


def test_the_limited_token_owns_no_invoice_so_its_first_five_are_404(sandbox: LiveSandbox) -> None:
    with sandbox.client("sandbox-token-limited") as client:
        answers = [client.get(VALIDATE, params=_validate(100123, 15000)) for _ in range(6)]
    assert [a.status_code for a in answers] == [404] * 5 + [429]
    assert answers[0].json() == {"message": "Invoice not found"}
    assert answers[5].json() == {"message": "Too many requests"}
