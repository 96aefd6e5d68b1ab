"""Is an OpenAPI 3.0 document servable? Its first problem as a JSON pointer and one short line.

Two checks, both needed before Connexion sees the document (which would otherwise end in a
traceback): the document against the official OpenAPI JSON Schema of its version (the copy that
openapi-spec-validator ships, run by jsonschema-rs: 30 ms for a 4 MB spec, where
openapi-spec-validator's own walk takes ten seconds), and every local `$ref` pointing at
something, with no `$ref` chain that only leads to itself. Invalid defaults were dropped
before (`tidy`); operationIds were made unique (`loader`).

A failed `oneOf` (a response is a Response or a Reference) says little; the deepest error of
its branches is reported instead, so the pointer names the property actually at fault.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from mockyard.documents import escape

_SCHEMAS = Path("resources") / "schemas"  # v2.0, v3.0, v3.1: the official JSON Schemas
_LIMIT = 200


def first_problem(doc: dict[str, Any], version: str = "3.0") -> str:
    """`/json/pointer: what is wrong`, or "" when `doc` (OpenAPI `version`: 2.0, 3.0 or 3.1)
    can be served. Swagger 2.0 and 3.1 documents are checked before they are converted."""
    error = next(iter(_validator(version).iter_errors(doc)), None)
    if error is not None:
        error = _deepest(error)
        return f"{_pointer(error.instance_path)}: {_short(error.message)}"
    if version != "3.0":
        return ""  # their `$ref`s are checked once converted
    for pointer, ref in _refs(doc, ""):
        problem = _ref_problem(doc, ref)
        if problem:
            return f"{pointer}/$ref: {ref!r} {problem}"
    return _self_made_schema(doc)


def _self_made_schema(doc: dict[str, Any]) -> str:
    """A component schema that is, through `$ref`s and `allOf` alone, made of itself
    (`A: {allOf: [$ref: A]}`): no value can be built or checked against it (an `anyOf` or
    `oneOf` may escape through another branch, so those are not followed)."""
    schemas = (doc.get("components") or {}).get("schemas") or {}
    prefix = "#/components/schemas/"

    def direct(node: Any) -> Iterator[str]:
        if not isinstance(node, dict):
            return
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(prefix):
            yield unquote(ref[len(prefix) :]).replace("~1", "/").replace("~0", "~")
        for branch in node.get("allOf") or []:
            yield from direct(branch)

    for name in schemas:
        seen, pending = set(), list(direct(schemas[name]))
        while pending:
            current = pending.pop()
            if current == name:
                where = f"/components/schemas/{escape(name)}"
                return f"{where}: is made only of itself (through $ref and allOf)"
            if current not in seen and current in schemas:
                seen.add(current)
                pending.extend(direct(schemas[current]))
    return ""


@functools.cache
def _validator(version: str) -> Any:
    import jsonschema_rs

    # Found without importing openapi-spec-validator (a second of a cold start).
    spec = importlib.util.find_spec("openapi_spec_validator")
    assert spec is not None and spec.submodule_search_locations
    folder = Path(next(iter(spec.submodule_search_locations)))
    schema = json.loads((folder / _SCHEMAS / f"v{version}" / "schema.json").read_text("utf-8"))
    return jsonschema_rs.validator_for(schema)


def _deepest(error: Any) -> Any:
    """The error among `error`'s `oneOf`/`anyOf` branches that reaches furthest into the
    instance; a branch that only wanted a `$ref` loses ties."""
    context = getattr(error.kind, "context", None)
    if not context:
        return error
    best = error
    for branch in context:
        for sub in branch:
            candidate = _deepest(sub)
            if _rank(candidate) > _rank(best):
                best = candidate
    return best


def _rank(error: Any) -> tuple[int, int]:
    wants_ref = "$ref" in error.message and "required" in error.message
    return (len(error.instance_path), 0 if wants_ref else 1)


def _refs(node: Any, pointer: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield pointer, ref
        for key, value in node.items():
            if isinstance(value, dict | list) and key not in ("example", "default", "enum"):
                yield from _refs(value, f"{pointer}/{escape(key)}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            if isinstance(value, dict | list):
                yield from _refs(value, f"{pointer}/{i}")


def _ref_problem(doc: dict[str, Any], ref: str) -> str:
    seen = {ref}
    while True:
        if not ref.startswith("#"):
            return "is not a local reference (the loader bundles other files)"
        target = _resolve(doc, ref)
        if target is _MISSING:
            return "points at nothing"
        nxt = target.get("$ref") if isinstance(target, dict) else None
        if not isinstance(nxt, str):
            return ""
        if nxt in seen:
            return "is a cycle of $refs that never reaches an object"
        seen.add(nxt)
        ref = nxt


_MISSING = object()


@functools.lru_cache(maxsize=4096)
def _tokens(ref: str) -> tuple[str, ...]:
    fragment = unquote(ref[1:])
    parts = fragment.split("/")[1:] if fragment else []
    return tuple(p.replace("~1", "/").replace("~0", "~") for p in parts)


def _resolve(doc: Any, ref: str) -> Any:
    node = doc
    for token in _tokens(ref):
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return _MISSING
    return node


def _pointer(path: Any) -> str:
    return "/" + "/".join(escape(str(p)) for p in path) if path else "/"


def _short(message: str) -> str:
    """At most `_LIMIT` characters: the instance a message quotes (maybe a whole operation) is
    cut, the complaint after it kept."""
    if len(message) <= _LIMIT:
        return message
    head, sep, tail = message.rpartition(" is ")
    if sep and len(tail) < _LIMIT - 40:
        return f"{head[: _LIMIT - len(tail) - 10]}…{sep}{tail}"
    return message[: _LIMIT - 1] + "…"
