"""CargoExtra billing gateway: validate an invoice, prepare a part-payment, pay from the wallet.

Rules and check order: shared/DOMAIN.md §1 (the effective spec's descriptions repeat them).
Every error is {"message": <documented text>}. Money is computed in Decimal and stored as JSON
numbers; the wallet debit and the invoice's `paid` mark are written in one transaction.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal
from typing import Any

from mockyard import ApiError, Context, Credentials, Failure, Principal, RateLimit

MISSING_PARAMETERS = "Missing One or More Required Parameters"
_FAILURE_MESSAGES = {
    401: "Unauthorized",
    403: "Access denied",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too many requests",
}


def _error(status: int, message: str) -> ApiError:
    return ApiError(status, {"message": message})


def render_failure(failure: Failure) -> ApiError:
    """The gateway answers every malformed request with 400 and one documented message."""
    if failure.status >= 500:
        return _error(500, "Unexpected Error")
    if failure.status in _FAILURE_MESSAGES:
        return _error(failure.status, _FAILURE_MESSAGES[failure.status])
    return _error(400, MISSING_PARAMETERS)


def authenticate(credentials: Credentials, ctx: Context) -> Principal | None:
    """The bearer token names an account: unknown or expired -> 401, blocked -> 403."""
    account = ctx.store.get("accounts", credentials.value)
    if account is None:
        return None
    expires = account.get("tokenExpiresAt")
    if expires and datetime.fromisoformat(expires) <= ctx.now():
        return None
    if account.get("blocked"):
        raise _error(403, "Access denied")
    limit = account.get("rateLimit")
    return Principal(
        id=account["id"],
        data={"token": credentials.value},
        rate_limit=RateLimit(limit["requests"], limit["perSeconds"]) if limit else None,
    )


def validate_invoice_payment(
    ctx: Context, invoiceNo: int, amount: float, currencyPaid: str, type: str, processor: str
) -> dict[str, Any]:
    account = _account(ctx)
    if not account.get("billingAddress"):
        raise _error(400, "You must set a billing address before you proceed")
    invoice = _invoice(ctx, invoiceNo)
    if invoice is None or invoice["owner"] != account["id"]:
        raise _error(404, "Invoice not found")
    _check_downstream(invoice)
    currency = _currency_by_id(ctx, currencyPaid)
    if currency is None or currency["code"] != invoice["currency"]:
        raise _error(400, "Wrong Currency")
    if processor not in currency["processors"]:
        raise _error(400, "Payment method is disabled")
    if invoice["status"] == "paid":
        return {"verStatus": False, "error": "Invoice already paid", "invoice": _view(ctx, invoice)}
    if _money(amount) != _payable_online(invoice):
        raise _error(400, "Wrong Amount")
    result: dict[str, Any] = {"verStatus": True, "verType": type}
    if type == "start":
        clone_id = secrets.token_hex(12)
        invoice.setdefault("onlinePayments", []).append(
            {
                "cloneId": clone_id,
                "processor": processor,
                "amount": _number(_payable_online(invoice)),
                "createdAt": _timestamp(ctx),
            }
        )
        ctx.store.put("invoices", invoiceNo, invoice)
        result["cloneId"] = clone_id
    result["invoice"] = _view(ctx, invoice)
    return result


def prepare_invoice_part_payment_from_wallet(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    account = _account(ctx)
    invoice = _invoice(ctx, body["invoice"])
    if invoice is None or invoice["owner"] != account["id"]:
        raise _error(404, "Invoice not found")
    _check_downstream(invoice)
    balance = _wallet_for(ctx, account, invoice, body["currency"])
    payable = _money(invoice["total"])
    if payable <= 0:
        raise _error(400, "Wrong Amount")
    if balance >= payable:
        raise _error(400, "Wallet balance is too high for this endpoint")
    part = {
        "currency": invoice["currency"],
        "exchangeRate": 1,
        "chargeTotalBefore": _number(payable),
        "chargeTotalCurrent": _number(payable - balance),
    }
    invoice["partPaymentFromWalletBalance"] = part
    ctx.store.put("invoices", invoice["invoiceNo"], invoice)
    return {
        "message": "Invoice ready for part payment",
        "invoice": {
            "invoiceNo": invoice["invoiceNo"],
            "eligibleForPayment": True,
            "partPaymentFromWalletBalance": part,
            "currencyPaid": invoice["currency"],
            "exchangeRate": 1,
            "chargeTotal": _number(payable - balance),
        },
    }


def pay_invoice_from_wallet(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    account = _account(ctx)
    if account.get("deletedDownstream"):
        raise _error(404, "User not found")
    invoice = _invoice(ctx, body["invoice"])
    if invoice is None:
        raise _error(404, "Invoice not found")
    if invoice["owner"] != account["id"]:
        raise _error(400, "Customer Invoice does not match expected credentials")
    _check_downstream(invoice)
    balance = _wallet_for(ctx, account, invoice, body["currency"])
    payable = _money(invoice["total"])
    part = body.get("partPaymentFromWalletBalance")
    if part is None:
        share = payable
    else:
        before, current = _money(part["chargeTotalBefore"]), _money(part["chargeTotalCurrent"])
        if before != payable or not 0 <= current <= before:
            raise _error(400, "Wrong Amount")
        share = before - current
    if payable <= 0:
        raise _error(400, "Wrong Amount")
    if balance < share:
        raise _error(400, "Insufficient funds")

    account["wallets"][invoice["currency"]] = _number(balance - share)
    ctx.store.put("accounts", ctx.principal.data["token"], account)  # type: ignore[union-attr]
    invoice.update(
        status="paid",
        paidAt=_timestamp(ctx),
        paidFromWallet=_number(share),
        paidOnline=_number(payable - share),
        cloneId=body.get("cloneId"),
    )
    ctx.store.put("invoices", invoice["invoiceNo"], invoice)
    return {
        "message": "Invoice payment successful",
        "invoiceNo": invoice["invoiceNo"],
        "amount": _number(payable),
        "walletBalance": _number(balance - share),
    }


# --- lookups -------------------------------------------------------------------------------------


def _account(ctx: Context) -> dict[str, Any]:
    assert ctx.principal is not None  # every operation requires bearerAuth
    account = ctx.store.get("accounts", ctx.principal.data["token"])
    if account is None:  # the account vanished between authentication and now (a reset)
        raise _error(401, "Unauthorized")
    return account


def _invoice(ctx: Context, number: int) -> dict[str, Any] | None:
    return ctx.store.get("invoices", number)


def _check_downstream(invoice: dict[str, Any]) -> None:
    if invoice.get("downstreamFails"):
        raise _error(500, "Unexpected Error")


def _currency_by_id(ctx: Context, object_id: str) -> dict[str, Any] | None:
    wanted = object_id.lower()
    return next((c for _, c in ctx.store.items("currencies") if c["id"] == wanted), None)


def _wallet_for(
    ctx: Context, account: dict[str, Any], invoice: dict[str, Any], code: str
) -> Decimal:
    """Checks shared by part-process and pay, in their documented order; returns the balance."""
    if ctx.store.get("currencies", code) is None:
        raise _error(404, "Currency not found")
    if code != invoice["currency"]:
        raise _error(400, "Currency does not match expected credentials")
    balance = account.get("wallets", {}).get(code)
    if balance is None:
        raise _error(400, "Wallet not found")
    if invoice["status"] == "paid":
        raise _error(400, "Invoice already paid")
    return _money(balance)


def _payable_online(invoice: dict[str, Any]) -> Decimal:
    part = invoice.get("partPaymentFromWalletBalance")
    return _money(part["chargeTotalCurrent"] if part else invoice["total"])


def _view(ctx: Context, invoice: dict[str, Any]) -> dict[str, Any]:
    """The invoice document as the gateway shows it: no owner, the currency's ObjectId added."""
    currency = ctx.store.get("currencies", invoice["currency"]) or {}
    paid = invoice["status"] == "paid"
    return {
        "invoiceNo": invoice["invoiceNo"],
        "status": invoice["status"],
        "description": invoice.get("description", ""),
        "currency": invoice["currency"],
        "currencyId": currency.get("id", ""),
        "total": invoice["total"],
        "payable": 0 if paid else _number(_payable_online(invoice)),
        "partPaymentFromWalletBalance": invoice.get("partPaymentFromWalletBalance"),
        "onlinePayments": invoice.get("onlinePayments", []),
        "issuedAt": invoice["issuedAt"],
        "dueAt": invoice["dueAt"],
        "paidAt": invoice.get("paidAt"),
    }


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _timestamp(ctx: Context) -> str:
    return ctx.now().strftime("%Y-%m-%dT%H:%M:%SZ")
