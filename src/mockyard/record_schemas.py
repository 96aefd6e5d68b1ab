"""What a record of each collection must look like, so that every write through the state API
leaves records the handlers can work with.

An API's fixture file may declare a JSON Schema (2020-12) per collection:

    schemas:
      <collection>:
        type: object
        required: [id, status]
        x-mockyard-key: id        # optional: this field must equal the record's key
        properties: {...}

Every other collection that the seed fills gets a schema inferred from its seeded records: the
JSON types each field takes, the fields every record has (required), no others, numbers that
are never negative stay so, arrays and strings that are never empty stay so, and the field that
always equals the record's key is its key field. A collection with neither is not writable.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import SchemaError

from mockyard import cache
from mockyard.errors import FixtureError

KEY_FIELD = "x-mockyard-key"
_FORMATS = Draft202012Validator.FORMAT_CHECKER  # formats are checked where jsonschema can
# A stored integer is a Python int: `canonical` turns 992.0 into 992 first (JSON means the same
# number), and what is left (1e20) a handler would carry into an id or a count that the spec's
# Draft 4 response validation refuses.
RecordValidator = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)
    ),
)

Seeded = Mapping[str, Mapping[str, Mapping[str, Any]]]
"""api -> collection -> key -> record, as the seed builds them."""


class CollectionSchema:
    """What a record of one collection must look like; `declared` False when inferred. An
    inferred schema is worked out on first use: a big spec has a hundred collections, and a
    start need not infer the schema of each before any write asks for one."""

    def __init__(
        self, schema: dict[str, Any] | Callable[[], dict[str, Any]], *, declared: bool = True
    ) -> None:
        self._schema = schema
        self.declared = declared

    @functools.cached_property
    def validator(self) -> Any:  # a RecordValidator
        schema = self._schema if isinstance(self._schema, dict) else self._schema()
        return RecordValidator(schema, format_checker=_FORMATS if self.declared else None)

    @property
    def key_field(self) -> str | None:
        return self.schema.get(KEY_FIELD)

    def errors(self, key: str, record: Any) -> list[dict[str, str]]:
        found = [
            {"path": "/" + "/".join(map(str, e.absolute_path)), "message": e.message}
            for e in self.validator.iter_errors(record)
        ]
        field = self.key_field
        if field and isinstance(record, dict) and str(record.get(field, key)) != key:
            message = f"{record[field]!r} must equal the record's key {key!r}"
            found.append({"path": f"/{field}", "message": message})
        return sorted(found, key=lambda e: (e["path"], e["message"]))

    @property
    def schema(self) -> dict[str, Any]:
        return dict(self.validator.schema)  # type: ignore[arg-type,unused-ignore]


def load(
    fixtures: Mapping[str, tuple[object, Any]], seeded: Seeded | None = None
) -> dict[str, dict[str, CollectionSchema]]:
    """api -> collection -> schema: each fixture file's `schemas:`, else inferred from `seeded`."""
    out: dict[str, dict[str, CollectionSchema]] = {}
    for api, (path, fixture) in fixtures.items():
        declared = (fixture or {}).get("schemas") or {}
        if not isinstance(declared, dict):
            raise FixtureError("'schemas' must map collections to JSON Schemas", path=path)
        check = functools.partial(_schema_problem, declared)
        problem = cache.first_problem("valid-schemas", declared, "jsonschema", check)
        if problem:
            raise FixtureError(problem, path=path)
        schemas = out.setdefault(api, {})
        for coll, records in ((seeded or {}).get(api) or {}).items():
            if coll not in declared and records:
                schemas[coll] = CollectionSchema(functools.partial(infer, records), declared=False)
        for coll, schema in declared.items():
            schemas[coll] = CollectionSchema(schema)
    return out


def canonical(value: Any) -> Any:
    """`value` with each integral number as an int (`992.0` -> `992`, up to 2^53), as JSON
    means it and as the handlers use it: as a key, a count, an id."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= _EXACT:
        return int(value)
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


_EXACT = 2**53


def _schema_problem(declared: Mapping[str, Any]) -> str:
    """The first schema that breaks its metaschema, or "". Remembered when "" (`cache`): the
    check is a tenth of a warm start and gives the same answer every time."""
    for coll, schema in declared.items():
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            return f"schemas.{coll}: {exc.message}"
    return ""


def infer(records: Mapping[str, Any]) -> dict[str, Any]:
    """A schema every one of `records` (key -> record) satisfies, no looser than they show."""
    schema = _shape(list(records.values()))
    fields = schema.get("properties", {})
    for name in sorted(fields):
        if all(isinstance(r, dict) and str(r.get(name)) == k for k, r in records.items()):
            schema[KEY_FIELD] = name
            break
    return schema


def _shape(values: list[Any]) -> dict[str, Any]:
    types = sorted({_type(v) for v in values})
    if "integer" in types and "number" in types:
        types.remove("integer")
    schema: dict[str, Any] = {"type": types[0] if len(types) == 1 else types}
    objects = [v for v in values if isinstance(v, dict)]
    if objects:
        names = sorted({name for o in objects for name in o})
        schema["properties"] = {n: _shape([o[n] for o in objects if n in o]) for n in names}
        schema["required"] = [n for n in names if all(n in o for o in objects)]
        schema["additionalProperties"] = False
    arrays = [v for v in values if isinstance(v, list)]
    if arrays:
        items = [item for a in arrays for item in a]
        schema["items"] = _shape(items) if items else {}
        if all(arrays):
            schema["minItems"] = 1
    numbers = [v for v in values if _type(v) in ("integer", "number")]
    if numbers and min(numbers) >= 0:
        schema["minimum"] = 0
    strings = [v for v in values if isinstance(v, str)]
    if strings and all(strings):
        schema["minLength"] = 1
    return schema


def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"
