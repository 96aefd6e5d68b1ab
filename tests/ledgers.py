"""Ledger checks shared by the concurrency, crash-safety and soak tests.

Each `*_problems(before, after)` compares two snapshots of a state file (`conftest.snapshot`) and
lists every way the money fails to add up between them; an empty list means the ledger is sound:

- sum of debits = sum of balance changes (what left wallets or unused payments is exactly what
  invoices and documents received, and every stored record of a movement agrees);
- no negative balance (wallets, unused amounts, what remains or is due);
- no double payment (an invoice paid once; nothing paid beyond its total; receipts numbered once).

The checks recompute what they need from the raw records instead of calling the handlers, so a
handler bug cannot hide itself.
"""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

Snapshot = dict[tuple[str, str, str], str]
CENT = Decimal("0.01")


def records(state: Snapshot, api: str, collection: str) -> dict[str, Any]:
    return {
        key: json.loads(body)
        for (a, coll, key), body in state.items()
        if a == api and coll == collection
    }


def money(value: Any) -> Decimal:
    return Decimal(str(value))


# --- CargoExtra: wallets pay invoices ------------------------------------------------------------


def cargoextra_problems(before: Snapshot, after: Snapshot) -> list[str]:
    problems: list[str] = []
    accounts_before = records(before, "cargoextra", "accounts")
    accounts_after = records(after, "cargoextra", "accounts")
    owner_token = {account["id"]: token for token, account in accounts_after.items()}
    invoices_before = records(before, "cargoextra", "invoices")
    debited: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for key, invoice in records(after, "cargoextra", "invoices").items():
        old = invoices_before[key]
        if old["status"] == "paid":
            if invoice != old:
                problems.append(f"invoice {key} was paid already and changed again")
            continue
        if invoice["status"] != "paid":
            continue
        total, wallet_share = money(invoice["total"]), money(invoice["paidFromWallet"])
        if wallet_share + money(invoice["paidOnline"]) != total or wallet_share < 0:
            problems.append(f"invoice {key}: wallet and online shares do not make its total")
        debited[(owner_token[invoice["owner"]], invoice["currency"])] += wallet_share
    for token, account in accounts_after.items():
        old_wallets = accounts_before[token].get("wallets", {})
        for currency, balance in account.get("wallets", {}).items():
            change = money(old_wallets[currency]) - money(balance)
            if money(balance) < 0:
                problems.append(f"{token} {currency} wallet is negative: {balance}")
            if change != debited.get((token, currency), Decimal(0)):
                problems.append(
                    f"{token} {currency} wallet fell by {change}, its paid invoices took "
                    f"{debited.get((token, currency), 0)}"
                )
    return problems


# --- InvoiceXpress: receipts pay documents -------------------------------------------------------


def document_total(document: dict[str, Any]) -> Decimal:
    """A document's total from its items (price x quantity, less discount %, plus tax %)."""
    total = Decimal(0)
    for item in document["items"]:
        subtotal = (money(item["unit_price"]) * money(item["quantity"])).quantize(CENT)
        discount = (subtotal * money(item.get("discount", 0)) / 100).quantize(CENT, ROUND_HALF_UP)
        if "tax_amount" in item:
            tax = money(item["tax_amount"])
        else:
            rate = money(item["tax"]["value"])
            tax = ((subtotal - discount) * rate / 100).quantize(CENT, ROUND_HALF_UP)
        total += subtotal - discount + tax
    return total


def invoicexpress_problems(before: Snapshot, after: Snapshot) -> list[str]:
    problems: list[str] = []
    old_documents = records(before, "invoicexpress", "documents")
    documents = records(after, "invoicexpress", "documents")
    receipts = [d for k, d in documents.items() if k not in old_documents]
    if any(r["type"] != "Receipt" for r in receipts):
        problems.append("a document other than a receipt appeared")
    received: dict[str, Decimal] = defaultdict(Decimal)
    for receipt in receipts:
        received[str(receipt["paid_document_id"])] += money(receipt["amount"])
        if money(receipt["amount"]) < 0 or document_total(receipt) != money(receipt["amount"]):
            problems.append(f"receipt {receipt['id']} lines do not make its amount")
    for key, document in documents.items():
        if key not in old_documents or document["type"] == "Receipt":
            continue
        paid_change = money(document.get("paid", 0)) - money(old_documents[key].get("paid", 0))
        if paid_change != received.get(key, Decimal(0)):
            problems.append(
                f"document {key}: paid rose by {paid_change}, receipts say {received[key]}"
            )
        remaining = document_total(document) - money(document.get("paid", 0))
        if remaining < 0:
            problems.append(f"document {key} is paid beyond its total (remaining {remaining})")
        if paid_change and (document["status"] == "settled") != (remaining == 0):
            problems.append(f"document {key} is {document['status']} with {remaining} remaining")
    by_serie: dict[str, list[int]] = defaultdict(list)
    for receipt in receipts:
        by_serie[receipt["serie"]].append(receipt["number"])
    old_series = records(before, "invoicexpress", "series")
    for name, serie in records(after, "invoicexpress", "series").items():
        first = old_series[name]["receipts_issued"]
        expected = list(range(first + 1, serie["receipts_issued"] + 1))
        if sorted(by_serie.get(name, [])) != expected:
            problems.append(f"serie {name}: receipt numbers {sorted(by_serie.get(name, []))}")
    counter = records(after, "invoicexpress", "counters")["documents"]["last_id"]
    old_counter = records(before, "invoicexpress", "counters")["documents"]["last_id"]
    if sorted(r["id"] for r in receipts) != list(range(old_counter + 1, counter + 1)):
        problems.append("receipt ids are not the ids the counter handed out, once each")
    return problems


# --- Chargebee: unused payments pay invoices -----------------------------------------------------


def chargebee_problems(before: Snapshot, after: Snapshot) -> list[str]:
    problems: list[str] = []
    old_txns = records(before, "chargebee", "transactions")
    old_invoices = records(before, "chargebee", "invoices")
    given: dict[tuple[str, str], int] = defaultdict(int)  # (txn, invoice) -> applied, per txn
    taken: dict[tuple[str, str], int] = defaultdict(int)  # ... per invoice
    spent_total = received_total = 0
    for key, txn in records(after, "chargebee", "transactions").items():
        old = old_txns[key]
        spent = old["amount_unused"] - txn["amount_unused"]
        new_links = txn.get("linked_invoices", [])[len(old.get("linked_invoices", [])) :]
        if txn["amount_unused"] < 0 or spent < 0:
            problems.append(
                f"{key}: amount_unused went from {old['amount_unused']} to {txn['amount_unused']}"
            )
        if sum(link["applied_amount"] for link in new_links) != spent:
            problems.append(f"{key}: spent {spent} but its links record another amount")
        for link in new_links:
            given[(key, link["invoice_id"])] += link["applied_amount"]
            if old_invoices[link["invoice_id"]]["customer_id"] != txn["customer_id"]:
                problems.append(f"{key} paid {link['invoice_id']}, another customer's invoice")
        spent_total += spent
    for key, invoice in records(after, "chargebee", "invoices").items():
        old = old_invoices[key]
        received = invoice["amount_paid"] - old["amount_paid"]
        new_links = invoice.get("linked_payments", [])[len(old.get("linked_payments", [])) :]
        if sum(link["applied_amount"] for link in new_links) != received:
            problems.append(f"{key}: received {received} but its links record another amount")
        for link in new_links:
            taken[(link["txn_id"], key)] += link["applied_amount"]
        if invoice["amount_due"] < 0 or received < 0:
            problems.append(f"{key}: amount_due {invoice['amount_due']}, received {received}")
        if invoice["amount_due"] + invoice["amount_paid"] != invoice["total"]:
            problems.append(f"{key}: due + paid is not its total")
        if received and (invoice["status"] == "paid") != (invoice["amount_due"] == 0):
            problems.append(f"{key} is {invoice['status']} with {invoice['amount_due']} due")
        if old["status"] not in ("payment_due", "posted", "not_paid") and invoice != old:
            problems.append(f"{key} was {old['status']} and changed")
        received_total += received
    if spent_total != received_total:
        problems.append(f"transactions gave {spent_total}, invoices received {received_total}")
    if dict(given) != dict(taken):
        problems.append("transaction and invoice links disagree on who paid whom")
    return problems
