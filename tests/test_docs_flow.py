"""The vendor docs' own example flow succeeds, in order, on a fresh sandbox."""

from __future__ import annotations

from conftest import LiveSandbox

NGN_ID = "642f1a3e9b1e8a0012345678"


def test_docs_example_flow_pays_invoice_once(sandbox: LiveSandbox) -> None:
    with sandbox.client() as client:
        verdict = client.get(
            "/api/v1/billing/invoice/validate",
            params={
                "invoiceNo": 100123,
                "amount": 15000,
                "currencyPaid": NGN_ID,
                "type": "start",
                "processor": "paystack",
                "partPaymentFromWalletBalanceBefore": 5000,
                "partPaymentFromWalletBalanceCurrent": 0,
            },
        )
        assert verdict.status_code == 200
        assert verdict.json()["verStatus"] is True
        clone_id = verdict.json()["cloneId"]
        assert len(clone_id) == 24

        prepared = client.post(
            "/api/v1/billing/invoice/part-process", json={"invoice": 100123, "currency": "NGN"}
        )
        assert prepared.status_code == 200
        part = prepared.json()["invoice"]["partPaymentFromWalletBalance"]
        assert (part["chargeTotalBefore"], part["chargeTotalCurrent"]) == (15000, 5000)

        paid = client.post(
            "/api/v1/billing/invoice/pay",
            json={
                "cloneId": clone_id,
                "invoice": 100123,
                "currency": "NGN",
                "partPaymentFromWalletBalance": part,
            },
        )
        assert paid.status_code == 200
        assert paid.json() == {
            "message": "Invoice payment successful",
            "invoiceNo": 100123,
            "amount": 15000,
            "walletBalance": 0,
        }

        again = client.post(
            "/api/v1/billing/invoice/pay", json={"invoice": 100123, "currency": "NGN"}
        )
        assert (again.status_code, again.json()) == (400, {"message": "Invoice already paid"})
