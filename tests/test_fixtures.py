"""The fixture recipe DSL (mockyard.fixtures): catalogue plus deterministic Faker records."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from click.testing import CliRunner
from conftest import ROOT

from mockyard import fixtures
from mockyard.cli import main
from mockyard.errors import FixtureError
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


def records(seed: int | None = None) -> dict:
    args = ["fixtures", "--workspace", str(ROOT)] + (["--seed", str(seed)] if seed else [])
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_same_seed_prints_identical_records() -> None:
    assert records(11) == records(11)


def test_other_seed_changes_bulk_but_not_catalogue() -> None:
    a, b = records(11)["cargoextra"], records(12)["cargoextra"]
    assert a["accounts"]["cust-0001-token"] != b["accounts"]["cust-0001-token"]
    for token in ("sandbox-token", "sandbox-token-rich", "sandbox-token-expired"):
        assert a["accounts"][token] == b["accounts"][token]
    for number in ("100123", "100124", "100500"):
        assert a["invoices"][number] == b["invoices"][number]


def test_bulk_data_is_large_and_realistic() -> None:
    data = records()["cargoextra"]
    customers = [a for key, a in data["accounts"].items() if key.startswith("cust-")]
    bulk = [i for key, i in data["invoices"].items() if int(key) >= 200000]
    assert len(customers) >= 50
    assert len(bulk) >= 1000
    assert set(Counter(i["currency"] for i in bulk)) == {"NGN", "USD", "GBP"}
    assert len({c["name"] for c in customers}) > 45  # Faker names, not a template
    assert all("@" in c["email"] for c in customers)
    owners = {c["id"] for c in customers}
    assert all(i["owner"] in owners for i in bulk)
    assert all(i["total"] > 0 for i in bulk)
    assert {i["status"] for i in bulk} == {"paid", "unpaid"}
    assert all((i["paidAt"] is None) == (i["status"] == "unpaid") for i in bulk)


def test_recipe_errors_name_the_problem() -> None:
    bad = {"generate": {"things": {"count": 2, "fields": {"x": {"faker": "no_such_provider"}}}}}
    with pytest.raises(FixtureError, match="no_such_provider"):
        fixtures.build(bad, 1, source="bad.yaml")


def test_generated_keys_may_not_clash_with_the_catalogue() -> None:
    fixture = {
        "catalogue": {"things": {"1": {"n": 0}}},
        "generate": {
            "things": {"count": 1, "fields": {"n": {"sequence": 1}}, "key": {"field": "n"}}
        },
    }
    with pytest.raises(FixtureError, match="clashes"):
        fixtures.build(fixture, 1)
