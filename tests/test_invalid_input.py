"""A refused parameter is named as the request names it, with a few words on what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from jsonschema import Draft4Validator
from workspaces import served, spec, write_workspace

from mockyard.forms import bracketed
from mockyard.validation import dotted, invalid_input


def _refusal(schema: dict, value: object, name=dotted) -> tuple[str, str]:
    error = next(iter(Draft4Validator(schema).iter_errors(value)))
    refused = invalid_input(error, name)
    return refused.param, refused.detail


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        ({"type": "string", "maxLength": 3}, "abcd", "cannot be longer than 3 characters"),
        ({"type": "string", "minLength": 1}, "", "cannot be blank"),
        ({"type": "integer", "minimum": 0}, -1, "cannot be less than 0"),
        ({"type": "integer", "maximum": 9}, 10, "cannot be more than 9"),
        ({"type": "integer"}, "x", "must be an integer"),
        ({"enum": ["TB", "MB"]}, "CI", "must be one of TB, MB"),
        ({"type": "string", "pattern": "^[0-9]+$"}, "x", "is not in the expected format"),
        ({"type": "array", "maxItems": 1}, [1, 2], "cannot have more than 1 values"),
    ],
)
def test_each_kind_of_refusal_reads_plainly(schema: dict, value: object, expected: str) -> None:
    wrapped = {
        "type": "object",
        "properties": {"a": {"type": "object", "properties": {"b": schema}}},
    }
    assert _refusal(wrapped, {"a": {"b": value}}) == ("a.b", expected)
    assert _refusal(wrapped, {"a": {"b": value}}, bracketed) == ("a[b]", expected)


def test_a_missing_field_and_an_unknown_one_are_named_themselves() -> None:
    schema = {
        "type": "object",
        "required": ["amount"],
        "properties": {"amount": {"type": "number"}},
        "additionalProperties": False,
    }
    assert _refusal(schema, {}) == ("amount", "cannot be blank")
    assert _refusal(schema, {"amount": 1, "colour": "red"}) == (
        "colour",
        "is not a parameter of this operation",
    )


HOOK = """\
from mockyard import ApiError


def render_failure(failure):
    return ApiError(failure.status, {"param": failure.param, "reason": failure.detail})
"""


def test_query_and_json_body_refusals_reach_the_apis_hook_named(tmp_path: Path) -> None:
    body = {
        "type": "object",
        "required": ["order"],
        "properties": {
            "order": {
                "type": "object",
                "properties": {"items": {"type": "array", "items": {"type": "integer"}}},
            }
        },
    }
    ok = {"200": {"description": "ok", "content": {"application/json": {"schema": {}}}}}
    document = spec(
        {
            "/orders": {
                "post": {
                    "operationId": "create-order",
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "maximum": 5},
                        }
                    ],
                    "requestBody": {"content": {"application/json": {"schema": body}}},
                    "responses": ok,
                }
            }
        }
    )
    root = write_workspace(tmp_path, {"shop.yaml": document}, handlers={"shop.py": HOOK})
    with served(tmp_path, root) as client:
        query = client.post("/orders?limit=9", json={"order": {}})
        nested = client.post("/orders", json={"order": {"items": [1, "two"]}})
        missing = client.post("/orders", json={})
    assert (query.status_code, query.json()) == (
        400,
        {"param": "limit", "reason": "cannot be more than 5"},
    )
    assert nested.json() == {"param": "order.items.1", "reason": "must be an integer"}
    assert missing.json() == {"param": "order", "reason": "cannot be blank"}
