"""Merging the workspace's specs into one document (mockyard.specs.merge)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mockyard.errors import SpecError
from mockyard.specs import merge


def _spec(paths: dict[str, Any], components: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"openapi": "3.0.3", "info": {}, "paths": paths, "components": components, **extra}


def _op(op_id: str, schema_ref: str, **extra: Any) -> dict[str, Any]:
    body = {"content": {"application/json": {"schema": {"$ref": schema_ref}}}}
    return {
        "operationId": op_id,
        "responses": {"200": {"description": "ok", **body}},
        **extra,
    }


BILLING = _spec(
    {"/billing/invoices/{id}": {"get": _op("get-invoice", "#/components/schemas/Invoice")}},
    {
        "schemas": {
            "Invoice": {"type": "object", "properties": {"total": {"type": "number"}}},
            "Money": {"type": "number"},
        },
        "securitySchemes": {"auth": {"type": "http", "scheme": "bearer"}},
    },
    security=[{"auth": []}],
)
SUBSCRIPTIONS = _spec(
    {
        "/api/v2/invoices/{id}": {
            "get": _op("retrieve-invoice", "#/components/schemas/Invoice"),
            "post": _op("update-invoice", "#/components/schemas/Error", security=[{"auth": []}]),
        }
    },
    {
        "schemas": {
            "Invoice": {
                "type": "object",
                "properties": {
                    "amount_due": {"$ref": "#/components/schemas/Money"},
                    "lines": {"type": "array", "items": {"$ref": "#/components/schemas/Line"}},
                },
            },
            "Line": {"type": "object", "properties": {"amount": {"type": "integer"}}},
            "Money": {"type": "integer"},
            "Error": {"type": "object"},
        },
        "securitySchemes": {"auth": {"type": "http", "scheme": "basic"}},
    },
    security=[{"auth": []}],
)


def _merged() -> dict[str, Any]:
    return merge(
        [
            ("billing", Path("billing.yaml"), BILLING, ""),
            ("subscriptions", Path("subscriptions.yaml"), SUBSCRIPTIONS, ""),
        ]
    )


def test_colliding_components_of_the_later_spec_get_the_api_prefix() -> None:
    schemas = _merged()["components"]["schemas"]
    assert schemas["Invoice"] == BILLING["components"]["schemas"]["Invoice"]
    assert schemas["Money"] == {"type": "number"}
    assert schemas["subscriptions_Money"] == {"type": "integer"}
    renamed = schemas["subscriptions_Invoice"]["properties"]
    assert renamed["amount_due"] == {"$ref": "#/components/schemas/subscriptions_Money"}
    assert renamed["lines"]["items"] == {"$ref": "#/components/schemas/Line"}
    assert schemas["Line"] == {"type": "object", "properties": {"amount": {"type": "integer"}}}


def test_refs_of_the_later_spec_follow_the_rename() -> None:
    paths = _merged()["paths"]
    get = paths["/api/v2/invoices/{id}"]["get"]
    schema = get["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/subscriptions_Invoice"}
    first = paths["/billing/invoices/{id}"]["get"]
    schema = first["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Invoice"}


def test_security_requirements_follow_a_renamed_scheme() -> None:
    merged = _merged()
    schemes = merged["components"]["securitySchemes"]
    assert schemes["auth"]["scheme"] == "bearer"
    assert schemes["subscriptions_auth"]["scheme"] == "basic"
    ops = merged["paths"]["/api/v2/invoices/{id}"]
    assert ops["get"]["security"] == [{"subscriptions_auth": []}]
    assert ops["post"]["security"] == [{"subscriptions_auth": []}]
    assert merged["paths"]["/billing/invoices/{id}"]["get"]["security"] == [{"auth": []}]


def test_identical_components_are_shared_not_renamed() -> None:
    same = _spec(
        {"/other": {"get": _op("other", "#/components/schemas/Money")}},
        {"schemas": {"Money": {"type": "number"}}},
    )
    merged = merge([("a", Path("a.yaml"), BILLING, ""), ("b", Path("b.yaml"), same, "")])
    assert "b_Money" not in merged["components"]["schemas"]


def test_a_prefixed_name_already_taken_gets_a_number() -> None:
    taken = _spec(
        {"/x": {"get": _op("x", "#/components/schemas/Error")}},
        {"schemas": {"Error": {"type": "string"}, "subscriptions_Error": {"type": "boolean"}}},
    )
    merged = merge(
        [("a", Path("a.yaml"), taken, ""), ("subscriptions", Path("s.yaml"), SUBSCRIPTIONS, "")]
    )
    schemas = merged["components"]["schemas"]
    assert schemas["subscriptions_Error_2"] == {"type": "object"}
    post = merged["paths"]["/api/v2/invoices/{id}"]["post"]
    ref = post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/subscriptions_Error_2"


def test_the_same_route_and_method_in_two_specs_stops_the_load() -> None:
    with pytest.raises(SpecError, match="defined in both"):
        merge([("a", Path("a.yaml"), BILLING, ""), ("b", Path("b.yaml"), BILLING, "")])
