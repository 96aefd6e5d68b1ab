"""OpenAPI 3.1 -> 3.0.3: the converted document means what the original did."""

from __future__ import annotations

from pathlib import Path

import pytest
from workspaces import UPSTREAM, ok, spec

from mockyard.convert import safe_component_names, to_openapi30
from mockyard.errors import SpecError
from mockyard.specs import load_spec


def schema_of(doc: dict) -> dict:
    converted = to_openapi30(spec({}, version="3.1.0", components={"schemas": {"S": doc}}))
    return converted.document["components"]["schemas"]["S"]


def test_version_becomes_303_and_a_30_document_is_left_alone() -> None:
    doc = spec({"/x": {"get": {"responses": ok({"type": "string"})}}})
    assert to_openapi30(doc).document == doc
    assert to_openapi30({**doc, "openapi": "3.1.0"}).document["openapi"] == "3.0.3"


@pytest.mark.parametrize(
    ("original", "converted"),
    [
        ({"type": ["string", "null"]}, {"type": "string", "nullable": True}),
        ({"type": "null"}, {"nullable": True, "enum": [None]}),
        (
            {"type": ["string", "integer"]},
            {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        ),
        (
            {"type": ["string", "integer", "null"]},
            {
                "anyOf": [
                    {"type": "string", "nullable": True},
                    {"type": "integer", "nullable": True},
                ]
            },
        ),
        ({"const": "dog"}, {"enum": ["dog"]}),
        (
            {"type": "integer", "exclusiveMinimum": 0},
            {"type": "integer", "minimum": 0, "exclusiveMinimum": True},
        ),
        (
            {"type": "number", "exclusiveMaximum": 10},
            {"type": "number", "maximum": 10, "exclusiveMaximum": True},
        ),
        ({"type": "number", "minimum": 5, "exclusiveMinimum": 0}, {"type": "number", "minimum": 5}),
        ({"type": "string", "examples": ["a", "b"]}, {"type": "string", "example": "a"}),
        ({"type": "string", "contentEncoding": "base64"}, {"type": "string", "format": "byte"}),
        ({"type": "array"}, {"type": "array", "items": {}}),
        ({"type": "object", "required": []}, {"type": "object"}),
    ],
)
def test_schema_keywords_are_rewritten(original: dict, converted: dict) -> None:
    assert schema_of(original) == converted


def test_nested_schemas_are_converted() -> None:
    out = schema_of(
        {
            "type": "object",
            "properties": {"a": {"type": ["integer", "null"]}, "b": {"items": {"const": 1}}},
            "additionalProperties": {"type": ["boolean", "null"]},
            "allOf": [{"properties": {"c": {"examples": [3]}}}],
        }
    )
    assert out["properties"]["a"] == {"type": "integer", "nullable": True}
    assert out["properties"]["b"]["items"] == {"enum": [1]}
    assert out["additionalProperties"] == {"type": "boolean", "nullable": True}
    assert out["allOf"][0]["properties"]["c"] == {"example": 3}


def test_ref_with_constraints_becomes_allof_and_booleans_become_schemas() -> None:
    out = schema_of(
        {
            "properties": {
                "a": {"$ref": "#/components/schemas/T", "maxLength": 3},
                "b": True,
                "c": False,
            }
        }
    )
    assert out["properties"]["a"] == {"allOf": [{"$ref": "#/components/schemas/T"}], "maxLength": 3}
    assert out["properties"]["b"] == {}
    assert out["properties"]["c"] == {"not": {}}


def test_keywords_without_a_30_equivalent_are_dropped_and_reported() -> None:
    doc = spec({}, version="3.1.0", components={"schemas": {"S": {"if": {}, "then": {}}}})
    conversion = to_openapi30(doc)
    assert conversion.document["components"]["schemas"]["S"] == {}
    assert any("'if'" in note for note in conversion.notes)


def test_parameters_media_and_headers_are_converted_but_named_examples_kept() -> None:
    doc = spec(
        {
            "/x": {
                "get": {
                    "parameters": [
                        {"name": "q", "in": "query", "schema": {"type": ["integer", "null"]}}
                    ],
                    "responses": {
                        "200": {
                            "description": "ok",
                            "headers": {"X-N": {"schema": {"const": 1}}},
                            "content": {
                                "application/json": {
                                    "schema": {"const": 2},
                                    "examples": {"two": {"value": 2}},
                                }
                            },
                        }
                    },
                }
            }
        },
        version="3.1.0",
    )
    op = to_openapi30(doc).document["paths"]["/x"]["get"]
    assert op["parameters"][0]["schema"] == {"type": "integer", "nullable": True}
    response = op["responses"]["200"]
    assert response["headers"]["X-N"]["schema"] == {"enum": [1]}
    assert response["content"]["application/json"] == {
        "schema": {"enum": [2]},
        "examples": {"two": {"value": 2}},
    }


def test_31_only_document_parts_are_moved_out_of_the_way() -> None:
    doc = {
        "openapi": "3.1.0",
        "info": {
            "title": "t",
            "version": "1",
            "summary": "s",
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "webhooks": {"ping": {}},
    }
    out = to_openapi30(doc).document
    assert out["paths"] == {}
    assert out["info"] == {
        "title": "t",
        "version": "1",
        "x-summary": "s",
        "license": {"name": "MIT"},
    }
    assert "jsonSchemaDialect" not in out
    assert out["x-webhooks"] == {"ping": {}}


def test_component_names_with_spaces_and_arrows_are_renamed_with_their_refs() -> None:
    doc = spec(
        {"/x": {"get": {"responses": ok({"$ref": "#/components/schemas/a > b%20c"})}}},
        components={
            "schemas": {
                "a > b c": {"type": "object"},
                "ok": {"$ref": "#/components/schemas/a > b c"},
            }
        },
    )
    renamed = safe_component_names(doc)
    assert renamed == {"#/components/schemas/a > b c": "#/components/schemas/a_b_c"}
    assert list(doc["components"]["schemas"]) == ["a_b_c", "ok"]
    media = doc["paths"]["/x"]["get"]["responses"]["200"]["content"]["application/json"]
    assert media["schema"] == {"$ref": "#/components/schemas/a_b_c"}
    assert doc["components"]["schemas"]["ok"] == {"$ref": "#/components/schemas/a_b_c"}


@pytest.mark.parametrize("block", sorted(UPSTREAM.glob("*.yaml")), ids=lambda p: p.name)
def test_upstream_vendor_blocks_load_as_valid_30(block: Path) -> None:
    doc = load_spec(block)
    assert doc["openapi"] == "3.0.3"
    assert all(" " not in name and ">" not in name for name in doc["components"]["schemas"])


def test_operations_without_an_operation_id_get_one(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(
        '{"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": '
        '{"/users/{id}": {"get": {"parameters": [{"name": "id", "in": "path", "required": true, '
        '"schema": {"type": "string"}}], "responses": {"200": {"description": "ok"}}}}}}'
    )
    assert load_spec(path)["paths"]["/users/{id}"]["get"]["operationId"] == "get_users_id"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("openapi: 2.0\ninfo: {title: t, version: '1'}\npaths: {}\n", "not supported"),
        ("swagger: '2.0'\n", '/: "paths" is a required property'),
        ("title: notes\n", "not an OpenAPI document"),
        (
            "openapi: 3.0.3\npaths: {/x: {get: {responses: {200: {description: 5}}}}}\n",
            "/paths/~1x/get/responses/200/description: 5 is not of type",
        ),
        (
            "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {/x: {get: {responses: {'200': "
            "{description: ok, content: {application/json: "
            "{schema: {$ref: '#/components/schemas/Nope'}}}}}}}}\n",
            "Nope",
        ),
    ],
)
def test_invalid_documents_are_refused_naming_the_file(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert "bad.yaml" in str(info.value)
    assert problem in str(info.value)
