"""Reading a spec's schemas for resources: where a record is in a body, and what it is named.

A record is an object with the id property; it is looked for in the body itself, then in its
properties (the resource's singular name, `data`, `item`, `result`, ... first), two levels down
at most. A list's records are the items of an array: the body, or one of its properties
(`data`, `items`, `results`, `list`, ... first), each maybe wrapped once more
(`{"list": [{"pet": {...}}]}`). `allOf` parts and `anyOf`/`oneOf` branches count as the
schema's own properties.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from connexion.utils import is_json_mimetype

from mockyard.operations import Operation, deref
from mockyard.resource_config import Envelope

WRAPPERS = ("data", "item", "result", "resource", "record", "object", "entity")


_ARRAYS: tuple[str, ...] = (
    "data",
    "items",
    "results",
    "list",
    "records",
    "content",
    "entries",
    "rows",
)
_ARRAYS += ("values", "elements", "hits", "nodes", "edges")


_FALLBACK_IDS = ("uuid", "_id", "key", "slug")


def find_record(
    doc: Mapping[str, Any], schema: Any, wanted: list[str], name: str
) -> tuple[Envelope, Mapping[str, Any], str] | None:
    """Where, in a response schema, the record with one of the `wanted` id properties is."""
    for path, candidate in objects(doc, schema, preferred(name, WRAPPERS), depth=2):
        prop = first_property(wanted, properties(doc, candidate))
        if prop is not None:
            return Envelope(path), candidate, prop
    return None


def find_list(
    doc: Mapping[str, Any], schema: Any, wanted: list[str], name: str
) -> tuple[Envelope, Mapping[str, Any], str] | None:
    """Where, in a list's response schema, the array of records is, and how each is wrapped."""
    arrays: list[tuple[tuple[str, ...], Mapping[str, Any]]] = []
    resolved = deref(doc, schema) or {}
    if is_array(doc, resolved):
        arrays.append(((), resolved))
    else:
        arrays.extend(
            (path, sub)
            for path, sub in objects(doc, resolved, preferred(name, _ARRAYS), depth=2, arrays=True)
            if path
        )
    for path, array in arrays:
        items = deref(doc, array.get("items")) or {}
        found = find_record(doc, items, wanted, singular(name))
        if found is not None and len(found[0].path) <= 1:
            return Envelope(path, found[0].path, array=True), found[1], found[2]
    return None


def objects(
    doc: Mapping[str, Any],
    schema: Any,
    preferred: list[str],
    depth: int,
    arrays: bool = False,
    prefix: tuple[str, ...] = (),
) -> Iterator[tuple[tuple[str, ...], Mapping[str, Any]]]:
    """`schema` and its object properties (or array properties, with `arrays`), breadth first,
    the `preferred` names first at each level."""
    schema = deref(doc, schema) or {}
    if not isinstance(schema, Mapping):
        return
    if not prefix and not arrays:
        yield (), schema
    props = properties(doc, schema)
    names = [n for n in preferred if n in props] + [n for n in props if n not in preferred]
    nested = []
    for prop in names:
        sub = deref(doc, props[prop]) or {}
        if is_array(doc, sub) if arrays else is_object(doc, sub):
            yield (*prefix, prop), sub
        if is_object(doc, sub) and depth > 1:
            nested.append((prop, sub))
    for prop, sub in nested:
        yield from objects(doc, sub, preferred, depth - 1, arrays, (*prefix, prop))


def preferred(name: str, generic: tuple[str, ...]) -> list[str]:
    return [singular(name), name, *generic]


def success_schema(op: Operation) -> tuple[int | None, Any]:
    """The first documented 2xx status and its JSON schema (None without one)."""
    responses = {str(k): v for k, v in (op.spec.get("responses") or {}).items()}
    for key in sorted(responses):
        if key[0] == "2" and key[1:].isdigit():
            response = deref(op.document, responses[key]) or {}
            for media_type, media in (response.get("content") or {}).items():
                if is_json_mimetype(media_type):
                    return int(key), (deref(op.document, media) or {}).get("schema")
            return int(key), None
    return None, None


def request_schema(op: Operation) -> Any:
    body = deref(op.document, op.spec.get("requestBody")) or {}
    for media_type, media in (body.get("content") or {}).items():
        if is_json_mimetype(media_type):
            return (deref(op.document, media) or {}).get("schema") or {}
    return None


def id_candidates(param: str | None, collection: str) -> list[str]:
    """The properties an item parameter may name, most likely first."""
    one = singular(collection)
    if param is None:
        return ["id", f"{one}Id", f"{one}_id", *_FALLBACK_IDS]
    words = tokens(param)
    own = [t for t in words if t not in tokens(one) and t not in tokens(collection)]
    rest = [own[0] + "".join(t.title() for t in own[1:])] if own and own != words else []
    return list(dict.fromkeys([param, "id", *rest, *_FALLBACK_IDS]))


def first_property(wanted: Iterable[str], props: Mapping[str, Any]) -> str | None:
    for name in wanted:
        found = match_property(name, props)
        if found is not None:
            return found
    return None


def match_property(name: str, props: Mapping[str, Any]) -> str | None:
    """The property named `name`, or written another way (`user_id` for `userId`)."""
    if name in props:
        return name
    key = norm(name)
    return next((p for p in props if norm(p) == key), None)


def tokens(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [t.lower() for t in re.split(r"[\s_\-.]+", spaced) if t]


@functools.lru_cache(maxsize=8192)
def norm(name: str) -> str:
    """A property or path name as compared: case, separators and brackets ignored (asked
    tens of thousands of times on a big spec, of a few thousand names)."""
    return re.sub(r"[\s_\-.\[\]]", "", name).lower()


def singular(word: str) -> str:
    for plural, single in (("ies", "y"), ("sses", "ss"), ("xes", "x"), ("ches", "ch")):
        if word.endswith(plural):
            return word[: -len(plural)] + single
    if word.endswith("shes"):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def properties(doc: Mapping[str, Any], schema: Any, depth: int = 8) -> dict[str, Any]:
    """A schema's properties, with those of its `allOf` parts and `anyOf`/`oneOf` branches."""
    schema = deref(doc, schema)
    if not isinstance(schema, Mapping) or depth <= 0:
        return {}
    out = dict(schema.get("properties") or {})
    for kind in ("allOf", "anyOf", "oneOf"):
        for part in schema.get(kind) or []:
            for name, sub in properties(doc, part, depth - 1).items():
                out.setdefault(name, sub)
    return out


def required_of(doc: Mapping[str, Any], schema: Any, depth: int = 8) -> list[str]:
    """The properties a schema requires, its `allOf` parts' included."""
    schema = deref(doc, schema)
    if not isinstance(schema, Mapping) or depth <= 0:
        return []
    out = list(schema.get("required") or [])
    for part in schema.get("allOf") or []:
        out.extend(r for r in required_of(doc, part, depth - 1) if r not in out)
    return out


def is_object(doc: Mapping[str, Any], schema: Mapping[str, Any]) -> bool:
    return schema.get("type") == "object" or bool(properties(doc, schema))


def is_array(doc: Mapping[str, Any], schema: Mapping[str, Any]) -> bool:
    return schema.get("type") == "array" or "items" in schema


def closed(doc: Mapping[str, Any], schema: Any) -> bool:
    return (deref(doc, schema) or {}).get("additionalProperties") is False
