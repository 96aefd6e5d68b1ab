"""Generated data: valid against its schema (property-based), realistic, the same for a seed."""

from __future__ import annotations

import json
import random
import re
import warnings
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator
from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker

from mockyard import regexgen
from mockyard.fakedata import Generator
from mockyard.fixtures import seeded_faker

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from connexion.json_schema import Draft4ResponseValidator

NAMES = [
    "id", "name", "email", "phone", "city", "country", "currency", "amount", "iban", "company",
    "description", "createdAt", "dueDate", "website", "status", "quantity", "customerName",
    "billing_address", "ownerEmail", "tags", "x",
]  # fmt: skip
PATTERNS = [
    r"^[A-Z]{3}$", r"^INV-\d{4,6}$", r"^[0-9a-fA-F]{24}$", r"^(cus|sub)_[a-z0-9]{8}$",
    r"^\+?[1-9]\d{6,14}$", r"[a-z]+", r"^\S+@\S+\.\w{2,}$", r"^(?:\d{3}-){2}\d{4}$",
]  # fmt: skip
FORMATS = ["email", "date", "date-time", "uuid", "uri", "ipv4", "ipv6", "hostname", "byte"]


def nullable(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.sampled_from([schema, {**schema, "nullable": True}])


@st.composite
def strings(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["plain", "format", "pattern", "enum"]))
    if kind == "format":
        return {"type": "string", "format": draw(st.sampled_from(FORMATS))}
    if kind == "pattern":
        return {"type": "string", "pattern": draw(st.sampled_from(PATTERNS))}
    if kind == "enum":
        return {
            "type": "string",
            "enum": draw(st.lists(st.text(max_size=5), min_size=1, max_size=4)),
        }
    schema: dict[str, Any] = {"type": "string"}
    low = draw(st.none() | st.integers(0, 12))
    high = draw(st.none() | st.integers(max(low or 0, 1), 40))
    if low is not None:
        schema["minLength"] = low
    if high is not None:
        schema["maxLength"] = high
    return schema


@st.composite
def numbers(draw: st.DrawFn) -> dict[str, Any]:
    integer = draw(st.booleans())
    schema: dict[str, Any] = {"type": "integer" if integer else "number"}
    low = draw(st.none() | st.integers(-1000, 10**6))
    if low is not None:
        schema["minimum"] = low
        schema["exclusiveMinimum"] = draw(st.booleans())
    if draw(st.booleans()):
        base = low if low is not None else 0
        schema["maximum"] = base + draw(st.integers(25, 10**5))
        schema["exclusiveMaximum"] = draw(st.booleans())
    if draw(st.booleans()):
        steps = [2, 5, 10] if integer else [0.5, 0.25, 0.01, 0.1, 3]
        schema["multipleOf"] = draw(st.sampled_from(steps))
    if integer and draw(st.booleans()):
        schema["format"] = draw(st.sampled_from(["int32", "int64"]))
    return schema


leaves = st.one_of(
    strings().flatmap(nullable),
    numbers().flatmap(nullable),
    st.just({"type": "boolean"}).flatmap(nullable),
    st.just({"enum": [1, "two", None], "nullable": True}),
)


def composites(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    @st.composite
    def objects(draw: st.DrawFn) -> dict[str, Any]:
        props = draw(st.dictionaries(st.sampled_from(NAMES), children, max_size=5))
        schema: dict[str, Any] = {"type": "object", "properties": props}
        if props:
            schema["required"] = draw(st.lists(st.sampled_from(sorted(props)), unique=True))
        extra = draw(st.sampled_from(["absent", "false", "schema"]))
        if extra == "false":
            schema["additionalProperties"] = False
        elif extra == "schema":
            schema["additionalProperties"] = draw(children)
        if props and draw(st.booleans()):
            name = draw(st.sampled_from(sorted(props)))
            flag = draw(st.sampled_from(["readOnly", "writeOnly"]))
            schema["properties"][name] = {**props[name], flag: True}
            if flag == "writeOnly":  # OAS drops it from responses; Connexion would still want it
                schema["required"] = [r for r in schema["required"] if r != name]
        return schema

    @st.composite
    def arrays(draw: st.DrawFn) -> dict[str, Any]:
        low = draw(st.integers(0, 2))
        schema = {"type": "array", "items": draw(children), "minItems": low}
        if draw(st.booleans()):
            schema["maxItems"] = low + draw(st.integers(0, 4))
        if low <= 1 and draw(st.booleans()):
            schema["uniqueItems"] = True
        return schema

    @st.composite
    def combined(draw: st.DrawFn) -> dict[str, Any]:
        kind = draw(st.sampled_from(["allOf", "anyOf", "oneOf"]))
        if kind == "allOf":  # disjoint objects, as allOf is used in practice
            names = draw(st.lists(st.sampled_from(NAMES), min_size=2, max_size=4, unique=True))
            half = len(names) // 2
            parts = [
                {
                    "type": "object",
                    "properties": {n: draw(children) for n in names[:half]},
                    "required": names[:1],
                },
                {"type": "object", "properties": {n: draw(children) for n in names[half:]}},
            ]
            return {"allOf": parts}
        if kind == "oneOf":  # branches of different types, so exactly one matches
            pool = [strings(), numbers(), st.just({"type": "boolean"}), objects()]
            picked = draw(st.lists(st.integers(0, 3), min_size=2, max_size=3, unique=True))
            return {"oneOf": [draw(pool[i]) for i in picked]}
        return {"anyOf": draw(st.lists(children, min_size=2, max_size=3))}

    return st.one_of(objects(), arrays(), combined()).flatmap(
        lambda s: st.sampled_from([s, {**s, "nullable": True}]) if "type" in s else st.just(s)
    )


schemas = st.recursive(leaves, composites, max_leaves=12)


def generator(root: dict[str, Any], seed: int, *, examples: bool = True) -> Generator:
    return Generator(root, seeded_faker(seed, "t"), random.Random(seed), use_examples=examples)


def assert_valid(value: Any, schema: dict[str, Any], root: dict[str, Any] | None = None) -> None:
    root = root or {}
    oas = OAS30ReadValidator(root, format_checker=oas30_format_checker).evolve(schema=schema)
    errors = [e.message for e in oas.iter_errors(value)]
    assert not errors, (value, errors)
    draft4 = Draft4ResponseValidator(root, format_checker=Draft4Validator.FORMAT_CHECKER)
    errors = [e.message for e in draft4.evolve(schema=schema).iter_errors(value)]
    assert not errors, (value, errors)  # what Connexion checks in --strict mode


@settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(schema=schemas, seed=st.integers(0, 2**32))
def test_generated_values_validate_against_their_schema(schema: dict[str, Any], seed: int) -> None:
    value = generator({}, seed, examples=False).value(schema)
    assert_valid(value, schema)


RECURSIVE = {
    "components": {
        "schemas": {
            "Node": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "parent": {"allOf": [{"$ref": "#/components/schemas/Node"}], "nullable": True},
                    "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
                },
            }
        }
    }
}


@pytest.mark.parametrize("seed", range(20))
def test_recursive_schemas_end_and_validate(seed: int) -> None:
    schema = {"$ref": "#/components/schemas/Node"}
    value = generator(RECURSIVE, seed).value(schema)
    assert_valid(value, schema, RECURSIVE)


def test_same_seed_same_value_and_another_seed_another() -> None:
    schema = {"type": "object", "properties": {n: {"type": "string"} for n in NAMES}}
    first = generator({}, 7).value(schema)
    assert first == generator({}, 7).value(schema)
    assert first != generator({}, 8).value(schema)


@pytest.mark.parametrize(
    ("name", "schema", "looks_like"),
    [
        ("email", {"type": "string"}, r"^[^@\s]+@[^@\s]+\.\w+$"),
        ("customerEmail", {"type": "string"}, r"^[^@\s]+@[^@\s]+\.\w+$"),
        ("createdAt", {"type": "string"}, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"),
        ("dueDate", {"type": "string"}, r"^\d{4}-\d\d-\d\d$"),
        ("iban", {"type": "string"}, r"^[A-Z]{2}\d\d[A-Z0-9]+$"),
        ("currency", {"type": "string"}, r"^[A-Z]{3}$"),
        ("country", {"type": "string", "maxLength": 2}, r"^[A-Z]{2}$"),
        ("phone", {"type": "string"}, r"\d{3}"),
        ("id", {"type": "string"}, r"^[0-9a-f]{8}-[0-9a-f]{4}-"),
        ("amount", {"type": "number"}, r"^\d{1,5}(\.\d{1,2})?$"),
        ("x", {"type": "string", "format": "uuid"}, r"^[0-9a-f]{8}-[0-9a-f]{4}-"),
        ("x", {"type": "string", "format": "ipv4"}, r"^\d+\.\d+\.\d+\.\d+$"),
        ("x", {"type": "string", "format": "date-time"}, r"^\d{4}-\d\d-\d\dT"),
        ("x", {"type": "string", "pattern": r"^INV-\d{4}$"}, r"^INV-\d{4}$"),
    ],
)
def test_values_follow_format_then_property_name(name: str, schema: dict, looks_like: str) -> None:
    value = generator({}, 3).value(schema, name)
    assert re.search(looks_like, str(value)), value


def test_names_guide_realistic_words() -> None:
    gen = generator({}, 5)
    name = gen.value({"type": "string"}, "name")
    assert " " in name and name[0].isupper()
    assert gen.value({"type": "string"}, "description").endswith(".")


def test_documented_schema_examples_are_used_unless_dynamic() -> None:
    schema = {"type": "string", "example": "INV-0001"}
    assert generator({}, 1).value(schema) == "INV-0001"
    assert generator({}, 1, examples=False).value(schema) != "INV-0001"
    assert generator({}, 1).value({"type": "integer", "maximum": 5, "example": 9}) <= 5


@pytest.mark.parametrize("pattern", [*PATTERNS, r"^(ab|cd){2,3}(?P<x>z)(?P=x)$", r"[^0-9]{4}"])
def test_regex_strings_match(pattern: str) -> None:
    rng = random.Random(11)
    for _ in range(20):
        text = regexgen.matching(pattern, rng)
        assert text is not None and re.search(pattern, text)


def test_regex_honours_lengths_or_says_none() -> None:
    rng = random.Random(2)
    text = regexgen.matching(r"[a-z]+", rng, min_length=10, max_length=12)
    assert text is not None and 10 <= len(text) <= 12
    assert regexgen.matching(r"^[A-Z]{3}$", rng, min_length=5) is None


# --- data people believe (issue 16, point 4) ------------------------------------------------------

PRODUCT_WORDS = {
    "Lamp", "Backpack", "Mug", "Notebook", "Headphones", "Bottle", "Plan", "Subscription", "Card",
    "T-Shirt", "Sneakers", "Keyboard",
}  # fmt: skip
PETS_AND_PRODUCTS = {
    "components": {
        "schemas": {
            name: {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string", "maxLength": 5000}},
            }
            for name in ("Pet", "product", "Event", "Customer")
        }
    }
}


@pytest.mark.parametrize(
    ("name", "schema", "looks_like"),
    [
        ("country", {"type": "string", "maxLength": 5000}, r"^[A-Z]{2}$"),
        ("billing_country", {"type": "string"}, r"^[A-Z]{2}$"),
        ("country", {"type": "string", "minLength": 4}, r"^.{4,}$"),  # constraints first
        ("last4", {"type": "string", "maxLength": 5000}, r"^\d{4}$"),
        ("cvc", {"type": "string"}, r"^\d{3}$"),
        ("created", {"type": "integer"}, r"^1[67]\d{8}$"),
        ("canceled_at", {"type": "integer", "nullable": False}, r"^1[67]\d{8}$"),
        ("x", {"type": "integer", "format": "unix-time"}, r"^1[67]\d{8}$"),
        ("created", {"type": "integer", "maximum": 100}, r"^\d{1,3}$"),  # bounds first
        ("created", {"type": "integer", "format": "int32"}, r"^1[67]\d{8}$"),
    ],
)
def test_constraints_then_names(name: str, schema: dict, looks_like: str) -> None:
    for seed in range(10):
        value = generator({}, seed, examples=False).value(schema, name)
        assert re.search(looks_like, str(value)), (name, value)
        assert_valid(value, schema)


def test_a_unix_time_is_plausible() -> None:
    from datetime import UTC, datetime

    value = generator({}, 4).value({"type": "integer"}, "created")
    assert 2023 <= datetime.fromtimestamp(value, UTC).year <= 2025


@pytest.mark.parametrize(
    ("schema", "check"),
    [
        ("Pet", lambda n: " " not in n and n[0].isupper()),  # a pet's name, not "Ada Lovelace"
        ("product", lambda n: n.split()[-1] in PRODUCT_WORDS),
        ("Event", lambda n: n.split()[-1] in ("Summit", "Meetup", "Conference", "Workshop",
                                              "Launch", "Webinar", "Festival")),
        ("Customer", lambda n: " " in n),  # a person's name
    ],
)  # fmt: skip
def test_a_name_fits_the_object_it_names(schema: str, check: Any) -> None:
    ref = {"$ref": f"#/components/schemas/{schema}"}
    for seed in range(8):
        value = generator(PETS_AND_PRODUCTS, seed).value(ref)
        assert check(value["name"]), value


def test_arrays_have_one_to_three_items_even_deep_down() -> None:
    leaf = {"type": "object", "properties": {"id": {"type": "string"}}}
    schema: dict[str, Any] = leaf
    for _ in range(6):  # a list of lists of ... six deep, as a big API's objects nest
        schema = {"type": "object", "properties": {"data": {"type": "array", "items": schema}}}
    counts: list[int] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict) and "data" in node:
            counts.append(len(node["data"]))
            for item in node["data"]:
                walk(item)

    for seed in range(20):
        walk(generator({}, seed).value(schema))
    assert counts and all(1 <= c <= 3 for c in counts)
    assert {1, 2, 3} <= set(counts)


def test_optional_properties_are_present_nine_times_in_ten_and_data_always() -> None:
    names = [f"field_{i}" for i in range(20)]
    schema = {
        "type": "object",
        "properties": {"data": {"type": "array", "items": {}}, **{n: {} for n in names}},
    }
    present = 0
    for seed in range(50):
        value = generator({}, seed).value(schema)
        assert "data" in value
        present += sum(n in value for n in names)
    assert 0.85 <= present / (50 * len(names)) <= 0.95


def test_recursive_and_wide_schemas_end_small() -> None:
    root = {
        "components": {
            "schemas": {
                "Node": {
                    "type": "object",
                    "required": ["children"],
                    "properties": {
                        "name": {"type": "string"},
                        "children": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Node"},
                        },
                        "others": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Node"},
                        },
                    },
                }
            }
        }
    }
    schema = {"$ref": "#/components/schemas/Node"}
    for seed in range(10):
        value = generator(root, seed).value(schema)
        assert_valid(value, schema, root)
        assert len(json.dumps(value)) < 200_000


def test_a_schema_that_requires_itself_ends_in_null() -> None:
    """No finite value satisfies it: generation stops (a null some levels down) rather than
    recursing until Python gives up, which ended the start of a spec like this one."""
    root = {
        "components": {
            "schemas": {
                "Link": {
                    "type": "object",
                    "required": ["id", "next"],
                    "properties": {
                        "id": {"type": "string"},
                        "next": {"$ref": "#/components/schemas/Link"},
                    },
                }
            }
        }
    }
    value = generator(root, 1).value({"$ref": "#/components/schemas/Link"})
    chain = []
    while isinstance(value, dict):
        chain.append(value)
        value = value["next"]
    assert value is None and 12 <= len(chain) <= 30
    assert all(isinstance(link["id"], str) for link in chain[:-1])  # the last one is at the floor
