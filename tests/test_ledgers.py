"""The ledger checks themselves catch overspending, negative balances and double payments.

They read states as each backend stores them: the seeded records are written through the store
(SQLite, or PostgreSQL) and read back the way the guarantee tests read them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, Backend, snapshot
from ledgers import cargoextra_problems, chargebee_problems, invoicexpress_problems

from mockyard import fixtures, workspace
from mockyard.store import open_store


@pytest.fixture(scope="module")
def built() -> dict[str, Any]:
    ws = workspace.load(ROOT)
    return {api.name: fixtures.build(workspace.read_yaml(api.fixtures), ws.seed) for api in ws.apis}


@pytest.fixture
def seeded(
    built: dict[str, Any], backend: Backend, tmp_path: Path
) -> dict[tuple[str, str, str], str]:
    """The seeded state as `backend` stores it."""
    location = backend.state(tmp_path)
    store = open_store(str(location))
    try:
        store.replace_all(built, seed=1)
    finally:
        store.close()
    state = snapshot(location)
    assert len(state) == sum(len(docs) for colls in built.values() for docs in colls.values())
    return state


def changed(state: dict, api: str, coll: str, key: str, **fields: Any) -> dict:
    doc = {**json.loads(state[(api, coll, key)]), **fields}
    return {**state, (api, coll, key): json.dumps(doc)}


def test_an_untouched_state_has_no_problems(seeded: dict) -> None:
    assert cargoextra_problems(seeded, seeded) == []
    assert invoicexpress_problems(seeded, seeded) == []
    assert chargebee_problems(seeded, seeded) == []


def test_cargoextra_flags_a_debit_without_a_payment_and_a_payment_without_a_debit(
    seeded: dict,
) -> None:
    debited = changed(seeded, "cargoextra", "accounts", "sandbox-token", wallets={"NGN": 9000})
    assert cargoextra_problems(seeded, debited)
    paid = changed(
        seeded,
        "cargoextra",
        "invoices",
        "100130",
        status="paid",
        paidFromWallet=3000,
        paidOnline=0,
    )
    assert cargoextra_problems(seeded, paid)  # Dayo's wallet did not move
    repaid = changed(seeded, "cargoextra", "invoices", "100124", paidFromWallet=1)
    assert cargoextra_problems(seeded, repaid)  # a paid invoice changed again


def test_invoicexpress_flags_paid_beyond_the_total_and_a_missing_receipt(seeded: dict) -> None:
    over = changed(seeded, "invoicexpress", "documents", "1", paid=200)
    assert invoicexpress_problems(seeded, over)
    settled = changed(seeded, "invoicexpress", "documents", "2", status="settled")
    assert invoicexpress_problems(seeded, settled) == []  # no payment, nothing to reconcile
    assert invoicexpress_problems(
        seeded, changed(settled, "invoicexpress", "documents", "2", paid=1)
    )


def test_chargebee_flags_spending_twice_and_a_negative_unused_amount(seeded: dict) -> None:
    spent = changed(seeded, "chargebee", "transactions", "txn_sandbox_1a", amount_unused=0)
    assert chargebee_problems(seeded, spent)  # 3000 left with no invoice receiving it
    negative = changed(seeded, "chargebee", "transactions", "txn_sandbox_2a", amount_unused=-1)
    assert chargebee_problems(seeded, negative)


def test_chargebee_flags_a_payment_applied_to_another_customers_invoice(seeded: dict) -> None:
    link = {"invoice_id": "inv_sandbox_2", "applied_amount": 1000}
    moved = changed(
        seeded,
        "chargebee",
        "transactions",
        "txn_sandbox_1a",
        amount_unused=2000,
        linked_invoices=[link],
    )
    txn_link = {"txn_id": "txn_sandbox_1a", "applied_amount": 1000}
    moved = changed(
        moved,
        "chargebee",
        "invoices",
        "inv_sandbox_2",
        amount_paid=1000,
        amount_due=9000,
        linked_payments=[txn_link],
    )
    assert chargebee_problems(seeded, moved) == [
        "txn_sandbox_1a paid inv_sandbox_2, another customer's invoice"
    ]
