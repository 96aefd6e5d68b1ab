"""Any OpenAPI document dropped into specs/ (or given with --spec) is served before any handler."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from workspaces import UPSTREAM, ok, served, spec, write_workspace

from mockyard.errors import SpecError

PET = {
    "type": "object",
    "required": ["id", "name", "kind"],
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "name": {"type": "string"},
        "kind": {"const": "dog"},
        "ownerEmail": {"type": ["string", "null"], "format": "email"},
        "born": {"type": "string", "format": "date"},
    },
}
PETS_31: dict[str, Any] = spec(
    {
        "/pets": {
            "get": {
                "operationId": "list-pets",
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": ["integer", "null"], "exclusiveMinimum": 0},
                    }
                ],
                "responses": ok(
                    {"type": "array", "items": {"$ref": "#/components/schemas/Pet > Dog"}}
                ),
            },
            "post": {
                "operationId": "create-pet",
                "requestBody": {
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Pet > Dog"}}
                    }
                },
                "responses": {
                    "201": {
                        "description": "created",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Pet%20%3E%20Dog"},
                                "examples": {
                                    "rex": {"value": {"id": 1, "name": "Rex", "kind": "dog"}}
                                },
                            }
                        },
                    }
                },
            },
        }
    },
    version="3.1.0",
    components={"schemas": {"Pet > Dog": PET}},
)


@pytest.fixture
def pets(tmp_path: Path) -> Path:
    return write_workspace(tmp_path, {"pets.json": PETS_31})


def test_a_31_json_spec_is_served_with_generated_and_documented_answers(tmp_path: Path) -> None:
    pets = write_workspace(tmp_path, {"pets.json": PETS_31}, config={"resources": "off"})
    with served(
        pets, pets, strict=True
    ) as client:  # strict: every answer is checked against the spec
        listed = client.get("/pets")
        assert listed.status_code == 200
        assert listed.headers["content-type"] == "application/json"
        assert all(p["kind"] == "dog" and p["id"] >= 1 for p in listed.json())
        assert client.get("/pets").json() == listed.json()  # same seed, same request, same answer
        created = client.post("/pets", json={"id": 5, "name": "Bo", "kind": "dog"})
        assert (created.status_code, created.json()) == (
            201,
            {"id": 1, "name": "Rex", "kind": "dog"},
        )


def test_31_meaning_is_kept_when_validating_requests(pets: Path) -> None:
    with served(pets, pets) as client:
        assert client.get("/pets", params={"limit": 5}).status_code == 200
        assert client.get("/pets", params={"limit": 0}).status_code == 400  # exclusiveMinimum: 0
        assert client.post("/pets", json={"id": 5, "name": "Bo", "kind": "cat"}).status_code == 400
        assert (
            client.post(
                "/pets", json={"id": 99, "name": "Bo", "kind": "dog", "ownerEmail": None}
            ).status_code
            == 201
        )


def test_the_same_seed_gives_the_same_answers_across_restarts(tmp_path: Path, pets: Path) -> None:
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
    with served(tmp_path / "a", pets) as one, served(tmp_path / "b", pets) as two:
        assert one.get("/pets?limit=3").json() == two.get("/pets?limit=3").json()
    with served(tmp_path / "c", pets, seed=99) as other, served(tmp_path / "b", pets) as two:
        assert other.get("/pets?limit=3").json() != two.get("/pets?limit=3").json()


def test_several_specs_are_merged_and_a_prefix_mounts_one(tmp_path: Path) -> None:
    ws = write_workspace(
        tmp_path,
        {
            "a.yaml": spec(
                {"/things": {"get": {"operationId": "a-get", "responses": ok({"enum": ["a"]})}}}
            ),
            "b.yaml": spec(
                {"/things": {"post": {"operationId": "b-post", "responses": ok({"enum": ["b"]})}}}
            ),
            "c.yaml": spec(
                {"/things": {"get": {"operationId": "c-get", "responses": ok({"enum": ["c"]})}}}
            ),
        },
        config={"apis": {"a": {}, "b": {}, "c": {"prefix": "/v2"}}},
    )
    with served(tmp_path, ws) as client:
        assert client.get("/things").json() == "a"
        assert client.post("/things").json() == "b"
        assert client.get("/v2/things").json() == "c"
        document = client.get("/openapi.json").json()
        assert set(document["paths"]) == {"/things", "/v2/things"}
        assert document["paths"]["/things"]["post"]["x-mockyard-api"] == "b"


def test_a_collision_stops_startup_naming_both_files(tmp_path: Path) -> None:
    ws = write_workspace(
        tmp_path,
        {
            "a.yaml": spec({"/things": {"get": {"operationId": "a", "responses": ok({})}}}),
            "b.yaml": spec({"/things": {"get": {"operationId": "b", "responses": ok({})}}}),
        },
    )
    with pytest.raises(SpecError) as info, served(tmp_path, ws):
        pass
    message = str(info.value)
    assert "GET /things" in message and "a.yaml" in message and "b.yaml" in message


def test_openapi_json_and_swagger_ui_cover_recursive_schemas(tmp_path: Path) -> None:
    node = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string"},
            "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
        },
    }
    ws = write_workspace(
        tmp_path,
        {
            "tree.yaml": spec(
                {"/tree": {"get": {"responses": ok({"$ref": "#/components/schemas/Node"})}}},
                components={"schemas": {"Node": node}},
            )
        },
    )
    with served(tmp_path, ws, strict=True) as client:
        tree = client.get("/tree")
        assert tree.status_code == 200 and "name" in tree.json()
        document = client.get("/openapi.json")
        assert document.status_code == 200
        assert document.json()["components"]["schemas"]["Node"] == node
        ui = client.get("/ui/")
        assert ui.status_code == 200 and "SwaggerUIBundle" in ui.text and "/openapi.json" in ui.text
        assert client.get("/ui/swagger-ui-bundle.js").status_code == 200
        assert client.get("/ui", follow_redirects=False).headers["location"] == "/ui/"


def test_upstream_vendor_blocks_are_served_as_they_are(tmp_path: Path) -> None:
    with served(tmp_path, specs=(str(UPSTREAM),), strict=True) as client:
        document = client.get("/openapi.json").json()
        assert len(document["paths"]) == 3
        answer = client.post(
            "/api/v1/billing/invoice/part-process", json={"invoice": 1, "currency": "NGN"}
        )
        assert answer.status_code == 200
        assert set(answer.json()) == {"key_0", "key_1", "key_2", "key_3", "key_4"}
        validated = client.get("/api/v1/billing/invoice/validate")
        assert validated.status_code == 200 and set(validated.json()) == {
            f"key_{i}" for i in range(5)
        }
        missing = client.post("/api/v1/billing/invoice/pay", json={"invoice": 1, "currency": "NGN"})
        assert missing.status_code == 400  # the vendor block requires cloneId and the part-payment
        assert set(missing.json()) == {"message"}  # no hook: the 400 shape the block documents


def test_security_schemes_of_a_spec_without_handlers_are_enforced(tmp_path: Path) -> None:
    document = spec(
        {
            "/me": {
                "get": {
                    "responses": ok({"type": "object", "properties": {"email": {"type": "string"}}})
                }
            }
        },
        security=[{"oauth": ["read"]}],
        components={
            "securitySchemes": {
                "oauth": {
                    "type": "oauth2",
                    "flows": {"clientCredentials": {"tokenUrl": "/t", "scopes": {"read": "r"}}},
                }
            }
        },
    )
    ws = write_workspace(tmp_path, {"me.yaml": document})
    with served(tmp_path, ws) as client:
        assert client.get("/me").status_code == 401
        me = client.get("/me", headers={"Authorization": "Bearer anything"})
        assert me.status_code == 200 and "@" in me.json().get("email", "@")


def test_yaml_and_json_specs_both_load(tmp_path: Path) -> None:
    ws = write_workspace(
        tmp_path,
        {
            "one.yml": spec(
                {
                    "/one": {
                        "get": {"responses": ok({"type": "integer", "minimum": 7, "maximum": 7})}
                    }
                }
            ),
            "two.json": json.dumps(
                spec({"/two": {"get": {"responses": ok({"type": "boolean"})}}}, version="3.1.0")
            ),
        },
    )
    with served(tmp_path, ws) as client:
        assert client.get("/one").json() == 7
        assert isinstance(client.get("/two").json(), bool)
