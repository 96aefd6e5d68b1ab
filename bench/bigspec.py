"""Large OpenAPI 3.0 documents made to measure, shaped like the big public specs people serve.

Stripe's (4 MB, ~450 operations) and GitHub's (13 MB) are the sizes users start mockyard with:
hundreds of paths, a thousand component schemas with long descriptions, expandable fields
(`anyOf: [string id, $ref]`), nested inline objects, arrays of references, cycles (a customer's
subscriptions each name their customer), long `$ref` chains, form-encoded request bodies and
query parameters. `document` builds one from a seed (same seed, same bytes); `write` dumps it as
YAML or JSON. No public spec is downloaded: the bench and the tests make their own.

    >>> doc = document(operations=40, seed=1)
    >>> sum(len(item) for item in doc["paths"].values())
    40
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_WORDS = (
    "account", "balance", "charge", "customer", "dispute", "event", "file", "invoice", "item",
    "mandate", "order", "payment", "payout", "plan", "price", "product", "quote", "refund",
    "review", "session", "setup", "source", "subscription", "tax", "token", "transfer", "usage",
    "webhook", "card", "bank", "address", "shipping", "discount", "coupon", "credit", "note",
    "line", "schedule", "report", "run", "reader", "location", "terminal", "feature",
    "entitlement", "meter", "alert"
)  # fmt: skip
_PROSE = (
    "The", "object's", "unique", "identifier.", "Time", "at", "which", "the", "object", "was",
    "created,", "measured", "in", "seconds", "since", "the", "Unix", "epoch.", "Has", "the",
    "value", "true", "if", "the", "object", "exists", "in", "live", "mode", "or", "false", "if",
    "it", "exists", "in", "test", "mode.", "Set", "of", "key-value", "pairs", "that", "you", "can",
    "attach", "to", "an", "object.", "This", "can", "be", "useful", "for", "storing", "additional",
    "information", "about", "the", "object", "in", "a", "structured", "format.", "Three-letter",
    "ISO", "currency", "code,", "in", "lowercase.", "Must", "be", "a", "supported", "currency.",
    "An", "arbitrary", "string", "attached", "to", "the", "object,", "often", "useful", "for",
    "displaying", "to", "users."
)  # fmt: skip


@dataclass(frozen=True)
class Size:
    """What to generate: operations, component schemas, properties per schema."""

    operations: int
    schemas: int
    properties: int


STRIPE_LIKE = Size(operations=450, schemas=560, properties=15)  # ≈ 4 MB as YAML
_CYCLE_RATE = 0.1  # of schemas that also point back to their chain's first (cycles)
_CHAIN = 8  # schemas in one reference chain
GITHUB_LIKE = Size(operations=1000, schemas=1000, properties=20)  # ≈ 13 MB as JSON


def document(
    operations: int = 450, schemas: int | None = None, properties: int = 22, seed: int = 1
) -> dict[str, Any]:
    """An OpenAPI 3.0.3 document with `operations` operations over `schemas` component schemas."""
    rng = random.Random(seed)
    count = schemas if schemas is not None else max(8, operations * 5 // 2)
    names = _schema_names(rng, count)
    components = {name: _schema(rng, name, names, properties) for name in names}
    components["error"] = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["type"],
                "properties": {
                    "type": {"type": "string", "enum": ["api_error", "invalid_request_error"]},
                    "message": {"type": "string", "maxLength": 5000},
                    "param": {"type": "string", "maxLength": 5000},
                },
            }
        },
    }
    paths: dict[str, Any] = {}
    made = 0
    resources = iter(_resources(rng, names))
    while made < operations:
        resource, schema = next(resources)
        for route, method, op in _resource_operations(rng, resource, schema):
            if made == operations:
                break
            paths.setdefault(route, {})[method] = op
            made += 1
    return {
        "openapi": "3.0.3",
        "info": {"title": "Generated large API", "version": "2024-06-20"},
        "servers": [{"url": "https://api.example.com/"}],
        "security": [{"basicAuth": []}, {"bearerAuth": []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "basicAuth": {"type": "http", "scheme": "basic"},
                "bearerAuth": {"type": "http", "scheme": "bearer"},
            },
        },
    }


def first_list_route(size: Size, seed: int = 1) -> str:
    """The path of the document's first list operation (`GET /v1/<resource>s`), cheaply."""
    count = size.schemas if size.schemas is not None else max(8, size.operations * 5 // 2)
    return f"/v1/{_schema_names(random.Random(seed), count)[0]}s"


def write(path: Path, size: Size, seed: int = 1) -> Path:
    """Write a generated document to `path` (.json as JSON, otherwise YAML); returns `path`."""
    doc = document(size.operations, size.schemas, size.properties, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    else:
        text = yaml.dump(doc, Dumper=_NoAliases, sort_keys=False, width=1000)
        path.write_text(text, encoding="utf-8")
    return path


class _NoAliases(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Every repeat written out, as in hand-written specs (no `&id001` anchors)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _schema_names(rng: random.Random, count: int) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < count:
        parts = rng.sample(_WORDS, rng.choice((1, 2, 2, 3)))
        name = "_".join(parts) if len(names) < len(_WORDS) ** 2 else f"{'_'.join(parts)}_{count}"
        if name in seen:
            name = f"{name}_{len(names)}"
        seen.add(name)
        names.append(name)
    return names


def _prose(rng: random.Random, words: int) -> str:
    start = rng.randrange(len(_PROSE))
    return " ".join(_PROSE[(start + i) % len(_PROSE)] for i in range(words))


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _schema(rng: random.Random, name: str, names: list[str], properties: int) -> dict[str, Any]:
    """One resource: id, object, created, livemode, metadata, fields of every kind, and one
    reference to the next schema of its chain of `_CHAIN` (deep `$ref` graphs); now and then
    one back to the chain's first (a cycle)."""
    index = names.index(name)
    first = index - index % _CHAIN
    props: dict[str, Any] = {
        "id": {"type": "string", "maxLength": 5000, "description": _prose(rng, 5)},
        "object": {"type": "string", "enum": [name], "description": _prose(rng, 12)},
        "created": {"type": "integer", "format": "unix-time", "description": _prose(rng, 14)},
        "livemode": {"type": "boolean", "description": _prose(rng, 18)},
        "metadata": {
            "type": "object",
            "additionalProperties": {"type": "string", "maxLength": 500},
            "nullable": True,
            "description": _prose(rng, 30),
        },
    }
    links = []
    if (index + 1) % _CHAIN and index + 1 < len(names):
        links.append(names[index + 1])
    if index != first and rng.random() < _CYCLE_RATE:
        links.append(names[first])
    for target in links:
        props[f"{target}_ref"] = _reference(rng, target)
    for i in range(properties - len(props)):
        field = f"{rng.choice(_WORDS)}_{rng.choice(('id', 'amount', 'status', 'name', 'at'))}"
        props[f"{field}_{i}" if field in props else field] = _field(rng, 0)
    return {
        "type": "object",
        "title": name.replace("_", " ").title(),
        "description": _prose(rng, 40),
        "required": sorted(rng.sample(sorted(props), min(len(props), 6))),
        "properties": props,
        "x-expandableFields": sorted(k for k, v in props.items() if "anyOf" in v),
        "x-resourceId": name,
    }


def _reference(rng: random.Random, target: str) -> dict[str, Any]:
    """An expandable id-or-object, an array of objects, or an `allOf` wrapper."""
    described = {"description": _prose(rng, rng.randint(8, 40))}
    kind = rng.random()
    if kind < 0.5:
        return {
            "anyOf": [{"type": "string", "maxLength": 5000}, _ref(target)],
            "nullable": rng.random() < 0.5,
            **described,
            "x-expansionResources": {"oneOf": [_ref(target)]},
        }
    if kind < 0.8:
        return {"type": "array", "items": _ref(target), **described}
    return {"allOf": [_ref(target)], "nullable": True, **described}


def _field(rng: random.Random, depth: int) -> dict[str, Any]:
    described = {"description": _prose(rng, rng.randint(8, 40))}
    kind = rng.random()
    if kind < 0.35:
        return {"type": "string", "maxLength": 5000, "nullable": rng.random() < 0.5, **described}
    if kind < 0.5:
        return {"type": "integer", **described}
    if kind < 0.65:
        return {"type": "string", "enum": rng.sample(_WORDS, 4), **described}
    if kind < 0.8 and depth < 2:
        words = rng.sample(_WORDS, 4)
        inner = {f"{w}_{i}": _field(rng, depth + 1) for i, w in enumerate(words)}
        return {"type": "object", "properties": inner, **described}
    if kind < 0.9:
        return {"type": "boolean", **described}
    return {"type": "number", "minimum": 0, **described}


def _resources(rng: random.Random, names: list[str]) -> Any:
    n = 0
    while True:
        for name in names:
            yield (name if n == 0 else f"{name}_v{n}"), name
        n += 1


def _resource_operations(
    rng: random.Random, resource: str, schema: str
) -> list[tuple[str, str, dict[str, Any]]]:
    base = f"/v1/{resource}s"
    item = f"{base}/{{{resource}}}"
    ok = _ref(schema)
    path_param = {
        "name": resource,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "maxLength": 5000},
    }
    expand = {
        "name": "expand",
        "in": "query",
        "description": "Specifies which fields in the response should be expanded.",
        "style": "deepObject",
        "explode": True,
        "schema": {"type": "array", "items": {"type": "string", "maxLength": 5000}},
    }
    listing = {
        "type": "object",
        "required": ["data", "has_more", "object", "url"],
        "properties": {
            "data": {"type": "array", "items": ok},
            "has_more": {"type": "boolean"},
            "object": {"type": "string", "enum": ["list"]},
            "url": {"type": "string", "maxLength": 5000, "pattern": "^/v1/"},
        },
    }
    form = {
        "type": "object",
        "properties": {
            "description": {"type": "string", "maxLength": 5000},
            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
            "expand": {"type": "array", "items": {"type": "string", "maxLength": 5000}},
            "amount": {"type": "integer"},
        },
    }
    body = {
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": form,
                "encoding": {"expand": {"explode": True, "style": "deepObject"}},
            }
        },
        "required": False,
    }

    def op(summary: str, response: Any, **extra: Any) -> dict[str, Any]:
        return {
            "operationId": f"{summary.split()[0]}_{resource}".replace("-", "_"),
            "summary": summary,
            "description": _prose(rng, 30),
            "responses": {
                "200": {
                    "description": "Successful response.",
                    "content": {"application/json": {"schema": response}},
                },
                "default": {
                    "description": "Error response.",
                    "content": {"application/json": {"schema": _ref("error")}},
                },
            },
            **extra,
        }

    limit = {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 100},
    }
    return [
        (base, "get", op(f"List {resource}s", listing, parameters=[expand, limit])),
        (base, "post", op(f"Create {resource}", ok, requestBody=body)),
        (item, "get", op(f"Retrieve {resource}", ok, parameters=[path_param, expand])),
        (item, "post", op(f"Update {resource}", ok, parameters=[path_param], requestBody=body)),
        (item, "delete", op(f"Delete {resource}", ok, parameters=[path_param])),
    ]
