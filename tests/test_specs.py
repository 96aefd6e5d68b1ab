"""Merging the workspace's specs into one document (mockyard.specs.merge)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from conftest import CHARGEBEE_AUTH, LOOPBACK_URL, ROOT
from starlette.testclient import TestClient

from mockyard import workspace
from mockyard.app import ServeConfig, build
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


def test_merging_leaves_the_specs_it_merges_as_they_were() -> None:
    """The merged document shares what it does not change with the specs (copying a 13 MB
    spec costs a fifth of a second), so merging must not write into them."""
    shared_param = {"name": "tenant", "in": "header", "schema": {"type": "string"}}
    first = _spec(
        {"/a/{id}": {"parameters": [shared_param], "get": _op("a", "#/components/schemas/X")}},
        {"schemas": {"X": {"type": "string"}}},
        security=[{"key": []}],
    )
    second = _spec(
        {"/b": {"get": _op("b", "#/components/schemas/X")}},
        {"schemas": {"X": {"type": "integer"}}},  # collides: renamed in the merged copy
    )
    before = copy.deepcopy([first, second])
    merged = merge([("one", Path("1.yaml"), first, ""), ("two", Path("2.yaml"), second, "")])
    assert [first, second] == before
    assert merged["paths"]["/a/{id}"]["get"]["security"] == [{"key": []}]
    assert merged["paths"]["/b"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ] == {"$ref": "#/components/schemas/two_X"}


def test_serving_leaves_the_loaded_specs_as_they_were(tmp_path: Path) -> None:
    """Serving reads the merged document (both readers, the docs, the admin API's document)
    and never writes into it, so the specs it shares objects with stay as loaded."""
    ws = workspace.load(ROOT)
    loaded = copy.deepcopy(ws.specs)
    config = ServeConfig(workspace=str(ROOT), state=str(tmp_path / "s.sqlite3"), fast_path=False)
    sandbox = build(config, ws)
    try:
        with TestClient(sandbox.app, base_url=LOOPBACK_URL) as client:
            for path in ("/openapi.json", "/__mockyard/openapi.json", "/api/v1/billing/nope"):
                assert client.get(path).status_code in (200, 404)
            answer = client.get("/api/v2/invoices/nope", auth=CHARGEBEE_AUTH)
            assert answer.status_code == 404  # read by Connexion, answered by the handler
    finally:
        sandbox.close()
    assert ws.specs == loaded
