"""The fixture recipe DSL (mockyard.fixtures): catalogue plus deterministic Faker records."""

from __future__ import annotations

from mockyard.fixtures import build

RECIPE = {
    "catalogue": {"invoices": {"inv_fixed": {"total": 100, "status": "paid"}}},
    "generate": {
        "invoices": {
            "count": 20,
            "key": {"field": "id"},
            "fields": {
                "id": {"template": "inv_{n:03d}"},
                "total": {"faker": "pyint", "min_value": 100, "max_value": 900},
                "status": {"choice": ["paid", "payment_due"]},
                "amount_due": {
                    "switch": "status",
                    "cases": {"paid": 0},
                    "default": {"field": "total"},
                },
                "line_items": [{"amount": {"field": "total"}, "quantity": 1}],
            },
        }
    },
}


def test_field_copies_a_field_built_before() -> None:
    invoices = build(RECIPE, seed=7)["invoices"]
    assert invoices["inv_fixed"] == {"total": 100, "status": "paid"}
    generated = [v for k, v in invoices.items() if k != "inv_fixed"]
    assert len(generated) == 20
    for invoice in generated:
        due = 0 if invoice["status"] == "paid" else invoice["total"]
        assert invoice["amount_due"] == due
        assert invoice["line_items"] == [{"amount": invoice["total"], "quantity": 1}]


def test_same_seed_same_records_other_seed_other_records() -> None:
    assert build(RECIPE, seed=7) == build(RECIPE, seed=7)
    assert build(RECIPE, seed=7) != build(RECIPE, seed=8)
