"""The record checker's fast validator (jsonschema-rs) never says yes where OpenAPI 3.0's
validator says no: formats are dropped, bounded or left to OpenAPI's validator as it checks them."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker

from mockyard import fakedata, resource_handlers
from mockyard.resource_handlers import Checker


def test_every_format_openapi_checks_has_a_rule() -> None:
    rules = (
        resource_handlers._CHECKED_FORMATS
        | resource_handlers._PASSING_FORMATS
        | set(fakedata.INTEGER_FORMATS)
        | resource_handlers._UNCHECKED_FORMATS
    )
    assert set(oas30_format_checker.checkers) <= rules


CASES: list[tuple[dict[str, Any], Any]] = [
    ({"type": "integer", "format": "int32"}, 2**31),
    ({"type": "integer", "format": "int32"}, -(2**31)),
    ({"type": "integer", "format": "int32", "maximum": 2**40}, 2**35),
    ({"type": "integer", "format": "int32", "minimum": 5}, 4),
    ({"type": "integer", "format": "int64"}, 2**63),
    ({"type": "integer", "format": "int64"}, 12),
    ({"type": "number", "format": "double"}, 1.5),
    ({"type": "string", "format": "password"}, "secret"),
    ({"type": "string", "format": "uuid"}, "not-a-uuid"),
    ({"type": "string", "format": "byte"}, "%%%"),
    ({"type": "string", "format": "date"}, "2024-13-40"),
    ({"type": "string", "format": "unix-time"}, "whenever"),
    (
        {"type": "object", "properties": {"default": {"type": "string", "format": "uuid"}}},
        {"default": "nope"},
    ),
    ({"type": "object", "properties": {"n": {"type": "integer", "format": "int32"}}}, {"n": 2**33}),
    ({"type": "array", "items": {"type": "integer", "format": "int32"}}, [1, 2**31]),
    ({"type": "string", "format": "int32", "example": {"format": "uuid"}}, "x"),
]


@pytest.mark.parametrize(("schema", "value"), CASES)
def test_the_checker_agrees_with_openapis_validator(schema: dict[str, Any], value: Any) -> None:
    document = {"components": {"schemas": {"S": schema}}}
    wanted = list(
        OAS30ReadValidator(schema, format_checker=oas30_format_checker).iter_errors(value)
    )
    checker = Checker(document)
    assert bool(checker.errors(value, {"$ref": "#/components/schemas/S"})) == bool(wanted)


def test_a_record_with_an_unchecked_format_is_still_judged_fast() -> None:
    """A format neither validator knows (Stripe's `unix-time`) keeps the compiled validator."""
    checker = Checker({})
    schema = {"type": "object", "properties": {"t": {"type": "integer", "format": "unix-time"}}}
    assert checker._compiled(schema) is not None
    schema = {"type": "object", "properties": {"n": {"type": "integer", "format": "int64"}}}
    assert checker._compiled(schema) is not None
    assert checker._compiled({"type": "string", "format": "uuid"}) is None


NULLABLE_AND_WRITE_ONLY: list[tuple[dict[str, Any], Any]] = [
    ({"type": "string", "nullable": True}, None),
    ({"type": "string"}, None),
    ({"type": "string", "nullable": True, "enum": ["a"]}, None),
    ({"nullable": True}, None),
    ({"type": "object", "properties": {"p": {"type": "string", "writeOnly": True}}}, {"p": "x"}),
    ({"type": "object", "properties": {"p": {"type": "string", "writeOnly": True}}}, {}),
]


@pytest.mark.parametrize(("schema", "value"), NULLABLE_AND_WRITE_ONLY)
def test_nullable_and_write_only_read_as_openapi_30_reads_them(
    schema: dict[str, Any], value: Any
) -> None:
    test_the_checker_agrees_with_openapis_validator(schema, value)


NODE = {  # a tree: every node refers to its own schema
    "type": "object",
    "required": ["n"],
    "properties": {
        "n": {"$ref": "#/components/schemas/Small"},
        "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
        "label": {"type": "string", "nullable": True},
    },
}
RECURSIVE = {"schemas": {"Node": NODE, "Small": {"type": "integer", "format": "int32"}}}
TREES: list[Any] = [
    {"n": 1, "children": [{"n": 2, "label": None}]},
    {"n": 1, "children": [{"n": 2**31}]},  # too big for int32, two `$ref`s down
    {"n": 1, "children": [{"label": "no n"}]},
    {"n": 1, "label": 5},
]


@pytest.mark.parametrize("value", TREES)
def test_a_recursive_schema_is_judged_fast_and_as_openapi_judges_it(value: Any) -> None:
    document = {"components": RECURSIVE}
    wanted = list(
        OAS30ReadValidator(
            {"$ref": "#/components/schemas/Node", "components": RECURSIVE},
            format_checker=oas30_format_checker,
        ).iter_errors(value)
    )
    checker = Checker(document)
    schema = {"$ref": "#/components/schemas/Node"}
    assert checker._compiled(schema) is not None  # a cycle no longer sends it to the slow one
    assert bool(checker._compiled(schema).is_valid(value)) == (not wanted)
    assert bool(checker.errors(value, schema)) == bool(wanted)


def test_a_schema_referring_to_a_format_jsonschema_rs_does_not_check_is_left_to_openapi() -> None:
    """A `uuid` two `$ref`s away (through a cycle) is as unchecked as one written inline."""
    schemas = {
        "Node": {
            "type": "object",
            "properties": {
                "next": {"$ref": "#/components/schemas/Node"},
                "id": {"$ref": "#/components/schemas/Id%20Type"},
            },
        },
        "Id Type": {"type": "string", "format": "uuid"},
    }
    checker = Checker({"components": {"schemas": schemas}})
    assert checker._compiled({"$ref": "#/components/schemas/Node"}) is None
    assert checker.errors({"next": {"id": "not-a-uuid"}}, {"$ref": "#/components/schemas/Node"})
    assert checker._compiled({"$ref": "#/paths/~1x"}) is None  # outside the components


def test_what_no_validator_reads_is_left_out_of_the_copy_but_properties_so_named_are_not() -> None:
    schemas = {
        "Note": {
            "type": "object",
            "description": "a note",
            "required": ["description", "title"],
            "properties": {
                "description": {"type": "integer", "description": "its number"},
                "title": {"$ref": "#/components/schemas/Title"},
            },
            "example": {"description": "not an integer"},
        },
        "Title": {"type": "string", "maxLength": 3, "title": "a short title"},
    }
    checker = Checker({"components": {"schemas": schemas}})
    fast = checker._compiled({"$ref": "#/components/schemas/Note"})
    assert fast.is_valid({"description": 1, "title": "abc"})
    assert not fast.is_valid({"description": "one", "title": "abc"})
    assert not fast.is_valid({"description": 1, "title": "abcd"})
    assert not fast.is_valid({"description": 1})


def test_a_checker_that_remembers_one_validator_keeps_one_and_still_judges() -> None:
    """Seeding checks one schema's records, then the next: it keeps one validator at a time."""
    schemas = {"A": {"type": "integer"}, "B": {"type": "string"}}
    checker = Checker({"components": {"schemas": schemas}}, remembers=1)
    a, b = {"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/B"}
    assert checker.errors(1, a) == [] and checker.errors("x", b) == []
    assert len(checker._fast) == 1
    assert checker.errors("x", a) and checker.errors(1, b)
