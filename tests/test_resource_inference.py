"""What the engine infers from a spec (`resources`), what `mockyard.yaml` can say about it
(`resource_config`), and how `mockyard specs` shows both."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from workspaces import ok, served, spec, write_workspace

from mockyard.cli import main
from mockyard.errors import WorkspaceError
from mockyard.resources import Inference
from mockyard.workspace import load


def record(*names: str, **extra: Any) -> dict[str, Any]:
    props = {name: {"type": "string"} for name in names}
    return {"type": "object", "required": list(names[:1]), "properties": props, **extra}


def item_ops(param: str, schema: Any, **more: Any) -> dict[str, Any]:
    return {
        "parameters": [
            {"name": param, "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        "get": {"responses": ok(schema)},
        **more,
    }


def inferred(tmp_path: Path, paths: dict[str, Any], config: Any = None, **extra: Any) -> Inference:
    settings = {"resources": config} if config is not None else None
    ws = write_workspace(tmp_path, {"api.yaml": spec(paths, **extra)}, config=settings)
    return load(ws).inference


def only(inference: Inference) -> Any:
    assert len(inference.resources) == 1, inference.unmapped
    return inference.resources[0]


@pytest.mark.parametrize(
    ("path", "param", "props", "expected"),
    [
        ("/pets/{petId}", "petId", ("id", "name"), "id"),
        ("/invoices/{invoice-id}", "invoice-id", ("id", "total"), "id"),
        ("/reservations/{bookingId}", "bookingId", ("id", "room"), "id"),
        ("/orders/{orderNumber}", "orderNumber", ("number", "item"), "number"),
        ("/users/{user_id}", "user_id", ("userId", "name"), "userId"),
        ("/books/{isbn}", "isbn", ("isbn", "title"), "isbn"),
        ("/keys/{name}", "name", ("uuid", "label"), "uuid"),
    ],
)
def test_the_id_property_is_the_one_the_item_parameter_names(
    tmp_path: Path, path: str, param: str, props: tuple[str, ...], expected: str
) -> None:
    resource = only(inferred(tmp_path, {path: item_ops(param, record(*props))}))
    assert (resource.item_path, resource.id_property, resource.id_param) == (path, expected, param)


@pytest.mark.parametrize(
    ("schema", "envelope"),
    [
        (record("id", "total"), ""),
        ({"type": "object", "properties": {"invoice": record("id", "total")}}, "invoice"),
        ({"type": "object", "properties": {"data": record("id", "total")}}, "data"),
        (
            {"type": "object", "properties": {"meta": record("x"), "result": record("id")}},
            "result",
        ),
        ({"allOf": [{"type": "object", "properties": {"item": record("id")}}]}, "item"),
    ],
)
def test_an_item_is_found_bare_or_in_its_envelope(
    tmp_path: Path, schema: Any, envelope: str
) -> None:
    found = inferred(tmp_path, {"/things/{thingId}": item_ops("thingId", schema)})
    (mapped,) = found.mapped.values()
    assert (mapped.action, str(mapped.envelope)) == ("read", envelope)


@pytest.mark.parametrize(
    ("schema", "envelope", "meta"),
    [
        ({"type": "array", "items": record("id")}, "[]", []),
        (
            {"type": "object", "properties": {"data": {"type": "array", "items": record("id")}}},
            "data[]",
            [],
        ),
        (
            {
                "type": "object",
                "properties": {
                    "items": {"type": "array", "items": record("id")},
                    "total": {"type": "integer"},
                },
            },
            "items[]",
            [("total", "total")],
        ),
        (
            {
                "type": "object",
                "properties": {
                    "list": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"thing": record("id")}},
                    },
                    "next_offset": {"type": "string"},
                },
            },
            "list[].thing",
            [("next_offset", "next")],
        ),
        (
            {
                "type": "object",
                "properties": {
                    "results": {"type": "array", "items": record("id")},
                    "meta": {
                        "type": "object",
                        "properties": {
                            "count": {"type": "integer"},
                            "has_more": {"type": "boolean"},
                        },
                    },
                },
            },
            "results[]",
            [("meta.count", "total"), ("meta.has_more", "has_more")],
        ),
    ],
)
def test_a_list_is_found_bare_or_in_its_envelope_with_the_fields_beside_it(
    tmp_path: Path, schema: Any, envelope: str, meta: list[tuple[str, str]]
) -> None:
    found = inferred(
        tmp_path, {"/things": {"get": {"operationId": "list", "responses": ok(schema)}}}
    )
    mapped = found.mapped["list"]
    assert (mapped.action, str(mapped.envelope)) == ("list", envelope)
    assert [(".".join(m.path), m.kind) for m in mapped.paging.meta] == meta


def query(name: str, kind: str = "integer", **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": kind, **schema}}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            [query("limit", default=25), query("offset")],
            {"limit": "limit", "offset": "offset", "default_limit": 25},
        ),
        (
            [query("page", minimum=0), query("per_page", maximum=50)],
            {"page": "page", "limit": "per_page", "page_base": 0, "default_limit": 50},
        ),
        ([query("cursor", "string"), query("pageSize")], {"cursor": "cursor", "limit": "pageSize"}),
        ([query("offset", "string"), query("limit")], {"cursor": "offset", "limit": "limit"}),
        ([query("starting_after", "string")], {"cursor": "starting_after"}),
    ],
)
def test_paging_parameters_are_known_by_name_and_type(
    tmp_path: Path, params: list[Any], expected: dict[str, Any]
) -> None:
    listing = {
        "get": {
            "operationId": "list",
            "parameters": params,
            "responses": ok({"type": "array", "items": record("id")}),
        }
    }
    paging = inferred(tmp_path, {"/things": listing}).mapped["list"].paging
    assert {k: getattr(paging, k) for k in expected} == expected


def test_query_parameters_named_like_properties_are_equality_filters(tmp_path: Path) -> None:
    listing = {
        "get": {
            "operationId": "list",
            "parameters": [
                query("status", "string"),
                query("ownerEmail", "string"),
                query("customer_id[is]", "string"),
                query("colour[gt]", "string"),
                query("q", "string"),
            ],
            "responses": ok(
                {
                    "type": "array",
                    "items": record("id", "status", "owner_email", "customer_id", "colour"),
                }
            ),
        }
    }
    filters = inferred(tmp_path, {"/things": listing}).mapped["list"].filters
    assert filters == (
        ("status", "status"),
        ("ownerEmail", "owner_email"),
        ("customer_id_is", "customer_id"),
    )


def test_a_nested_collection_is_scoped_to_its_parent(tmp_path: Path) -> None:
    order = record("id", "user_id", "item")
    found = inferred(
        tmp_path,
        {
            "/users/{userId}": item_ops("userId", record("id", "name")),
            "/users/{userId}/orders": {
                "parameters": [
                    {"name": "userId", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "get": {"responses": ok({"type": "array", "items": order})},
                "post": {
                    "requestBody": {"content": {"application/json": {"schema": order}}},
                    "responses": ok(order),
                },
            },
            "/users/{userId}/orders/{orderId}": {
                "parameters": [
                    {
                        "name": "userId",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "orderId",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                ],
                "get": {"responses": ok(order)},
            },
        },
    )
    orders = next(r for r in found.resources if r.name == "orders")
    assert (orders.collection, orders.id_property) == ("orders", "id")
    assert [(p.property, p.param, p.collection) for p in orders.scope] == [
        ("user_id", "userId", "users")
    ]


def test_why_an_operation_is_not_a_resource_is_said(tmp_path: Path) -> None:
    found = inferred(
        tmp_path,
        {
            "/health": {"get": {"operationId": "health", "responses": ok(record("status"))}},
            "/pets/{petId}": item_ops("petId", record("id")),
            "/pets/{petId}/adopt": {
                "parameters": [
                    {"name": "petId", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "post": {"operationId": "adopt", "responses": ok(record("id"))},
            },
            "/pets/{petId}/photo": {
                "parameters": [
                    {"name": "petId", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "get": {
                    "operationId": "photo",
                    "responses": {"200": {"description": "png", "content": {"image/png": {}}}},
                },
            },
        },
    )
    reasons = {u.operation_id: u.reason for u in found.unmapped}
    assert "no JSON record with an id property" in reasons["health"]
    assert reasons["adopt"] == "a create with no item path and no list: an action, not a collection"
    assert "no JSON record" in reasons["photo"]


# --- mockyard.yaml ----------------------------------------------------------------------------


PETS = {
    "/pets": {
        "get": {
            "operationId": "list-pets",
            "responses": ok({"type": "array", "items": record("id", "name")}),
        },
        "post": {
            "operationId": "create-pet",
            "requestBody": {"content": {"application/json": {"schema": record("name")}}},
            "responses": {
                "201": {
                    "description": "made",
                    "content": {"application/json": {"schema": record("id", "name")}},
                }
            },
        },
    },
    "/pets/{petId}": {
        **item_ops("petId", record("id", "name")),
        "delete": {"operationId": "delete-pet", "responses": {"204": {"description": "gone"}}},
    },
}


def test_resources_off_leaves_every_operation_to_the_generator(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path / "ws", {"pets.yaml": spec(PETS)}, config={"resources": "off"})
    found = load(ws).inference
    assert found.resources == [] and found.mapped == {}
    assert {u.reason for u in found.unmapped} == {"resources: off in mockyard.yaml"}
    with served(tmp_path, ws) as client:
        created = client.post("/pets", json={"name": "Rex"}).json()
        assert (
            client.get("/pets").json() != [created]
            and client.get(f"/pets/{created['id']}").status_code == 200
        )


def test_an_operation_switched_off_is_answered_from_the_spec(tmp_path: Path) -> None:
    config = {"apis": {"pets": {"resources": {"operations": {"delete-pet": "off"}}}}}
    ws = write_workspace(tmp_path / "ws", {"pets.yaml": spec(PETS)}, config=config)
    with served(tmp_path, ws) as client:
        assert client.delete("/pets/1").status_code == 204
        assert client.get("/pets/1").status_code == 200  # the mock deleted nothing
    answered = {op.operation_id: op.answered_by for op in load(ws).index}
    assert (answered["delete-pet"], answered["list-pets"]) == ("generator", "resource")


def test_collection_id_envelope_and_records_can_be_overridden(tmp_path: Path) -> None:
    wrapped = {
        "type": "object",
        "properties": {"wrapper": {"type": "array", "items": record("id", "name")}},
    }
    paths = {
        **PETS,
        "/pets": {**PETS["/pets"], "get": {"operationId": "list-pets", "responses": ok(wrapped)}},
    }
    config = {
        "resources": {
            "records": 2,
            "collections": {"pets": {"collection": "animals", "id": "name", "records": 3}},
            "operations": {"list-pets": {"envelope": "wrapper[]"}},
        }
    }
    ws = write_workspace(tmp_path / "ws", {"pets.yaml": spec(paths)}, config=config)
    pets = only(load(ws).inference)
    assert (pets.collection, pets.id_property, pets.records) == ("animals", "name", 3)
    with served(tmp_path, ws) as client:
        listed = client.get("/pets").json()["wrapper"]
        assert len(listed) == 3
        created = client.post("/pets", json={"name": "Rex"})
        assert client.get("/pets/Rex").json() == created.json()
        assert client.get("/__mockyard/state/pets/animals/Rex").status_code == 200


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"resources": "maybe"}, "resources must be off, or a mapping"),
        ({"resources": {"count": 3}}, "unknown key(s) count"),
        ({"resources": {"records": -1}}, "resources.records must be a whole number"),
        ({"resources": {"collections": {"pets": {"id": 5}}}}, "resources.collections.pets.id"),
        ({"resources": {"operations": {"list-pets": {"envelope": "a[]b[]"}}}}, "not a path"),
        ({"resources": {"operations": {"list-pets": {"records": 3}}}}, "unknown key(s) records"),
        ({"resources": {"collections": {"pets": {"view": "show"}}}}, "view 'show'"),
    ],
)
def test_invalid_resource_settings_stop_the_start_naming_mockyard_yaml(
    tmp_path: Path, config: Any, message: str
) -> None:
    ws = write_workspace(tmp_path / "ws", {"pets.yaml": spec(PETS)}, config=config)
    with pytest.raises(WorkspaceError) as caught:
        assert load(ws).index is not None
    assert "mockyard.yaml" in str(caught.value) and message in str(caught.value)
    result = CliRunner().invoke(main, ["specs", "--workspace", str(ws)])
    if "view" not in message:  # a view is looked up when the handlers are, at serve time
        assert result.exit_code == 2 and result.output.count("\n") == 1
        assert result.output.startswith("error: ")


def test_an_envelope_that_does_not_fit_is_said_not_guessed(tmp_path: Path) -> None:
    found = inferred(tmp_path, PETS, {"operations": {"list-pets": {"envelope": "data"}}})
    reason = next(u.reason for u in found.unmapped if u.operation_id == "list-pets")
    assert reason == "envelope: a list's has [] (data[]), an item's has not (data)"


# --- mockyard specs -----------------------------------------------------------------------------


def test_specs_lists_each_resource_and_why_operations_are_not_mapped(tmp_path: Path) -> None:
    paths = {
        **PETS,
        "/health": {"get": {"operationId": "health", "responses": ok(record("status"))}},
    }
    ws = write_workspace(tmp_path, {"pets.yaml": spec(paths)})
    result = CliRunner().invoke(main, ["specs", "--workspace", str(ws)])
    assert result.exit_code == 0, result.output
    assert "  pets  pets  (/pets, /pets/{petId})  collection pets, id id" in result.output
    lines = [line.split() for line in result.output.splitlines()]
    assert ["pets", "GET", "/pets", "list-pets", "resource"] in lines
    assert ["GET", "/pets", "list", "list-pets", "envelope", "[]"] in lines
    assert ["pets", "GET", "/health", "health", "generator"] in lines
    assert any(line[:4] == ["pets", "GET", "/health", "health:"] for line in lines)
    report = json.loads(
        CliRunner().invoke(main, ["specs", "--workspace", str(ws), "--json"]).output
    )
    (pets,) = report["resources"]
    assert (pets["collection"], pets["id_property"], pets["item_path"]) == (
        "pets",
        "id",
        "/pets/{petId}",
    )
    assert {op["action"] for op in pets["operations"]} == {"list", "create", "read", "delete"}
    assert report["not_mapped"][0]["operation_id"] == "health"
