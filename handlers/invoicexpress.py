"""InvoiceXpress: generate a payment (a receipt) against an invoice or simplified invoice.

Rules: shared/DOMAIN.md §2 (the effective spec's description repeats them). Every error has an
empty body: 401 bad api_key, 404 unknown document, 422 anything else the client got wrong.

State: `documents` (invoices, credit notes, receipts...; a document's totals are computed from its
items, and what remains is its total minus `paid`), `clients`, `series` (each with its ATCUD
validation code and how many receipts it has issued), `api_keys`, `counters`. Money is Decimal,
two places, stored as JSON numbers.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from mockyard import ApiError, Context, Credentials, Failure, Principal, RateLimit

PAYABLE_TYPES = frozenset({"Invoice", "SimplifiedInvoice"})
OPEN_STATUS = "final"
SETTLED_STATUS = "settled"
CENT = Decimal("0.01")
DATE_FORMAT = "%d/%m/%Y"
PERMALINK = "https://sandbox.app.invoicexpress.com/documents/"


def _refuse(status: int) -> ApiError:
    return ApiError(status, None)


def render_failure(failure: Failure) -> ApiError:
    """Empty bodies throughout; whatever the client sent wrong is 'parameters incorrect' (422)."""
    if failure.status in (401, 404, 405, 429) or failure.status >= 500:
        return _refuse(failure.status)
    return _refuse(422)


def authenticate(credentials: Credentials, ctx: Context) -> Principal | None:
    """The API key names an account; a key with a `rate_limit` is held to it (429 beyond)."""
    key = ctx.store.get("api_keys", credentials.value)
    if key is None:
        return None
    limit = key.get("rate_limit")
    return Principal(
        id=key["account"],
        rate_limit=RateLimit(limit["requests"], limit["per_seconds"]) if limit else None,
    )


def generate_payment(ctx: Context, document_id: int, body: dict[str, Any]) -> dict[str, Any]:
    payment = body["partial_payment"]
    document = ctx.store.get("documents", document_id)
    if document is None:
        raise _refuse(404)
    if document["type"] not in PAYABLE_TYPES or document["status"] != OPEN_STATUS:
        raise _refuse(422)
    serie = ctx.store.get("series", payment.get("serie") or document["serie"])
    if serie is None:
        raise _refuse(422)
    date = _payment_date(ctx, payment.get("payment_date"))
    amount = _cents(payment["amount"])
    remaining = remaining_amount(document)
    if amount > remaining:
        raise _refuse(422)

    receipt = _receipt(ctx, document, serie, amount, date, payment)
    ctx.store.put("documents", receipt["id"], receipt)
    ctx.store.put("series", serie["name"], serie)
    document["paid"] = _number(_money(document.get("paid", 0)) + amount)
    if amount == remaining:
        document["status"] = SETTLED_STATUS
    ctx.store.put("documents", document_id, document)
    return {"receipt": view(ctx, receipt)}


# --- documents ------------------------------------------------------------------------------------


def totals(document: dict[str, Any]) -> dict[str, Decimal]:
    """sum, discount, before_taxes, taxes and total of a document, from its items."""
    lines = [_line(item) for item in document["items"]]
    out = {k: sum((line[k] for line in lines), Decimal(0)) for k in ("subtotal", "discount_amount")}
    taxes = sum((line["tax_amount"] for line in lines), Decimal(0))
    before = out["subtotal"] - out["discount_amount"]
    return {
        "sum": out["subtotal"],
        "discount": out["discount_amount"],
        "before_taxes": before,
        "taxes": taxes,
        "total": before + taxes,
    }


def remaining_amount(document: dict[str, Any]) -> Decimal:
    """What is still to be paid: nothing once settled, else the total less what was paid."""
    if document["status"] == SETTLED_STATUS:
        return Decimal(0)
    return totals(document)["total"] - _money(document.get("paid", 0))


def view(ctx: Context, document: dict[str, Any]) -> dict[str, Any]:
    """A document as the API shows it (the receipt example's shape)."""
    client = ctx.store.get("clients", document["client_id"]) or {}
    serie = ctx.store.get("series", document["serie"]) or {}
    number, code = document["number"], serie.get("atcud_code")
    amounts = totals(document)
    return {
        "id": document["id"],
        "status": document["status"],
        "archived": False,
        "type": document["type"],
        "sequence_number": f"{number}/{document['serie']}",
        "inverted_sequence_number": f"{document['serie']}/{number}",
        "atcud": f"{code}-{number}" if code else "N/D",
        "date": document["date"],
        "due_date": document["due_date"],
        "reference": document.get("reference", ""),
        "observations": document.get("observations"),
        "retention": document.get("retention"),
        "permalink": PERMALINK + _digest(document, 16),
        "saft_hash": base64.b64encode(bytes.fromhex(_digest(document, 3))).decode(),
        **{k: _number(v) for k, v in amounts.items()},
        "currency": document.get("currency", "Euro"),
        "client": {
            "id": document["client_id"],
            "name": client.get("name", ""),
            "country": client.get("country", "Portugal"),
        },
        "items": [_item_view(item) for item in document["items"]],
        "sequence_id": str(serie.get("id", "")),
        "tax_exemption": document.get("tax_exemption"),
    }


def _receipt(
    ctx: Context,
    document: dict[str, Any],
    serie: dict[str, Any],
    amount: Decimal,
    date: str,
    payment: dict[str, Any],
) -> dict[str, Any]:
    """A receipt for `amount` of `document`: one line, taxed at the document's rate."""
    counter = ctx.store.get("counters", "documents") or {"last_id": 900000}
    counter["last_id"] += 1
    while ctx.store.get("documents", counter["last_id"]) is not None:  # one id space: skip used
        counter["last_id"] += 1
    ctx.store.put("counters", "documents", counter)
    serie["receipts_issued"] = serie.get("receipts_issued", 0) + 1

    amounts = totals(document)
    share = amounts["before_taxes"] / amounts["total"] if amounts["total"] else Decimal(1)
    before = (amount * share).quantize(CENT, ROUND_HALF_UP)
    reference = f"{document['number']}/{document['serie']}"
    note = payment.get("note")
    return {
        "id": counter["last_id"],
        "type": "Receipt",
        "status": OPEN_STATUS,
        "serie": serie["name"],
        "number": serie["receipts_issued"],
        "date": date,
        "due_date": date,
        "reference": reference,
        "observations": note,
        "client_id": document["client_id"],
        "currency": document.get("currency", "Euro"),
        "paid_document_id": document["id"],
        "payment_mechanism": payment.get("payment_mechanism", "TB"),
        "amount": _number(amount),
        "created_at": ctx.now().isoformat(),
        "items": [
            {
                "name": f"Pagamento {reference}",
                "description": note or f"Pagamento de {reference}",
                "unit_price": _number(before),
                "quantity": 1,
                "unit": "service",
                "tax": document["items"][0]["tax"],
                "discount": 0,
                "tax_amount": _number(amount - before),
            }
        ],
    }


def _line(item: dict[str, Any]) -> dict[str, Decimal]:
    subtotal = (_money(item["unit_price"]) * _money(item["quantity"])).quantize(CENT)
    discount = (subtotal * _money(item.get("discount", 0)) / 100).quantize(CENT, ROUND_HALF_UP)
    if "tax_amount" in item:  # a receipt line carries its exact tax share
        tax = _money(item["tax_amount"])
    else:
        rate = _money(item["tax"]["value"])
        tax = ((subtotal - discount) * rate / 100).quantize(CENT, ROUND_HALF_UP)
    return {"subtotal": subtotal, "discount_amount": discount, "tax_amount": tax}


def _item_view(item: dict[str, Any]) -> dict[str, Any]:
    line = _line(item)
    return {
        "name": item["name"],
        "description": item.get("description", ""),
        "unit_price": str(float(_money(item["unit_price"]))),
        "unit": item.get("unit", "unit"),
        "quantity": str(float(_money(item["quantity"]))),
        "tax": item["tax"],
        "discount": item.get("discount", 0),
        "subtotal": _number(line["subtotal"]),
        "tax_amount": _number(line["tax_amount"]),
        "discount_amount": _number(line["discount_amount"]),
        "total": _number(line["subtotal"] - line["discount_amount"] + line["tax_amount"]),
    }


# --- values ---------------------------------------------------------------------------------------


def _payment_date(ctx: Context, given: str | None) -> str:
    if given is None:
        return ctx.now().strftime(DATE_FORMAT)
    try:
        datetime.strptime(given, DATE_FORMAT)
    except ValueError:
        raise _refuse(422) from None
    return given


def _cents(value: Any) -> Decimal:
    """An amount of euros with at most two decimals; anything finer is a 422."""
    try:
        amount = _money(value)
    except InvalidOperation:
        raise _refuse(422) from None
    if amount != amount.quantize(CENT):
        raise _refuse(422)
    return amount.quantize(CENT)


def _digest(document: dict[str, Any], size: int) -> str:
    seed = f"{document['id']}|{document['serie']}|{document['number']}|{document['date']}"
    return hashlib.sha256(seed.encode()).hexdigest()[: size * 2]


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)
