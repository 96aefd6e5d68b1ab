"""Chargebee: apply a customer's excess payments to an invoice.

Rules: shared/DOMAIN.md §3 (the effective spec's description repeats them and names the error
codes). Errors are Chargebee's error object. Amounts are integer cents, times Unix seconds.

State: `invoices`, `customers`, `transactions` (payments; `amount_unused` is the excess still to
apply) and `api_keys`. Applying moves money between a transaction's `amount_unused` and an
invoice's `amount_due` in one store transaction, so two requests can never spend the same unused
amount twice.
"""

from __future__ import annotations

from typing import Any

from mockyard import ApiError, Context, Credentials, Failure, Principal

PAYABLE = ("payment_due", "posted", "not_paid")
INVALID_REQUEST = "invalid_request"
OPERATION_FAILED = "operation_failed"
UNTYPED = "untyped"
# Each status the official spec documents for the operation: its type, api_error_code, and the
# message when the failure carries none of its own (the vendor's wording where it is known).
_FAILURES: dict[int, tuple[str, str, str]] = {
    400: (INVALID_REQUEST, "param_wrong_value", "The request has a wrong parameter value"),
    401: (UNTYPED, "api_authentication_failed", "Sorry, authentication failed. Invalid api key"),
    403: (UNTYPED, "api_authorization_failed", "Sorry, this API key may not do this operation"),
    404: (INVALID_REQUEST, "resource_not_found", "Sorry, we couldn't find that resource"),
    405: (INVALID_REQUEST, "http_method_not_supported", "Sorry, this HTTP method is not supported"),
    409: (
        INVALID_REQUEST,
        "invalid_state_for_request",
        "The resource is not in a state that allows this request",
    ),
    422: (INVALID_REQUEST, "unable_to_process_request", "The request could not be processed"),
    429: (OPERATION_FAILED, "api_request_limit_exceeded", "Sorry, too many requests"),
    500: (
        OPERATION_FAILED,
        "internal_error",
        "Sorry, something went wrong when trying to process the request",
    ),
    503: (
        OPERATION_FAILED,
        "internal_temporary_error",
        "Sorry, the server is currently unable to handle the request due to a temporary overload "
        "or scheduled maintenance. Please retry after sometime.",
    ),
}
# Failures whose own detail is the client's to read (validation, idempotency); the others get
# the vendor's fixed message.
_OWN_MESSAGE = frozenset({400, 409, 422})


def error(status: int, code: str, message: str, *, param: str | None = None, kind: str) -> ApiError:
    """Chargebee's error object, with the deprecated mirrors the live API still sends."""
    body: dict[str, Any] = {"message": message, "type": kind, "api_error_code": code}
    if param:
        body["param"] = param
    body.update(error_code=code, error_msg=message)
    if param:
        body["error_param"] = param
    body["http_status_code"] = status
    return ApiError(status, body)


def render_failure(failure: Failure) -> ApiError:
    """Every failure as the official spec documents its status: a status it does not document
    for the operation becomes its 500 (5xx) or its generic 400 invalid_request (413, 415, ...)."""
    status = failure.status
    if status not in _FAILURES:
        status = 500 if status >= 500 else 400
        if status == 400:
            return _bad(400, INVALID_REQUEST, _sentence(failure.detail or failure.title))
    kind, code, message = _FAILURES[status]
    if failure.param:  # Chargebee's own form: "transactions[amount][0] : cannot be less than 0"
        message = f"{failure.param} : {failure.detail}"
    elif status in _OWN_MESSAGE and failure.detail:
        message = _sentence(failure.detail)
    return error(status, code, message, param=failure.param or None, kind=kind)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def authenticate(credentials: Credentials, ctx: Context) -> Principal | None:
    """HTTP Basic: the user name is the API key; the password is empty and not checked."""
    key = ctx.store.get("api_keys", credentials.value)
    return Principal(id=key["site"]) if key else None


def apply_payments(
    ctx: Context, invoice_id: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    named = (body or {}).get("transactions") or {}
    ids, caps = _named(named.get("id", []), named.get("amount", []))
    invoice = ctx.store.get("invoices", invoice_id)
    if invoice is None:
        raise _bad(404, "resource_not_found", f"Sorry, we couldn't find the invoice {invoice_id}.")
    if invoice["status"] not in PAYABLE:
        raise _bad(
            409,
            "invalid_state_for_request",
            f"Invoice {invoice_id} is {invoice['status']}; payments can only be applied to "
            "invoices in payment_due, posted or not_paid state.",
        )
    if ids:
        candidates = [_named_transaction(ctx, invoice, txn_id, i) for i, txn_id in enumerate(ids)]
    else:
        candidates = [t for _, t in ctx.store.items("transactions") if _is_excess_of(t, invoice)]
    usable = sorted(
        (t for t in candidates if t["amount_unused"] > 0), key=lambda t: (t["date"], t["id"])
    )
    if not usable:
        raise _bad(
            400,
            INVALID_REQUEST,
            f"Customer {invoice['customer_id']} has no excess payments to apply.",
        )

    now = int(ctx.now().timestamp())
    due = invoice["amount_due"]
    for txn in usable:
        give = min(txn["amount_unused"], due, caps.get(txn["id"], due))
        if give <= 0:
            continue
        due -= give
        txn["amount_unused"] -= give
        txn.setdefault("linked_invoices", []).append(
            {
                "invoice_id": invoice["id"],
                "applied_amount": give,
                "applied_at": now,
                "invoice_date": invoice["date"],
                "invoice_total": invoice["total"],
                "invoice_status": "paid" if due == 0 else invoice["status"],
            }
        )
        _touch(txn, now)
        ctx.store.put("transactions", txn["id"], txn)
        invoice.setdefault("linked_payments", []).append(
            {
                "txn_id": txn["id"],
                "applied_amount": give,
                "applied_at": now,
                "txn_status": txn["status"],
                "txn_date": txn["date"],
                "txn_amount": txn["amount"],
            }
        )
    invoice["amount_paid"] += invoice["amount_due"] - due
    invoice["amount_due"] = due
    if due == 0:
        invoice.update(status="paid", paid_at=now)
    comment = (body or {}).get("comment")
    if comment:
        invoice.setdefault("comments", []).append({"notes": comment, "created_at": now})
    _touch(invoice, now)
    ctx.store.put("invoices", invoice_id, invoice)
    return {"invoice": view(invoice)}


# --- the named transactions ---------------------------------------------------------------------


def _named(ids: list[str], amounts: list[int]) -> tuple[list[str], dict[str, int]]:
    """Pair transactions[id][i] with transactions[amount][i]; refuse what cannot be paired."""
    if len(amounts) > len(ids):
        param = f"transactions[amount][{len(ids)}]"
        raise _bad(400, "param_wrong_value", f"{param} has no transactions[id]", param=param)
    seen: set[str] = set()
    for i, txn_id in enumerate(ids):
        if txn_id in seen:
            param = f"transactions[id][{i}]"
            raise _bad(400, "param_wrong_value", f"{txn_id} is named twice", param=param)
        seen.add(txn_id)
    return ids, dict(zip(ids, amounts, strict=False))


def _named_transaction(
    ctx: Context, invoice: dict[str, Any], txn_id: str, index: int
) -> dict[str, Any]:
    param = f"transactions[id][{index}]"
    txn = ctx.store.get("transactions", txn_id)
    if txn is None:
        message = f"Sorry, we couldn't find the transaction {txn_id}."
        raise _bad(404, "resource_not_found", message, param=param)
    if txn["customer_id"] != invoice["customer_id"]:
        message = f"Transaction {txn_id} belongs to another customer than the invoice."
        raise _bad(400, "param_wrong_value", message, param=param)
    if txn["currency_code"] != invoice["currency_code"]:
        currencies = f"{txn['currency_code']}, the invoice in {invoice['currency_code']}"
        message = f"Transaction {txn_id} is in {currencies}."
        raise _bad(400, "param_wrong_value", message, param=param)
    if txn["type"] != "payment" or txn["status"] != "success":
        message = f"Transaction {txn_id} is not a successful payment; it cannot be applied."
        raise _bad(409, "invalid_state_for_request", message, param=param)
    return txn


def _is_excess_of(txn: dict[str, Any], invoice: dict[str, Any]) -> bool:
    return (
        txn["customer_id"] == invoice["customer_id"]
        and txn["currency_code"] == invoice["currency_code"]
        and txn["type"] == "payment"
        and txn["status"] == "success"
        and txn["amount_unused"] > 0
    )


def _bad(status: int, code: str, message: str, *, param: str | None = None) -> ApiError:
    return error(status, code, message, param=param, kind=INVALID_REQUEST)


def _touch(record: dict[str, Any], now: int) -> None:
    record["updated_at"] = now
    record["resource_version"] = max(now * 1000, record.get("resource_version", 0) + 1)


# --- the invoice as the API shows it ------------------------------------------------------------


def view(invoice: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": invoice["id"],
        "customer_id": invoice["customer_id"],
        "recurring": invoice.get("recurring", False),
        "status": invoice["status"],
        "price_type": invoice.get("price_type", "tax_exclusive"),
        "date": invoice["date"],
        "due_date": invoice["due_date"],
        "net_term_days": invoice.get("net_term_days", 0),
        "exchange_rate": invoice.get("exchange_rate", 1.0),
        "currency_code": invoice["currency_code"],
        "total": invoice["total"],
        "amount_paid": invoice["amount_paid"],
        "amount_adjusted": invoice.get("amount_adjusted", 0),
        "write_off_amount": invoice.get("write_off_amount", 0),
        "credits_applied": invoice.get("credits_applied", 0),
        "amount_due": invoice["amount_due"],
        "resource_version": invoice["resource_version"],
        "updated_at": invoice["updated_at"],
        "sub_total": invoice["sub_total"],
        "tax": invoice.get("tax", 0),
        "first_invoice": invoice.get("first_invoice", False),
        "has_advance_charges": False,
        "term_finalized": True,
        "is_gifted": False,
        "channel": "web",
        "deleted": False,
        "object": "invoice",
        "line_items": [
            {**item, "customer_id": invoice["customer_id"], "object": "line_item"}
            for item in invoice.get("line_items", [])
        ],
        "taxes": invoice.get("taxes", []),
        "discounts": invoice.get("discounts", []),
        "linked_payments": invoice.get("linked_payments", []),
        "dunning_attempts": [],
        "applied_credits": [],
        "adjustment_credit_notes": [],
        "issued_credit_notes": [],
        "linked_orders": [],
    }
    for optional in ("subscription_id", "paid_at", "billing_address"):
        if invoice.get(optional) is not None:
            out[optional] = invoice[optional]
    return out
